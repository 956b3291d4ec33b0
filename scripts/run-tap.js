#!/usr/bin/env node
// Runs tap with the given arguments, passes its output through, and ends with one plain
// summary line ("tests: N passed, N failed, N skipped") taken from tap's own closing count.
// Exits with tap's exit code (non-zero when no test ran at all).
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const fs = require('node:fs');

function findTests(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? findTests(path.join(dir, e.name)) : e.name.endsWith('.test.js') ? [path.join(dir, e.name)] : []))
    .sort();
}

const tapBin = path.join(__dirname, '..', 'node_modules', '.bin', 'tap');
// With no files named, run every built test (tap's own search skips dist/).
const args = process.argv.slice(2);
if (!args.some((a) => !a.startsWith('-'))) args.push(...findTests(path.join('dist', 'test')));
const child = spawn(tapBin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code, signal) => {
  const m = /# \{ total: (\d+)((?:, \w+: \d+)*) \}/.exec(tail);
  const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  if (m) for (const [, k, v] of m[2].matchAll(/(\w+): (\d+)/g)) counts[k] = Number(v);
  const total = m ? Number(m[1]) : 0;
  console.log(`\ntests: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
  if (signal) process.exit(1);
  if (total === 0) {
    console.error('run-tap: no test ran');
    process.exit(1);
  }
  process.exit(code ?? 1);
});
