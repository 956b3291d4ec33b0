#!/usr/bin/env bash
# npm run test:valgrind [-- TEST_FILE...]: valgrind memcheck over the driver tier's test files
# (libvirt's in-process test driver: most of the native code, no daemon). Builds the addon with
# -O1 -g into build-sanitizers/valgrind/ (build/Release stays the normal build), runs each test
# file as `valgrind node --jitless FILE` (tap's runner and the processes tests spawn run without
# valgrind), and fails on any memcheck error or definite leak. Suppressions for Node's and V8's
# own start-up and exit allocations are in scripts/sanitizers/valgrind.supp (each says why).
#
# Writes dist/reports/valgrind.json (read by scripts/reliability.js for the README):
#   { files, tests, failedFiles, errors, definitelyLostBytes, seconds,
#     suppressions: [names of scripts/sanitizers/valgrind.supp entries], logsDir, date (ISO) }
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/sanitize-lib.sh"
cd "$(repo_root)"
ensure_packages scripts/packages.txt
ensure_built

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(ls dist/test/driver/*.test.js)
fi

echo "virtkit: building the addon with -O1 -g for valgrind"
addon=$(build_instrumented build-sanitizers/valgrind "-O1 -g -fno-omit-frame-pointer" "")
logs=$(mktemp -d "${TMPDIR:-/tmp}/virtkit-valgrind.XXXXXX")
export VIRTKIT_NATIVE_ADDON="$addon"
# tap's own 30 s limit per test file (run without tap's runner) is for native speed; memcheck
# runs 5 to 30 times slower.
export TAP_TIMEOUT=0

errors=0 definite=0 failed=0 tests=0 start=$(date +%s)
for f in "${files[@]}"; do
  name=$(basename "$f" .test.js)
  t0=$(date +%s)
  set +e
  # --jitless: V8 interprets only, so memcheck does not see code written and run in place;
  # exit code 99 marks memcheck errors (definite leaks count as errors, nothing else does).
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --track-origins=no --num-callers=40 \
    --suppressions=scripts/sanitizers/valgrind.supp --log-file="$logs/$name.vg" \
    node --jitless "$f" > "$logs/$name.tap" 2>&1
  rc=$?
  set -e
  e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$logs/$name.vg" | tail -1)
  d=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$logs/$name.vg" | tail -1 | tr -d ,)
  n=$(sed -n 's/^# { total: \([0-9]*\).*/\1/p' "$logs/$name.tap" | tail -1)
  tests=$((tests + ${n:-0}))
  errors=$((errors + ${e:-0})); definite=$((definite + ${d:-0}))
  echo "valgrind: $name: exit $rc, tests ${n:-?}, errors ${e:-?}, definitely lost ${d:-0} bytes, $(( $(date +%s) - t0 ))s"
  if [ "$rc" = 99 ] || [ "${e:-1}" != 0 ]; then
    failed=$((failed + 1)); cat "$logs/$name.vg"
  elif [ "$rc" != 0 ]; then
    failed=$((failed + 1)); echo "--- $name: the tests failed under valgrind:"; tail -40 "$logs/$name.tap"
  fi
done
elapsed=$(( $(date +%s) - start ))
mkdir -p dist/reports
FILES=${#files[@]} TESTS=$tests FAILED=$failed ERRORS=$errors DEFINITE=$definite SECONDS_ALL=$elapsed LOGS="$logs" node -e '
  const fs = require("node:fs");
  const e = process.env;
  // Entry names: the first line inside each { ... } block.
  const suppressions = [...fs.readFileSync("scripts/sanitizers/valgrind.supp", "utf8").matchAll(/^\{\s*\n\s*(\S+)/gm)].map((m) => m[1]);
  const out = { files: +e.FILES, tests: +e.TESTS, failedFiles: +e.FAILED, errors: +e.ERRORS, definitelyLostBytes: +e.DEFINITE,
    seconds: +e.SECONDS_ALL, suppressions, logsDir: e.LOGS, date: new Date().toISOString() };
  fs.writeFileSync("dist/reports/valgrind.json", JSON.stringify(out, null, 2) + "\n");'
echo "valgrind: ${#files[@]} files, $tests tests; errors $errors; definitely lost $definite bytes; ${elapsed}s; logs in $logs; dist/reports/valgrind.json"
[ "$failed" = 0 ]
