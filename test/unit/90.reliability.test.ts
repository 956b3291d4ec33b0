// scripts/reliability.js turns the runs' reports (dist/reports/) into the README's
// "Reliability" block, and with --check fails on any report that shows a problem.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, tempDir } from '../helpers';

const script = path.join(repoRoot, 'scripts', 'reliability.js');

/** Reports of a clean run, in the shapes their writers document. */
function cleanReports(dir: string): void {
  const put = (name: string, v: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), JSON.stringify(v));
  };
  put('tests.json', { files: 70, pass: 3000, fail: 0, skip: 2, todo: 0, seconds: 250, exitCode: 0 });
  put('faults/daemon.json', { file: 'daemon/80.faults', faults: [{ fault: 'libvirtd SIGKILL', injected: 3, inFlight: 600, settled: 600, typedErrors: 590, resolved: 10, recovered: true, codes: {} }] });
  put('fuzz.json', { seed: 7, calls: 5000, crashes: 0, hangs: 0, failures: [] });
  put('secrets.json', { values: 12, files: 30, bytes: 5_000_000, hits: 0, sources: { env: 6, registered: 6 } });
  put('asan.json', { runtime: 'gcc', reports: 0, seconds: 400, tiers: [{ tier: 'driver', tests: 900, pass: 900, fail: 0, seconds: 200 }] });
  put('valgrind.json', { files: 12, tests: 999, errors: 0, definitelyLostBytes: 0, seconds: 290 });
  const phase = { calls: 1_000_000, inFlight: 64, seconds: 50, callsPerSec: 20_000, warmupRssMiB: 80, finalRssMiB: 81, growthMiB: 1, heapGrowthMiB: 0.1, baselineObjects: 3, maxObjectsAtSample: 3, objectsAfter: { connections: 0, domains: 0, pendingCalls: 0 }, verdict: { pass: true, failures: [] } };
  put('soak.json', { pass: true, driver: phase, daemon: { ...phase, calls: 100_000, daemonGrowthMiB: 1.1, daemonFdsWarmup: 27, daemonFdsFinal: 27 } });
}

function run(args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
}

t.test('a clean run: every figure in the block, --check passes', async (t) => {
  const dir = tempDir(t, 'virtkit-reports');
  cleanReports(dir);
  const r = run(['--reports', dir, '--check']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^<!-- reliability:begin/);
  t.match(r.stdout, /3,000 passed, 0 failed, 2 skipped/);
  t.match(r.stdout, /3 injected, 3 survived; 600 of 600 calls in flight settled, each with a typed error or a result: libvirtd SIGKILL ×3/);
  t.match(r.stdout, /5,000 tried \(seed 7\): 0 crashes, 0 hangs, 0 untyped/);
  t.match(r.stdout, /12 values, 30 files, 4\.8 MiB: 0 hits/);
  t.match(r.stdout, /900 tests over driver 900 \(3 min 20 s\): \*\*0 reports\*\*/);
  t.match(r.stdout, /12 files, 999 tests: \*\*0 errors, 0 bytes definitely lost\*\*/);
  t.match(r.stdout, /Soak, test:\/\/\/default: 1,000,000 calls, 64 in flight \| RSS 80\.0 MiB after warm-up → 81\.0 MiB \(\+1\.0 MiB, JS heap \+0\.1 MiB\); live native objects at every sample 3 \(the soak's own 3\), after closing 0; 20,000 calls\/s/);
  t.match(r.stdout, /Soak, libvirtd: 100,000 calls.*libvirtd RSS \+1\.1 MiB, open fds 27 → 27/);
  t.notMatch(r.stdout, /Problems|Not run/);
});

t.test('--check fails on every kind of problem, and on a missing report', async (t) => {
  const cases: Array<[string, string, (dir: string) => void]> = [
    ['a failed test', 'npm test: 1 failed', (d) => fs.writeFileSync(path.join(d, 'tests.json'), JSON.stringify({ files: 1, pass: 1, fail: 1, skip: 0, seconds: 1, exitCode: 1 }))],
    ['a fuzz crash', 'fuzz fuzz.json: 1 crashes', (d) => fs.writeFileSync(path.join(d, 'fuzz.json'), JSON.stringify({ seed: 1, calls: 3, crashes: 1, hangs: 0 }))],
    ['an unsettled call', 'calls did not settle', (d) => fs.writeFileSync(path.join(d, 'faults', 'daemon.json'), JSON.stringify({ file: 'x', faults: [{ fault: 'f', injected: 1, inFlight: 5, settled: 4, typedErrors: 4, resolved: 0, recovered: true }] }))],
    ['a secret found', 'secret values found', (d) => fs.writeFileSync(path.join(d, 'secrets.json'), JSON.stringify({ values: 1, files: 1, bytes: 1, hits: 1 }))],
    ['an ASan report', 'ASan (asan.json): 2 reports', (d) => fs.writeFileSync(path.join(d, 'asan.json'), JSON.stringify({ reports: 2, tiers: [] }))],
    ['a definite leak', 'valgrind: 0 errors, 64 bytes', (d) => fs.writeFileSync(path.join(d, 'valgrind.json'), JSON.stringify({ files: 1, tests: 1, errors: 0, definitelyLostBytes: 64, seconds: 1 }))],
    ['memory that grew', 'soak driver: RSS grew 89 MiB', (d) => {
      const soak = JSON.parse(fs.readFileSync(path.join(d, 'soak.json'), 'utf8'));
      Object.assign(soak.driver, { finalRssMiB: 90, growthMiB: 89, verdict: { pass: false, failures: ['RSS grew 89 MiB'] } });
      fs.writeFileSync(path.join(d, 'soak.json'), JSON.stringify(soak));
    }],
    ['a missing report', 'missing report valgrind.json', (d) => fs.rmSync(path.join(d, 'valgrind.json'))],
  ];
  for (const [what, message, spoil] of cases) {
    const dir = tempDir(t, 'virtkit-reports');
    cleanReports(dir);
    spoil(dir);
    const r = run(['--reports', dir, '--check']);
    t.equal(r.status, 1, `${what}: --check fails`);
    t.match(r.stderr, message, `${what}: named`);
    t.equal(run(['--reports', dir]).status, 0, `${what}: printing alone succeeds`);
  }
});

t.test('--write replaces only the block between the markers', async (t) => {
  const dir = tempDir(t, 'virtkit-reports');
  cleanReports(dir);
  const readme = path.join(dir, 'README.md');
  const begin = '<!-- reliability:begin (generated by scripts/reliability.js from dist/reports/; do not edit by hand) -->';
  fs.writeFileSync(readme, `# title\n\nbefore\n\n${begin}\nold figures\n<!-- reliability:end -->\n\nafter\n`);
  const r = run(['--reports', dir, '--readme', readme, '--write']);
  t.equal(r.status, 0, r.stderr);
  const text = fs.readFileSync(readme, 'utf8');
  t.match(text, /^# title\n\nbefore\n\n<!-- reliability:begin/);
  t.match(text, /<!-- reliability:end -->\n\nafter\n$/);
  t.notMatch(text, /old figures/);
  t.match(text, /3,000 passed/);
  fs.writeFileSync(readme, '# no markers\n');
  const bad = run(['--reports', dir, '--readme', readme, '--write']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /has no <!-- reliability:begin/);
  t.equal(fs.readFileSync(readme, 'utf8'), '# no markers\n', 'a README without the block is left alone');
});
