#!/usr/bin/env bash
# npm run bench [-- --target test|daemon] [-- --quick]: builds if needed, then times virtkit,
# python3-libvirt and spawning virsh on test:///default and on a real libvirtd (a private one
# from scripts/testenv.js, or $VIRTKIT_BENCH_URI). See bench/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages-build.txt
ensure_packages bench/packages.txt || echo "virtkit bench: continuing without them; those columns report skipped" >&2
ensure_built
exec node dist/bench/run.js "$@"
