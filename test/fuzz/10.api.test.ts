// Hostile input (issue 7): every exported function and every public method of the handle
// classes, found by reflection, called with hostile arguments on test:///default and pure
// functions (test/fuzz/runner.ts says what and how). The runner is a child process, so a
// native crash is a failure naming the seed and the call; a call not settled within 5 s is a
// hang. VIRTKIT_FUZZ_SEED replays a run, VIRTKIT_FUZZ_CALLS changes its length.
import t from 'tap';
import { judgeRun, runRunner, type FuzzReport } from './harness';

const seed = process.env.VIRTKIT_FUZZ_SEED ? Number(process.env.VIRTKIT_FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const calls = Number(process.env.VIRTKIT_FUZZ_CALLS ?? 20_000);

/** dist/reports/fuzz.json: the runner's report, with `crashes` (0, or 1 with `crashedAt`). */
interface Report extends FuzzReport {
  targets: { functions: string[]; methods: Record<string, string[]>; unavailable: string[] };
  entityListenerContacts: number;
  skipped: Record<string, string>;
  restricted: Record<string, string>;
}

/** Runs the fuzz runner on the test driver in a child process; what it left behind. */
const runFuzz = (t: { teardown: (fn: () => unknown) => void }, runSeed: number, runCalls: number, extra: string[] = []) =>
  runRunner<Report>(t, { seed: runSeed, calls: runCalls, args: extra, timeoutMs: 120_000, env: { LIBVIRT_DEFAULT_URI: 'test:///default' } });

t.test(`fuzz: ${calls} hostile calls, seed ${seed} (VIRTKIT_FUZZ_SEED=${seed} replays it)`, async (t) => {
  const report = judgeRun(t, runFuzz(t, seed, calls), { name: 'fuzz', seed, calls });
  if (!report) return;
  t.equal(report.entityListenerContacts, 0, 'no external entity or DTD was fetched');
  // Reflection found the API: the handle classes with their methods, the exported functions.
  t.ok(report.targets.functions.includes('connect') && report.targets.functions.includes('parsePortal@iscsi') && report.targets.functions.includes('parseDomainXml'), 'exported functions found');
  for (const cls of ['Connection', 'StoragePool', 'StorageVolume', 'Domain', 'DomainSnapshot', 'DomainCheckpoint', 'Secret'])
    t.ok((report.targets.methods[cls] ?? []).length > 0, `${cls} methods found`);
  // The test driver has no secrets driver: Secret's methods get a foreign `this` only.
  t.same(report.targets.unavailable, ['Secret'], 'a live handle of every class the test driver has');
  for (const cat of ['function', 'constructor', 'foreign-this', 'method/live', 'method/freed', 'method/closed-connection'])
    t.ok((report.categories[cat] ?? 0) > 0, `calls of category ${cat}`);
  t.ok((report.results.LibvirtError ?? 0) > 0 && (report.results.TypeError ?? 0) > 0 && (report.results.result ?? 0) > 0, 'native code was reached, arguments were refused, calls succeeded');

  const byKind = Object.entries(report.results).map(([k, n]) => `${k} ${n}`).join(', ');
  const byCategory = Object.entries(report.categories).map(([k, n]) => `${k} ${n}`).join(', ');
  t.comment(`fuzz: ${report.calls} calls, seed ${seed}, crashes 0, hangs ${report.hangs}, failures ${report.failures.length}, ${report.ms} ms`);
  t.comment(`fuzz by category: ${byCategory}`);
  t.comment(`fuzz by result: ${byKind}`);
  t.comment(`fuzz targets: ${report.targets.functions.length} functions, ${Object.values(report.targets.methods).reduce((a, m) => a + m.length, 0)} methods; skipped: ${Object.keys(report.skipped).join(', ')}`);
});

t.test('the harness catches a crash (with the seed and the call) and a hang', async (t) => {
  const crash = runFuzz(t, 7, 200, ['--selftest-crash-at', '50']);
  t.equal(crash.child.signal, 'SIGSEGV', 'the child died');
  t.ok(crash.crashed, 'seen as a crash');
  t.equal(crash.last, 'selftest crash at call 50', 'the progress file names the call it died in');
  t.equal(crash.report, null, 'and no report claims success');
  const hang = runFuzz(t, 7, 100, ['--selftest-hang-at', '10', '--timeout', '200']);
  t.notOk(hang.crashed);
  t.equal(hang.report?.hangs, 1, 'a call not settled within the per-call timeout is a hang');
  t.match(hang.report?.failures[0], { call: /neverSettles/, problem: /not settled within 200 ms/ });
});
