// A QEMU guest (KVM, or TCG without /dev/kvm) on the private libvirtd with RBD-backed disks:
// an RBD image of an rbd pool as a network disk (QEMU's librbd, cephx through a `ceph`
// secret), and a LUN of the Ceph gateway (an RBD image behind tgtd) as an iscsi-direct volume.
// Both are opened by QEMU (Ceph sees QEMU's watch on the image), the guest runs, is destroyed
// and undefined, and everything the test made is removed.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { connect, domainDefinition, LibvirtError, type DomainLifecycleEvent } from 'virtkit';
import { cephCli, cephEnv, cephJson, daemonUri, type CephEnv, type RbdTarget } from '../helpers';

const MiB = 1024 * 1024;
const lv = daemonUri();
const ce = cephEnv();
const skip = 'skip' in lv ? lv.skip : 'skip' in ce ? ce.skip : false;
const type = fs.existsSync('/dev/kvm') ? 'kvm' : 'qemu';

/** Ceph's clients watching an image (QEMU's librbd holds a watch while the disk is open). */
const watchers = (ceph: CephEnv, image: string) => cephJson<{ watchers: Array<{ address: string }> }>(ceph, 'rbd', ['status', image]).watchers;

/** The next lifecycle event of the domain matching `match`, or a rejection after `ms`. */
function nextLifecycle(dom: { on(n: 'lifecycle', l: (e: DomainLifecycleEvent) => void): unknown; off(n: 'lifecycle', l: (e: DomainLifecycleEvent) => void): unknown }, match: (e: DomainLifecycleEvent) => boolean, ms = 30_000): Promise<DomainLifecycleEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { dom.off('lifecycle', listener); reject(new Error(`no matching lifecycle event within ${ms} ms`)); }, ms);
    const listener = (e: DomainLifecycleEvent) => {
      if (!match(e)) return;
      clearTimeout(timer);
      dom.off('lifecycle', listener);
      resolve(e);
    };
    dom.on('lifecycle', listener);
  });
}

if (skip) {
  t.test('a guest on RBD', { skip }, async () => {});
} else {
  const uri = (lv as { uri: string }).uri;
  const { ceph } = ce as { ceph: CephEnv };
  const gw = 'skipped' in ceph.iscsi ? null : ceph.iscsi;

  t.test(`a ${type} guest whose disks are an RBD image (network disk) and an RBD-backed gateway LUN (iscsi-direct)`, {
    skip: gw ? false : `the Ceph gateway tgtd is not running: ${(ceph.iscsi as { skipped: string }).skipped}`,
  }, async (t) => {
    const conn = await connect(uri, { events: true });
    t.teardown(() => conn.close());
    const id = randomUUID().slice(0, 8);

    // The rbd pool, through a `ceph` secret; a fresh image in it for the guest.
    const cephUsage = `vk-guest-ceph-${id}`;
    const cephSecret = await conn.defineSecret({ private: true, usage: { type: 'ceph', name: cephUsage } });
    t.teardown(() => cephSecret.undefine().catch(() => undefined));
    await cephSecret.setValue(Buffer.from(ceph.key, 'base64'));
    const rbdPool = await conn.createStoragePool({
      type: 'rbd',
      name: `vk-guest-rbd-${id}`,
      source: { name: ceph.pool, hosts: [{ name: ceph.monHost, port: ceph.monPort }], auth: { type: 'ceph', username: ceph.user, secret: { usage: cephUsage } } },
    });
    t.teardown(() => rbdPool.destroy().catch(() => undefined));
    const volName = `vk-guest-disk-${id}`;
    const image = `${ceph.pool}/${volName}`;
    t.teardown(() => { cephCli(ceph, 'rbd', ['rm', image]); }); // if a step failed before delete()
    const vol = await rbdPool.createVolume({ name: volName, capacity: 32 * MiB });

    // The gateway target as an iscsi-direct pool, through an `iscsi` secret.
    const target = gw!.targets[0] as RbdTarget;
    const lun = target.luns[0]!;
    const chapUsage = `vk-guest-chap-${id}`;
    const chapSecret = await conn.defineSecret({ private: true, usage: { type: 'iscsi', target: chapUsage } });
    t.teardown(() => chapSecret.undefine().catch(() => undefined));
    await chapSecret.setValue(Buffer.from(target.chap!.password));
    const [host, port] = gw!.portal.split(':');
    const gwPoolName = `vk-guest-gw-${id}`;
    const gwPool = await conn.createStoragePool({
      type: 'iscsi-direct',
      name: gwPoolName,
      source: {
        hosts: [{ name: host!, port: Number(port) }], devices: [{ path: target.iqn }],
        initiatorIqn: `iqn.2026-11.org.virtkit.test:guest-${id}`,
        auth: { type: 'chap', username: target.chap!.username, secret: { usage: chapUsage } },
      },
    });
    t.teardown(() => gwPool.destroy().catch(() => undefined));

    // libvirt 9.0 does not take volumes of rbd pools as <disk type='volume'> ("using 'rbd'
    // pools for backing 'volume' disks isn't yet supported"): the rbd image is a network disk.
    const name = `vk-ceph-guest-${id}`;
    const def = domainDefinition({
      name, type, memory: 64 * MiB, vcpus: 1,
      disks: [
        { network: { protocol: 'rbd', name: image, hosts: [{ name: ceph.monHost, port: ceph.monPort }], auth: { username: ceph.user, secret: { type: 'ceph', usage: cephUsage } } } },
        { pool: gwPoolName, volume: `unit:0:0:${lun.lun}` },
      ],
    });
    // domainDefinition's KVM default, <cpu mode='host-passthrough'>, does not start on these
    // nested-KVM machines (QEMU: "failed to set MSR 0x10a"): QEMU's default CPU model instead.
    delete def.cpu;
    const dom = await conn.defineDomain(def);
    t.teardown(async () => {
      await dom.destroy().catch(() => undefined);
      await dom.undefine().catch(() => undefined);
    });
    t.same(watchers(ceph, image), [], 'nobody has the image open before the guest starts');

    const started = nextLifecycle(dom, (e) => e.eventName === 'started');
    started.catch(() => undefined); // awaited below; a failed start() must not leave it unhandled
    await dom.eventsReady();
    await dom.start();
    t.equal((await started).detailName, 'booted', 'lifecycle: started, booted');
    t.equal((await dom.state()).stateName, 'running', 'the guest runs');
    t.equal((await dom.blockInfo('vda')).capacity, 32 * MiB, 'vda: QEMU opened the 32 MiB RBD image');
    t.equal((await dom.blockInfo('vdb')).capacity, lun.sizeBytes, `vdb: QEMU sees the whole gateway LUN (${lun.image})`);
    const w = watchers(ceph, image);
    t.equal(w.length, 1, 'Ceph sees one client watching the image: QEMU');
    t.match(w[0]?.address ?? '', /^(v1:)?127\.0\.0\.1:/, 'from loopback');
    const xml = await dom.getXML();
    t.match(xml, new RegExp(`<source protocol='rbd' name='${image}'`), 'the live XML has the rbd source');
    t.ok(!xml.includes(ceph.key), 'and no key');

    const stopped = nextLifecycle(dom, (e) => e.eventName === 'stopped');
    stopped.catch(() => undefined);
    await dom.eventsReady();
    await dom.destroy();
    t.equal((await stopped).detailName, 'destroyed', 'lifecycle: stopped, destroyed');
    t.same(watchers(ceph, image), [], 'QEMU closed the image');
    await dom.undefine();
    t.equal(((await conn.lookupDomainByName(name).catch((e: unknown) => e)) as LibvirtError).codeName, 'VIR_ERR_NO_DOMAIN', 'undefined');
    await vol.delete();
    t.not(cephCli(ceph, 'rbd', ['info', image]).status, 0, 'the image is deleted');
  });

  t.test('an rbd pool volume as <disk type=\'volume\'> is refused by libvirt 9.0, with a typed error', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const id = randomUUID().slice(0, 8);
    const usage = `vk-guest-vol-${id}`;
    const secret = await conn.defineSecret({ private: true, usage: { type: 'ceph', name: usage } });
    t.teardown(() => secret.undefine().catch(() => undefined));
    await secret.setValue(Buffer.from(ceph.key, 'base64'));
    const poolName = `vk-guest-volpool-${id}`;
    const pool = await conn.createStoragePool({
      type: 'rbd', name: poolName,
      source: { name: ceph.pool, hosts: [{ name: ceph.monHost, port: ceph.monPort }], auth: { type: 'ceph', username: ceph.user, secret: { usage } } },
    });
    t.teardown(() => pool.destroy().catch(() => undefined));
    const volName = ceph.images[0]!.image.split('/')[1]!;
    const def = domainDefinition({ name: `vk-ceph-volguest-${id}`, type, memory: 64 * MiB, vcpus: 1, disks: [{ pool: poolName, volume: volName }] });
    delete def.cpu; // as above
    const err = await conn.createDomain(def).catch((e: unknown) => e);
    t.ok(err instanceof LibvirtError, 'the guest does not start');
    t.match((err as LibvirtError).message, /rbd.*isn't yet supported|not.*supported/i, (err as Error).message);
    t.equal(((await conn.lookupDomainByName(`vk-ceph-volguest-${id}`).catch((e: unknown) => e)) as LibvirtError).codeName, 'VIR_ERR_NO_DOMAIN', 'no guest left behind');
  });
}
