// Errors: libvirt failures are LibvirtErrors with decoded fields and the caller's stack;
// wrong argument types are TypeErrors raised before native code runs.
import t from 'tap';
import { inspect } from 'node:util';
import { connect, DomainMetadataType, ErrorDomain, ErrorNumber, LibvirtError } from 'virtkit';

t.test('an unparsable URI rejects with a decoded LibvirtError and the caller\'s stack', async (t) => {
  async function openBogus() {
    return await connect('::not a uri');
  }
  const err = await openBogus().catch((e: unknown) => e);
  t.ok(err instanceof LibvirtError, 'instanceof LibvirtError');
  t.ok(err instanceof Error, 'instanceof Error');
  const e = err as LibvirtError;
  t.equal(e.name, 'LibvirtError');
  t.equal(e.code, ErrorNumber.VIR_ERR_INTERNAL_ERROR);
  t.equal(e.codeName, 'VIR_ERR_INTERNAL_ERROR');
  t.equal(e.domain, ErrorDomain.VIR_FROM_URI);
  t.equal(e.domainName, 'VIR_FROM_URI');
  t.equal(e.level, 2);
  t.equal(e.levelName, 'VIR_ERR_ERROR');
  t.match(e.message, /Unable to parse URI ::not a uri/);
  t.equal(typeof e.int1, 'number');
  t.match(e.stack ?? '', /at connect \(virtkit\)/);
  t.match(e.stack ?? '', /openBogus/, 'stack names the calling function');
  t.match(inspect(e), /VIR_ERR_INTERNAL_ERROR/);

  const missing = await connect('test:///nonexistent/virtkit.xml').catch((e: unknown) => e);
  t.ok(missing instanceof LibvirtError);
  t.equal((missing as LibvirtError).codeName, 'VIR_ERR_XML_ERROR');
  t.equal((missing as LibvirtError).domainName, 'VIR_FROM_TEST');
});

t.test('calls on a closed connection reject with VIR_ERR_INVALID_CONN; close is idempotent', async (t) => {
  const conn = await connect('test:///default');
  await conn.close();
  t.equal(conn.closed, true);
  await conn.close();
  await conn.close();
  for (const call of [() => conn.hostname(), () => conn.capabilities(), () => conn.nodeInfo(), () => conn.isAlive()]) {
    const err = await call().catch((e: unknown) => e);
    t.ok(err instanceof LibvirtError);
    t.equal((err as LibvirtError).codeName, 'VIR_ERR_INVALID_CONN');
    t.match((err as LibvirtError).message, /connection is closed/);
  }
});

t.test('wrong argument types are TypeErrors, raised before native code', async (t) => {
  const bad: Array<[string, () => Promise<unknown>]> = [
    ['uri number', () => connect(42 as unknown as string)],
    ['uri object', () => connect({} as unknown as string)],
    ['uri with NUL', () => connect('test:///default\0x')],
    ['options string', () => connect('test:///default', 'ro' as never)],
    ['readOnly string', () => connect('test:///default', { readOnly: 'yes' as never })],
    ['auth string', () => connect('test:///default', { auth: 'x' as never })],
    ['auth.password number', () => connect('test:///default', { auth: { password: 1 as never } })],
    ['keepAlive string', () => connect('test:///default', { keepAlive: 'x' as never })],
  ];
  for (const [what, call] of bad) {
    const err = await call().catch((e: unknown) => e);
    t.type(err, TypeError, what);
  }
  for (const [what, ka] of [
    ['fractional', { interval: 1.5, count: 1 }],
    ['negative count', { interval: 5, count: -1 }],
    ['huge', { interval: 2 ** 40, count: 1 }],
  ] as const) {
    const err = await connect('test:///default', { keepAlive: ka }).catch((e: unknown) => e);
    t.type(err, RangeError, what);
  }
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  t.type(await conn.maxVcpus(7 as never).catch((e: unknown) => e), TypeError);
  t.type(await conn.setKeepAlive(null as never).catch((e: unknown) => e), TypeError);
});

t.test('native objects cannot be constructed or misused from JS', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const NativeConnect = (conn._native as unknown as { constructor: new (...a: unknown[]) => unknown }).constructor;
  t.throws(() => new NativeConnect(), TypeError);
  t.throws(() => new NativeConnect({}, {}), TypeError);
  // A method called on a foreign receiver fails safely.
  const getHostname = (conn._native as unknown as { getHostname: () => Promise<string> }).getHostname;
  t.throws(() => getHostname.call({}));
});

t.test('LibvirtError decodes unknown codes without throwing', async (t) => {
  const e = new LibvirtError({ code: 99999, domain: 99999, level: 7, message: 'm' });
  t.equal(e.codeName, 'VIR_ERR_99999');
  t.equal(e.domainName, 'VIR_FROM_99999');
  t.equal(e.str1, null);
  t.equal(e.int1, 0);
});

t.test('hostile arguments the fuzz found (test/fuzz): TypeErrors of virtkit, not V8\'s', async (t) => {
  const { IscsiError, ProvisionError, decodeVersion, formatVersion, isLocalUri, cephKeyBytes, iscsi } = await import('virtkit');
  const v8Own = /Cannot read propert|Cannot convert|is not a function/;
  const calls: Array<[string, () => unknown]> = [
    ['new LibvirtError()', () => new (LibvirtError as unknown as new () => unknown)()],
    ['new LibvirtError(null)', () => new LibvirtError(null as never)],
    ['new IscsiError()', () => new (IscsiError as unknown as new () => unknown)()],
    ['new ProvisionError()', () => new (ProvisionError as unknown as new () => unknown)()],
    ['formatVersion()', () => formatVersion(undefined as never)],
    ['formatVersion({})', () => formatVersion({} as never)],
    ['decodeVersion(object)', () => decodeVersion(Object.create(null) as never)],
    ['decodeVersion(-1)', () => decodeVersion(-1)],
    ['isLocalUri(symbol)', () => isLocalUri(Symbol('x') as never)],
    ['isLocalUri(null-prototype object)', () => isLocalUri(Object.create(null) as never)],
    ['parsePortal(x, symbol)', () => iscsi.parsePortal(7, Symbol('label') as never)],
    ['cephKeyBytes(x, symbol)', () => cephKeyBytes(7, Symbol('label') as never)],
  ];
  for (const [what, call] of calls) {
    const err = (() => {
      try {
        call();
        return null;
      } catch (e) {
        return e;
      }
    })();
    t.type(err, TypeError, what);
    t.notMatch(String((err as Error | null)?.message), v8Own, `${what}: virtkit's own message`);
  }
  t.same(decodeVersion(9_000_000), { major: 9, minor: 0, release: 0 });
  t.equal(formatVersion({ major: 9, minor: 0, release: 1 }), '9.0.1');
  t.equal(new LibvirtError({ code: 1, domain: 0, level: 2, message: 'm' }).message, 'm');

  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const [dom] = await conn.listAllDomains();
  for (const [what, call] of [
    ['events(null-prototype object)', () => dom!.events(Object.create(null) as never)],
    ['removeAllListeners(null-prototype object)', () => dom!.removeAllListeners(Object.create(null) as never)],
    ['on(object, fn)', () => (dom!.on as (n: unknown, l: unknown) => unknown).call(dom, {}, () => undefined)],
    ['off(object, fn)', () => (conn.off as (n: unknown, l: unknown) => unknown).call(conn, {}, () => undefined)],
  ] as Array<[string, () => unknown]>) {
    t.throws(call, TypeError, what);
    t.throws(call, { message: /event name|unknown event/ }, `${what}: virtkit's own message`);
  }
});

t.test('XML with DOCTYPE or entity declarations never reaches libvirt: a SyntaxError first', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const dom = await conn.lookupDomainByName('test');
  const pool = await conn.lookupStoragePoolByName('default-pool');
  // libvirt substitutes internal entities: this snapshot got a 100,000,000-character name.
  const blowup = `<!DOCTYPE domainsnapshot [<!ENTITY a "${'B'.repeat(100_000)}">]><domainsnapshot><name>${'&a;'.repeat(1000)}</name></domainsnapshot>`;
  const external = (root: string) => `<!DOCTYPE ${root} [<!ENTITY e SYSTEM "file:///etc/passwd">]><${root} type='test'><name>&e;</name></${root}>`;
  const before = (await dom.listSnapshots()).length;
  for (const [what, call] of [
    ['createSnapshot', () => dom.createSnapshot(blowup)],
    ['defineDomain', () => conn.defineDomain(external('domain'))],
    ['createDomain', () => conn.createDomain(external('domain'))],
    ['defineStoragePool', () => conn.defineStoragePool(external('pool'))],
    ['createVolume', () => pool.createVolume(external('volume'))],
    ['attachDevice', () => dom.attachDevice(external('disk'))],
    ['createCheckpoint', () => dom.createCheckpoint(external('domaincheckpoint'))],
    ['defineSecret', () => conn.defineSecret(external('secret'))],
    ['setMetadata (element)', () => dom.setMetadata(DomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT, external('x'), { key: 'x', uri: 'urn:x' })],
  ] as Array<[string, () => Promise<unknown>]>) {
    const err = await call().catch((e: unknown) => e);
    t.type(err, SyntaxError, what);
    t.match(String((err as Error).message), /DOCTYPE and entity declarations are not accepted/, what);
  }
  t.equal((await dom.listSnapshots()).length, before, 'no snapshot made');
  // A DOCTYPE-free document still goes through, and a title may say anything.
  const snap = await dom.createSnapshot('<domainsnapshot><name>plain</name></domainsnapshot>');
  t.equal(snap.name, 'plain');
  await snap.delete();
  await dom.setMetadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE, 'about <!DOCTYPE>');
  t.equal(await dom.metadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE), 'about <!DOCTYPE>');
});

t.test('a netfs source spec without a host is a LibvirtError (libvirt 9.0\'s test driver would dereference NULL)', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  for (const spec of ['<source/>', '<source><name>x</name></source>', "<source><host/><dir path='/x'/></source>", '<source><!-- <host name="x"/> --></source>']) {
    const err = await conn.findStoragePoolSourcesXml('netfs', spec).catch((e: unknown) => e);
    t.type(err, LibvirtError, spec);
    t.equal((err as LibvirtError).codeName, 'VIR_ERR_INVALID_ARG', spec);
  }
  t.type(await conn.findStoragePoolSourcesXml('netfs', '<source').catch((e: unknown) => e), SyntaxError, 'a malformed spec');
  const found = await conn.findStoragePoolSources('netfs', "<source><host name='nfs.example'/></source>");
  t.ok(Array.isArray(found), 'with a host, the test driver answers');
  t.ok(await conn.isAlive(), 'the process and the connection are alive');
});
