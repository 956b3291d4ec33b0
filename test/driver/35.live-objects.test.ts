// diagnostics.liveObjects(): native wraps are counted when created and uncounted when the
// garbage collector finalizes them; calls in flight are counted until they settle.
import t from 'tap';
import * as path from 'node:path';
import { connect, diagnostics, type LiveObjects } from 'virtkit';
import { fixtures, forceGc } from '../helpers';

const uri = `test://${path.join(fixtures, 'testdriver', 'node.xml')}`;
const KINDS: Array<keyof LiveObjects> = [
  'connections', 'domains', 'storagePools', 'storageVolumes', 'secrets', 'streams', 'domainSnapshots', 'domainCheckpoints', 'iscsiSessions', 'pendingCalls', 'keepaliveGates',
];

/** Forces GC until cond() holds (bounded): finalizers run after the collection, on a later tick. */
async function collectUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) {
    forceGc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

function delta(now: LiveObjects, base: LiveObjects): Partial<Record<keyof LiveObjects, number>> {
  const d: Partial<Record<keyof LiveObjects, number>> = {};
  for (const k of KINDS) if (now[k] !== base[k]) d[k] = now[k] - base[k];
  return d;
}

t.test('shape: every kind, non-negative integers', async (t) => {
  const counts = diagnostics.liveObjects();
  t.same(Object.keys(counts).sort(), [...KINDS].sort());
  for (const k of KINDS) t.ok(Number.isSafeInteger(counts[k]) && counts[k] >= 0, `${k} is a count`);
  const zero = Object.fromEntries(KINDS.map((k) => [k, 0])) as unknown as LiveObjects;
  t.equal(diagnostics.totalLiveObjects({ ...zero, connections: 2, domains: 3, pendingCalls: 50, keepaliveGates: 4 }), 5, 'the total leaves pendingCalls and keepaliveGates out');
  t.equal(counts.keepaliveGates, 0, 'no keepalive on the test driver, no gate');
  // Anything else is a TypeError, never a sum of whatever it holds.
  for (const bad of [null, 'counts', 5, { ...zero, domains: '3' }, { ...zero, secrets: -1 }, { ...zero, streams: NaN }, { connections: 1 }, new Proxy({}, { get: () => ({}) })])
    t.throws(() => diagnostics.totalLiveObjects(bad as never), TypeError, `refused: ${String(typeof bad)}`);
});

t.test('counts go up with handles and back down once they are released and collected', async (t) => {
  await collectUntil(() => false); // settle what earlier tests left
  const base = diagnostics.liveObjects();
  t.equal(base.pendingCalls, 0);

  await (async () => {
    const conn = await connect(uri);
    t.same(delta(diagnostics.liveObjects(), base), { connections: 1 });
    const pools = await conn.listAllStoragePools();
    const domains = await conn.listAllDomains();
    const vols = await pools[0]!.listVolumes();
    const vol = await pools[0]!.createVolume('<volume><name>live.raw</name><capacity>1048576</capacity></volume>');
    t.same(delta(diagnostics.liveObjects(), base), {
      connections: 1,
      storagePools: pools.length,
      domains: domains.length,
      storageVolumes: vols.length + 1,
    }, 'one count per wrap returned');
    t.equal(vols.length, 2);

    // Calls in flight are counted until their promises settle.
    const calls = Array.from({ length: 20 }, () => conn.nodeInfo());
    t.equal(diagnostics.liveObjects().pendingCalls, 20, '20 calls pending');
    await Promise.all(calls);
    t.equal(diagnostics.liveObjects().pendingCalls, 0, 'none once settled');

    // free() gives up the libvirt reference at once; the wrap is counted until collected.
    for (const v of vols) v.free();
    t.equal(diagnostics.liveObjects().storageVolumes, base.storageVolumes + 3, 'freed wraps still counted');
    await vol.delete();
    await conn.close();
  })();

  await collectUntil(() => diagnostics.totalLiveObjects() === diagnostics.totalLiveObjects(base));
  t.same(delta(diagnostics.liveObjects(), base), {}, 'back to the baseline after GC');
});

t.test('a thousand dropped lookups are all finalized', async (t) => {
  const conn = await connect(uri);
  t.teardown(() => conn.close());
  await collectUntil(() => false);
  const base = diagnostics.liveObjects();
  let held: unknown[] | null = [];
  for (let i = 0; i < 10; i++) held.push(...(await Promise.all(Array.from({ length: 100 }, () => conn.lookupDomainByName('web1')))));
  t.equal(diagnostics.liveObjects().domains, base.domains + 1000, 'one wrap per lookup');
  held = null;
  await collectUntil(() => diagnostics.liveObjects().domains === base.domains);
  t.equal(diagnostics.liveObjects().domains, base.domains, 'every dropped domain wrap was finalized');
});
