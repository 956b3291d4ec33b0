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
import { privateTgtd, privateTgtdSkip, registerSecret, timeScale } from '../helpers';
import { judgeRun, runRunner, type FuzzReport } from './harness';

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
interface IscsiReport extends FuzzReport {
  authRefusals: number;
  targets: { methods: { IscsiSession: string[] }; luns: Array<{ lun: number; blocks: number; blockSize: number }> };
}

/** The runner in iSCSI mode, the target (with its passwords) in its environment. */
function runFuzz(t: { teardown: (fn: () => unknown) => void }, own: ReturnType<typeof privateTgtd>, runSeed: number, runCalls: number, extra: string[] = []) {
  const target = {
    portal: own.portal,
    target: own.target.iqn,
    chap: own.target.chap,
    mutual: own.target.mutual,
    luns: own.target.luns.map((l) => ({ lun: l.lun, sizeBytes: l.sizeBytes })),
  };
  return runRunner<IscsiReport>(t, {
    seed: runSeed,
    calls: runCalls,
    args: ['--mode', 'iscsi', '--timeout', String(15_000 * timeScale), ...extra],
    timeoutMs: 300_000 * timeScale,
    env: { VIRTKIT_FUZZ_ISCSI: JSON.stringify(target) }, // the passwords: never on a command line
  });
}

/** One private tgtd for both tests, stopped when the file ends. */
let tgtd: ReturnType<typeof privateTgtd> | null = null;
const ownTgtd = () => (tgtd ??= privateTgtd(t));

t.test(`fuzz on a tgtd target: ${calls} hostile iSCSI calls, seed ${seed} (VIRTKIT_FUZZ_SEED=${seed} replays it)`, { skip: privateTgtdSkip }, async (t) => {
  const own = ownTgtd();
  registerSecret('fuzz/30 private tgtd CHAP password', own.target.chap!.password);
  if (own.target.mutual) registerSecret('fuzz/30 private tgtd mutual CHAP password', own.target.mutual.password);
  const r = judgeRun(t, runFuzz(t, own, seed, calls), { name: 'fuzz-iscsi', mode: 'iscsi', seed, calls });
  if (!r) return;
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
