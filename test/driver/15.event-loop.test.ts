// libvirt's event loop starts only when something needs it (keepalive now, events later),
// and keepalive is refused on a connection that nothing would read answers for.
import t from 'tap';
import { connect, eventLoopRunning, LibvirtError, startEventLoop } from 'virtkit';

t.test('not started by default; started by keepAlive or startEventLoop()', async (t) => {
  t.equal(eventLoopRunning(), false, 'loading virtkit starts nothing');
  const plain = await connect('test:///default');
  t.equal(eventLoopRunning(), false, 'a plain connect() starts nothing');
  const err = await plain.setKeepAlive({ interval: 5, count: 3 }).catch((e: unknown) => e);
  t.ok(err instanceof LibvirtError);
  t.equal((err as LibvirtError).codeName, 'VIR_ERR_OPERATION_INVALID');
  t.match((err as LibvirtError).message, /startEventLoop/);
  t.equal(await plain.setKeepAlive({ interval: 0, count: 0 }), false, 'turning it off is always fine');

  const withKa = await connect('test:///default', { keepAlive: { interval: 5, count: 3 } });
  t.equal(eventLoopRunning(), true, 'connect({ keepAlive }) started it');
  startEventLoop(); // idempotent
  t.equal(eventLoopRunning(), true);
  t.equal(await withKa.type(), 'TEST');
  await Promise.all([plain.close(), withKa.close()]);
});

t.test('getURI asks the driver', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  t.equal(await conn.getURI(), 'test:///default');
});
