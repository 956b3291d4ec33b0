#!/usr/bin/env bash
# npm run soak [-- --phase driver|daemon] [-- --quick]: builds if needed, then the soak run
# (bench/soak.ts): 1,000,000 mixed calls on test:///default and 100,000 on a private libvirtd,
# memory and native-object curves, exit status 1 when they are not flat. See bench/README.md.
#
# --expose-gc: a full collection before every sample. The young generation is pinned at its
# largest size (16 MiB semi-spaces) from the start: V8 grows it on its own after a few hundred
# thousand calls (+16 MiB of RSS at once), a step of V8's sizing policy that would read as
# growth after warm-up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages-build.txt
ensure_built
exec node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16 dist/bench/soak.js "$@"
