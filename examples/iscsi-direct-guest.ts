/**
 * The scenario against an iSCSI target: preflight with libiscsi, the CHAP secret, an
 * `iscsi-direct` pool, its volumes, one guest per LUN (five by default) started and listed with
 * their state, then everything torn down again.
 *
 *   npm run example -- iscsi-direct-guest --testenv     # a private libvirtd + tgtd, started and stopped for it
 *   npm run example -- iscsi-direct-guest --uri qemu:///system --portal 10.0.0.5:3260 \
 *       --target iqn.2003-01.org.linux-iscsi.gw1:rbd --chap-user gw1 --chap-password-file /root/gw1.chap
 *
 * Options: --uri URI, --portal HOST[:PORT], --target IQN, --chap-user NAME,
 * --chap-password-file FILE (the password is read from the file, never from the command line),
 * --initiator IQN (default: one made up for this run), --guests N (default 5), --memory MiB
 * (default 64), --env FILE (the test environment's env.json: URI, portal, target and CHAP).
 * Prints no secret.
 */
import { randomBytes } from 'node:crypto';
import { connect, defineGuest, IscsiError, LibvirtError, ProvisionError, provisionIscsiPool, teardownPool, type Domain } from 'virtkit';
import { bytes, iscsiTargetOptions, option, positive, table, type EnvIscsiTarget } from './table';

interface EnvTarget extends EnvIscsiTarget {
  mutual: unknown;
  luns: unknown[];
}

function settings() {
  const guests = positive('guests', 5);
  const memoryMiB = positive('memory', 64);
  const t = iscsiTargetOptions('iscsi-direct-guest', (json, file, target) => {
    const env = json as { libvirt: { uri?: string; skipped?: string }; iscsi: { portal?: string; targets?: EnvTarget[]; skipped?: string } };
    if (env.libvirt.skipped || env.iscsi.skipped) throw new Error(`the test environment lacks a part: ${env.libvirt.skipped ?? env.iscsi.skipped}`);
    // The target named with --target, else the one-way CHAP target with the most LUNs.
    const found =
      env.iscsi.targets!.find((x) => x.iqn === target && x.chap) ??
      env.iscsi.targets!.filter((x) => x.chap && !x.mutual).sort((a, b) => b.luns.length - a.luns.length)[0];
    if (!found) throw new Error(`${file} has no target with one-way CHAP`);
    return { uri: env.libvirt.uri, portal: env.iscsi.portal!, target: found };
  });
  const run = randomBytes(3).toString('hex');
  return { ...t, initiatorIqn: option('initiator') ?? `iqn.2026-11.org.virtkit.example:guests-${run}`, guests, memoryMiB, run };
}

function indent(lines: string[]): string {
  return lines.map((l) => `  ${l}`).join('\n');
}

async function main(): Promise<void> {
  const s = settings();
  const conn = await connect(s.uri);
  const poolName = `vk-demo-${s.run}`;
  let failed = false;
  try {
    console.log(`Connected to ${conn.uri}`);
    console.log(`Target ${s.target} at ${s.portal}${s.chap ? ` (CHAP user ${s.chap.username})` : ''}, initiator ${s.initiatorIqn}\n`);

    const p = await provisionIscsiPool(conn, {
      type: 'iscsi-direct',
      name: poolName,
      portal: s.portal,
      target: s.target,
      initiatorIqn: s.initiatorIqn,
      ...(s.chap ? { chap: s.chap } : {}),
    });
    const disks = p.luns.filter((l) => l.capacity !== null);
    console.log(`Preflight (libiscsi): ${disks.length} LUN(s) with blocks`);
    console.log(
      table(
        ['lun', 'type', 'vendor', 'product', 'serial', 'size'],
        p.luns.map((l) => [l.lun, l.deviceTypeName, l.vendor, l.product, l.serial ?? '-', l.capacity ? bytes(l.capacity.bytes) : '-']),
      ),
    );
    console.log(`\nPool ${poolName} (iscsi-direct):\n${indent(p.actions)}\n`);
    console.log(`Volumes of pool ${poolName}`);
    console.log(table(['name', 'lun', 'path', 'capacity'], p.volumes.map((v) => [v.name, v.lun ?? '-', v.path, bytes(v.capacity)])));

    const onLuns = p.volumes.filter((v) => v.inquiry?.capacity).slice(0, s.guests);
    if (onLuns.length < s.guests) console.log(`\nThe target has ${onLuns.length} LUN(s) with blocks: ${onLuns.length} guest(s), not ${s.guests}.`);
    const doms: Array<{ dom: Domain; volume: string }> = await Promise.all(
      onLuns.map(async (v, i) => ({
        volume: v.name,
        dom: await defineGuest(conn, {
          name: `${poolName}-g${i + 1}`,
          memoryMiB: s.memoryMiB,
          vcpus: 1,
          firmware: 'bios',
          disks: [{ pool: poolName, volume: v.name }],
          start: true,
        }),
      })),
    );
    const rows = await Promise.all(
      doms.map(async ({ dom, volume }) => {
        const [st, info] = await Promise.all([dom.state(), dom.info()]);
        return [dom.name, dom.id ?? '-', st.stateName, `${poolName}/${volume}`, bytes(info.memoryKiB * 1024)];
      }),
    );
    console.log(`\nGuests`);
    console.log(table(['name', 'id', 'state', 'disk', 'memory'], rows));
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    const actions = await teardownPool(conn, poolName, { guests: 'remove' }).catch((err: unknown) => {
      console.error(`teardown failed: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    });
    if (actions) {
      console.log(`\nTeardown\n${indent(actions.length ? actions : ['nothing to remove'])}`);
      const left = (await conn.listAllStoragePools()).some((x) => x.name === poolName);
      if (!failed) console.log(left ? `\nPool ${poolName} is still there.` : '\nDone: nothing left behind.');
    }
    await conn.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ProvisionError) console.error(`provisioning failed at ${err.step} (${err.reason}): ${err.message}`);
  else if (err instanceof LibvirtError) console.error(`libvirt error ${err.codeName} (${err.domainName}): ${err.message}`);
  else if (err instanceof IscsiError) console.error(`iSCSI error (${err.kind}): ${err.message}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
