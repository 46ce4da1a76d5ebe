# Sourced by ./dev and .ci/run: builds Helm from the Go module proxy into .tools/helm (ignored)
# when it is not there yet (about 2 minutes on 2 cores; later runs reuse it).
HELM_VERSION=v3.19.0
_cdr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# `go install` builds carry no version stamp of their own (helm prints v3.19), hence the file.
if [ ! -x "$_cdr_root/.tools/helm/helm" ] || [ "$(cat "$_cdr_root/.tools/helm/VERSION" 2>/dev/null)" != "$HELM_VERSION" ]; then
  echo "ensure-helm: building helm ${HELM_VERSION} with go install into .tools/helm" >&2
  mkdir -p "$_cdr_root/.tools/helm"
  GOBIN="$_cdr_root/.tools/helm" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2 &&
    echo "$HELM_VERSION" >"$_cdr_root/.tools/helm/VERSION"
fi
export HELM_BIN="$_cdr_root/.tools/helm/helm"
unset _cdr_root
