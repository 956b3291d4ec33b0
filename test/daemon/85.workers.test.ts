// Concurrency on the private libvirtd (issue 7): four worker threads and the main thread at
// once, each with its own connection ({ events: true }) and domain, pool and secret listeners,
// under load (test/event-load.ts): read calls kept in flight while domains are defined and
// undefined, dir pools defined, started, stopped and undefined, secrets defined, given a value
// and undefined. The daemon sends every connection every object's events, other test files'
// too: each participant counts by the tags in the names, and hears exactly its own events in
// order and exactly the other participants'. Then workers terminated, and a process ending,
// with daemon calls and events in flight: no crash, the daemon unharmed; what the terminated
// workers left behind is removed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { connect, type Connection } from 'virtkit';
import { daemonUri, repoRoot, tempDir, timeScale } from '../helpers';
import { CRASH_TEXT, eventsPerRound, runLoad, startWorker, type LoadResult } from '../event-load';

const target = daemonUri();
const loadScript = path.join(__dirname, '..', 'event-load.js');
const run = randomBytes(3).toString('hex');

/**
 * Removes every domain, pool and secret whose name starts with `prefix`, until a pass finds
 * none (a process that died with calls on their way leaves the daemon finishing them for a
 * moment: a domain may be defined after the first pass); what was left in the last pass.
 */
async function removeAllTagged(conn: Connection, prefix: string): Promise<number> {
  let left = 0;
  for (let pass = 0; pass < 20; pass++) {
    left = await removeTagged(conn, prefix);
    if (left === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return left;
}

/** Removes every domain, pool and secret whose name starts with `prefix`; how many. */
async function removeTagged(conn: Connection, prefix: string): Promise<number> {
  let n = 0;
  for (const d of await conn.listAllDomains()) {
    if (!d.name.startsWith(prefix)) continue;
    await d.destroy().catch(() => undefined);
    await d.undefine().catch(() => undefined);
    n++;
  }
  for (const p of await conn.listAllStoragePools()) {
    if (!p.name.startsWith(prefix)) continue;
    await p.destroy().catch(() => undefined);
    await p.undefine().catch(() => undefined);
    n++;
  }
  for (const s of await conn.listAllSecrets()) {
    if (!s.usageId.startsWith(prefix)) continue;
    await s.undefine().catch(() => undefined);
    n++;
  }
  return n;
}

if ('skip' in target) {
  t.test('worker threads on the daemon', { skip: target.skip }, async () => {});
} else {
  const { uri } = target;

  t.test('four workers and the main thread at once on the daemon, each with its own connection and listeners, under load', async (t) => {
    const poolDir = tempDir(t, 'virtkit-workers-pools');
    const tags = [0, 1, 2, 3].map((i) => `vkdw${run}-w${i}`);
    const mainTag = `vkdw${run}-main`;
    const all = [...tags, mainTag];
    const base = { uri, daemon: true, poolDir, objects: 4, inflight: 32, timeoutMs: 60_000 * timeScale };
    const conn = await connect(uri);
    t.teardown(async () => {
      await removeTagged(conn, `vkdw${run}-`);
      await conn.close();
    });
    const started = await Promise.all(tags.map((tag) => startWorker({ ...base, tag, others: all.filter((x) => x !== tag) })));
    const mine = runLoad({ ...base, tag: mainTag, others: tags }, async () => {
      for (const s of started) s.worker.postMessage('go');
    });
    const results = await Promise.all([...started.map((s) => s.result), mine]);
    await Promise.all(started.map((s) => s.worker.terminate()));
    for (const r of results) {
      const others = all.filter((x) => x !== r.tag);
      t.same(r.failures, [], `${r.tag}: every call succeeded`);
      t.same(r.errors, [], `${r.tag}: no subscription failed`);
      t.ok(r.complete, `${r.tag}: every expected event arrived`);
      t.same(r.own, { domain: base.objects * 2, pool: base.objects * 4, secret: base.objects * 3 }, `${r.tag}: exactly its own events`);
      t.same(r.wrongSequences, [], `${r.tag}: each object's events in lifecycle order`);
      t.same(r.foreign, Object.fromEntries(others.map((o) => [o, r.expected])), `${r.tag}: exactly the others' events`);
    }
    t.equal(results[0]!.expected, eventsPerRound(base));
    t.equal(await removeTagged(conn, `vkdw${run}-`), 0, 'nothing left behind');
    const calls = results.reduce((a, r) => a + r.calls, 0);
    t.comment(`daemon workers-load: 5 participants, ${calls} calls, ${results.length * results.length * results[0]!.expected} events delivered`);
  });

  /** Runs `code` in a child node with the load module at hand; its status, signal and output. */
  const node = (code: string, poolDir: string) =>
    spawnSync(process.execPath, ['-e', `
      const { Worker } = require('node:worker_threads');
      const load = require(process.env.VIRTKIT_LOAD);
      const base = { uri: ${JSON.stringify(uri)}, daemon: true, poolDir: ${JSON.stringify(poolDir)}, objects: 3, inflight: 16 };
      const forever = (tag) => new Promise((resolve, reject) => {
        const w = new Worker(process.env.VIRTKIT_LOAD, { workerData: { ...base, tag, forever: true } });
        w.on('message', (m) => m === 'busy' && resolve(w));
        w.once('error', reject);
      });
      ${code}`], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 * timeScale, env: { ...process.env, VIRTKIT_LOAD: loadScript } });

  t.test('workers terminated while daemon calls and events are in flight; the main thread goes on', async (t) => {
    const poolDir = tempDir(t, 'virtkit-workers-pools');
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const r = node(`(async () => {
        const results = [];
        for (let round = 0; round < 3; round++) {
          const ws = await Promise.all([0, 1, 2, 3].map((i) => forever('vkdt${run}-r' + round + 'w' + i)));
          const mine = load.runLoad({ ...base, tag: 'vkdt${run}-main' + round });
          await Promise.all(ws.map((w, i) => new Promise((r) => setTimeout(r, i * 11)).then(() => w.terminate())));
          results.push(await mine);
        }
        console.log(JSON.stringify(results));
      })().catch((e) => { console.error(e); process.exit(2); });`, poolDir);
    t.equal(r.signal, null, 'no crash signal');
    t.notMatch(r.stderr, CRASH_TEXT, 'no abort or crash text');
    t.equal(r.stderr, '', 'nothing on stderr');
    t.equal(r.status, 0);
    const results = JSON.parse(r.stdout || '[]') as LoadResult[];
    t.equal(results.length, 3);
    for (const res of results) {
      t.same(res.failures, [], `${res.tag}: every call succeeded`);
      t.ok(res.complete, `${res.tag}: its events arrived`);
      t.same(res.wrongSequences, [], `${res.tag}: in lifecycle order`);
    }
    t.equal(await removeAllTagged(conn, `vkdt${run}-`), 0, 'what the terminated workers left behind could all be removed');
    t.equal(await conn.isAlive(), true, 'the daemon still answers');
  });

  t.test('process.exit() while four workers and the main thread are busy with daemon calls and events', async (t) => {
    const poolDir = tempDir(t, 'virtkit-workers-pools');
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const r = node(`(async () => {
        await Promise.all([0, 1, 2, 3].map((i) => forever('vkdx${run}-w' + i)));
        load.prepare({ ...base, tag: 'vkdx${run}-main' }).then((p) => p.run(0));
        setTimeout(() => process.exit(3), 20);
      })();`, poolDir);
    t.equal(r.signal, null, 'no crash signal');
    t.equal(r.stderr, '', 'nothing on stderr');
    t.equal(r.status, 3);
    t.equal(await removeAllTagged(conn, `vkdx${run}-`), 0, 'what the process left behind could all be removed');
    t.equal(await conn.isAlive(), true, 'the daemon still answers');
  });
}
