#!/usr/bin/env bash
# promtool (Prometheus's rule checker) for the chart's alert tests: Debian's prometheus package
# (installs the binaries, starts no server here). Sets PROMTOOL_BIN. Source it: . scripts/ensure-promtool.sh
if ! command -v promtool >/dev/null 2>&1; then
  echo "ensure-promtool: installing Debian's prometheus package for promtool" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null 2>&1 ||
    { echo "ensure-promtool: could not install prometheus (promtool)" >&2; return 1 2>/dev/null || exit 1; }
fi
PROMTOOL_BIN="$(command -v promtool)"
export PROMTOOL_BIN
