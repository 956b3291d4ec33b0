// The provisioning helpers against the private Ceph cluster: provisionRbdPool run twice (the
// same secret and pool, nothing duplicated), volumes created, resized and deleted through
// virtkit with the sizes `rbd info` gives, a guest defined with defineGuest on an RBD volume
// (a network disk: libvirt 9.0 refuses rbd-pool volumes as <disk type='volume'>) started and
// torn down with its pool; a wrong Ceph key: an `auth` ProvisionError; provisionIscsiPool on
// the Ceph gateway (RBD images behind tgtd) with a guest on each RBD-backed LUN, and a wrong
// CHAP password for it. Each compares
// libvirt's whole lists of secrets, pools and domains before and after, so it runs on a
// libvirtd of this file's own (the Ceph monitor is on loopback: any libvirtd here reaches it).
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  connect, defineGuest, guestsUsingPool, IscsiError, LibvirtError, parseDomainXml, parsePoolXml, ProvisionError, provisionIscsiPool, provisionRbdPool,
  teardownGuest, teardownPool,
} from 'virtkit';
import { cephCli, cephEnv, cephJson, privateLibvirtd, registerSecret, type CephEnv, type RbdTarget, libvirtLists, shown, rejection } from '../helpers';

const MiB = 1024 * 1024;
const ce = cephEnv();
const skip = 'skip' in ce ? ce.skip : false;
const id = () => randomUUID().slice(0, 8);

const provisionError = (p: Promise<unknown>) => rejection(p, ProvisionError);

const rbdInfo = (ceph: CephEnv, image: string) => cephJson<{ size: number; objects: number; object_size: number }>(ceph, 'rbd', ['info', image]);
/** Ceph's clients watching an image (QEMU's librbd holds a watch while the disk is open). */
const watchers = (ceph: CephEnv, image: string) => cephJson<{ watchers: unknown[] }>(ceph, 'rbd', ['status', image]).watchers;

if (skip) {
  t.test('provisionRbdPool on Ceph', { skip }, async () => {});
} else {
  const { ceph } = ce as { ceph: CephEnv };
  const monitor = `${ceph.monHost}:${ceph.monPort}`;
  const options = (name: string) => ({ name, monitors: [monitor], pool: ceph.pool, cephUser: `client.${ceph.user}`, cephKey: ceph.key });
  let uri = '';
  let why = '';
  t.before(() => {
    const own = privateLibvirtd(t);
    if ('uri' in own) uri = own.uri;
    else why = own.skip;
  });
  const open = async (tt: { teardown: (fn: () => unknown) => void }) => {
    if (!uri) throw new Error(`no private libvirtd: ${why}`);
    const conn = await connect(uri);
    tt.teardown(() => conn.close());
    return conn;
  };

  t.test('provisionRbdPool: monitor checked, ceph secret, rbd pool started; run twice, nothing duplicated; torn down, nothing left', async (t) => {
    const conn = await open(t);
    const before = await libvirtLists(conn);
    const name = `vk-cprov-${id()}`;
    t.teardown(() => teardownPool(conn, name, { guests: 'remove' }).catch(() => undefined));

    const r = await provisionRbdPool(conn, options(name));
    t.same(r.actions, [
      `checked the Ceph monitors: ${monitor} answer`,
      `defined secret ceph:${name}-ceph (${r.secret.uuid}, private)`,
      `set the value of secret ceph:${name}-ceph`,
      `defined pool ${name} (${r.pool.uuid})`,
      `started pool ${name}`,
      `set autostart on for pool ${name}`,
    ], 'what it did, in order');
    t.equal(r.secret.usageType, 'ceph');
    t.equal(r.secret.usageId, `${name}-ceph`);
    const sdef = await r.secret.describe();
    t.equal(sdef.private, true, 'the secret is private');
    t.equal(sdef.ephemeral, false, 'and not ephemeral');
    t.type(await r.secret.getValue().catch((e: unknown) => e), LibvirtError, 'its value cannot be read back');
    const def = parsePoolXml(await r.pool.getXML());
    t.equal(def.type, 'rbd');
    t.equal(def.source?.name, ceph.pool, 'on the Ceph pool');
    t.same(def.source?.hosts, [{ name: ceph.monHost, port: ceph.monPort }], 'the monitor as its host');
    t.same(def.source?.auth, { type: 'ceph', username: ceph.user, secret: { usage: `${name}-ceph` } }, 'cephx as the user (no client. prefix) through the secret');
    t.notMatch(await r.pool.getXML(), ceph.key, 'no key in the pool XML');
    t.equal(await r.pool.isActive(), true, 'started');
    t.equal(await r.pool.autostart(), true, 'autostart on');
    // The gateway's images are in the Ceph pool: listed with the sizes Ceph has.
    for (const im of ceph.images) {
      const v = r.volumes.find((x) => x.path === im.image);
      t.ok(v, `${im.image} is a volume`);
      t.equal(v?.type, 'network');
      t.equal(v?.capacity, rbdInfo(ceph, im.image).size, `${im.image}: capacity = rbd info size`);
    }
    const once = await libvirtLists(conn);
    t.equal(once.secrets.length, before.secrets.length + 1, 'one secret more');
    t.equal(once.pools.length, before.pools.length + 1, 'one pool more');

    const again = await provisionRbdPool(conn, options(name));
    t.equal(again.pool.uuid, r.pool.uuid, 'the same pool');
    t.equal(again.secret.uuid, r.secret.uuid, 'the same secret');
    t.same(await libvirtLists(conn), once, 'nothing duplicated, nothing changed');
    t.notMatch(again.actions.join('\n'), /defined (secret|pool)|started pool/, 'the second run defined and started nothing');
    t.match(again.actions.join('\n'), /found secret ceph:.* and set its value\n.*found pool .* defined as wanted\n.*running already/);

    t.same(await teardownPool(conn, name), [`stopped pool ${name}`, `removed the definition of pool ${name}`, `removed secret ceph:${name}-ceph`]);
    t.same(await teardownPool(conn, name), [], 'a second teardown has nothing to do');
    t.same(await libvirtLists(conn), before, 'the daemon holds what it held before');
  });

  t.test('volumes of the provisioned pool: created, resized, deleted through virtkit; sizes as rbd info gives them', async (t) => {
    const conn = await open(t);
    const name = `vk-cvol-${id()}`;
    t.teardown(() => teardownPool(conn, name).catch(() => undefined));
    const { pool } = await provisionRbdPool(conn, options(name));
    const vols = ['a', 'b', 'c'].map((x) => `${name}-${x}`);
    t.teardown(() => { for (const v of vols) cephCli(ceph, 'rbd', ['rm', `${ceph.pool}/${v}`]); }); // if a step failed before delete()

    const created = await Promise.all(vols.map((v, i) => pool.createVolume({ name: v, capacity: (i + 1) * 8 * MiB })));
    for (const [i, vol] of created.entries()) {
      const image = `${ceph.pool}/${vols[i]}`;
      t.equal(await vol.path(), image, `${vols[i]}: path pool/image`);
      t.equal((await vol.info()).capacity, (i + 1) * 8 * MiB, `${vols[i]}: libvirt says ${(i + 1) * 8} MiB`);
      t.equal(rbdInfo(ceph, image).size, (i + 1) * 8 * MiB, `${vols[i]}: rbd info says the same`);
    }
    const listed = (await pool.listVolumesWithInfo()).filter((r) => vols.includes(r.volume.name));
    t.equal(listed.length, 3, 'all three listed by the pool');

    await created[0]!.resize(40 * MiB);
    const ri = rbdInfo(ceph, `${ceph.pool}/${vols[0]}`);
    t.equal((await created[0]!.info()).capacity, 40 * MiB, 'libvirt after resize: 40 MiB');
    t.equal(ri.size, 40 * MiB, 'rbd info after resize: 40 MiB');
    t.equal((await created[0]!.info()).allocation, ri.objects * ri.object_size, 'allocation: rbd info objects × object size (as libvirt 9.0 counts it)');

    for (const [i, vol] of created.entries()) {
      await vol.delete();
      t.not(cephCli(ceph, 'rbd', ['info', `${ceph.pool}/${vols[i]}`]).status, 0, `${vols[i]}: gone from Ceph`);
    }
    t.notOk((await pool.listVolumes()).some((v) => vols.includes(v.name)), 'no longer listed');
    t.same(cephJson<string[]>(ceph, 'rbd', ['ls', ceph.pool]).filter((x) => vols.includes(x)), [], 'nor by rbd ls');
  });

  t.test('defineGuest on an RBD volume: a network disk with the pool\'s monitors and secret; started, running, torn down with the pool', async (t) => {
    const conn = await open(t);
    const before = await libvirtLists(conn);
    const name = `vk-cguest-${id()}`;
    const volName = `${name}-disk`;
    const image = `${ceph.pool}/${volName}`;
    t.teardown(() => teardownPool(conn, name, { guests: 'remove' }).catch(() => undefined));
    t.teardown(() => { cephCli(ceph, 'rbd', ['rm', image]); });
    const { pool } = await provisionRbdPool(conn, options(name));
    const vol = await pool.createVolume({ name: volName, capacity: 32 * MiB });

    const missing = await provisionError(defineGuest(conn, { name: `${name}-x`, memoryMiB: 64, vcpus: 1, disks: [{ pool: name, volume: `${name}-nope` }] }));
    t.match(missing, { step: 'guest', reason: 'no-volume' });

    t.same(watchers(ceph, image), [], 'nobody has the image open before the guest starts');
    const guest = `${name}-g1`;
    const dom = await defineGuest(conn, { name: guest, memoryMiB: 64, vcpus: 1, disks: [{ pool: name, volume: volName }], start: true });
    t.equal((await dom.state()).stateName, 'running', 'the guest runs');
    t.ok(dom.id !== null && dom.id > 0, 'with an id');
    t.equal((await dom.blockInfo('vda')).capacity, 32 * MiB, 'vda: QEMU opened the 32 MiB RBD image');
    t.equal(watchers(ceph, image).length, 1, 'Ceph sees QEMU watching the image');
    const disk = (parseDomainXml(await dom.getXML(2 /* INACTIVE */)).devices ?? []).find((d) => d.kind === 'disk');
    t.match(disk, {
      type: 'network',
      source: { protocol: 'rbd', name: image, hosts: [{ name: ceph.monHost, port: ceph.monPort }], auth: { username: ceph.user, secret: { type: 'ceph', usage: `${name}-ceph` } } },
    }, 'the persistent definition: a network disk on the image, the pool\'s monitor, cephx through the pool\'s secret');
    t.notMatch(await dom.getXML(), ceph.key, 'no key in the guest XML');

    const redefined = await defineGuest(conn, { name: guest, memoryMiB: 96, vcpus: 1, disks: [{ pool: name, volume: volName }], start: true });
    t.equal(redefined.uuid, dom.uuid, 'a second defineGuest updates the same guest');
    t.same(await guestsUsingPool(conn, name), [guest], 'guestsUsingPool finds it on the rbd pool');
    const mid = await libvirtLists(conn);
    const inUse = await provisionError(teardownPool(conn, name));
    t.match(inUse, { step: 'teardown', reason: 'in-use' });
    t.match(inUse.message, guest);
    t.same(await libvirtLists(conn), mid, 'a refused teardown removes nothing');

    // The guest first (the image is in use while it runs), then the image, then pool and secret.
    t.same(await teardownGuest(conn, guest), [`stopped guest ${guest}`, `removed guest ${guest}`]);
    t.same(watchers(ceph, image), [], 'QEMU closed the image');
    await vol.delete();
    t.not(cephCli(ceph, 'rbd', ['info', image]).status, 0, 'the image is deleted');
    t.same(await teardownPool(conn, name, { guests: 'remove' }), [`stopped pool ${name}`, `removed the definition of pool ${name}`, `removed secret ceph:${name}-ceph`]);
    t.same(await libvirtLists(conn), before, 'the daemon holds what it held before');
  });

  t.test('teardownPool with guests: \'remove\' removes a running guest on an RBD volume, then the pool and its secret', async (t) => {
    const conn = await open(t);
    const before = await libvirtLists(conn);
    const name = `vk-crm-${id()}`;
    const image = `${ceph.pool}/${name}-disk`;
    t.teardown(() => teardownPool(conn, name, { guests: 'remove' }).catch(() => undefined));
    t.teardown(() => { cephCli(ceph, 'rbd', ['rm', image]); });
    const { pool } = await provisionRbdPool(conn, options(name));
    await pool.createVolume({ name: `${name}-disk`, capacity: 16 * MiB });
    await defineGuest(conn, { name: `${name}-g1`, memoryMiB: 64, vcpus: 1, disks: [{ pool: name, volume: `${name}-disk` }], start: true });
    t.same(await teardownPool(conn, name, { guests: 'remove' }), [
      `stopped guest ${name}-g1`, `removed guest ${name}-g1`, `stopped pool ${name}`, `removed the definition of pool ${name}`, `removed secret ceph:${name}-ceph`,
    ]);
    t.same(watchers(ceph, image), [], 'nobody holds the image any more');
    t.equal(cephCli(ceph, 'rbd', ['rm', image]).status, 0, 'the image (storage behind the pool, left by teardownPool) is removed with rbd rm');
    t.same(await libvirtLists(conn), before);
  });

  t.test('a wrong Ceph key: an auth error at the start, in plain words, no key in it, nothing left behind', async (t) => {
    const conn = await open(t);
    const before = await libvirtLists(conn);
    const name = `vk-cbad-${id()}`;
    t.teardown(() => teardownPool(conn, name).catch(() => undefined));
    // A well-formed cephx key (type 1, creation time, 16 secret bytes) that is not client.virtkit's.
    const wrong = registerSecret('ceph/50 wrong cephx key', Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0]), randomBytes(16)]).toString('base64'));
    const started = Date.now();
    // librados retries until client_mount_timeout (libvirt's default is 30 s): 5 s here.
    const err = await provisionError(provisionRbdPool(conn, { ...options(name), cephKey: wrong, config: { client_mount_timeout: '5' } }));
    const ms = Date.now() - started;
    t.match(err, { step: 'start', reason: 'auth' });
    t.match(err.message, `pool ${name} did not start: the Ceph monitors (${monitor}) answer, but librados could not log in as client.${ceph.user}: a wrong key or user name`);
    t.type(err.cause, LibvirtError);
    t.match((err.cause as LibvirtError).message, /failed to connect to the RADOS monitor/);
    t.ok(ms < 25_000, `given up after the pool's client_mount_timeout, not libvirt's 30 s (${ms} ms)`);
    t.same(err.rolledBack, [`removed the definition of pool ${name}`, `removed secret ceph:${name}-ceph`], 'what it had defined was removed');
    t.same(err.rollbackErrors, []);
    const text = shown(err);
    t.notMatch(text, wrong, 'the wrong key appears nowhere');
    t.notMatch(text, ceph.key, 'nor the right one');
    t.same(await libvirtLists(conn), before, 'secrets, pools and domains as before');
  });

  const gw = 'skipped' in ceph.iscsi ? null : ceph.iscsi;
  const gwSkip = gw ? false : `the Ceph gateway tgtd is not running: ${(ceph.iscsi as { skipped: string }).skipped}`;
  const gwOptions = (name: string) => {
    const target = gw!.targets[0] as RbdTarget;
    return { type: 'iscsi-direct' as const, name, portal: gw!.portal, target: target.iqn, initiatorIqn: `iqn.2026-11.org.virtkit.test:cprov-${id()}`, chap: target.chap! };
  };

  t.test('provisionIscsiPool on the Ceph gateway: RBD images behind tgtd as volumes, a guest running on each, torn down', { skip: gwSkip }, async (t) => {
    const conn = await open(t);
    const before = await libvirtLists(conn);
    const target = gw!.targets[0] as RbdTarget;
    const name = `vk-cgw-${id()}`;
    t.teardown(() => teardownPool(conn, name, { guests: 'remove' }).catch(() => undefined));
    const opts = gwOptions(name);
    const r = await provisionIscsiPool(conn, opts);
    t.same(r.volumes.map((v) => v.lun), [0, ...target.luns.map((l) => l.lun)], 'the controller and a volume per LUN');
    for (const lun of target.luns) {
      const v = r.volumes.find((x) => x.lun === lun.lun);
      const size = rbdInfo(ceph, lun.image).size;
      t.equal(v?.inquiry?.capacity?.bytes, size, `LUN ${lun.lun}: the preflight's size is ${lun.image}'s (rbd info)`);
      t.equal(v?.inquiry?.serial, lun.serial, 'with its serial');
      t.equal(v?.capacity, size - 512, 'libvirt 9.0\'s iscsi-direct capacity: one block less');
    }
    const again = await provisionIscsiPool(conn, { ...opts });
    t.equal(again.pool.uuid, r.pool.uuid, 'a second run: the same pool');
    t.equal(again.secret!.uuid, r.secret!.uuid, 'and the same secret');

    const doms = await Promise.all(
      target.luns.map((lun) => defineGuest(conn, { name: `${name}-lun${lun.lun}`, memoryMiB: 64, vcpus: 1, disks: [{ pool: name, volume: `unit:0:0:${lun.lun}` }], start: true })),
    );
    for (const [i, dom] of doms.entries()) {
      const lun = target.luns[i]!;
      t.equal((await dom.state()).stateName, 'running', `${dom.name} runs`);
      t.equal((await dom.blockInfo('vda')).capacity, rbdInfo(ceph, lun.image).size, `${dom.name}: QEMU sees all of ${lun.image}`);
      t.match(await dom.getXML(), new RegExp(`<source pool='${name}' volume='unit:0:0:${lun.lun}'`), 'a volume disk on the pool');
    }
    t.same(await guestsUsingPool(conn, name), doms.map((d) => d.name).sort());
    const actions = await teardownPool(conn, name, { guests: 'remove' });
    t.equal(actions.filter((a) => a.startsWith('removed guest')).length, target.luns.length, 'the guests went first');
    t.same(actions.slice(-3), [`stopped pool ${name}`, `removed the definition of pool ${name}`, `removed secret iscsi:${name}-chap`]);
    t.same(await libvirtLists(conn), before, 'the daemon holds what it held before');
  });

  t.test('a wrong CHAP password for the Ceph gateway: a preflight auth error, no password in it, libvirt untouched', { skip: gwSkip }, async (t) => {
    const conn = await open(t);
    const before = await libvirtLists(conn);
    const opts = gwOptions(`vk-cgwbad-${id()}`);
    const wrong = registerSecret('ceph/50 wrong gateway CHAP password', `wrong-${randomBytes(6).toString('hex')}`);
    const err = await provisionError(provisionIscsiPool(conn, { ...opts, chap: { username: opts.chap.username, password: wrong } }));
    t.match(err, { step: 'preflight', reason: 'auth' });
    t.match(err.message, /wrong CHAP user name or password\. Nothing was changed in libvirt\./);
    t.type(err.cause, IscsiError);
    t.same(err.actions, []);
    t.notMatch(shown(err), wrong, 'the wrong password appears nowhere');
    t.notMatch(shown(err), opts.chap.password, 'nor the right one');
    t.same(await libvirtLists(conn), before);
  });
}
