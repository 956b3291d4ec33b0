// Domain lifecycle on the test driver: define, start, suspend/resume, shutdown, reboot,
// destroy, managed save, memory and vCPUs, autostart, undefine; a transient domain.
import t from 'tap';
import { connect, DomainState, DomainVcpuFlags, LibvirtError } from 'virtkit';

const xml = (name: string) => `<domain type='test'><name>${name}</name><memory unit='MiB'>256</memory><currentMemory unit='MiB'>128</currentMemory><vcpu current='1'>2</vcpu><os><type>hvm</type></os></domain>`;
const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof LibvirtError ? e.codeName : String(e);
};

t.test('a persistent domain through its lifecycle', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const dom = await conn.defineDomain(xml('vk-life'));
  t.equal(dom.name, 'vk-life');
  t.equal(dom.id, null, 'inactive when defined');
  t.equal(await dom.isActive(), false);
  t.equal(await dom.isPersistent(), true);
  t.equal(await dom.osType(), 'linux', 'the test driver names its OS type linux');
  t.equal(await dom.maxMemoryKiB(), 256 * 1024);
  t.equal(await dom.vcpus(DomainVcpuFlags.VIR_DOMAIN_VCPU_CONFIG), 1);
  t.equal(await codeOf(dom.maxVcpus()), 'VIR_ERR_OPERATION_INVALID', 'maxVcpus needs a running domain');

  await dom.start();
  t.equal(await dom.maxVcpus(), 2);
  t.equal((await dom.state()).stateName, 'running');
  t.ok((await conn.lookupDomainByName('vk-life')).id! > 0, 'a running domain has an id');
  await dom.suspend();
  t.equal((await dom.state()).state, DomainState.VIR_DOMAIN_PAUSED);
  await dom.resume();
  t.equal((await dom.state()).stateName, 'running');
  await dom.reboot();
  await dom.reset();
  t.equal((await dom.state()).stateName, 'running');
  await dom.setMemory(64 * 1024);
  t.equal((await dom.info()).memoryKiB, 64 * 1024);
  t.equal(await dom.isUpdated(), false);

  await dom.managedSave();
  t.equal(await dom.isActive(), false);
  t.equal(await dom.hasManagedSaveImage(), true);
  await dom.start();
  t.equal((await dom.state()).stateName, 'running', 'restored from the managed save');
  await dom.shutdown();
  t.equal((await dom.state()).stateName, 'shutoff');
  await dom.setAutostart(true);
  t.equal(await dom.autostart(), true);
  await dom.undefine();
  t.equal(await codeOf(conn.lookupDomainByName('vk-life')), 'VIR_ERR_NO_DOMAIN');
});

t.test('a transient domain disappears when destroyed', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const dom = await conn.createDomain(xml('vk-transient'));
  t.equal(await dom.isActive(), true);
  t.equal(await dom.isPersistent(), false);
  await dom.destroy();
  t.equal(await codeOf(conn.lookupDomainByName('vk-transient')), 'VIR_ERR_NO_DOMAIN');
});

t.test('lifecycle errors are typed', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const dom = await conn.defineDomain(xml('vk-err'));
  t.teardown(() => dom.undefine().catch(() => undefined));
  t.equal(await codeOf(dom.suspend()), 'VIR_ERR_INTERNAL_ERROR', 'suspending an inactive domain');
  t.equal(await codeOf(dom.destroy()), 'VIR_ERR_OPERATION_INVALID', 'destroying an inactive domain');
  t.equal(await codeOf(conn.defineDomain('<domain type="test"><name>x</name>')), 'VIR_ERR_XML_DETAIL');
  t.equal(await codeOf(dom.hostname()), 'VIR_ERR_OPERATION_INVALID', 'hostname of an inactive domain');
  t.type(await dom.setMemory(-1).catch((e: unknown) => e), TypeError);
  t.type(await dom.setVcpus(0).catch((e: unknown) => e), TypeError);
  t.type(await dom.setAutostart(1 as never).catch((e: unknown) => e), TypeError);
  t.type(await conn.defineDomain(5 as never).catch((e: unknown) => e), TypeError);
});
