#!/usr/bin/env bash
# npm test [-- tap args]: installs what is missing, builds, starts the test environment
# (private libvirtd + virtlogd, tgtd with CHAP), runs every tier, stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages.txt
ensure_built

state=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-testenv.XXXXXX")
cleanup() { node scripts/testenv.js stop --state "$state" || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
node scripts/testenv.js start --state "$state"
export VIRTKIT_TESTENV="$state/env.json"

node scripts/run-tap.js "$@"
