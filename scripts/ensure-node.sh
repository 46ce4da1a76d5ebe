# Sourced by ./dev and .ci/run: puts Node 24 first on PATH. The machine's own Node is used when it
# is 24 or newer; otherwise node@24 (the npm package that ships the official binary) is installed
# once into .tools/node24, an ignored folder, with the machine's npm.
_cdr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_cdr_node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$_cdr_node_major" -lt 24 ]; then
  _cdr_node_dir="$_cdr_root/.tools/node24"
  if [ ! -x "$_cdr_node_dir/node_modules/node/bin/node" ]; then
    echo "ensure-node: this machine has Node ${_cdr_node_major}; installing node@24 into .tools/node24" >&2
    mkdir -p "$_cdr_node_dir"
    npm install --prefix "$_cdr_node_dir" --no-audit --no-fund --loglevel=error node@24 >&2
  fi
  export PATH="$_cdr_node_dir/node_modules/node/bin:$PATH"
fi
unset _cdr_root _cdr_node_major _cdr_node_dir
