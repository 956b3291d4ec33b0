#!/usr/bin/env bash
# npm run soak [-- --phase driver|daemon] [-- --quick]: builds if needed, then the soak run
# (bench/soak.ts): 1,000,000 mixed calls on test:///default and 100,000 on a private libvirtd,
# memory and native-object curves, exit status 1 when they are not flat. See bench/README.md.
# The node flags are soak.ts's NODE_FLAGS (see there); soak.js adds them itself when missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages-build.txt
ensure_built
exec node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16 dist/bench/soak.js "$@"
