// The addon loads in several worker threads at once (per-instance addon data, no static JS
// references), and each works with its own connections.
import t from 'tap';
import { Worker } from 'node:worker_threads';

const script = `
const { parentPort } = require('node:worker_threads');
const { connect, LibvirtError } = require('virtkit');
(async () => {
  const conn = await connect('test:///default');
  const types = await Promise.all(Array.from({ length: 200 }, () => conn.type()));
  const err = await connect('::bad').catch((e) => e);
  await conn.close();
  parentPort.postMessage({ ok: types.every((x) => x === 'TEST'), count: types.length, typed: err instanceof LibvirtError, code: err.codeName });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

function runWorker(): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

t.test('four workers load the addon at once', async (t) => {
  const results = await Promise.all([runWorker(), runWorker(), runWorker(), runWorker()]);
  for (const r of results) t.same(r, { ok: true, count: 200, typed: true, code: 'VIR_ERR_INTERNAL_ERROR' });
  // The main thread keeps working after the workers' environments were torn down.
  const { connect } = await import('virtkit');
  const conn = await connect('test:///default');
  t.equal(await conn.type(), 'TEST');
  await conn.close();
});
