// Connection API against libvirt's in-process test driver (test:///default).
import t from 'tap';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { connect, Connection, DEFAULT_URI, ErrorNumber, LibvirtError, libvirtVersion } from 'virtkit';
import { fixtures, registerSecret } from '../helpers';

t.test('connect() with no URI opens test:///default and reports host facts', async (t) => {
  const saved = process.env.LIBVIRT_DEFAULT_URI;
  delete process.env.LIBVIRT_DEFAULT_URI;
  t.teardown(() => {
    if (saved !== undefined) process.env.LIBVIRT_DEFAULT_URI = saved;
  });
  const conn = await connect();
  t.teardown(() => conn.close());
  t.ok(conn instanceof Connection);
  t.equal(DEFAULT_URI, 'test:///default');
  t.equal(conn.uri, 'test:///default');
  t.equal(conn.readOnly, false);
  t.equal(conn.closed, false);
  t.equal(await conn.type(), 'TEST');
  t.equal(await conn.hostname(), os.hostname());
  t.same(await conn.version(), { major: 0, minor: 0, release: 2 });
  t.same(await conn.libVersion(), libvirtVersion());
  t.same(libvirtVersion(), { major: 9, minor: 0, release: 0 });
  t.equal(await conn.isAlive(), true);
  t.equal(await conn.isSecure(), true);
  t.equal(await conn.isEncrypted(), false);
  t.same(await conn.nodeInfo(), {
    model: 'i686',
    memoryKiB: 3145728,
    cpus: 16,
    mhz: 1400,
    nodes: 2,
    sockets: 2,
    cores: 2,
    threads: 2,
  });
  t.equal(await conn.maxVcpus(), 32);
  t.equal(await conn.maxVcpus('test'), 32);
});

t.test('capabilities() is typed', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const xml = await conn.capabilitiesXml();
  t.match(xml, /^<capabilities>/);
  const caps = await conn.capabilities();
  t.equal(caps.host.cpu.arch, 'i686');
  t.same(caps.host.cpu.features, ['pae', 'nonpae']);
  t.same(caps.host.cpu.pageSizesKiB, [4, 8, 2048, 1048576]);
  t.equal(caps.host.iommu, false);
  t.equal(caps.host.cells.length, 2);
  t.same(
    caps.host.cells.map((c) => [c.id, c.memoryKiB, c.cpus.length]),
    [
      [0, 2097152, 8],
      [1, 4194304, 8],
    ],
  );
  t.same(caps.host.cells[1]!.cpus[0], { id: 8, socketId: 1, dieId: 0, coreId: 0, siblings: '8' });
  t.same(caps.host.secModels, [{ model: 'testSecurity', doi: '' }]);
  t.same(
    caps.guests.map((g) => [g.osType, g.arch, g.wordSize, g.domains.map((d) => d.type)]),
    [
      ['hvm', 'i686', 32, ['test']],
      ['xen', 'i686', 32, ['test']],
    ],
  );
});

t.test('sysinfo() is typed', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const si = await conn.sysinfo();
  t.equal(si.type, 'smbios');
  t.equal(si.bios?.vendor, 'LENOVO');
  t.equal(si.bios?.version, 'G4ETA1WW (2.61 )');
  t.equal(si.bios?.date, '05/07/2014');
  // The test driver's host has a BIOS block only.
  t.equal(si.system, undefined);
  t.same(si.processors, []);
  t.same(si.memoryDevices, []);
  t.match(await conn.sysinfoXml(), /<sysinfo type='smbios'>/);
});

t.test('LIBVIRT_DEFAULT_URI is honoured when no URI is given', async (t) => {
  const saved = process.env.LIBVIRT_DEFAULT_URI;
  const custom = `test://${path.join(fixtures, 'testdriver', 'auth.xml')}`;
  process.env.LIBVIRT_DEFAULT_URI = custom;
  t.teardown(() => {
    if (saved === undefined) delete process.env.LIBVIRT_DEFAULT_URI;
    else process.env.LIBVIRT_DEFAULT_URI = saved;
  });
  // This custom driver demands credentials, so reaching it proves the URI was used.
  const err = await connect().catch((e: unknown) => e);
  t.ok(err instanceof LibvirtError);
  t.equal((err as LibvirtError).codeName, 'VIR_ERR_AUTH_FAILED');
});

t.test('auth answers the credentials libvirt asks for, and never shows the password', async (t) => {
  const uri = `test://${path.join(fixtures, 'testdriver', 'auth.xml')}`;
  const password = registerSecret('driver/10 connect auth password', 's3cret-virtkit-pw');
  const conn = await connect(uri, { auth: { username: 'virtkit-tester', password } });
  t.equal(conn.uri, uri);
  t.equal(await conn.type(), 'TEST');
  t.notMatch(inspect(conn), password);
  t.notMatch(JSON.stringify(conn), password);
  await conn.close();

  for (const auth of [{ username: 'virtkit-tester', password: 'wrong' }, { username: 'nobody', password }, {}, undefined]) {
    const err = await connect(uri, auth ? { auth } : undefined).catch((e: unknown) => e);
    t.ok(err instanceof LibvirtError, `rejected: ${JSON.stringify(auth && Object.keys(auth))}`);
    const e = err as LibvirtError;
    t.equal(e.code, ErrorNumber.VIR_ERR_AUTH_FAILED);
    t.equal(e.codeName, 'VIR_ERR_AUTH_FAILED');
    for (const text of [e.message, e.stack ?? '', inspect(e), JSON.stringify(e)]) t.notMatch(text, password);
  }
});

t.test('keepAlive on a local driver is accepted and reported inactive', async (t) => {
  const conn = await connect('test:///default', { keepAlive: { interval: 5, count: 3 } });
  t.teardown(() => conn.close());
  t.equal(conn.keepAlive, false);
  t.equal(await conn.setKeepAlive({ interval: 0, count: 0 }), false);
});

t.test('readOnly opens with VIR_CONNECT_RO', async (t) => {
  const conn = await connect('test:///default', { readOnly: true });
  t.teardown(() => conn.close());
  t.equal(conn.readOnly, true);
  t.equal(await conn.type(), 'TEST');
  t.match(inspect(conn), /readOnly: true/);
});

t.test('many calls in flight on one connection all resolve correctly', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const results = await Promise.all(Array.from({ length: 256 }, (_, i) => (i % 2 ? conn.type() : conn.hostname())));
  t.equal(results.filter((r) => r === 'TEST').length, 128);
  t.equal(results.filter((r) => r === os.hostname()).length, 128);
});
