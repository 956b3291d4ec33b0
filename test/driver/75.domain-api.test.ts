// The rest of the domain API on the test driver: devices, statistics, save images, snapshots,
// checkpoints, metadata, vCPUs, jobs, tuning getters, all-domain stats. What the test driver
// does not implement is asserted as the exact typed error it gives.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  connect, Domain, DomainCheckpoint, DomainMetadataType, DomainSnapshot, DomainSnapshotListFlags, DomainStatsTypes, LibvirtError,
  type Connection,
} from 'virtkit';

const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof LibvirtError ? e.codeName : String(e);
};
const typeErrorOf = async (p: () => Promise<unknown>) => {
  try {
    await p();
    return 'resolved';
  } catch (e) {
    return e instanceof TypeError || e instanceof RangeError ? e.constructor.name : String(e);
  }
};
const guest = (name: string) =>
  `<domain type='test'><name>${name}</name><memory unit='MiB'>128</memory><os><type>hvm</type></os>` +
  `<devices><disk type='file' device='disk'><source file='/var/lib/vk/${name}.img'/><target dev='vda'/></disk></devices></domain>`;

/** A fresh test:///default connection (each has its own copy of the driver's state). */
async function open(t: { teardown(fn: () => unknown): void }): Promise<Connection> {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  return conn;
}

t.test('statistics of the default running domain', async (t) => {
  const conn = await open(t);
  const dom = await conn.lookupDomainByName('test');
  const info = await dom.blockInfo('vda');
  t.equal(info.physical, 2 ** 40, 'block info in bytes: the test driver reports a 1 TiB disk');
  t.ok(info.capacity > 0 && info.allocation > 0);
  const bs = await dom.blockStats('vda');
  for (const k of ['readRequests', 'readBytes', 'writeRequests', 'writeBytes', 'errors'] as const) t.type(bs[k], 'number', `blockStats.${k}`);
  t.equal(await codeOf(dom.blockStats('nope')), 'VIR_ERR_INVALID_ARG', 'an unknown disk');
  t.equal(await codeOf(dom.blockStatsParameters('vda')), 'VIR_ERR_NO_SUPPORT', 'virDomainBlockStatsFlags is not in the test driver');
  t.equal(await codeOf(dom.blockResize('vda', 2 ** 30)), 'VIR_ERR_NO_SUPPORT', 'virDomainBlockResize is not in the test driver');

  const is = await dom.interfaceStats('testnet0');
  for (const k of ['rxBytes', 'rxPackets', 'rxErrors', 'rxDrops', 'txBytes', 'txPackets', 'txErrors', 'txDrops'] as const) t.type(is[k], 'number', `interfaceStats.${k}`);
  t.type((await dom.interfaceStats('aa:bb:cc:dd:ee:ff')).txBytes, 'number', 'by MAC too');
  t.equal(await codeOf(dom.interfaceStats('nope0')), 'VIR_ERR_INVALID_ARG');

  const ms = await dom.memoryStats();
  t.equal(ms.actualBalloonKiB, 2 * 1024 * 1024, 'the balloon is the current memory, 2 GiB');
  t.equal(ms.availableKiB, 2 * 1024 * 1024);
  t.equal(ms.rssKiB, 1024 * 1024);
  t.type(ms.lastUpdateSeconds, 'number');

  const cpu = await dom.cpuStats();
  t.ok(cpu.cpuTimeNs! > 0 && cpu.userTimeNs! > 0 && cpu.systemTimeNs! > 0, 'total cpu, user and system time');
  t.type(cpu.params.cpu_time, 'number');
  const per = await dom.perCpuStats();
  t.ok(per.length > 0, `per-CPU stats (${per.length} host CPUs)`);
  t.ok(per.every((c) => typeof c.cpuTimeNs === 'number' && typeof c.vcpuTimeNs === 'number'));
  t.equal((await dom.perCpuStats(per.length - 1, 1)).length, 1, 'a slice of one');
  t.same(await dom.perCpuStats(10_000), [], 'past the last CPU: none');

  t.same(await dom.diskErrors(), [{ disk: 'vda', error: 1, errorName: 'unspec' }], 'the test driver reports an unspecified error on every disk');
  t.equal(await codeOf(dom.guestInfo()), 'VIR_ERR_NO_SUPPORT', 'virDomainGetGuestInfo is not in the test driver');
  t.same((await dom.fsInfo()).map((f) => f.mountpoint), ['/', '/boot'], 'canned guest file systems');
  const addrs = await dom.interfaceAddresses();
  t.equal(addrs[0]!.hwaddr, 'aa:bb:cc:dd:ee:ff');
  t.equal(addrs[0]!.addresses[0]!.typeName, 'ipv4');
  t.same(await dom.messages(), []);
});

t.test('tuning, vCPUs, jobs and metadata', async (t) => {
  const conn = await open(t);
  const dom = await conn.lookupDomainByName('test');
  const vcpus = await dom.vcpuInfo();
  t.equal(vcpus.length, 2);
  t.equal(vcpus[0]!.stateName, 'running');
  t.ok(vcpus[0]!.affinity.length > 0, 'affinity lists host CPUs');
  t.equal((await dom.vcpuPinInfo()).length, 2);
  t.ok((await dom.emulatorPinInfo()).length > 0);
  t.same(await dom.schedulerType(), { type: 'fair', parameterCount: 1 });
  // libvirt adds VIR_TYPED_PARAM_STRING_OKAY for drivers that take strings; the test driver's
  // getter accepts no flags at all.
  t.equal(await codeOf(dom.schedulerParameters()), 'VIR_ERR_INVALID_ARG');
  t.same(await dom.controlInfo(), { state: 0, stateName: 'ok', details: 0, stateTimeMs: 0 });
  t.equal((await dom.memoryParameters()).hard_limit, 2 ** 53 - 1, 'unlimited is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED');
  t.equal((await dom.blkioParameters()).device_weight, '', 'string parameters come through');
  t.type((await dom.numaParameters()).numa_mode, 'number');
  t.type((await dom.blockIoTune('vda')).total_bytes_sec, 'number');
  t.type((await dom.interfaceParameters('testnet0'))['inbound.average'], 'number');
  t.same(await dom.ioThreadInfo(), []);
  t.same(await dom.securityLabel(), { label: 'libvirt-test', enforcing: true });
  t.equal(await codeOf(dom.guestVcpus()), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.jobInfo()), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.jobStats()), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.abortJob()), 'VIR_ERR_NO_SUPPORT');
  t.same(await dom.time(), { seconds: 627319920, nanoseconds: 0 }, 'the test driver\'s fixed guest clock');
  await dom.setTime(1_700_000_000, 5);
  await dom.setMemoryStatsPeriod(5);
  await dom.injectNMI();
  await dom.sendKey(0, 10, [28]);
  await dom.fsTrim();
  t.equal(await codeOf(dom.pmSuspend(0)), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.pmWakeup()), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.setMaxMemory(1024 * 1024)), 'VIR_ERR_OPERATION_INVALID', 'not on a running domain');

  t.equal(await codeOf(dom.metadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE)), 'VIR_ERR_NO_DOMAIN_METADATA');
  await dom.setMetadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE, 'a title');
  t.equal(await dom.metadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE), 'a title');
  await dom.setMetadata(DomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT, '<app version="1"/>', { key: 'vk', uri: 'https://example.org/vk' });
  t.match(await dom.metadata(DomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT, 'https://example.org/vk'), /<app version="1"\/>/);
  await dom.setMetadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE, null);
  t.equal(await codeOf(dom.metadata(DomainMetadataType.VIR_DOMAIN_METADATA_TITLE)), 'VIR_ERR_NO_DOMAIN_METADATA', 'removed');
});

t.test('devices: the test driver has no hotplug', async (t) => {
  const conn = await open(t);
  const dom = await conn.lookupDomainByName('test');
  const disk = "<disk type='file' device='disk'><source file='/tmp/vk-x.img'/><target dev='vdb' bus='virtio'/></disk>";
  t.equal(await codeOf(dom.attachDevice(disk)), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.detachDevice(disk)), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.detachDeviceAlias('ua-disk1')), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(dom.updateDevice(disk)), 'VIR_ERR_NO_SUPPORT');
});

t.test('save to a file and restore', async (t) => {
  const conn = await open(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vk-save-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dom = await conn.createDomain(guest('vk-save'));
  const file = path.join(dir, 'vk-save.img');
  await dom.save(file);
  t.ok(fs.existsSync(file), 'the image is written');
  t.equal(await codeOf(conn.lookupDomainByName('vk-save')), 'VIR_ERR_NO_DOMAIN', 'a saved transient domain is gone');
  const xml = await conn.saveImageXML(file);
  t.match(xml, /<name>vk-save<\/name>/);
  await conn.defineSaveImageXML(file, xml.replace('</name>', '</name><description>edited in the image</description>'));
  t.match(await conn.saveImageXML(file), /<description>edited in the image<\/description>/, 'the image XML was replaced');
  await conn.restoreDomain(file);
  const back = await conn.lookupDomainByName('vk-save');
  t.equal((await back.state()).stateName, 'running', 'restored and running');
  t.equal(await codeOf(back.managedSaveXML()), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(back.defineManagedSaveXML(xml)), 'VIR_ERR_NO_SUPPORT');
  await back.coreDump(path.join(dir, 'core'), 0);
  t.ok(fs.existsSync(path.join(dir, 'core')), 'core dump written');
  await back.destroy();
  t.equal(await codeOf(conn.restoreDomain(path.join(dir, 'missing'))), 'VIR_ERR_SYSTEM_ERROR', 'a missing image');
});

t.test('snapshots', async (t) => {
  const conn = await open(t);
  const dom = await conn.defineDomain(guest('vk-snap'));
  t.equal(await dom.hasCurrentSnapshot(), false);
  t.equal(await dom.currentSnapshot(), null);
  const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>');
  t.type(s1, DomainSnapshot);
  t.equal(s1.name, 's1');
  t.ok(s1.domain.equals(dom));
  t.match(await s1.getXML(), /<description>first<\/description>/);
  t.equal(await s1.isCurrent(), true);
  t.equal(await s1.hasMetadata(), true);
  t.equal(await s1.parent(), null, 'a root has no parent');
  const s2 = await dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>');
  t.equal((await s2.parent())!.name, 's1');
  t.equal(await s1.isCurrent(), false);
  t.equal((await dom.currentSnapshot())!.name, 's2');
  t.same((await s1.children()).map((s) => s.name), ['s2']);
  t.same((await dom.listSnapshots()).map((s) => s.name).sort(), ['s1', 's2']);
  t.same((await dom.listSnapshots(DomainSnapshotListFlags.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)).map((s) => s.name), ['s1']);
  t.ok((await dom.lookupSnapshot('s1')).equals(s1));
  t.equal(await codeOf(dom.lookupSnapshot('nope')), 'VIR_ERR_NO_DOMAIN_SNAPSHOT');
  await dom.start();
  await s1.revert();
  t.equal((await dom.state()).stateName, 'shutoff', 's1 was taken while shut off');
  t.equal((await dom.currentSnapshot())!.name, 's1');
  await s2.delete();
  t.same((await dom.listSnapshots()).map((s) => s.name), ['s1']);
  t.equal(await codeOf(s2.getXML()), 'VIR_ERR_NO_DOMAIN_SNAPSHOT', 'a deleted snapshot');
  t.equal(await codeOf(dom.undefine()), 'VIR_ERR_OPERATION_INVALID', 'snapshot metadata blocks a plain undefine');
  await s1.delete();
  s1.free();
  s1.free();
  t.equal(await codeOf(s1.getXML()), 'VIR_ERR_INVALID_DOMAIN_SNAPSHOT', 'a freed handle');
  t.type(await dom.createSnapshot(5 as never).catch((e: unknown) => e), TypeError);
  t.type(await dom.lookupSnapshot(undefined as never).catch((e: unknown) => e), TypeError);
  await dom.undefine();
});

t.test('checkpoints', async (t) => {
  const conn = await open(t);
  const dom = await conn.defineDomain(guest('vk-ckpt'));
  t.teardown(() => dom.destroy().catch(() => undefined));
  t.equal(await codeOf(dom.createCheckpoint()), 'VIR_ERR_OPERATION_UNSUPPORTED', 'the test driver checkpoints running domains only');
  await dom.start();
  const c1 = await dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
  t.type(c1, DomainCheckpoint);
  t.teardown(() => dom.undefine(0x20 /* CHECKPOINTS_METADATA */).catch(() => undefined));
  t.match(await c1.getXML(), /<disk name='vda' checkpoint='bitmap' bitmap='c1'\/>/);
  t.equal(await c1.parent(), null);
  const c2 = await dom.createCheckpoint('<domaincheckpoint><name>c2</name></domaincheckpoint>');
  t.equal((await c2.parent())!.name, 'c1');
  t.same((await c1.children()).map((c) => c.name), ['c2']);
  t.same((await dom.listCheckpoints()).map((c) => c.name).sort(), ['c1', 'c2']);
  t.ok((await dom.lookupCheckpoint('c2')).equals(c2));
  t.equal(await codeOf(dom.lookupCheckpoint('nope')), 'VIR_ERR_NO_DOMAIN_CHECKPOINT');
  await c2.delete();
  t.same((await dom.listCheckpoints()).map((c) => c.name), ['c1']);
  t.equal(await codeOf(dom.createSnapshot()), 'VIR_ERR_OPERATION_UNSUPPORTED', 'no snapshots while checkpoints exist');
  await c1.delete();
});

t.test('all-domain stats, rename, capabilities', async (t) => {
  const conn = await open(t);
  const all = await conn.getAllDomainStats();
  const test = all.find((r) => r.domain.name === 'test');
  t.ok(test, 'the default domain is listed');
  t.type(test!.domain, Domain);
  t.equal(test!.stats['state.state'], 1, 'running');
  const some = await conn.domainStats([await conn.lookupDomainByName('test')], DomainStatsTypes.VIR_DOMAIN_STATS_STATE);
  t.same(Object.keys(some[0]!.stats).sort(), ['state.reason', 'state.state']);

  const dom = await conn.defineDomain(guest('vk-rename'));
  await dom.rename('vk-renamed');
  const renamed = await conn.lookupDomainByName('vk-renamed');
  t.equal(renamed.uuid, dom.uuid);
  await dom.setMaxMemory(256 * 1024);
  t.equal(await dom.maxMemoryKiB(), 256 * 1024);
  await renamed.undefine();

  t.equal(await codeOf(conn.domainCapabilitiesXml()), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(conn.domainXmlFromNative('qemu-argv', 'qemu-system-x86_64')), 'VIR_ERR_NO_SUPPORT');
  t.equal(await codeOf(conn.domainXmlToNative('qemu-argv', guest('x'))), 'VIR_ERR_NO_SUPPORT');
});

t.test('wrong argument types are TypeErrors before native code runs', async (t) => {
  const conn = await open(t);
  const dom = await conn.lookupDomainByName('test');
  const bad: Array<[string, () => Promise<unknown>]> = [
    ['attachDevice', () => dom.attachDevice(1 as never)],
    ['detachDevice', () => dom.detachDevice(null as never)],
    ['detachDeviceAlias', () => dom.detachDeviceAlias({} as never)],
    ['updateDevice', () => dom.updateDevice('<disk/>', 'live' as never)],
    ['blockInfo', () => dom.blockInfo(0 as never)],
    ['blockStats', () => dom.blockStats('vda\0x')],
    ['blockResize', () => dom.blockResize('vda', -1)],
    ['blockResize size', () => dom.blockResize('vda', 1.5)],
    ['interfaceStats', () => dom.interfaceStats([] as never)],
    ['perCpuStats', () => dom.perCpuStats(-1)],
    ['guestInfo', () => dom.guestInfo('os' as never)],
    ['save', () => dom.save(undefined as never)],
    ['save options', () => dom.save('/tmp/x', 'x' as never)],
    ['restoreDomain', () => conn.restoreDomain(3 as never)],
    ['saveImageXML', () => conn.saveImageXML(undefined as never)],
    ['metadata', () => dom.metadata('title' as never)],
    ['setMetadata', () => dom.setMetadata(0, 5 as never)],
    ['setTime', () => dom.setTime('now' as never)],
    ['sendKey', () => dom.sendKey(0, 10, ['a'] as never)],
    ['setMaxMemory', () => dom.setMaxMemory(-5)],
    ['rename', () => dom.rename(undefined as never)],
    ['blockIoTune', () => dom.blockIoTune(7 as never)],
    ['domainStats', () => conn.domainStats(['test'] as never)],
    ['getAllDomainStats', () => conn.getAllDomainStats('all' as never)],
  ];
  for (const [what, call] of bad) t.match(await typeErrorOf(call), /^(TypeError|RangeError)$/, what);
});

t.test('a freed domain rejects every new call with VIR_ERR_INVALID_DOMAIN', async (t) => {
  const conn = await open(t);
  const dom = await conn.lookupDomainByName('test');
  dom.free();
  for (const p of [dom.blockStats('vda'), dom.memoryStats(), dom.cpuStats(), dom.listSnapshots(), dom.createCheckpoint(), dom.save('/tmp/x')]) {
    t.equal(await codeOf(p), 'VIR_ERR_INVALID_DOMAIN');
  }
  t.equal(await codeOf(conn.domainStats([dom])), 'VIR_ERR_INVALID_DOMAIN');
});
