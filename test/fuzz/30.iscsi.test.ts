// Hostile input to the iSCSI initiator (issue 7): IscsiSession (every method, found by
// reflection) and LunReadable against a tgtd of this test's own (privateTgtd: the fuzz writes
// to its LUNs), in runner.ts's iSCSI mode (ISCSI_CATEGORIES there says what each category
// does): wrong types, LBAs and block counts at and far past the end, 2^32, 2^53, negative,
// NaN; buffers of every wrong size and detached; reads past the end; closed sessions; streams
// destroyed, aborted, or losing their session mid-read; sessions closed with commands in
// flight; logins with bad CHAP and hostile options; discovery. Every call must end in a typed
// error (IscsiError, TypeError, RangeError, AbortError) or a result, within the per-call
// timeout, and no error or session may show a CHAP password. A bounded run:
// VIRTKIT_FUZZ_ISCSI_CALLS (default 10000, about 10 s here, plus a few for tgtd's start); VIRTKIT_FUZZ_SEED replays one.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { privateTgtd, privateTgtdSkip, registerSecret, repoRoot, tempDir, timeScale } from '../helpers';

const seed = process.env.VIRTKIT_FUZZ_SEED ? Number(process.env.VIRTKIT_FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const calls = Number(process.env.VIRTKIT_FUZZ_ISCSI_CALLS ?? 10000);

/**
 * dist/reports/fuzz-iscsi.json, written from the runner's report:
 *   { mode: 'iscsi', seed, calls, ms, crashes (0, or 1 with crashedAt: the call it died in),
 *     hangs, failures: [{ call, problem }], categories: { <category>: n },
 *     results: { result|IscsiError|TypeError|RangeError|AbortError|AggregateError|FuzzProbe: n },
 *     authRefusals (logins refused with kind 'auth': the bad-CHAP ones and others),
 *     targets: { methods: { IscsiSession: [...] }, luns: [{ lun, blocks, blockSize }] },
 *     described: { <category>: what it does } }
 */
export const REPORT_FILE = path.join(repoRoot, 'dist', 'reports', 'fuzz-iscsi.json');

interface IscsiReport {
  mode: string;
  seed: number;
  calls: number;
  ms: number;
  hangs: number;
  failures: Array<{ call: string; problem: string }>;
  categories: Record<string, number>;
  results: Record<string, number>;
  authRefusals: number;
  targets: { methods: { IscsiSession: string[] }; luns: Array<{ lun: number; blocks: number; blockSize: number }> };
}

/** The runner in iSCSI mode, the target (with its passwords) in its environment. */
function runFuzz(t: { teardown: (fn: () => unknown) => void }, own: ReturnType<typeof privateTgtd>, runSeed: number, runCalls: number, extra: string[] = []) {
  const dir = tempDir(t, 'virtkit-fuzz-iscsi');
  const progress = path.join(dir, 'progress.txt');
  const reportFile = path.join(dir, 'report.json');
  const target = {
    portal: own.portal,
    target: own.target.iqn,
    chap: own.target.chap,
    mutual: own.target.mutual,
    luns: own.target.luns.map((l) => ({ lun: l.lun, sizeBytes: l.sizeBytes })),
  };
  const child = spawnSync(
    process.execPath,
    [path.join(__dirname, 'runner.js'), '--mode', 'iscsi', '--seed', String(runSeed), '--calls', String(runCalls), '--timeout', String(15_000 * timeScale), '--progress', progress, '--report', reportFile, ...extra],
    { encoding: 'utf8', timeout: 300_000 * timeScale, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TMPDIR: dir, VIRTKIT_FUZZ_ISCSI: JSON.stringify(target) } },
  );
  const lines = fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trimEnd().split('\n') : [];
  const report = fs.existsSync(reportFile) ? (JSON.parse(fs.readFileSync(reportFile, 'utf8')) as IscsiReport) : null;
  return { child, lines, last: lines.at(-1) ?? '(no call started)', crashed: child.signal !== null || child.status !== 0, report };
}

/** One private tgtd for both tests, stopped when the file ends. */
let tgtd: ReturnType<typeof privateTgtd> | null = null;
const ownTgtd = () => (tgtd ??= privateTgtd(t));

t.test(`fuzz on a tgtd target: ${calls} hostile iSCSI calls, seed ${seed} (VIRTKIT_FUZZ_SEED=${seed} replays it)`, { skip: privateTgtdSkip }, async (t) => {
  const own = ownTgtd();
  registerSecret('fuzz/30 private tgtd CHAP password', own.target.chap!.password);
  if (own.target.mutual) registerSecret('fuzz/30 private tgtd mutual CHAP password', own.target.mutual.password);
  const { child, lines, last, crashed, report } = runFuzz(t, own, seed, calls);
  fs.mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  if (crashed) {
    t.fail(`iSCSI fuzz runner died (status ${child.status}, signal ${child.signal}${child.error ? `, ${child.error.message}` : ''}) at call ${lines.length}: ${last} — replay with VIRTKIT_FUZZ_SEED=${seed}`);
    t.comment(child.stderr.slice(-4000));
    fs.writeFileSync(REPORT_FILE, JSON.stringify({ mode: 'iscsi', seed, calls: lines.length, crashes: 1, hangs: 0, crashedAt: last }, null, 2));
    return;
  }
  t.equal(last, '(done)', 'the runner finished');
  fs.writeFileSync(REPORT_FILE, JSON.stringify({ ...report!, crashes: 0 }, null, 2));
  const r = report!;
  t.equal(r.mode, 'iscsi');
  t.equal(r.calls, calls, `${calls} calls tried`);
  for (const f of r.failures.slice(0, 30)) t.fail(`${f.problem} — ${f.call} — replay with VIRTKIT_FUZZ_SEED=${seed}`);
  t.equal(r.failures.length, 0, 'every call ended in a typed error or a result');
  t.equal(r.hangs, 0, 'no call hung');
  for (const m of ['read', 'readInto', 'write', 'readStream', 'readCapacity', 'inquiry', 'vpd', 'reportLuns', 'luns', 'testUnitReady', 'close'])
    t.ok(r.targets.methods.IscsiSession.includes(m), `IscsiSession.${m} found`);
  for (const cat of ['session-method', 'session-method/closed', 'foreign-this', 'read', 'readInto/write', 'stream', 'stream/session-closed', 'close-in-flight', 'connect', 'connect/bad-chap', 'discover'])
    t.ok((r.categories[cat] ?? 0) > 0, `calls of category ${cat}`);
  t.ok((r.results.IscsiError ?? 0) > 0 && (r.results.result ?? 0) > 0 && (r.results.RangeError ?? 0) > 0, 'the target answered, refused commands, and arguments were refused');
  t.ok(r.authRefusals > 0, 'bad CHAP was refused with kind auth');
  const byKind = Object.entries(r.results).map(([k, n]) => `${k} ${n}`).join(', ');
  const byCategory = Object.entries(r.categories).map(([k, n]) => `${k} ${n}`).join(', ');
  t.comment(`fuzz-iscsi: ${r.calls} calls, seed ${seed}, crashes 0, hangs ${r.hangs}, failures ${r.failures.length}, ${r.ms} ms; logins refused (auth) ${r.authRefusals}`);
  t.comment(`fuzz-iscsi by category: ${byCategory}`);
  t.comment(`fuzz-iscsi by result: ${byKind}`);
});

t.test('the iSCSI harness catches a crash, with the call it died in', { skip: privateTgtdSkip }, async (t) => {
  const own = ownTgtd();
  const crash = runFuzz(t, own, 7, 100, ['--selftest-crash-at', '40']);
  t.equal(crash.child.signal, 'SIGSEGV', 'the child died');
  t.ok(crash.crashed, 'seen as a crash');
  t.equal(crash.last, 'selftest crash at call 40', 'the progress file names the call');
  t.equal(crash.report, null, 'and no report claims success');
});
