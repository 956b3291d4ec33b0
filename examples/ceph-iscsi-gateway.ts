/**
 * Ceph RBD images behind an iSCSI gateway (tgtd's `rbd` backing store, Debian's `tgt-rbd`, or
 * any gateway exporting RBD images as LUNs of one CHAP-protected target), all the way to
 * running guests without a kernel initiator: a preflight with virtkit's own initiator (login
 * with CHAP, each LUN's INQUIRY and size), the `iscsi-direct` pool with the CHAP password in a
 * libvirt secret, its volumes, one guest per LUN started and listed with its state, then
 * everything torn down again.
 *
 *   npm run example -- ceph-iscsi-gateway --testenv   # a private libvirtd, Ceph and gateway tgtd, started and stopped for it
 *   npm run example -- ceph-iscsi-gateway --uri qemu:///system --portal 10.0.0.5:3260 \
 *       --target iqn.2003-01.org.linux-iscsi.gw1:rbd --chap-user gw1 --chap-password-file /root/gw1.chap
 *
 * Options: --uri URI; --portal HOST[:PORT] (the gateway, port 3260 by default); --target IQN;
 * --initiator IQN (default: one made up for this run); --chap-user NAME; --chap-password-file
 * FILE (the password is read from the file, never from the command line); --memory MiB (each
 * guest's, default 64); --env FILE (the test environment's env.json: URI and the Ceph
 * gateway's portal, target and CHAP account). Prints no password.
 */
import { randomBytes } from 'node:crypto';
import { connect, defineGuest, iscsi, IscsiError, LibvirtError, ProvisionError, provisionIscsiPool, teardownPool, type Domain } from 'virtkit';
import { bytes, iscsiTargetOptions, option, positive, table, type EnvIscsiTarget } from './table';

interface EnvGateway {
  portal: string;
  targets: EnvIscsiTarget[];
}

function settings() {
  const memoryMiB = positive('memory', 64);
  const t = iscsiTargetOptions('ceph-iscsi-gateway', (json, file, target) => {
    const env = json as { libvirt: { uri?: string; skipped?: string }; ceph?: { iscsi: EnvGateway | { skipped: string } } | { skipped: string } };
    if (env.libvirt.skipped) throw new Error(`the test environment has no libvirtd: ${env.libvirt.skipped}`);
    if (!env.ceph || 'skipped' in env.ceph) throw new Error(`the test environment has no Ceph: ${(env.ceph as { skipped?: string } | undefined)?.skipped ?? 'not started'}`);
    if ('skipped' in env.ceph.iscsi) throw new Error(`the test environment has no Ceph gateway: ${env.ceph.iscsi.skipped}`);
    const gw = env.ceph.iscsi;
    const found = gw.targets.find((x) => x.iqn === target) ?? gw.targets.find((x) => x.chap);
    if (!found?.chap) throw new Error(`${file} has no gateway target with CHAP`);
    return { uri: env.libvirt.uri, portal: gw.portal, target: found };
  });
  const run = randomBytes(3).toString('hex');
  return { ...t, initiatorIqn: option('initiator') ?? `iqn.2026-11.org.virtkit.example:gateway-${run}`, memoryMiB, run };
}

function indent(lines: string[]): string {
  return lines.map((l) => `  ${l}`).join('\n');
}

async function main(): Promise<void> {
  const s = settings();
  console.log(`Gateway ${s.target} at ${s.portal}${s.chap ? ` (CHAP user ${s.chap.username})` : ''}, initiator ${s.initiatorIqn}\n`);

  // 1. The gateway as an initiator sees it, before libvirt is involved.
  const session = await iscsi.connect({ portal: s.portal, target: s.target, initiatorIqn: s.initiatorIqn, ...(s.chap ? { chap: s.chap } : {}), timeoutMs: 15_000 });
  let luns;
  try {
    luns = await session.luns();
  } finally {
    await session.close();
  }
  const disks = luns.filter((l) => l.capacity !== null);
  console.log(`Preflight (libiscsi, CHAP login): ${disks.length} LUN(s) with blocks`);
  console.log(
    table(
      ['lun', 'type', 'vendor/product', 'serial', 'size', 'blocks'],
      luns.map((l) => [l.lun, l.deviceTypeName, `${l.vendor} ${l.product}`.trim(), l.serial ?? '-', l.capacity ? bytes(l.capacity.bytes) : '-', l.capacity ? `${l.capacity.blocks} × ${l.capacity.blockSize}` : '-']),
    ),
  );
  if (disks.length === 0) throw new Error(`${s.target} offers no LUN with blocks to ${s.initiatorIqn}`);

  const conn = await connect(s.uri);
  const poolName = `vk-gw-${s.run}`;
  let failed = false;
  try {
    console.log(`\nConnected to ${conn.uri}\n`);
    // 2. The iscsi-direct pool: libvirt's own libiscsi logs in with the password from the secret.
    const p = await provisionIscsiPool(conn, {
      type: 'iscsi-direct',
      name: poolName,
      portal: s.portal,
      target: s.target,
      initiatorIqn: s.initiatorIqn,
      ...(s.chap ? { chap: s.chap } : {}),
    });
    console.log(`Pool ${poolName} (iscsi-direct):\n${indent(p.actions)}\n`);
    console.log(`Volumes of pool ${poolName}`);
    console.log(
      table(
        ['name', 'lun', 'product', 'path', 'capacity'],
        p.volumes.map((v) => [v.name, v.lun ?? '-', v.inquiry?.product ?? '-', v.path, bytes(v.capacity)]),
      ),
    );

    // 3. One guest per LUN with blocks, each started with that LUN as its disk.
    const onLuns = p.volumes.filter((v) => v.inquiry?.capacity);
    const doms: Array<{ dom: Domain; volume: string; lun: number | null }> = await Promise.all(
      onLuns.map(async (v) => ({
        volume: v.name,
        lun: v.lun,
        dom: await defineGuest(conn, {
          name: `${poolName}-lun${v.lun}`,
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
        const [st, info, blk] = await Promise.all([dom.state(), dom.info(), dom.blockInfo('vda')]);
        return [dom.name, dom.id ?? '-', st.stateName, `${poolName}/${volume}`, bytes(blk.capacity), bytes(info.memoryKiB * 1024)];
      }),
    );
    console.log(`\nGuests`);
    console.log(table(['name', 'id', 'state', 'disk', 'disk size', 'memory'], rows));
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
      const left = (await conn.listAllStoragePools()).some((x) => x.name === poolName) || (await conn.listAllDomains()).some((d) => d.name.startsWith(`${poolName}-`));
      if (!failed) console.log(left ? `\nPool ${poolName} or a guest of it is still there.` : '\nDone: nothing left behind.');
    }
    await conn.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ProvisionError) console.error(`provisioning failed at ${err.step} (${err.reason}): ${err.message}`);
  else if (err instanceof IscsiError) console.error(`preflight failed: iSCSI error (${err.kind}): ${err.message}`);
  else if (err instanceof LibvirtError) console.error(`libvirt error ${err.codeName} (${err.domainName}): ${err.message}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
