// RBD images behind tgtd (tgt's rbd backing store), the way an iSCSI gateway exports them:
// virtkit's initiator sees each LUN with the image's exact size and its INQUIRY/VPD data, CHAP
// is enforced, a block written over iSCSI is in the RBD image, and an iscsi-direct pool on the
// private libvirtd (CHAP through an `iscsi` secret) lists the RBD-backed LUNs.
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, iscsi, IscsiError, LibvirtError, type IscsiDirectPool } from 'virtkit';
import { cephCli, cephEnv, cephJson, daemonUri, registerSecret, tempDir, type CephEnv, type RbdTarget, shown } from '../helpers';

const ce = cephEnv();
const gw = 'skip' in ce ? null : 'skipped' in ce.ceph.iscsi ? null : ce.ceph.iscsi;
const skip = 'skip' in ce ? ce.skip : !gw ? `the Ceph gateway tgtd is not running: ${(ce.ceph.iscsi as { skipped: string }).skipped}` : false;
const lv = daemonUri();

const initiator = () => `iqn.2026-11.org.virtkit.test:rbd-gw-${randomUUID().slice(0, 8)}`;
if (skip) {
  t.test('RBD images behind tgtd', { skip }, async () => {});
} else {
  const { ceph } = ce as { ceph: CephEnv };
  const portal = gw!.portal;
  const target = gw!.targets[0] as RbdTarget;
  const chap = target.chap!;
  const session = () => iscsi.connect({ portal, target: target.iqn, initiatorIqn: initiator(), chap, timeoutMs: 15_000 });

  t.test('env.json: one CHAP target, its LUNs the RBD images', async (t) => {
    t.equal(gw!.targets.length, 1, 'one target');
    t.ok(chap.username && chap.password, 'CHAP credentials');
    t.same(target.luns.map((l) => l.image).sort(), ceph.images.map((i) => i.image).sort(), 'the LUNs are the gateway images');
  });

  t.test('luns(): each RBD image with its exact size (READ CAPACITY 16), INQUIRY and VPD as configured', async (t) => {
    const s = await session();
    t.teardown(() => s.close());
    t.same(await s.reportLuns(), [0, ...target.luns.map((l) => l.lun)], 'LUN 0 is tgtd\'s controller');
    const disks = (await s.luns()).filter((l) => l.deviceTypeName === 'DIRECT_ACCESS');
    t.equal(disks.length, target.luns.length, 'one disk LUN per image');
    for (const want of target.luns) {
      const got = disks.find((l) => l.lun === want.lun);
      const rbdBytes = cephJson<{ size: number }>(ceph, 'rbd', ['info', want.image]).size;
      t.equal(got?.capacity?.bytes, rbdBytes, `LUN ${want.lun}: ${rbdBytes} bytes, the size \`rbd info\` gives ${want.image}`);
      t.equal(got?.capacity?.bytes, want.sizeBytes, `LUN ${want.lun}: as env.json says`);
      t.equal(got?.capacity?.command, 16, 'READ CAPACITY 16 answered');
      t.equal(got?.capacity?.blockSize, 512, '512-byte blocks');
      t.equal(got?.vendor, want.vendor, 'INQUIRY vendor');
      t.equal(got?.product, want.product, 'INQUIRY product');
      t.equal(got?.serial, want.serial, 'VPD unit serial number');
      t.equal(got?.ready, true, 'TEST UNIT READY');
    }
  });

  t.test('CHAP is enforced: no CHAP and a wrong password are refused (auth), no password shown', async (t) => {
    const none = await iscsi.connect({ portal, target: target.iqn, initiatorIqn: initiator(), timeoutMs: 15_000 }).catch((e: unknown) => e);
    t.ok(none instanceof IscsiError && none.kind === 'auth', 'no CHAP: auth');
    const wrongPassword = registerSecret('ceph/30 wrong CHAP password', `wrong-${randomBytes(6).toString('hex')}`);
    const wrong = await iscsi.connect({ portal, target: target.iqn, initiatorIqn: initiator(), chap: { username: chap.username, password: wrongPassword }, timeoutMs: 15_000 }).catch((e: unknown) => e);
    t.ok(wrong instanceof IscsiError && wrong.kind === 'auth', 'wrong password: auth');
    t.ok(!shown(wrong).includes(wrongPassword) && !shown(wrong).includes(chap.password), 'no password in the error');
  });

  t.test('a block written over iSCSI is in the RBD image (rbd export)', async (t) => {
    const lun = target.luns[target.luns.length - 1]!;
    const s = await session();
    t.teardown(() => s.close());
    const lba = 4096; // 2 MiB in: inside the image's first object
    const pattern = randomBytes(8 * 512);
    const before = await s.read(lun.lun, lba, 8);
    t.teardown(() => s.write(lun.lun, lba, before)); // what the LUN held before
    await s.write(lun.lun, lba, pattern);
    t.same(await s.read(lun.lun, lba, 8), pattern, 'read back over iSCSI');
    const file = path.join(tempDir(t, 'virtkit-rbd-export'), 'image.raw');
    const r = cephCli(ceph, 'rbd', ['export', '--no-progress', lun.image, file], { timeoutMs: 60_000 });
    t.equal(r.status, 0, `rbd export ${lun.image}: ${r.stderr.trim()}`);
    t.equal(fs.statSync(file).size, lun.sizeBytes, 'the exported image has the LUN\'s size');
    const fd = fs.openSync(file, 'r');
    const inImage = Buffer.alloc(pattern.length);
    try { fs.readSync(fd, inImage, 0, inImage.length, lba * 512); } finally { fs.closeSync(fd); }
    t.ok(inImage.equals(pattern), 'the image holds the written blocks at the same offset');
  });

  t.test('an iscsi-direct pool on the gateway: one volume per RBD-backed LUN', { skip: 'skip' in lv ? lv.skip : false }, async (t) => {
    const conn = await connect((lv as { uri: string }).uri);
    t.teardown(() => conn.close());
    const id = randomUUID().slice(0, 8);
    const usage = `vk-rbd-gw-chap-${id}`;
    const secret = await conn.defineSecret({ private: true, usage: { type: 'iscsi', target: usage } });
    t.teardown(() => secret.undefine().catch(() => undefined));
    await secret.setValue(Buffer.from(chap.password));
    const [host, port] = portal.split(':');
    const def: IscsiDirectPool = {
      type: 'iscsi-direct',
      name: `vk-rbd-gw-${id}`,
      source: {
        hosts: [{ name: host!, port: Number(port) }],
        devices: [{ path: target.iqn }],
        initiatorIqn: initiator(),
        auth: { type: 'chap', username: chap.username, secret: { usage } },
      },
    };
    const pool = await conn.createStoragePool(def);
    t.teardown(() => pool.destroy().catch(() => undefined));
    const vols = await pool.listVolumes();
    const byName = new Map(await Promise.all(vols.map(async (v) => [v.name, (await v.info()).capacity] as const)));
    t.same([...byName.keys()].sort(), ['unit:0:0:0', ...target.luns.map((l) => `unit:0:0:${l.lun}`)].sort(), 'the controller and one volume per LUN');
    for (const lun of target.luns) {
      // libvirt 9.0.0's iscsi-direct backend multiplies READ CAPACITY's last LBA by the block
      // size: one 512-byte block less than the LUN (see test/daemon/30.storage-pools); virtkit's
      // luns() above gives the exact size.
      t.equal(byName.get(`unit:0:0:${lun.lun}`), lun.sizeBytes - 512, `LUN ${lun.lun} (${lun.image}): libvirt's capacity is the image size less one block`);
    }
    await pool.destroy();
    t.equal(await pool.isActive().catch((e: unknown) => (e instanceof LibvirtError ? e.codeName : e)), 'VIR_ERR_NO_STORAGE_POOL', 'the transient pool is gone');
  });
}
