#!/usr/bin/env bash
# npm run test:asan [-- TIER...]: builds the addon with AddressSanitizer + LeakSanitizer (GCC's
# libasan) into build-sanitizers/asan/ (build/Release stays the normal build), runs the native
# tiers (unit, driver, iscsi by default; iscsi on a test environment of its own, libvirt and Ceph
# left out) with the ASan runtime preloaded into every process, and fails when any process wrote
# an ASan or LSan report. Leaks that are not virtkit's are suppressed in
# scripts/sanitizers/lsan.supp (each line says why).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/sanitize-lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages.txt
ensure_built

tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit driver iscsi)

echo "virtkit: building the addon with -fsanitize=address"
addon=$(build_instrumented build-sanitizers/asan "-O1 -g -fsanitize=address -fno-omit-frame-pointer" "-fsanitize=address")
libasan=$(readlink -f "$(gcc -print-file-name=libasan.so)")
[ -f "$libasan" ] || { echo "virtkit: GCC's libasan not found (apt-get install libasan8)" >&2; exit 1; }

logs=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-asan.XXXXXX")
state=
cleanup() { [ -z "$state" ] || node scripts/testenv.js stop --state "$state" >/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ " ${tiers[*]} " == *" iscsi "* ]]; then
  # The iscsi tier needs only tgtd: started without the sanitizer, like every daemon here.
  state=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-testenv.XXXXXX")
  VIRTKIT_TESTENV_SKIP=libvirt,ceph node scripts/testenv.js start --state "$state"
  export VIRTKIT_TESTENV="$state/env.json"
fi

files=()
for t in "${tiers[@]}"; do files+=("dist/test/$t"); done

start=$(date +%s)
set +e
(
  export VIRTKIT_NATIVE_ADDON="$addon"
  export LD_PRELOAD="$libasan"
  export VIRTKIT_TEST_TIME_SCALE=4
  # detect_leaks: LSan at every process's exit; halt_on_error: the first error ends the process;
  # log_path: one file per process (asan.PID), scanned below; fast_unwind_on_malloc=0: whole
  # stacks through libvirt and glib (built without frame pointers: fast unwinding stops at
  # g_malloc, and a leaked libvirt string could not be told from libvirt's own), so suppressions
  # can be narrow. It makes calls several times slower: child processes get 4 times their time.
  # intercept_tls_get_addr=0: with it, GCC 12's LSan reads a bogus dynamic-TLS range of a thread
  # in a process with the addon loaded and dies ("Tracer caught signal 11") before reporting.
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$logs/asan:fast_unwind_on_malloc=0:malloc_context_size=30:detect_stack_use_after_return=0:intercept_tls_get_addr=0"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp:print_suppressions=0"
  node scripts/run-tap.js "${files[@]}"
) 2>&1 | tee "$logs/tap.out"
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

reports=0
for f in "$logs"/asan.*; do
  [ -e "$f" ] || continue
  grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)' "$f" || continue
  reports=$((reports + 1))
  echo "=== $f"
  cat "$f"
done
summary=$(grep -E '^tests: ' "$logs/tap.out" | tail -1)
echo "asan: tiers ${tiers[*]}; ${summary:-tests: none}; reports $reports; ${elapsed}s; logs in $logs"
if [ "$reports" -gt 0 ]; then
  echo "asan: $reports sanitizer report(s) above" >&2
  exit 1
fi
exit "$status"
