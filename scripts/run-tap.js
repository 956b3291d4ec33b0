#!/usr/bin/env node
// Runs tap with the given arguments, passes its output through, and ends with one plain
// summary line ("tests: N passed, N failed, N skipped") taken from tap's own closing counts.
// Exits with tap's exit code (non-zero when no test ran at all).
//
// With no files named, every built test runs, and the tiers listed in LAST (the secrets
// check, which greps what the others printed) run afterwards, in a second tap run of their
// own. With a test environment ($VIRTKIT_TESTENV), everything tap prints is also appended to
// tap-output.log beside env.json, for that check to read.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const fs = require('node:fs');

/** Tiers that run after every other one (dist/test/<name>). */
const LAST = ['zz-secrets'];

function findTests(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? findTests(path.join(dir, e.name)) : e.name.endsWith('.test.js') ? [path.join(dir, e.name)] : []))
    .sort();
}

const tapBin = path.join(__dirname, '..', 'node_modules', '.bin', 'tap');
const outLog = process.env.VIRTKIT_TESTENV ? path.join(path.dirname(process.env.VIRTKIT_TESTENV), 'tap-output.log') : null;

/** One tap run; resolves { code, signal, counts, total }. */
function runTap(args) {
  return new Promise((resolve) => {
    const child = spawn(tapBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const tee = (stream, to) => (chunk) => {
      to.write(chunk);
      if (outLog) fs.appendFileSync(outLog, chunk);
      if (stream === 'stdout') tail = (tail + chunk.toString('utf8')).slice(-4096);
    };
    child.stdout.on('data', tee('stdout', process.stdout));
    child.stderr.on('data', tee('stderr', process.stderr));
    child.on('close', (code, signal) => {
      const m = /# \{ total: (\d+)((?:, \w+: \d+)*) \}/.exec(tail);
      const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
      if (m) for (const [, k, v] of m[2].matchAll(/(\w+): (\d+)/g)) counts[k] = Number(v);
      resolve({ code, signal, counts, total: m ? Number(m[1]) : 0 });
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  const runs = [];
  const started = Date.now();
  const whole = !args.some((a) => !a.startsWith('-'));
  let files = 0;
  if (args.some((a) => !a.startsWith('-'))) {
    // A directory named (a tier) stands for its tests: tap would run every .js file in it,
    // the fuzz tier's runner and harness too, each counted as a skipped file.
    const isDir = (a) => !a.startsWith('-') && fs.statSync(a, { throwIfNoEntry: false })?.isDirectory();
    runs.push(args.flatMap((a) => (isDir(a) ? findTests(a) : [a])));
  } else {
    // With no files named, run every built test (tap's own search skips dist/).
    const all = findTests(path.join('dist', 'test'));
    files = all.length;
    const isLast = (f) => LAST.some((tier) => f.split(path.sep).includes(tier));
    runs.push([...args, ...all.filter((f) => !isLast(f))]);
    const last = all.filter(isLast);
    if (last.length) runs.push([...args, ...last]);
  }
  const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  let total = 0;
  let code = 0;
  for (const run of runs) {
    const r = await runTap(run);
    for (const k of Object.keys(counts)) counts[k] += r.counts[k] ?? 0;
    total += r.total;
    if (r.signal) code = 1;
    else if (r.code !== 0) code = r.code ?? 1;
  }
  console.log(`\ntests: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
  if (whole && total > 0) {
    // The whole suite's counts, for the README's reliability section (scripts/reliability.js):
    // { files, pass, fail, skip, todo, seconds, exitCode }.
    const report = path.join('dist', 'reports', 'tests.json');
    fs.mkdirSync(path.dirname(report), { recursive: true });
    fs.writeFileSync(report, JSON.stringify({ files, ...counts, seconds: Math.round((Date.now() - started) / 1000), exitCode: code }, null, 2));
  }
  if (total === 0) {
    console.error('run-tap: no test ran');
    process.exit(1);
  }
  process.exit(code);
}

void main();
