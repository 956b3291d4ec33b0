// Handles stay valid for calls in flight when their wrapper is garbage-collected or closed:
// each call holds its own libvirt reference (other Node bindings crash here).
import t from 'tap';
import { connect, LibvirtError } from 'virtkit';
import { forceGc } from '../helpers';

const CALLS = 4000;

t.test('dropping every reference and forcing GC while thousands of calls run', async (t) => {
  let finalized = 0;
  const registry = new FinalizationRegistry<string>(() => {
    finalized++;
  });
  const pending: Array<Promise<unknown>> = [];
  for (let round = 0; round < 5; round++) {
    // The connection object is reachable only from this block.
    await (async () => {
      const conn = await connect('test:///default');
      registry.register(conn, `round ${round}`);
      for (let i = 0; i < CALLS; i++) pending.push(i % 3 === 0 ? conn.nodeInfo() : i % 3 === 1 ? conn.hostname() : conn.capabilitiesXml());
    })();
    forceGc();
  }
  const results = await Promise.allSettled(pending);
  t.equal(results.length, 5 * CALLS);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 5 * CALLS, 'every call resolved');
  // Wait (bounded) until the collected connections' finalizers have run.
  for (let i = 0; i < 50 && finalized < 5; i++) {
    forceGc();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(finalized, 5, 'all five connections were garbage-collected');
});

t.test('close() while calls are in flight: running calls finish, later calls reject', async (t) => {
  const conn = await connect('test:///default');
  const inFlight = Array.from({ length: CALLS }, () => conn.nodeInfo());
  const closing = conn.close();
  const after = conn.hostname().catch((e: unknown) => e);
  const settled = await Promise.allSettled(inFlight);
  await closing;
  t.equal(settled.filter((r) => r.status === 'fulfilled').length, CALLS, 'calls queued before close resolved');
  const err = await after;
  t.ok(err instanceof LibvirtError);
  t.equal((err as LibvirtError).codeName, 'VIR_ERR_INVALID_CONN');
});

t.test('connections opened and dropped without close are released', async (t) => {
  let finalized = 0;
  const registry = new FinalizationRegistry<number>(() => {
    finalized++;
  });
  for (let i = 0; i < 200; i++) registry.register(await connect('test:///default'), i);
  for (let i = 0; i < 50 && finalized < 200; i++) {
    forceGc();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(finalized, 200);
});
