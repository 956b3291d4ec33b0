/**
 * What the fuzz tests share: running runner.ts in a child process (so that a native crash is
 * a failed test naming the seed and the call, not a dead test process), and turning its
 * outcome into assertions and the report for the README's reliability section
 * (dist/reports/fuzz*.json, read by scripts/reliability.js).
 */
import type tap from 'tap';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, tempDir } from '../helpers';

/** What every mode of the runner reports (each mode adds its own fields). */
export interface FuzzReport {
  mode?: string;
  seed: number;
  calls: number;
  ms: number;
  hangs: number;
  failures: Array<{ call: string; problem: string }>;
  categories: Record<string, number>;
  results: Record<string, number>;
}

export interface FuzzRun<R extends FuzzReport> {
  child: SpawnSyncReturns<string>;
  /** Every call the runner started, one line each (written before the call). */
  lines: string[];
  last: string;
  crashed: boolean;
  report: R | null;
}

/** dist/reports/<name>.json. */
export const reportPath = (name: string): string => path.join(repoRoot, 'dist', 'reports', `${name}.json`);

/**
 * Runs the runner with `args` (after --seed, --calls, --progress, --report) in a temp dir of
 * `t`'s own, which is also the runner's TMPDIR: whatever it leaves, even when it crashes, is
 * removed with the test.
 */
export function runRunner<R extends FuzzReport>(
  t: { teardown: (fn: () => unknown) => void },
  o: { seed: number; calls: number; args?: string[]; timeoutMs: number; env?: Record<string, string> },
): FuzzRun<R> {
  const dir = tempDir(t, 'virtkit-fuzz-run');
  const progress = path.join(dir, 'progress.txt');
  const reportFile = path.join(dir, 'report.json');
  const child = spawnSync(
    process.execPath,
    [path.join(__dirname, 'runner.js'), '--seed', String(o.seed), '--calls', String(o.calls), '--progress', progress, '--report', reportFile, ...(o.args ?? [])],
    { encoding: 'utf8', timeout: o.timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...o.env, TMPDIR: dir } },
  );
  const lines = fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trimEnd().split('\n') : [];
  const report = fs.existsSync(reportFile) ? (JSON.parse(fs.readFileSync(reportFile, 'utf8')) as R) : null;
  return { child, lines, last: lines.at(-1) ?? '(no call started)', crashed: child.signal !== null || child.status !== 0, report };
}

type Asserts = Pick<typeof tap, 'fail' | 'comment' | 'equal'>;

/**
 * The common verdict of a fuzz run: on a crash, a failure naming the call it died in and a
 * report saying so (null returned); else the report written with `crashes: 0`, every call
 * tried, no failure, no hang (the report returned, for the mode's own checks).
 */
export function judgeRun<R extends FuzzReport>(t: Asserts, run: FuzzRun<R>, o: { name: string; mode?: string; seed: number; calls: number }): R | null {
  const file = reportPath(o.name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const replay = `replay with VIRTKIT_FUZZ_SEED=${o.seed}`;
  if (run.crashed || !run.report) {
    const { child } = run;
    t.fail(`fuzz runner died (status ${child.status}, signal ${child.signal}${child.error ? `, ${child.error.message}` : ''}) at call ${run.lines.length}: ${run.last} — ${replay}`);
    t.comment(child.stderr.slice(-4000));
    fs.writeFileSync(file, JSON.stringify({ mode: o.mode, seed: o.seed, calls: run.lines.length, crashes: 1, hangs: 0, crashedAt: run.last }, null, 2));
    return null;
  }
  const report = run.report;
  fs.writeFileSync(file, JSON.stringify({ ...report, crashes: 0 }, null, 2));
  t.equal(run.last, '(done)', 'the runner finished');
  if (o.mode) t.equal(report.mode, o.mode);
  t.equal(report.seed, o.seed);
  t.equal(report.calls, o.calls, `${o.calls} calls tried`);
  for (const f of report.failures.slice(0, 30)) t.fail(`${f.problem} — ${f.call} — ${replay}`);
  t.equal(report.failures.length, 0, 'every call ended in a typed error or a result');
  t.equal(report.hangs, 0, 'no call hung');
  return report;
}
