#!/usr/bin/env bash
# npm run test:asan [-- TIER...]: builds the addon with AddressSanitizer + LeakSanitizer into
# build-sanitizers/ (build/Release stays the normal build), runs native test tiers one after
# another with the ASan runtime preloaded into every node process, and fails when any node
# process wrote an ASan or LSan report. Leaks that are not virtkit's are suppressed in
# scripts/sanitizers/lsan.supp (each line says why).
#
# Tiers: unit, driver, iscsi, daemon, fuzz, examples, ceph; all of them by default (what CI
# runs, .ci/run).
# The daemon, examples and ceph tiers run on a test environment (scripts/testenv.js) started
# here without the sanitizer, like every daemon: testenv.js gives its daemons an environment of
# their own (no LD_PRELOAD), so libvirtd, tgtd and Ceph never load the ASan runtime.
#
# Runtime: GCC 12's libasan by default; VIRTKIT_SANITIZER_CC=clang builds with clang-14 and
# preloads clang's runtime (libclang_rt.asan-x86_64.so from libclang-rt-14-dev) instead.
#
# Writes dist/reports/asan.json (GCC's runtime, what CI runs; dist/reports/asan-clang.json with
# clang's), read by scripts/reliability.js for the README:
#   { runtime: "gcc-12 libasan" | "clang-14 libclang_rt.asan",
#     tiers: [{ tier, tests, pass, fail, skip, seconds, reports }],   one per tier, in run order
#     reports,            ASan/LSan reports of node processes, all tiers (0 is the goal)
#     foreignReports,     reports of other programs the tests ran (qemu-img, bash, xmllint),
#                         which inherit LD_PRELOAD; shown, never counted as virtkit's
#     suppressions: [names],   the leak: entries of scripts/sanitizers/lsan.supp
#     seconds, build seconds, logsDir, date (ISO) }
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/sanitize-lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages.txt
ensure_built

tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit driver iscsi daemon fuzz examples ceph)
for t in "${tiers[@]}"; do
  [ -d "dist/test/$t" ] || { echo "virtkit: no test tier '$t' (dist/test/$t)" >&2; exit 2; }
done
has_tier() { [[ " ${tiers[*]} " == *" $1 "* ]]; }

flags="-O1 -g -fsanitize=address -fno-omit-frame-pointer"
build_start=$(date +%s)
case "${VIRTKIT_SANITIZER_CC:-gcc}" in
  gcc)
    runtime="gcc-12 libasan" report=dist/reports/asan.json
    echo "virtkit: building the addon with -fsanitize=address (GCC)"
    addon=$(build_instrumented build-sanitizers/asan "$flags" "-fsanitize=address")
    libasan=$(readlink -f "$(gcc -print-file-name=libasan.so)")
    [ -f "$libasan" ] || { echo "virtkit: GCC's libasan not found (apt-get install libasan8)" >&2; exit 1; }
    ;;
  clang)
    runtime="clang-14 libclang_rt.asan" report=dist/reports/asan-clang.json
    ensure_packages scripts/packages-clang.txt
    echo "virtkit: building the addon with -fsanitize=address (clang-14)"
    # -shared-libasan: the addon needs the runtime's shared library (preloaded below), not a
    # static copy of its own; clang links none into a shared object otherwise.
    addon=$(CC=clang-14 CXX=clang++-14 build_instrumented build-sanitizers/asan-clang "$flags" "-fsanitize=address -shared-libasan")
    libasan=$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)
    [ -f "$libasan" ] || { echo "virtkit: clang's ASan runtime not found (apt-get install libclang-rt-14-dev)" >&2; exit 1; }
    ;;
  *) echo "virtkit: VIRTKIT_SANITIZER_CC is gcc or clang" >&2; exit 2 ;;
esac
build_seconds=$(( $(date +%s) - build_start ))
# libtirpc too: the runtime intercepts the XDR functions (xdrmem_create, xdr_*), looking up the
# real ones once, at start-up. glibc 2.36 has none any more and libvirt's libtirpc is loaded
# only later, with the addon, so every intercepted call would jump to address 0 (a SIGSEGV in
# virNetMessageEncodeHeader at the first call to a remote libvirtd). Preloaded, libtirpc's
# are found, and libvirt's RPC buffers are checked as well.
tirpc=$(ldd "$addon" | awk '/libtirpc\.so/ { print $3; exit }')
[ -f "$tirpc" ] || { echo "virtkit: libtirpc, which libvirt links, not found (ldd $addon)" >&2; exit 1; }
preload="$libasan $tirpc"

logs=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-asan.XXXXXX")
state=
cleanup() { [ -z "$state" ] || node scripts/testenv.js stop --state "$state" >/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
skip=
if has_tier daemon || has_tier examples || has_tier ceph; then
  has_tier ceph || skip=ceph
elif has_tier iscsi; then
  skip=libvirt,ceph  # the iscsi tier needs only tgtd
fi
if has_tier daemon || has_tier examples || has_tier ceph || has_tier iscsi; then
  # Started without the sanitizer (this shell has no LD_PRELOAD).
  state=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-testenv.XXXXXX")
  VIRTKIT_TESTENV_SKIP=$skip node scripts/testenv.js start --state "$state"
  export VIRTKIT_TESTENV="$state/env.json"
fi

asan_options() {  # $1: log path prefix
  # detect_leaks: LSan at every process's exit; halt_on_error: the first error ends the process;
  # log_path + log_exe_name: one file per process that reports (asan.EXE.PID), scanned below;
  # fast_unwind_on_malloc=0: whole stacks through libvirt and glib (built without frame
  # pointers: fast unwinding stops at g_malloc, and a leaked libvirt string could not be told
  # from libvirt's own), so suppressions can be narrow. It makes calls several times slower:
  # child processes get 4 times their time.
  # intercept_tls_get_addr=0: with it, GCC 12's LSan reads a bogus dynamic-TLS range of a thread
  # in a process with the addon loaded and dies ("Tracer caught signal 11") before reporting.
  # exitcode=0: a process with a report ends with its own exit status. The other programs the
  # tests run (bash and mktemp in the smoke script, qemu-img, virsh) inherit LD_PRELOAD, and
  # their own leaks at exit (exit status 1 otherwise) must not fail the test that ran them;
  # the run fails on the reports of node processes in the logs instead.
  echo "detect_leaks=1:halt_on_error=1:exitcode=0:log_path=$1:log_exe_name=1:fast_unwind_on_malloc=0:malloc_context_size=30:detect_stack_use_after_return=0:intercept_tls_get_addr=0"
}

# The canary: a node process that ends with process.exit() leaves V8's heap metadata behind
# (what lsan.supp suppresses). Without the suppressions it must be reported in a file named as
# the scan below expects; otherwise the runtime, its options or the log naming are broken and
# "0 reports" would mean nothing.
mkdir -p "$logs/canary"
LD_PRELOAD="$preload" ASAN_OPTIONS=$(asan_options "$logs/canary/asan") \
  node -e 'require(process.argv[1]); process.exit(0)' "$addon" || true
if ! grep -qs 'ERROR: LeakSanitizer' "$logs"/canary/asan.node.*; then
  echo "virtkit: the LeakSanitizer canary was not reported (logs in $logs/canary): the sanitizer run checks nothing" >&2
  exit 1
fi

# One line per tier for the JSON: tier tests pass fail skip seconds reports
: > "$logs/tiers.txt"
status=0 reports=0 foreign=0 start=$(date +%s)
for tier in "${tiers[@]}"; do
  mkdir -p "$logs/$tier"
  t0=$(date +%s)
  set +e
  (
    export VIRTKIT_NATIVE_ADDON="$addon"
    export LD_PRELOAD="$preload"
    # test/helpers.ts toolEnv(): programs other than node that tests run start without it.
    export VIRTKIT_SANITIZER_PRELOAD="$preload"
    export VIRTKIT_TEST_TIME_SCALE=4
    ASAN_OPTIONS=$(asan_options "$logs/$tier/asan")
    export ASAN_OPTIONS
    export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp:print_suppressions=0"
    node scripts/run-tap.js "dist/test/$tier"
  ) 2>&1 | tee "$logs/$tier/tap.out"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || status=$rc
  seconds=$(( $(date +%s) - t0 ))
  n=0
  for f in "$logs/$tier"/asan.*; do
    [ -e "$f" ] || continue
    grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)' "$f" || continue
    echo "=== $f"
    cat "$f"
    # asan.EXE.PID: only node processes load virtkit; other programs the tests run inherit
    # LD_PRELOAD and report their own exit-time leaks.
    case "$(basename "$f")" in
      asan.node.*) n=$((n + 1)) ;;
      *) foreign=$((foreign + 1)) ;;
    esac
  done
  reports=$((reports + n))
  # run-tap.js's last line: "tests: N passed, N failed, N skipped"
  read -r pass fail skipped < <(sed -n 's/^tests: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped.*/\1 \2 \3/p' "$logs/$tier/tap.out" | tail -1; echo)
  echo "$tier $(( ${pass:-0} + ${fail:-0} + ${skipped:-0} )) ${pass:-0} ${fail:-0} ${skipped:-0} $seconds $n" >> "$logs/tiers.txt"
  echo "asan: tier $tier: ${pass:-?} passed, ${fail:-?} failed, ${skipped:-?} skipped; reports $n; ${seconds}s"
done
elapsed=$(( $(date +%s) - start ))

mkdir -p dist/reports
REPORT=$report RUNTIME="$runtime" REPORTS=$reports FOREIGN=$foreign SECONDS_ALL=$elapsed BUILD=$build_seconds LOGS="$logs" node -e '
  const fs = require("node:fs");
  const e = process.env;
  const tiers = fs.readFileSync(e.LOGS + "/tiers.txt", "utf8").trim().split("\n").filter(Boolean).map((l) => {
    const [tier, tests, pass, fail, skip, seconds, reports] = l.split(" ");
    return { tier, tests: +tests, pass: +pass, fail: +fail, skip: +skip, seconds: +seconds, reports: +reports };
  });
  const suppressions = fs.readFileSync("scripts/sanitizers/lsan.supp", "utf8").split("\n")
    .filter((l) => l.startsWith("leak:")).map((l) => l.slice(5).trim());
  const out = { runtime: e.RUNTIME, tiers, reports: +e.REPORTS, foreignReports: +e.FOREIGN, suppressions,
    seconds: +e.SECONDS_ALL, buildSeconds: +e.BUILD, logsDir: e.LOGS, date: new Date().toISOString() };
  fs.writeFileSync(e.REPORT, JSON.stringify(out, null, 2) + "\n");'

echo "asan ($runtime): tiers ${tiers[*]}; reports $reports (other programs: $foreign); ${elapsed}s; logs in $logs; $report"
if [ "$reports" -gt 0 ]; then
  echo "asan: $reports sanitizer report(s) of node processes above" >&2
  exit 1
fi
exit "$status"
