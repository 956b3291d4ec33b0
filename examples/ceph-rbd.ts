/**
 * A Ceph RBD pool in libvirt: provisionRbdPool (a monitor checked, the cephx key in a private
 * `ceph` secret, the pool defined and started), three volumes created and listed, a small
 * guest started on one of them (a network disk: libvirt 9.0 takes no rbd-pool volume as a
 * volume disk) and listed with its state, then everything torn down again, the images too.
 *
 *   npm run example -- ceph-rbd --testenv        # a private libvirtd + Ceph, started and stopped for it
 *   npm run example -- ceph-rbd --uri qemu:///system --mon 10.0.0.11:6789 --pool rbd \
 *       --user libvirt --key-file /root/client.libvirt.key
 *
 * Options: --uri URI; --mon HOST[:PORT][,HOST[:PORT]…] (the monitors, port 6789 by default);
 * --pool NAME (the Ceph pool); --user NAME (the cephx user, with or without `client.`);
 * --key-file FILE (the key as `ceph auth get-key client.NAME` prints it: read from the file,
 * never from the command line); --size MiB (of the first volume, default 16; the others twice
 * and three times that); --memory MiB (the guest's, default 64); --mount-timeout S (librados'
 * client_mount_timeout for the pool, default 10: how long a wrong key takes to be refused);
 * --keep (leave the pool, volumes and guest in place); --env FILE (the test environment's
 * env.json: URI, monitor, pool, user and key). Prints no key.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import {
  connect, defineGuest, LibvirtError, parseDomainXml, ProvisionError, provisionRbdPool, teardownGuest, teardownPool, type Connection, type StorageVolume,
} from 'virtkit';
import { bytes, option, positive, table } from './table';

const MiB = 1024 * 1024;

interface EnvCeph {
  monHost: string;
  monPort: number;
  pool: string;
  user: string;
  key: string;
  skipped?: string;
}

function settings() {
  const envFile = option('env');
  let uri = option('uri');
  let mon = option('mon');
  let pool = option('pool');
  let user = option('user');
  let key: string | undefined;
  if (envFile) {
    const env = JSON.parse(fs.readFileSync(envFile, 'utf8')) as { libvirt: { uri?: string; skipped?: string }; ceph?: EnvCeph | { skipped: string } };
    if (env.libvirt.skipped) throw new Error(`the test environment has no libvirtd: ${env.libvirt.skipped}`);
    if (!env.ceph || 'skipped' in env.ceph) throw new Error(`the test environment has no Ceph: ${env.ceph?.skipped ?? 'not started'}`);
    const c = env.ceph as EnvCeph;
    uri ??= env.libvirt.uri;
    mon ??= `${c.monHost}:${c.monPort}`;
    pool ??= c.pool;
    user ??= c.user;
    if (user.replace(/^client\./u, '') === c.user) key = c.key;
  }
  const keyFile = option('key-file');
  if (keyFile) key = fs.readFileSync(keyFile, 'utf8').trim();
  if (!mon || !pool || !user) throw new Error('give --mon, --pool and --user (or --env FILE); see the comment at the top of examples/ceph-rbd.ts');
  if (key === undefined) throw new Error('give the key with --key-file FILE (as `ceph auth get-key client.NAME` prints it)');
  const run = randomBytes(3).toString('hex');
  return {
    uri,
    monitors: mon.split(',').map((m) => m.trim()).filter(Boolean),
    pool,
    user: user.replace(/^client\./u, ''),
    key,
    sizeMiB: positive('size', 16),
    memoryMiB: positive('memory', 64),
    mountTimeout: positive('mount-timeout', 10),
    keep: process.argv.includes('--keep'),
    run,
  };
}

function indent(lines: string[]): string {
  return lines.map((l) => `  ${l}`).join('\n');
}

/** Removes what this run made: the guest, the volumes (the images in Ceph), the pool and its secret. */
async function teardown(conn: Connection, poolName: string, guest: string, volumes: StorageVolume[]): Promise<string[]> {
  const actions = await teardownGuest(conn, guest);
  for (const v of volumes) {
    // Ceph refuses to remove an image someone still watches: a QEMU that had to be killed
    // leaves its watch until the OSD times it out (osd_client_watch_timeout, 30 s by default).
    for (let waited = 0; ; waited += 1000) {
      try {
        await v.delete();
        break;
      } catch (err) {
        if (!(err instanceof LibvirtError) || waited >= 30_000) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    actions.push(`deleted volume ${v.name} (the RBD image)`);
  }
  actions.push(...(await teardownPool(conn, poolName, { guests: 'remove' })));
  return actions;
}

async function main(): Promise<void> {
  const s = settings();
  const conn = await connect(s.uri);
  const poolName = `vk-rbd-${s.run}`;
  const guest = `${poolName}-g1`;
  const created: StorageVolume[] = [];
  let failed = false;
  try {
    console.log(`Connected to ${conn.uri}`);
    console.log(`Ceph monitors ${s.monitors.join(', ')}, pool ${s.pool}, user client.${s.user}\n`);

    const p = await provisionRbdPool(conn, {
      name: poolName,
      monitors: s.monitors,
      pool: s.pool,
      cephUser: s.user,
      cephKey: s.key,
      config: { client_mount_timeout: String(s.mountTimeout) },
    });
    const info = await p.pool.info();
    console.log(`Pool ${poolName} (rbd on Ceph pool ${s.pool}: ${bytes(info.capacity)}, ${bytes(info.available)} available):\n${indent(p.actions)}\n`);

    for (let i = 1; i <= 3; i++) created.push(await p.pool.createVolume({ name: `${poolName}-disk${i}`, capacity: i * s.sizeMiB * MiB }));
    const rows = await Promise.all(
      created.map(async (v) => {
        const [path, vi] = await Promise.all([v.path(), v.info()]);
        return [v.name, path, vi.typeName, bytes(vi.capacity), bytes(vi.allocation)];
      }),
    );
    console.log(`Volumes created in pool ${poolName}`);
    console.log(table(['name', 'path', 'type', 'capacity', 'allocation'], rows));
    const all = await p.pool.listVolumes();
    console.log(`\n(the Ceph pool holds ${all.length} image(s) in all)`);

    const dom = await defineGuest(conn, {
      name: guest,
      memoryMiB: s.memoryMiB,
      vcpus: 1,
      firmware: 'bios',
      disks: [{ pool: poolName, volume: created[0]!.name }],
      start: true,
    });
    const [st, di, blk, xml] = await Promise.all([dom.state(), dom.info(), dom.blockInfo('vda'), dom.getXML()]);
    // What libvirt made of the volume: a network disk on the image, through the pool's monitors.
    const src = (parseDomainXml(xml).devices ?? []).find((d) => d.kind === 'disk')?.source;
    const source = src?.protocol ? `${src.protocol}:${src.name} via ${(src.hosts ?? []).map((h) => `${h.name}:${h.port ?? 6789}`).join(',')}` : '-';
    console.log(`\nGuests`);
    console.log(
      table(
        ['name', 'id', 'state', 'volume', 'disk source', 'disk size', 'memory'],
        [[dom.name, dom.id ?? '-', st.stateName, `${poolName}/${created[0]!.name}`, source, bytes(blk.capacity), bytes(di.memoryKiB * 1024)]],
      ),
    );
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    if (s.keep && !failed) {
      console.log(`\nKept (--keep): guest ${guest}, volumes ${created.map((v) => v.name).join(', ')}, pool ${poolName} and its secret.`);
      console.log(`Remove them with virtkit's teardownGuest, StorageVolume.delete and teardownPool, or virsh.`);
    } else {
      const actions = await teardown(conn, poolName, guest, created).catch((err: unknown) => {
        console.error(`teardown failed: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      });
      if (actions) {
        console.log(`\nTeardown\n${indent(actions.length ? actions : ['nothing to remove'])}`);
        const left = (await conn.listAllStoragePools()).some((x) => x.name === poolName) || (await conn.listAllDomains()).some((d) => d.name === guest);
        if (!failed) console.log(left ? `\nPool ${poolName} or guest ${guest} is still there.` : '\nDone: nothing left behind.');
      }
    }
    await conn.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ProvisionError) console.error(`provisioning failed at ${err.step} (${err.reason}): ${err.message}`);
  else if (err instanceof LibvirtError) console.error(`libvirt error ${err.codeName} (${err.domainName}): ${err.message}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
