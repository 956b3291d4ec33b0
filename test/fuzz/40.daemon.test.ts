// Hostile input on the real daemon (issue 7): the reflection fuzzer of runner.ts (every
// exported function, every public method of every handle class, live, freed, of a closed
// connection, with a foreign `this`) run with its handles on a libvirtd of this test's own
// (privateLibvirtd: the destructive calls, a guest started, a pool deleted, hit nothing
// shared). A bounded run: VIRTKIT_FUZZ_DAEMON_CALLS (default 10000, about 10 s here, plus a few for the daemon's start);
// VIRTKIT_FUZZ_SEED replays one. Writes dist/reports/fuzz-daemon.json (shape: DaemonReport).
import t from 'tap';
import * as fs from 'node:fs';
import { privateLibvirtd, timeScale } from '../helpers';
import { judgeRun, runRunner, type FuzzReport } from './harness';

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
interface DaemonReport extends FuzzReport {
  targets: { functions: string[]; methods: Record<string, string[]>; unavailable: string[] };
  entityListenerContacts: number;
}

t.test(`fuzz on a private libvirtd: ${calls} hostile calls, seed ${seed} (VIRTKIT_FUZZ_SEED=${seed} replays it)`, { skip }, async (t) => {
  const started = Date.now();
  const daemon = privateLibvirtd(t);
  if ('skip' in daemon) return void t.plan(0, daemon.skip);
  const run = runRunner<DaemonReport>(t, { seed, calls, args: ['--uri', daemon.uri, '--timeout', String(20_000 * timeScale)], timeoutMs: 600_000 * timeScale });
  const report = judgeRun(t, run, { name: 'fuzz-daemon', mode: 'daemon', seed, calls });
  if (!report) return;
  t.equal(report.entityListenerContacts, 0, 'no external entity or DTD was fetched');
  t.same(report.targets.unavailable, ['DomainCheckpoint'], 'a live handle of every class but a checkpoint (which needs a running guest)');
  for (const cat of ['function', 'foreign-this', 'method/live', 'method/freed', 'method/closed-connection'])
    t.ok((report.categories[cat] ?? 0) > 0, `calls of category ${cat}`);
  t.ok((report.results.LibvirtError ?? 0) > 0 && (report.results.result ?? 0) > 0, 'the daemon was reached: it refused calls and answered others');
  const byKind = Object.entries(report.results).map(([k, n]) => `${k} ${n}`).join(', ');
  t.comment(`fuzz-daemon: ${report.calls} calls, seed ${seed}, crashes 0, hangs ${report.hangs}, failures ${report.failures.length}, ${report.ms} ms (${Date.now() - started} ms with the daemon's start)`);
  t.comment(`fuzz-daemon by result: ${byKind}`);
});
