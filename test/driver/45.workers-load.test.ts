// Concurrency (issue 7): virtkit in four worker threads at once, and in the main thread beside
// them, each with its own test:///default connection and event listeners, under load: read
// calls kept in flight while domains and pools go through their lifecycles (test/event-load.ts).
// Each participant hears exactly its own events, in order, and exactly the others' (the test
// driver shares its state among the connections of a process, worker threads included).
// Then workers terminated, and processes ending, while calls and events are in flight: no
// crash, no abort, the right exit status, the main thread goes on.
import t from 'tap';
const tap = t;
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { repoRoot, timeScale } from '../helpers';
import { CRASH_TEXT, eventsPerRound, runLoad, startWorker, type LoadResult } from '../event-load';

const loadScript = path.join(__dirname, '..', 'event-load.js');
const run = randomBytes(3).toString('hex');
/** What a crash, an abort or a failed native assertion prints. */
/** Rounds of the worker-ending tests: fewer under ASan (timeScale > 1), where each takes seconds. */
const rounds = timeScale > 1 ? 2 : 4;


/** Checks one participant's result: every call succeeded, every event came, exactly. */
function checkResult(t: Pick<typeof tap, "same" | "ok" | "equal">, r: LoadResult, others: string[]): void {
  t.same(r.failures, [], `${r.tag}: every call succeeded`);
  t.same(r.errors, [], `${r.tag}: no subscription failed`);
  t.ok(r.complete, `${r.tag}: every expected event arrived`);
  t.equal(r.own.domain + r.own.pool + r.own.secret, r.expected, `${r.tag}: exactly its own ${r.expected} events`);
  t.same(r.wrongSequences, [], `${r.tag}: each object's events in lifecycle order`);
  t.same(r.foreign, Object.fromEntries(others.map((o) => [o, r.expected])), `${r.tag}: exactly the others' events`);
}

t.test('four workers and the main thread at once, each with its own connection and listeners, under load', async (t) => {
  const tags = [0, 1, 2, 3].map((i) => `vkw${run}-w${i}`);
  const mainTag = `vkw${run}-main`;
  const all = [...tags, mainTag];
  const base = { uri: 'test:///default', objects: 12, inflight: 64, timeoutMs: 30_000 * timeScale };
  const started = await Promise.all(tags.map((tag) => startWorker({ ...base, tag, others: all.filter((x) => x !== tag) })));
  const mine = runLoad({ ...base, tag: mainTag, others: tags }, async () => {
    for (const s of started) s.worker.postMessage('go'); // everyone is subscribed: go
  });
  const results = await Promise.all([...started.map((s) => s.result), mine]);
  await Promise.all(started.map((s) => s.worker.terminate()));
  for (const r of results) checkResult(t, r, all.filter((x) => x !== r.tag));
  const calls = results.reduce((a, r) => a + r.calls, 0);
  const events = results.reduce((a, r) => a + r.own.domain + r.own.pool + Object.values(r.foreign).reduce((x, y) => x + y, 0), 0);
  t.equal(results[0]!.expected, eventsPerRound(base), `${eventsPerRound(base)} events per participant`);
  t.comment(`workers-load: 5 participants, ${calls} calls, ${events} events delivered (${results[0]!.expected} caused by each, heard by all 5)`);
});

/** Runs `code` in a child node; its status, signal and output. */
function node(code: string, timeoutMs = 60_000) {
  return spawnSync(process.execPath, ['-e', code], { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs * timeScale, env: { ...process.env, VIRTKIT_LOAD: loadScript } });
}

/** The child's prologue: the load module, and a prepared participant `p` (subscribed). */
const prologue = (tag: string) => `
  const { Worker } = require('node:worker_threads');
  const load = require(process.env.VIRTKIT_LOAD);
  const forever = (tag) => new Promise((resolve, reject) => {
    const w = new Worker(process.env.VIRTKIT_LOAD, { workerData: { uri: 'test:///default', tag, objects: 4, inflight: 16, forever: true } });
    w.on('message', (m) => m === 'busy' && resolve(w));
    w.once('error', reject);
  });
  const opts = { uri: 'test:///default', tag: ${JSON.stringify(tag)}, objects: 4, inflight: 32 };
`;

t.test('workers terminated while their calls and events are in flight; the main thread goes on', async (t) => {
  const r = node(`${prologue(`vkt${run}-main`)}
    (async () => {
      let terminated = 0;
      const mainResults = [];
      for (let round = 0; round < ${rounds}; round++) {
        const ws = await Promise.all([0, 1, 2, 3].map((i) => forever('vkt${run}-r' + round + 'w' + i)));
        // The main thread's own load runs meanwhile; the workers go at staggered moments.
        const mine = load.runLoad({ ...opts, tag: opts.tag + round });
        await Promise.all(ws.map((w, i) => new Promise((r) => setTimeout(r, i * 7 + round)).then(() => w.terminate()).then(() => terminated++)));
        mainResults.push(await mine);
      }
      mainResults.push(await load.runLoad({ ...opts, tag: opts.tag + 'after' }));
      console.log(JSON.stringify({ terminated, mainResults }));
    })().catch((e) => { console.error(e); process.exit(2); });`);
  t.equal(r.signal, null, 'no crash signal');
  t.notMatch(r.stderr, CRASH_TEXT, 'no abort or crash text');
  t.equal(r.stderr, '', 'nothing on stderr');
  t.equal(r.status, 0);
  const out = JSON.parse(r.stdout) as { terminated: number; mainResults: LoadResult[] };
  t.equal(out.terminated, 4 * rounds, `${4 * rounds} busy workers terminated`);
  t.equal(out.mainResults.length, rounds + 1);
  for (const res of out.mainResults) checkResult(t, res, []);
});

t.test('workers that end themselves while in flight: process.exit() in the worker, an uncaught exception', async (t) => {
  const r = node(`${prologue(`vks${run}-main`)}
    const ending = (tag, endBy) => new Promise((resolve) => {
      const w = new Worker(process.env.VIRTKIT_LOAD, { workerData: { uri: 'test:///default', tag, objects: 4, inflight: 16, forever: true, endBy } });
      let error = null;
      w.on('error', (e) => (error = e.message));
      w.once('exit', (code) => resolve({ code, error }));
    });
    (async () => {
      const ends = [];
      for (let round = 0; round < ${rounds}; round++) {
        const mine = load.runLoad({ ...opts, tag: opts.tag + round });
        ends.push(...await Promise.all([0, 1, 2, 3].map((i) => ending('vks${run}-r' + round + 'w' + i, i % 2 ? 'throw' : 'exit'))));
        const res = await mine;
        if (res.failures.length || !res.complete || res.wrongSequences.length || res.errors.length) throw new Error(JSON.stringify(res));
      }
      console.log(JSON.stringify(ends));
    })().catch((e) => { console.error(e); process.exit(2); });`);
  t.equal(r.signal, null, 'no crash signal');
  t.equal(r.stderr, '', 'nothing on stderr');
  t.equal(r.status, 0, "the main thread's own load was right each round");
  const ends = JSON.parse(r.stdout) as Array<{ code: number; error: string | null }>;
  t.equal(ends.length, 4 * rounds);
  for (const [i, e] of ends.entries()) {
    if (i % 2) t.match(e, { code: 1, error: /threw while in flight/ }, 'an uncaught exception ends the worker with status 1');
    else t.same(e, { code: 5, error: null }, 'process.exit(5) in the worker ends it with 5');
  }
});

t.test('process.exit() while calls and events are in flight', async (t) => {
  const r = node(`${prologue(`vkx${run}`)}
    load.prepare(opts).then((p) => {
      p.run(0);
      p.firstEvent.then(() => setImmediate(() => process.exit(7)));
    });`);
  t.equal(r.signal, null, 'no crash signal');
  t.equal(r.stderr, '', 'nothing on stderr');
  t.equal(r.status, 7);
});

t.test('a program that just stops, with listeners still on and its connection open, exits by itself', async (t) => {
  const r = node(`${prologue(`vke${run}`)}
    load.prepare(opts).then(async (p) => { await p.run(0); console.log('load done'); });`);
  t.equal(r.signal, null, 'not killed by the timeout, no crash');
  t.equal(r.stderr, '');
  t.equal(r.status, 0);
  t.equal(r.stdout.trim(), 'load done');
});

t.test('an uncaught exception while calls and events are in flight', async (t) => {
  const r = node(`${prologue(`vku${run}`)}
    load.prepare(opts).then((p) => {
      p.run(0);
      p.firstEvent.then(() => setImmediate(() => { throw new Error('boom while in flight'); }));
    });`);
  t.equal(r.signal, null, 'no crash signal');
  t.equal(r.status, 1, "Node's status for an uncaught exception");
  t.match(r.stderr, /Error: boom while in flight/);
  t.notMatch(r.stderr, CRASH_TEXT, 'no abort or crash text');
});

t.test('an event listener that throws while calls and events are in flight', async (t) => {
  const r = node(`${prologue(`vkl${run}`)}
    load.prepare(opts).then((p) => {
      p.conn.on('pool-lifecycle', () => { throw new Error('listener threw'); });
      p.run(0);
    });`);
  t.equal(r.signal, null, 'no crash signal');
  t.equal(r.status, 1, 'an uncaught exception, as with any EventEmitter listener');
  t.match(r.stderr, /Error: listener threw/);
  t.notMatch(r.stderr, CRASH_TEXT, 'no abort or crash text');
});

t.test('process.exit() while four workers are busy with calls and events', async (t) => {
  for (const [when, code] of [['at once', 'setImmediate'], ['a little later', 'setTimeout']] as const) {
    const r = node(`${prologue(`vkp${run}`)}
      (async () => {
        const ws = await Promise.all([0, 1, 2, 3].map((i) => forever('vkp${run}-${code}' + i)));
        load.prepare(opts).then((p) => p.run(0));
        ${code}(() => process.exit(3), 20);
      })();`);
    t.equal(r.signal, null, `${when}: no crash signal`);
    t.equal(r.stderr, '', `${when}: nothing on stderr`);
    t.equal(r.status, 3, `${when}: the status given to process.exit`);
  }
});
