#!/usr/bin/env bash
# npm run example -- NAME [--testenv] [ARGS…]: installs what is missing, builds, runs
# examples/NAME.ts (quickstart, iscsi-direct-guest, watch-events, ceph-rbd,
# ceph-iscsi-gateway) with ARGS.
# --testenv starts the project's own test environment first (a private libvirtd, tgtd, and a
# single-node Ceph with its gateway tgtd, as `npm test` does), gives the example its env.json
# (--env), and stops it again afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(repo_root)"
name=${1:-}
if [ -z "$name" ] || [ ! -f "examples/$name.ts" ] || [ "$name" = table ]; then
  echo "usage: npm run example -- NAME [--testenv] [ARGS…]; NAME: quickstart, iscsi-direct-guest, watch-events, ceph-rbd, ceph-iscsi-gateway" >&2
  exit 2
fi
shift
testenv=0
args=()
for a in "$@"; do
  if [ "$a" = --testenv ]; then testenv=1; else args+=("$a"); fi
done
if [ "$testenv" = 1 ]; then ensure_packages scripts/packages.txt; else ensure_packages scripts/packages-build.txt; fi
ensure_built
if [ "$testenv" = 0 ]; then
  exec node "dist/examples/$name.js" ${args[@]+"${args[@]}"}
fi
state=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-example.XXXXXX")
cleanup() { node scripts/testenv.js stop --state "$state" || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
node scripts/testenv.js start --state "$state" >&2
node "dist/examples/$name.js" --env "$state/env.json" ${args[@]+"${args[@]}"}
