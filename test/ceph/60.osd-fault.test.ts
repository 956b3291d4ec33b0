// A Ceph OSD SIGKILLed under an RBD pool refresh, on a private environment (libvirtd and a
// Ceph cluster of the test's own: the shared cluster stays healthy for the other tests) whose
// OSD keeps its objects in BlueStore on a file, so that the OSD started again finds them
// (memstore loses everything with its process). The pool sets librados' timeouts to 5 s
// (`rbd:config_opts`; libvirt's own are 30 s), so calls that need the dead OSD give up within
// seconds: every call in flight settles, resolved or with a LibvirtError; then the OSD is
// started again and the pool lists the same volumes. Figures: dist/reports/faults/.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { connect, LibvirtError, type RbdPool } from 'virtkit';
import { bounded, privateEnv, recordFaults, respawnDaemon, tallySettled, type CephEnv, type FaultRecord } from '../helpers';

const typedCode = (err: unknown): string | null => (err instanceof LibvirtError && /^VIR_ERR_/.test(err.codeName) ? err.codeName : null);

const MiB = 1024 * 1024;
const skip =
  process.getuid?.() !== 0
    ? 'needs root (a private libvirtd and Ceph cluster)'
    : !fs.existsSync('/usr/bin/ceph-osd') || !fs.existsSync('/usr/sbin/libvirtd')
      ? 'needs ceph-osd (Debian package ceph-osd) and libvirtd (libvirt-daemon)'
      : false;



t.test('a Ceph OSD SIGKILLed under an rbd pool refresh: every call settles typed; restarted, the pool lists the same volumes', { skip }, async (t) => {
  const t0 = Date.now();
  const env = privateEnv(t, 'vk-osd', 'iscsi', { VIRTKIT_TESTENV_OSD_STORE: 'bluestore' });
  if ('skipped' in env.libvirt || !env.ceph || 'skipped' in env.ceph) throw new Error('the private environment has no libvirt or Ceph part');
  const ceph = env.ceph as CephEnv;
  const conn = await connect(env.libvirt.uri);
  t.teardown(() => conn.close());

  const id = randomUUID().slice(0, 8);
  const usage = `vk-osd-${id}`;
  const secret = await conn.defineSecret({ private: true, usage: { type: 'ceph', name: usage } });
  await secret.setValue(Buffer.from(ceph.key, 'base64'));
  const def: RbdPool = {
    type: 'rbd',
    name: `vk-osd-${id}`,
    source: { name: ceph.pool, hosts: [{ name: ceph.monHost, port: ceph.monPort }], auth: { type: 'ceph', username: ceph.user, secret: { usage } } },
    rbdConfig: { rados_osd_op_timeout: '5', rados_mon_op_timeout: '5', client_mount_timeout: '5' },
  };
  const pool = await conn.defineStoragePool(def);
  await pool.start();
  const vols = [];
  for (const n of ['a', 'b', 'c']) vols.push(await pool.createVolume({ name: `vk-osd-${id}-${n}`, capacity: 8 * MiB }));
  const before = (await pool.listVolumes()).map((v) => v.name).sort();
  t.ok(vols.every((v) => before.includes(v.name)), `the pool lists its volumes (${before.length})`);

  // The kill, with a refresh and what a program asks meanwhile in flight.
  const refreshing = pool.refresh();
  process.kill(ceph.osdPid, 'SIGKILL');
  const calls: Array<Promise<unknown>> = [
    refreshing,
    pool.listVolumes(),
    pool.refresh(),
    pool.info(),
    ...vols.map((v) => v.info()),
    pool.listVolumes(),
    conn.lookupStorageVolumeByPath(`${ceph.pool}/${vols[0]!.name}`).then((v) => v.info()),
  ];
  const k0 = Date.now();
  const results = await bounded(Promise.allSettled(calls), 120_000, 'the calls in flight at the OSD kill');
  const settledMs = Date.now() - k0;
  const tally = tallySettled(results, typedCode);
  t.equal(results.length, calls.length, `all ${calls.length} calls settled (${settledMs} ms after the kill)`);
  t.same(tally.untyped.map(String), [], `every rejection is a LibvirtError (${tally.resolved} resolved, ${JSON.stringify(tally.codes)})`);
  t.ok(tally.typedErrors > 0, 'the dead OSD failed some of them');
  for (const r of results) if (r.status === 'rejected' && r.reason instanceof LibvirtError) t.comment(`${r.reason.codeName}: ${r.reason.message}`);

  // Started again on the same data: the pool (which libvirt stopped when its refresh failed)
  // starts and lists the same volumes.
  respawnDaemon(env, 'ceph-osd');
  if (!(await pool.isActive())) await pool.start();
  await pool.refresh();
  const after = (await pool.listVolumes()).map((v) => v.name).sort();
  t.same(after, before, 'the same volumes after the OSD restarted');
  t.equal((await (await pool.lookupVolumeByName(vols[0]!.name)).info()).capacity, 8 * MiB, 'with their sizes');
  for (const v of vols) await v.delete().catch(() => undefined);
  await pool.destroy();
  await pool.undefine();
  await secret.undefine();
  t.comment(`total ${((Date.now() - t0) / 1000).toFixed(1)} s (environment start included)`);

  const faults: FaultRecord[] = [{
    fault: 'ceph-osd SIGKILL under an rbd pool refresh (+ listVolumes, info)',
    injected: 1,
    inFlight: calls.length,
    settled: results.length,
    typedErrors: tally.typedErrors,
    resolved: tally.resolved,
    recovered: JSON.stringify(after) === JSON.stringify(before),
    codes: tally.codes,
  }];
  recordFaults(__filename, faults);
});
