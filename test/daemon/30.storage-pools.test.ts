// Storage pools on the private libvirtd: a dir pool's whole lifecycle, an iscsi-direct pool
// on the tgtd target with CHAP through a libvirt secret, an iscsi (kernel) pool definition,
// and lifecycle errors that leave the daemon as it was.
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConnectListAllStoragePoolsFlags, LibvirtError, StoragePool } from 'virtkit';
import { daemonUri, testEnv, type IscsiTarget, tempDir, registerSecret } from '../helpers';

const target = daemonUri();
const env = testEnv();
const iscsi = env && !('skipped' in env.iscsi) ? env.iscsi : null;

const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof LibvirtError ? e.codeName : String(e);
};
const poolNames = async (conn: Awaited<ReturnType<typeof connect>>) => (await conn.listAllStoragePools()).map((p) => p.name).sort();

if ('skip' in target) {
  t.test('storage pools on the daemon', { skip: target.skip }, async () => {});
} else {
  const { uri } = target;

  t.test('a dir pool: define, build, start, autostart, refresh, stop, delete, undefine', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const dir = path.join(tempDir(t, 'virtkit-pool'), 'images');
    const name = `vk-dir-${randomUUID().slice(0, 8)}`;
    const pool = await conn.defineStoragePool(`<pool type='dir'><name>${name}</name><target><path>${dir}</path></target></pool>`);
    t.ok(pool instanceof StoragePool);
    t.equal(pool.name, name);
    t.equal(await pool.isActive(), false);
    t.equal(await pool.isPersistent(), true);
    t.equal((await pool.info()).stateName, 'inactive');
    await pool.build();
    t.ok(fs.statSync(dir).isDirectory(), 'build created the target directory');
    await pool.start();
    t.equal(await pool.isActive(), true);
    t.equal((await pool.info()).stateName, 'running');
    await pool.setAutostart(true);
    t.equal(await pool.autostart(), true);
    const autostarted = await conn.listAllStoragePools(ConnectListAllStoragePoolsFlags.VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART);
    t.ok(autostarted.some((p) => p.equals(pool)), 'listed with the AUTOSTART filter');
    fs.writeFileSync(path.join(dir, 'dropped-in.raw'), Buffer.alloc(4096));
    await pool.refresh();
    const vols = await pool.listVolumes();
    t.same(vols.map((v) => v.name), ['dropped-in.raw'], 'refresh found the file');
    t.equal((await vols[0]!.info()).capacity, 4096);
    t.ok((await vols[0]!.pool()).equals(pool), 'the volume knows its pool');
    t.ok((await conn.lookupStoragePoolByTargetPath(dir)).equals(pool));
    t.ok((await conn.lookupStoragePoolByName(name)).equals(pool));
    await pool.setAutostart(false);
    t.equal(await pool.autostart(), false);
    await pool.destroy();
    t.equal(await pool.isActive(), false);
    fs.rmSync(path.join(dir, 'dropped-in.raw'));
    await pool.delete();
    t.notOk(fs.existsSync(dir), 'delete removed the target directory');
    await pool.undefine();
    t.equal(await codeOf(conn.lookupStoragePoolByName(name)), 'VIR_ERR_NO_STORAGE_POOL');
  });

  t.test('a transient pool disappears when stopped', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const dir = tempDir(t, 'virtkit-transient');
    const name = `vk-tr-${randomUUID().slice(0, 8)}`;
    const pool = await conn.createStoragePool(`<pool type='dir'><name>${name}</name><target><path>${dir}</path></target></pool>`);
    t.equal(await pool.isActive(), true);
    t.equal(await pool.isPersistent(), false);
    await pool.destroy();
    t.equal(await codeOf(conn.lookupStoragePoolByName(name)), 'VIR_ERR_NO_STORAGE_POOL');
  });

  t.test('pool capabilities and source probing', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const caps = await conn.storagePoolCapabilitiesXml();
    t.match(caps, /<storagepoolCapabilities>/);
    t.match(caps, /<pool type='iscsi-direct' supported='yes'>/);
    t.match(caps, /<pool type='dir' supported='yes'>/);
    const typed = await conn.storagePoolCapabilities();
    t.same(typed.find((c) => c.type === 'iscsi-direct')?.supported, true);
    t.ok(typed.find((c) => c.type === 'dir')?.volumeFormats?.values.includes('qcow2'), 'dir pools take qcow2 volumes');
    t.equal(await codeOf(conn.findStoragePoolSourcesXml('no-such-type')), 'VIR_ERR_INTERNAL_ERROR');
    // Probing iscsi sources runs iscsiadm, which these machines lack: a typed error that says so.
    const probe = await conn.findStoragePoolSources('iscsi', "<source><host name='127.0.0.1'/></source>").catch((e: unknown) => e);
    t.ok(probe instanceof LibvirtError);
    t.match((probe as LibvirtError).message, /iscsiadm/);
  });

  t.test('lifecycle errors are typed and change nothing', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const before = await poolNames(conn);
    const missing = path.join(os.tmpdir(), `virtkit-missing-${randomUUID()}`);
    const name = `vk-err-${randomUUID().slice(0, 8)}`;
    const pool = await conn.defineStoragePool(`<pool type='dir'><name>${name}</name><target><path>${missing}</path></target></pool>`);
    t.equal(await codeOf(pool.start()), 'VIR_ERR_SYSTEM_ERROR', 'starting on a missing directory');
    t.equal(await pool.isActive(), false);
    t.equal(
      await codeOf(conn.defineStoragePool(`<pool type='dir'><name>${name}</name><uuid>${randomUUID()}</uuid><target><path>/tmp</path></target></pool>`)),
      'VIR_ERR_OPERATION_FAILED',
      'a duplicate name',
    );
    t.equal(await codeOf(conn.defineStoragePool('<pool type="dir"><name>x</name>')), 'VIR_ERR_XML_DETAIL', 'malformed XML');
    t.equal(await codeOf(conn.defineStoragePool('<pool type="nosuch"><name>x</name></pool>')), 'VIR_ERR_XML_ERROR', 'unknown pool type');
    await pool.undefine();
    t.same(await poolNames(conn), before, 'the daemon holds the pools it held before');
    t.type(await conn.defineStoragePool(7 as never).catch((e: unknown) => e), TypeError);
    t.type(await pool.setAutostart('yes' as never).catch((e: unknown) => e), TypeError);
  });

  t.test('an iscsi (kernel) pool is defined and read back; starting needs a kernel initiator', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const name = `vk-iscsi-${randomUUID().slice(0, 8)}`;
    const pool = await conn.defineStoragePool(`<pool type='iscsi'><name>${name}</name>
      <source><host name='127.0.0.1' port='3260'/><device path='iqn.2026-11.org.virtkit.test:open'/></source>
      <target><path>/dev/disk/by-path</path></target></pool>`);
    const xml = await pool.getXML();
    t.match(xml, /<pool type='iscsi'>/);
    t.match(xml, /<path>\/dev\/disk\/by-path<\/path>/);
    t.match(xml, /<device path='iqn\.2026-11\.org\.virtkit\.test:open'\/>/);
    await pool.undefine();
    t.test('starting it', { skip: 'needs the kernel iSCSI initiator (iscsiadm, open-iscsi), which these machines lack' }, async () => {});
  });

  const chapTarget = iscsi?.targets.find((x) => x.chap) as IscsiTarget | undefined;
  t.test('an iscsi-direct pool on the tgtd target, CHAP through a libvirt secret', { skip: iscsi && chapTarget ? false : `no tgtd target: ${env && 'skipped' in env.iscsi ? env.iscsi.skipped : 'test environment not started'}` }, async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const usage = `vk-chap-${randomUUID().slice(0, 8)}`;
    const secret = await conn.defineSecret({ private: true, usage: { type: 'iscsi', target: usage } });
    t.teardown(() => secret.undefine().catch(() => undefined));
    const [host, port] = iscsi!.portal.split(':');
    const name = `vk-direct-${randomUUID().slice(0, 8)}`;
    const pool = await conn.defineStoragePool(`<pool type='iscsi-direct'><name>${name}</name>
      <source><host name='${host}' port='${port}'/><device path='${chapTarget!.iqn}'/>
        <initiator><iqn name='iqn.2026-11.org.virtkit.test:initiator-${randomUUID().slice(0, 8)}'/></initiator>
        <auth type='chap' username='${chapTarget!.chap!.username}'><secret usage='${usage}'/></auth>
      </source></pool>`);
    t.teardown(() => pool.undefine().catch(() => undefined));

    // A wrong password: the start fails with a typed error that does not contain it.
    const wrong = registerSecret('daemon/30 wrong CHAP password', `wrong-${randomBytes(9).toString('hex')}`);
    await secret.setValue(wrong);
    const err = await pool.start().catch((e: unknown) => e);
    t.ok(err instanceof LibvirtError, 'start with a wrong CHAP password fails');
    t.notMatch((err as LibvirtError).message, wrong, 'the error does not contain the secret');
    t.notMatch((err as LibvirtError).message, chapTarget!.chap!.password);
    t.equal(await pool.isActive(), false);

    // The right password: one volume per LUN, each the size of its backing file.
    await secret.setValue(chapTarget!.chap!.password);
    await pool.start();
    t.equal(await pool.isActive(), true);
    const vols = await pool.listVolumes();
    const byName = new Map(await Promise.all(vols.map(async (v) => [v.name, (await v.info()).capacity] as const)));
    // tgtd exposes its controller as LUN 0 next to the disk LUNs; libvirt lists it too.
    t.same([...byName.keys()].sort(), ['unit:0:0:0', ...chapTarget!.luns.map((l) => `unit:0:0:${l.lun}`)].sort(), 'one volume per LUN');
    for (const lun of chapTarget!.luns) {
      const size = fs.statSync(lun.path).size;
      t.equal(lun.sizeBytes, size);
      // libvirt 9.0.0's iscsi-direct backend multiplies READ CAPACITY's *last* LBA by the block
      // size, so it reports one 512-byte block less than the LUN holds (tgtd, iscsi-ls and
      // QEMU see the full size). Asserted as libvirt behaves, so a fixed libvirt shows up here.
      t.equal(byName.get(`unit:0:0:${lun.lun}`), size - 512, `LUN ${lun.lun}: libvirt's capacity is the backing file size less one block`);
    }
    await pool.destroy();
  });
}
