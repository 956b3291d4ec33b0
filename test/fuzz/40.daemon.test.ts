// Hostile input on the real daemon (issue 7): the reflection fuzzer of runner.ts (every
// exported function, every public method of every handle class, live, freed, of a closed
// connection, with a foreign `this`) run with its handles on a libvirtd of this test's own
// (privateLibvirtd: the destructive calls, a guest started, a pool deleted, hit nothing
// shared). A bounded run: VIRTKIT_FUZZ_DAEMON_CALLS (default 10000, about 10 s here, plus a few for the daemon's start);
// VIRTKIT_FUZZ_SEED replays one. Writes dist/reports/fuzz-daemon.json (shape: DaemonReport).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { privateLibvirtd, repoRoot, tempDir, timeScale } from '../helpers';

const seed = process.env.VIRTKIT_FUZZ_SEED ? Number(process.env.VIRTKIT_FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const calls = Number(process.env.VIRTKIT_FUZZ_DAEMON_CALLS ?? 10000);
const skip = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/libvirtd') ? false : 'needs libvirtd (Debian package libvirt-daemon-system) and root';

/**
 * dist/reports/fuzz-daemon.json: the runner's report (test/fuzz/runner.ts, the same shape as
 * fuzz.json) with `mode: 'daemon'`, `uri` (the private daemon's), `handles` (what each set of
 * handles is made of), and `crashes` (0, or 1 with `crashedAt`, the call the runner died in):
 *   { mode, uri, handles, seed, calls, ms, crashes, hangs, failures: [{ call, problem }],
 *     categories: { <category>: n }, results: { result|TypeError|RangeError|LibvirtError|…: n },
 *     targets: { functions, methods, unavailable }, entityListenerContacts, skipped, restricted }
 */
export const REPORT_FILE = path.join(repoRoot, 'dist', 'reports', 'fuzz-daemon.json');

interface DaemonReport {
  mode: string;
  seed: number;
  calls: number;
  ms: number;
  hangs: number;
  failures: Array<{ call: string; problem: string }>;
  categories: Record<string, number>;
  results: Record<string, number>;
  targets: { functions: string[]; methods: Record<string, string[]>; unavailable: string[] };
  entityListenerContacts: number;
}

t.test(`fuzz on a private libvirtd: ${calls} hostile calls, seed ${seed} (VIRTKIT_FUZZ_SEED=${seed} replays it)`, { skip }, async (t) => {
  const started = Date.now();
  const daemon = privateLibvirtd(t);
  if ('skip' in daemon) return void t.plan(0, daemon.skip);
  const dir = tempDir(t, 'virtkit-fuzz-daemon');
  const progress = path.join(dir, 'progress.txt');
  const reportFile = path.join(dir, 'report.json');
  const child = spawnSync(
    process.execPath,
    [path.join(__dirname, 'runner.js'), '--seed', String(seed), '--calls', String(calls), '--uri', daemon.uri, '--timeout', String(20_000 * timeScale), '--progress', progress, '--report', reportFile],
    { encoding: 'utf8', timeout: 600_000 * timeScale, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TMPDIR: dir } },
  );
  const lines = fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trimEnd().split('\n') : [];
  const last = lines.at(-1) ?? '(no call started)';
  fs.mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  if (child.signal !== null || child.status !== 0) {
    t.fail(`fuzz runner died (status ${child.status}, signal ${child.signal}${child.error ? `, ${child.error.message}` : ''}) at call ${lines.length}: ${last} — replay with VIRTKIT_FUZZ_SEED=${seed}`);
    t.comment(child.stderr.slice(-4000));
    fs.writeFileSync(REPORT_FILE, JSON.stringify({ mode: 'daemon', seed, calls: lines.length, crashes: 1, hangs: 0, crashedAt: last }, null, 2));
    return;
  }
  t.equal(last, '(done)', 'the runner finished');
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as DaemonReport;
  fs.writeFileSync(REPORT_FILE, JSON.stringify({ ...report, crashes: 0 }, null, 2));
  t.equal(report.mode, 'daemon');
  t.equal(report.calls, calls, `${calls} calls tried`);
  for (const f of report.failures.slice(0, 30)) t.fail(`${f.problem} — ${f.call} — replay with VIRTKIT_FUZZ_SEED=${seed}`);
  t.equal(report.failures.length, 0, 'every call ended in a typed error or a result');
  t.equal(report.hangs, 0, 'no call hung');
  t.equal(report.entityListenerContacts, 0, 'no external entity or DTD was fetched');
  t.same(report.targets.unavailable, ['DomainCheckpoint'], 'a live handle of every class but a checkpoint (which needs a running guest)');
  for (const cat of ['function', 'foreign-this', 'method/live', 'method/freed', 'method/closed-connection'])
    t.ok((report.categories[cat] ?? 0) > 0, `calls of category ${cat}`);
  t.ok((report.results.LibvirtError ?? 0) > 0 && (report.results.result ?? 0) > 0, 'the daemon was reached: it refused calls and answered others');
  const byKind = Object.entries(report.results).map(([k, n]) => `${k} ${n}`).join(', ');
  t.comment(`fuzz-daemon: ${report.calls} calls, seed ${seed}, crashes 0, hangs ${report.hangs}, failures ${report.failures.length}, ${report.ms} ms (${Date.now() - started} ms with the daemon's start)`);
  t.comment(`fuzz-daemon by result: ${byKind}`);
});
