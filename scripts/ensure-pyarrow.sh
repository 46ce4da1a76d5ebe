#!/usr/bin/env bash
# pyarrow (Apache Arrow's Python reader) for the tests that read exports back independently of the
# code that wrote them: a virtualenv in .tools/py (ignored by git), pyarrow from PyPI.
# Sets PYARROW_PYTHON. Source it: . scripts/ensure-pyarrow.sh
_py_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/py"
if ! "$_py_root/bin/python" -c 'import pyarrow' >/dev/null 2>&1; then
  echo "ensure-pyarrow: installing pyarrow into $_py_root" >&2
  { python3 -m venv "$_py_root" && "$_py_root/bin/pip" install --quiet --disable-pip-version-check 'pyarrow>=17'; } >&2 ||
    { echo "ensure-pyarrow: could not install pyarrow" >&2; return 1 2>/dev/null || exit 1; }
fi
PYARROW_PYTHON="$_py_root/bin/python"
export PYARROW_PYTHON
unset _py_root
