#!/usr/bin/env bash
# kcat (librdkafka's command-line client) for the tests and the fault campaign: the reader that is
# not ours. Every exactly-once check reads the topics back with it at read_committed, so a bug shared
# by kafkajs and our readers cannot hide a duplicate or a loss. Debian's package. Sets KCAT_BIN.
# Source it: . scripts/ensure-kcat.sh
if ! command -v kcat >/dev/null 2>&1; then
  echo "ensure-kcat: installing Debian's kcat package" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kcat) >/dev/null 2>&1 ||
    { echo "ensure-kcat: could not install kcat" >&2; return 1 2>/dev/null || exit 1; }
fi
KCAT_BIN="$(command -v kcat)"
export KCAT_BIN
