// The domain API slice on a real QEMU guest (KVM when /dev/kvm exists, else TCG; no OS image):
// block info, stats and resize on a qcow2 file disk, interface stats on a user-mode NIC,
// memory and CPU stats, disk errors, guest info without an agent, save and restore, hotplug
// of a second disk, internal snapshots of the shut-off guest, checkpoints, all-domain stats.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, DomainDeviceModifyFlags, DomainStatsTypes, DomainUndefineFlagsValues, LibvirtError, type Connection, type Domain } from 'virtkit';
import { daemonUri, toolEnv } from '../helpers';

const target = daemonUri();
const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof LibvirtError ? e.codeName : String(e);
};
const qemuImg = ['/usr/bin/qemu-img', '/usr/local/bin/qemu-img'].find((p) => fs.existsSync(p));

if ('skip' in target) {
  t.test('the domain API on the daemon', { skip: target.skip }, async () => {});
} else if (!qemuImg) {
  t.test('the domain API on the daemon', { skip: 'qemu-img is not installed (package qemu-utils): needed to make the qcow2 disk' }, async () => {});
} else {
  const type = fs.existsSync('/dev/kvm') ? 'kvm' : 'qemu';
  const UNDEFINE_ALL =
    DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
    DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
    DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
  const uri = target.uri;
  const mac = '52:54:00:76:6b:01';
  const guestXml = (name: string, disk: string) => `<domain type='${type}'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <controller type='usb' model='qemu-xhci'/>
    <interface type='user'><mac address='${mac}'/><model type='virtio'/></interface>
    <memballoon model='virtio'/>
  </devices>
</domain>`;

  /** A defined guest with a 64 MiB qcow2 disk in a temp dir the daemon (root, or its qemu
   * user) can reach; everything goes again at teardown. */
  async function makeGuest(t: { teardown(fn: () => unknown): void }): Promise<{ conn: Connection; dom: Domain; dir: string }> {
    const conn = await connect(uri);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vk-domapi-'));
    fs.chmodSync(dir, 0o777);
    const disk = path.join(dir, 'root.qcow2');
    execFileSync(qemuImg!, ['create', '-q', '-f', 'qcow2', disk, '64M'], { env: toolEnv() });
    const dom = await conn.defineDomain(guestXml(`vk-api-${randomUUID().slice(0, 8)}`, disk));
    t.teardown(async () => {
      await dom.destroy().catch(() => undefined);
      await dom.undefine(UNDEFINE_ALL).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
      await conn.close();
    });
    return { conn, dom, dir };
  }

  t.test(`statistics, resize, hotplug, save and restore on a running ${type} guest`, async (t) => {
    const { conn, dom, dir } = await makeGuest(t);
    await dom.start();

    const before = await dom.blockInfo('vda');
    t.equal(before.capacity, 64 * 2 ** 20, 'capacity in bytes');
    t.ok(before.allocation > 0 && before.physical > 0);
    const bs = await dom.blockStats('vda');
    t.type(bs.readRequests, 'number');
    t.equal(bs.errors, null, 'QEMU does not report errs (-1): null');
    const bsp = await dom.blockStatsParameters('vda');
    t.type(bsp.rd_operations, 'number');
    t.type(bsp.flush_total_times, 'number');
    await dom.blockResize('vda', 128 * 2 ** 20);
    t.equal((await dom.blockInfo('vda')).capacity, 128 * 2 ** 20, 'grown to 128 MiB while running');
    t.equal(await codeOf(dom.blockInfo('vdz')), 'VIR_ERR_INVALID_ARG');

    // A user-mode NIC (the only kind that needs no host bridge or network here) has no host
    // device, so QEMU has no counters for it: libvirt says so with a typed error.
    t.equal(await codeOf(dom.interfaceStats(mac)), 'VIR_ERR_INTERNAL_ERROR', 'user-mode NIC: "Interface name not provided"');
    t.equal(await codeOf(dom.interfaceStats('net0')), 'VIR_ERR_INVALID_ARG', 'the alias is not an interface name');

    const ms = await dom.memoryStats();
    t.equal(ms.actualBalloonKiB, 64 * 1024, 'the balloon holds all 64 MiB');
    t.ok(ms.rssKiB! > 0, 'QEMU\'s resident size');
    const cpu = await dom.cpuStats();
    t.ok(cpu.cpuTimeNs! > 0, 'the guest used CPU time');
    const per = await dom.perCpuStats().then(
      (list) => ({ list, code: null as string | null }),
      (err: unknown) => ({ list: [], code: err instanceof LibvirtError ? err.codeName : String(err) }),
    );
    if (per.code) t.equal(per.code, 'VIR_ERR_OPERATION_UNSUPPORTED', 'per-CPU accounting is unavailable with cgroup v2');
    else t.ok(per.list.length > 0 && per.list.every((c) => typeof c.cpuTimeNs === 'number'), 'per-CPU times');
    t.same(await dom.diskErrors(), [], 'no disk errors');
    t.equal(await codeOf(dom.guestInfo()), 'VIR_ERR_ARGUMENT_UNSUPPORTED', 'no guest agent channel: a typed error');
    t.equal(await codeOf(dom.fsInfo()), 'VIR_ERR_ARGUMENT_UNSUPPORTED');
    t.equal((await dom.jobInfo()).typeName, 'none');
    t.equal((await dom.jobStats()).typeName, 'none');
    t.equal((await dom.schedulerParameters()).cpu_shares === undefined, false, 'scheduler parameters (cgroup)');
    t.type((await dom.memoryParameters()).hard_limit, 'number');
    t.ok(Array.isArray(await dom.messages()));
    t.equal((await dom.controlInfo()).stateName, 'ok');
    const all = await conn.getAllDomainStats(DomainStatsTypes.VIR_DOMAIN_STATS_BLOCK | DomainStatsTypes.VIR_DOMAIN_STATS_CPU_TOTAL);
    const mine = all.find((r) => r.domain.equals(dom));
    t.equal(mine?.stats['block.0.name'], 'vda', 'all-domain stats: block entries by index');
    t.type(mine?.stats['cpu.time'], 'number');

    // Hotplug a second disk (USB: unplugged at once, no guest cooperation needed).
    const extra = path.join(dir, 'extra.img');
    execFileSync(qemuImg!, ['create', '-q', '-f', 'raw', extra, '16M'], { env: toolEnv() });
    const diskXml = `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${extra}'/><target dev='sdb' bus='usb'/></disk>`;
    await dom.attachDevice(diskXml, DomainDeviceModifyFlags.VIR_DOMAIN_DEVICE_MODIFY_LIVE);
    t.equal((await dom.blockInfo('sdb')).capacity, 16 * 2 ** 20, 'the attached disk is there');
    await dom.detachDevice(diskXml, DomainDeviceModifyFlags.VIR_DOMAIN_DEVICE_MODIFY_LIVE);
    t.equal(await codeOf(dom.blockInfo('sdb')), 'VIR_ERR_INVALID_ARG', 'and gone after the detach');
    await dom.attachDevice(diskXml.replace('</disk>', "<alias name='ua-extra'/></disk>"), DomainDeviceModifyFlags.VIR_DOMAIN_DEVICE_MODIFY_LIVE);
    t.match(await dom.getXML(), /<alias name='ua-extra'\/>/, 'attached again, with a user alias');
    // virDomainDetachDeviceAlias only asks for the unplug; libvirt drops the device when QEMU
    // reports DEVICE_DELETED. Wait for that (a condition, not a time: up to 10 s of polling).
    await dom.detachDeviceAlias('ua-extra', DomainDeviceModifyFlags.VIR_DOMAIN_DEVICE_MODIFY_LIVE);
    for (let i = 0; i < 100 && /ua-extra/.test(await dom.getXML()); i++) await new Promise((r) => setTimeout(r, 100));
    t.notMatch(await dom.getXML(), /ua-extra/, 'and detached by its alias');

    const image = path.join(dir, 'saved.img');
    await dom.save(image);
    t.equal(await dom.isActive(), false, 'save stops the guest');
    t.match(await conn.saveImageXML(image), new RegExp(`<name>${dom.name}</name>`));
    await conn.restoreDomain(image);
    t.equal((await dom.state()).stateName, 'running', 'restored from the file');
    await dom.destroy();
  });

  t.test('internal snapshots of a shut-off qcow2 guest, checkpoints of a running one', async (t) => {
    const { dom } = await makeGuest(t);
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    t.match(await s1.getXML(), /<state>shutoff<\/state>/);
    const s2 = await dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>');
    t.same((await dom.listSnapshots()).map((s) => s.name).sort(), ['s1', 's2']);
    t.equal((await s2.parent())!.name, 's1');
    t.equal((await dom.currentSnapshot())!.name, 's2');
    await s1.revert();
    t.equal(await s1.isCurrent(), true, 'reverted to s1');
    await s2.delete();
    await s1.delete();
    t.same(await dom.listSnapshots(), []);

    await dom.start();
    const c1 = await dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    t.match(await c1.getXML(), /<disk name='vda' checkpoint='bitmap'/, 'a persistent bitmap in the qcow2 disk');
    t.same((await dom.listCheckpoints()).map((c) => c.name), ['c1']);
    t.ok((await dom.lookupCheckpoint('c1')).equals(c1));
    await c1.delete();
    t.same(await dom.listCheckpoints(), []);
    await dom.destroy();
  });
}
