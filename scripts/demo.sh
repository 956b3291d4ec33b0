#!/usr/bin/env bash
# npm run demo [-- --uri URI]: installs what is missing, builds, runs examples/quickstart.ts
# (against test:///default unless --uri or LIBVIRT_DEFAULT_URI says otherwise).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages-build.txt
ensure_built
exec node dist/examples/quickstart.js "$@"
