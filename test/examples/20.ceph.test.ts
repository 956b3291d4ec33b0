// The Ceph examples, run as a person would run them (node dist/examples/NAME.js with flags),
// their printed tables checked against Ceph and the gateway as env.json describes them:
// ceph-rbd and ceph-iscsi-gateway, each once through to the teardown and once with a wrong
// credential (a Ceph key, a CHAP password) in a file, which must fail in plain words with exit
// status 1 and leave libvirt's lists as they were. No key or password may appear in what they
// print. They run on a libvirtd of this file's own (given with --uri).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, type Connection } from 'virtkit';
import { cephEnv, cephJson, privateLibvirtd, registerSecret, repoRoot, tempDir, type CephEnv, type RbdTarget, tableAfter } from '../helpers';

const MiB = 1024 * 1024;
const example = (name: string) => path.join(repoRoot, 'dist', 'examples', `${name}.js`);
function run(name: string, args: string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [example(name), ...args], { encoding: 'utf8', timeout: 240000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

/** libvirt's lists of secrets, pools and domains. */
async function snapshot(conn: Connection) {
  return {
    secrets: (await conn.listAllSecrets()).map((s) => `${s.usageType}:${s.usageId} ${s.uuid}`).sort(),
    pools: (await conn.listAllStoragePools()).map((p) => `${p.name} ${p.uuid}`).sort(),
    domains: (await conn.listAllDomains()).map((d) => `${d.name} ${d.uuid}`).sort(),
  };
}

/** A 0600 file holding `text`, in a temp dir removed when `t` ends. */
function secretFile(t: { teardown: (fn: () => unknown) => void }, text: string): string {
  const file = path.join(tempDir(t, 'virtkit-example-secret'), 'secret');
  fs.writeFileSync(file, `${text}\n`, { mode: 0o600 });
  return file;
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const ce = cephEnv();
const gw = 'skip' in ce || 'skipped' in ce.ceph.iscsi ? null : ce.ceph.iscsi;
const skip = 'skip' in ce ? ce.skip : false;

if (skip) {
  t.test('the Ceph examples', { skip }, async () => {});
} else {
  const { ceph } = ce as { ceph: CephEnv };
  const monitor = `${ceph.monHost}:${ceph.monPort}`;
  let ownUri = '';
  t.before(() => {
    const own = privateLibvirtd(t);
    if ('skip' in own) throw new Error(own.skip);
    ownUri = own.uri;
  });
  const open = async (tt: { teardown: (fn: () => unknown) => void }) => {
    const conn = await connect(ownUri);
    tt.teardown(() => conn.close());
    return conn;
  };

  t.test('ceph-rbd with --mon, --pool, --user and --key-file: the pool, three volumes, a guest running on one, torn down', async (t) => {
    const conn = await open(t);
    const before = await snapshot(conn);
    const r = run('ceph-rbd', ['--uri', ownUri, '--mon', monitor, '--pool', ceph.pool, '--user', `client.${ceph.user}`, '--key-file', secretFile(t, ceph.key)]);
    t.comment(`ceph-rbd ran for ${r.ms} ms`);
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stderr, '', 'nothing on stderr');
    const out = r.stdout;
    t.notMatch(out, ceph.key, 'the key is not printed');
    t.match(out, new RegExp(`^Connected to ${ownUri.replace(/[?.+]/gu, '\\$&')}\nCeph monitors ${monitor}, pool ${ceph.pool}, user client\\.${ceph.user}\n`));
    const pool = /\nPool (vk-rbd-[0-9a-f]{6}) \(rbd on Ceph pool /u.exec(out)?.[1];
    t.ok(pool, 'the pool is named');
    t.teardown(() => { for (const i of [1, 2, 3]) spawnSync('/usr/bin/rbd', ['-c', ceph.conf, '--id', 'admin', 'rm', `${ceph.pool}/${pool}-disk${i}`], { stdio: 'ignore' }); });
    t.match(out, new RegExp(`  checked the Ceph monitors: ${monitor} answer\n  defined secret ceph:${pool}-ceph \\(.*, private\\)\n  set the value of secret ceph:${pool}-ceph\n  defined pool ${pool} \\(.*\\)\n  started pool ${pool}\n  set autostart on for pool ${pool}\n`), 'what provisionRbdPool did');

    const volumes = tableAfter(out, `Volumes created in pool ${pool}`);
    t.same(volumes, [1, 2, 3].map((i) => [`${pool}-disk${i}`, `${ceph.pool}/${pool}-disk${i}`, 'network', mib(i * 16 * MiB), mib(i * 16 * MiB)]), 'three volumes of 16, 32 and 48 MiB (libvirt 9.0 counts every object as allocated)');
    const images = Number(/\n\(the Ceph pool holds (\d+) image\(s\) in all\)\n/u.exec(out)?.[1]);
    t.ok(images >= ceph.images.length + 3, `the gateway's images and these three at least (${images})`);

    const guests = tableAfter(out, 'Guests');
    t.equal(guests.length, 1, 'one guest');
    const [name, id, state, disk, source, size, memory] = guests[0] ?? [];
    t.equal(name, `${pool}-g1`);
    t.match(id, /^\d+$/, 'an id: it runs');
    t.equal(state, 'running');
    t.equal(disk, `${pool}/${pool}-disk1`);
    t.equal(source, `rbd:${ceph.pool}/${pool}-disk1 via ${monitor}`, 'a network disk on the RBD image through the pool\'s monitor');
    t.equal(size, '16.0 MiB', 'QEMU opened the whole 16 MiB image');
    t.equal(memory, '64.0 MiB');

    t.match(out, new RegExp(
      `\nTeardown\n  stopped guest ${pool}-g1\n  removed guest ${pool}-g1\n` +
      [1, 2, 3].map((i) => `  deleted volume ${pool}-disk${i} \\(the RBD image\\)\n`).join('') +
      `  stopped pool ${pool}\n  removed the definition of pool ${pool}\n  removed secret ceph:${pool}-ceph\n`,
    ), 'the guest, the images, the pool, the secret');
    t.match(out, /\nDone: nothing left behind\.\n$/);
    t.same(cephJson<string[]>(ceph, 'rbd', ['ls', ceph.pool]).filter((x) => x.startsWith(pool!)), [], 'no image of the run is left in Ceph');
    t.same(await snapshot(conn), before, 'libvirt\'s secrets, pools and domains as before');
  });

  t.test('ceph-rbd with a wrong key in --key-file (and --env): an auth error at the start, exit status 1, no key shown, nothing left', async (t) => {
    const conn = await open(t);
    const before = await snapshot(conn);
    const wrong = registerSecret('examples/20 wrong cephx key', Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0]), randomBytes(16)]).toString('base64'));
    const r = run('ceph-rbd', ['--env', process.env.VIRTKIT_TESTENV!, '--uri', ownUri, '--key-file', secretFile(t, wrong), '--mount-timeout', '3']);
    t.comment(`ceph-rbd with a wrong key ran for ${r.ms} ms`);
    t.equal(r.status, 1, 'exit status 1');
    t.match(r.stderr, new RegExp(`^provisioning failed at start \\(auth\\): pool vk-rbd-[0-9a-f]{6} did not start: the Ceph monitors \\(${monitor}\\) answer, but librados could not log in as client\\.${ceph.user}: a wrong key or user name`));
    t.match(r.stderr, /Undone: removed the definition of pool vk-rbd-[0-9a-f]{6}; removed secret ceph:vk-rbd-[0-9a-f]{6}-ceph\.\n$/, 'and says what it undid');
    t.match(r.stdout, /\nTeardown\n  nothing to remove\n$/);
    t.ok(r.ms < 25_000, `the pool's client_mount_timeout (3 s), not libvirt's 30 s, bounds it (${r.ms} ms)`);
    for (const k of [wrong, ceph.key]) t.notMatch(r.stdout + r.stderr, k, 'no key in the output');
    t.same(await snapshot(conn), before, 'libvirt\'s secrets, pools and domains as before');
  });

  t.test('ceph-iscsi-gateway with --portal, --target, --chap-user and --chap-password-file: the LUNs, the pool, a guest per LUN running, torn down', {
    skip: gw ? false : `the Ceph gateway tgtd is not running: ${(ceph.iscsi as { skipped: string }).skipped}`,
  }, async (t) => {
    const conn = await open(t);
    const before = await snapshot(conn);
    const target = gw!.targets[0] as RbdTarget;
    const chap = target.chap!;
    const r = run('ceph-iscsi-gateway', ['--uri', ownUri, '--portal', gw!.portal, '--target', target.iqn, '--chap-user', chap.username, '--chap-password-file', secretFile(t, chap.password)]);
    t.comment(`ceph-iscsi-gateway ran for ${r.ms} ms`);
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stderr, '', 'nothing on stderr');
    const out = r.stdout;
    t.notMatch(out, chap.password, 'the CHAP password is not printed');
    t.match(out, new RegExp(`^Gateway ${target.iqn} at ${gw!.portal} \\(CHAP user ${chap.username}\\), initiator iqn\\.2026-11\\.org\\.virtkit\\.example:gateway-[0-9a-f]{6}\n`));

    const preflight = tableAfter(out, `Preflight (libiscsi, CHAP login): ${target.luns.length} LUN(s) with blocks`);
    t.same(preflight.map((row) => row[0]), ['0', ...target.luns.map((l) => String(l.lun))], 'the controller and one LUN per RBD image');
    t.equal(preflight[0]?.[1], 'STORAGE_ARRAY_CONTROLLER');
    for (const lun of target.luns) {
      const rbdBytes = cephJson<{ size: number }>(ceph, 'rbd', ['info', lun.image]).size;
      t.same(preflight.find((row) => row[0] === String(lun.lun)), [String(lun.lun), 'DIRECT_ACCESS', `${lun.vendor} ${lun.product}`, lun.serial, mib(rbdBytes), `${rbdBytes / 512} × 512`], `LUN ${lun.lun}: ${lun.image}, the size rbd info gives`);
    }

    const pool = /\nPool (vk-gw-[0-9a-f]{6}) \(iscsi-direct\):\n/u.exec(out)?.[1];
    t.ok(pool, 'the pool is named');
    t.match(out, new RegExp(`  checked ${target.iqn} at ${gw!.portal}: ${target.luns.length} LUN\\(s\\) with blocks\n  defined secret iscsi:${pool}-chap \\(.*, private\\)\n  set the value of secret iscsi:${pool}-chap\n  defined pool ${pool}`));
    const volumes = tableAfter(out, `Volumes of pool ${pool}`);
    t.same(volumes.map((row) => row.slice(0, 3)), [['unit:0:0:0', '0', volumes[0]?.[2]], ...target.luns.map((l) => [`unit:0:0:${l.lun}`, String(l.lun), l.product])], 'a volume per LUN, with its INQUIRY product');
    t.ok(preflight[0]?.[2]?.endsWith(` ${volumes[0]?.[2]}`), `LUN 0's product as the preflight saw it (${volumes[0]?.[2]})`);
    for (const row of volumes.slice(1)) t.match(row[3], new RegExp(`-iscsi-${target.iqn}-lun-${row[1]}$`), `${row[0]}: its path`);

    const guests = tableAfter(out, 'Guests');
    t.equal(guests.length, target.luns.length, 'a guest per LUN');
    for (const lun of target.luns) {
      const row = guests.find((g) => g[0] === `${pool}-lun${lun.lun}`);
      t.ok(row, `the guest on LUN ${lun.lun}`);
      t.match(row?.[1], /^\d+$/, 'an id');
      t.equal(row?.[2], 'running');
      t.equal(row?.[3], `${pool}/unit:0:0:${lun.lun}`, 'on its own LUN');
      t.equal(row?.[4], mib(lun.sizeBytes), 'QEMU sees the whole RBD image');
    }
    t.match(out, new RegExp(`\nTeardown\n(  (stopped|removed) guest ${pool}-lun\\d\n){${2 * target.luns.length}}  stopped pool ${pool}\n  removed the definition of pool ${pool}\n  removed secret iscsi:${pool}-chap\n`));
    t.match(out, /\nDone: nothing left behind\.\n$/);
    t.same(await snapshot(conn), before, 'libvirt\'s secrets, pools and domains as before');
  });

  t.test('ceph-iscsi-gateway with a wrong CHAP password in --chap-password-file (and --env): the preflight refuses it, exit status 1, libvirt untouched', {
    skip: gw ? false : `the Ceph gateway tgtd is not running: ${(ceph.iscsi as { skipped: string }).skipped}`,
  }, async (t) => {
    const conn = await open(t);
    const before = await snapshot(conn);
    const wrong = registerSecret('examples/20 wrong gateway CHAP password', `wrong-${randomBytes(6).toString('hex')}`);
    const r = run('ceph-iscsi-gateway', ['--env', process.env.VIRTKIT_TESTENV!, '--uri', ownUri, '--chap-password-file', secretFile(t, wrong)]);
    t.comment(`ceph-iscsi-gateway with a wrong password ran for ${r.ms} ms`);
    t.equal(r.status, 1, 'exit status 1');
    t.match(r.stderr, /^preflight failed: iSCSI error \(auth\): /);
    t.notMatch(r.stdout, /Connected to/, 'libvirt was not even connected to');
    for (const p of [wrong, (gw!.targets[0] as RbdTarget).chap!.password]) t.notMatch(r.stdout + r.stderr, p, 'no password in the output');
    t.same(await snapshot(conn), before, 'libvirt\'s secrets, pools and domains as before');
  });
}
