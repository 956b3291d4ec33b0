// The private Ceph cluster of the test environment: healthy (mon, mgr, one OSD up and in,
// every PG active+clean), cephx on, everything on loopback and in the state dir, the iSCSI
// gateway heartbeat settings in effect on the OSD, and client.virtkit limited to its pool.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cephCli, cephEnv, cephJson, registerSecret, tempDir } from '../helpers';

const target = cephEnv();

interface Status {
  fsid: string;
  health: { status: string; checks: Record<string, unknown> };
  monmap: { num_mons: number };
  osdmap: { num_osds: number; num_up_osds: number; num_in_osds: number };
  mgrmap: { available: boolean };
  pgmap: { num_pgs: number; pgs_by_state: Array<{ state_name: string; count: number }> };
}

/** The TCP sockets a process listens on, as "address:port" ("[addr]:port" for IPv6): its
 * socket inodes (/proc/PID/fd) matched against the LISTEN entries of /proc/net/tcp and tcp6. */
function listening(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const out: string[] = [];
  for (const [file, v6] of [[`/proc/${pid}/net/tcp`, false], [`/proc/${pid}/net/tcp6`, true]] as const) {
    let lines: string[] = [];
    try { lines = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1); } catch { continue; }
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || !inodes.has(f[9]!)) continue; // 0A: LISTEN
      const [hex, portHex] = f[1]!.split(':') as [string, string];
      // The address is in 32-bit words in host (little-endian) byte order.
      const bytes = Buffer.from(hex, 'hex');
      for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
      const port = parseInt(portHex, 16);
      if (!v6) out.push(`${[...bytes].join('.')}:${port}`);
      else out.push(`[${(bytes.toString('hex').match(/.{4}/g) ?? []).join(':')}]:${port}`);
    }
  }
  return out;
}

if ('skip' in target) {
  t.test('the private Ceph cluster', { skip: target.skip }, async () => {});
} else {
  const { ceph } = target;

  t.test('healthy: HEALTH_OK, one mon, the mgr available, one OSD up and in, every PG active+clean', async (t) => {
    const s = cephJson<Status>(ceph, 'ceph', ['status']);
    t.equal(s.fsid, ceph.fsid, 'the cluster of env.json');
    t.equal(s.health.status, 'HEALTH_OK', `health checks: ${Object.keys(s.health.checks).join(', ') || 'none'}`);
    t.equal(s.monmap.num_mons, 1, 'one mon');
    t.equal(s.mgrmap.available, true, 'a mgr is active (without it: MGR_DOWN, and no pool statistics)');
    t.same([s.osdmap.num_osds, s.osdmap.num_up_osds, s.osdmap.num_in_osds], [1, 1, 1], 'one OSD, up and in');
    const clean = s.pgmap.pgs_by_state.filter((p) => p.state_name === 'active+clean').reduce((n, p) => n + p.count, 0);
    t.ok(s.pgmap.num_pgs > 0, `PGs exist (${s.pgmap.num_pgs})`);
    t.equal(clean, s.pgmap.num_pgs, 'every PG is active+clean');
    for (const pid of [ceph.monPid, ceph.mgrPid, ceph.osdPid]) {
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      t.comment(`${fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()} ${pid}: ${(rss / 1024).toFixed(0)} MiB RSS`);
    }
  });

  t.test('the RBD pool: one replica, application rbd, the gateway images in it', async (t) => {
    const pools = cephJson<Array<{ pool_name: string; size: number; min_size: number; application_metadata: Record<string, unknown> }>>(ceph, 'ceph', ['osd', 'pool', 'ls', 'detail']);
    const pool = pools.find((p) => p.pool_name === ceph.pool);
    t.ok(pool, `pool ${ceph.pool} exists`);
    t.equal(pool?.size, 1, 'size 1');
    t.equal(pool?.min_size, 1, 'min_size 1');
    t.same(Object.keys(pool?.application_metadata ?? {}), ['rbd'], 'rbd pool init ran');
    const images = cephJson<string[]>(ceph, 'rbd', ['ls', ceph.pool]);
    for (const im of ceph.images) {
      t.ok(images.includes(im.image.split('/')[1]!), `${im.image} listed`);
      t.equal(cephJson<{ size: number }>(ceph, 'rbd', ['info', im.image]).size, im.sizeBytes, `${im.image}: ${im.sizeBytes} bytes`);
    }
  });

  t.test('the OSD runs the iSCSI gateway heartbeat settings from ceph.conf', async (t) => {
    // From the OSD itself (admin socket): the running values.
    t.ok(Object.keys(ceph.heartbeat).length >= 2, 'env.json lists the settings');
    const want = { osd_heartbeat_grace: 20, osd_heartbeat_interval: 5, osd_client_watch_timeout: 15 };
    for (const [name, value] of Object.entries(want)) {
      const r = cephCli(ceph, 'ceph', ['daemon', 'osd.0', 'config', 'get', name], { id: '' });
      t.equal(r.status, 0, `ceph daemon osd.0 config get ${name}`);
      t.equal(Number((JSON.parse(r.stdout) as Record<string, string>)[name]), value, `${name} = ${value} on the running OSD`);
      t.equal(ceph.heartbeat[name]?.value, value, `env.json records ${name} = ${value}`);
    }
    t.ok(ceph.heartbeat.osd_heartbeat_interval!.value < ceph.heartbeat.osd_heartbeat_interval!.default, 'the heartbeat interval is below Ceph\'s default');
    // From the cluster (the mgr's view of the daemon's config): where each value came from.
    // osd_heartbeat_grace equals Pacific's default (20), so its source tells ours from the default.
    const shown = cephJson<Array<{ name: string; value: string; source: string }>>(ceph, 'ceph', ['config', 'show', 'osd.0']);
    for (const [name, value] of Object.entries(want)) {
      const o = shown.find((x) => x.name === name);
      t.same(o && { value: Number(o.value), source: o.source }, { value, source: 'file' }, `${name}: ${value} from ceph.conf, not a default`);
    }
  });

  t.test('cephx is required, and every daemon listens on loopback only', async (t) => {
    for (const k of ['auth_cluster_required', 'auth_service_required', 'auth_client_required']) {
      const r = cephCli(ceph, 'ceph', ['daemon', 'mon.a', 'config', 'get', k], { id: '' });
      t.equal((JSON.parse(r.stdout || '{}') as Record<string, string>)[k], 'cephx', `mon: ${k} = cephx`);
    }
    // client.admin with a wrong key is refused by the mon.
    const dir = tempDir(t, 'virtkit-cephx');
    const wrong = path.join(dir, 'wrong.keyring');
    const bogus = registerSecret('ceph/10 wrong admin key', Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0]), randomBytes(16)]).toString('base64'));
    fs.writeFileSync(wrong, `[client.admin]\n\tkey = ${bogus}\n`, { mode: 0o600 });
    const refused = cephCli(ceph, 'ceph', ['--keyring', wrong, '--connect-timeout', '10', 'status'], { timeoutMs: 30_000 });
    t.not(refused.status, 0, 'client.admin with a wrong key cannot talk to the mon');
    t.match(refused.stderr, /permission denied|authenticat|EACCES|errno 13/i, 'refused for its key');
    for (const [name, pid] of [['mon', ceph.monPid], ['mgr', ceph.mgrPid], ['osd', ceph.osdPid]] as const) {
      const addrs = listening(pid);
      t.ok(addrs.length > 0, `${name} listens (${addrs.join(' ')})`);
      t.same(addrs.filter((a) => !a.startsWith('127.')), [], `${name} listens on 127.0.0.0/8 only`);
    }
    t.ok(listening(ceph.monPid).includes(`127.0.0.1:${ceph.monPort}`), 'the mon listens on env.json\'s v1 port');
    t.ok(listening(ceph.monPid).includes(`127.0.0.1:${ceph.monPortV2}`), 'and on its msgr2 port');
  });

  t.test('client.virtkit: RBD in its own pool, nothing else', async (t) => {
    const mine = cephCli(ceph, 'rbd', ['ls', ceph.pool], { id: ceph.user });
    t.equal(mine.status, 0, `rbd ls ${ceph.pool} as client.${ceph.user}: ${mine.stderr.trim()}`);
    const create = cephCli(ceph, 'ceph', ['osd', 'pool', 'create', 'vk-not-allowed', '1'], { id: ceph.user });
    t.not(create.status, 0, 'may not create pools');
    t.match(create.stderr, /EACCES|access denied|Permission denied/i, 'refused for its caps');
    const admin = cephCli(ceph, 'ceph', ['auth', 'ls'], { id: ceph.user });
    t.not(admin.status, 0, 'may not list keys');
    const pools = cephJson<string[]>(ceph, 'ceph', ['osd', 'pool', 'ls']);
    t.notOk(pools.includes('vk-not-allowed'), 'no pool was created');
    // The key in env.json is the one in the user's keyring file (0600).
    const text = fs.readFileSync(ceph.keyring, 'utf8');
    t.ok(text.includes(`key = ${ceph.key}`), 'env.json\'s key is the keyring\'s');
    t.equal(fs.statSync(ceph.keyring).mode & 0o777, 0o600, 'the keyring is 0600');
    t.equal(fs.statSync(ceph.adminKeyring).mode & 0o777, 0o600, 'the admin keyring is 0600');
    t.equal(Buffer.from(ceph.key, 'base64').length, 28, 'a cephx key: 28 bytes (type, created, length, 16-byte secret)');
  });

  t.test('logs stay in the state dir and hold no secret', async (t) => {
    const logs = fs.readdirSync(ceph.logDir);
    for (const f of ['ceph.log', 'ceph.audit.log', 'ceph-mon.a.log', 'ceph-mgr.x.log', 'ceph-osd.0.log']) {
      t.ok(logs.includes(f), `${f} in ${ceph.logDir}`);
    }
    const secrets = [ceph.key, ...[ceph.adminKeyring].map((k) => /key = (\S+)/.exec(fs.readFileSync(k, 'utf8'))?.[1] ?? 'missing')];
    const files = logs.map((f) => path.join(ceph.logDir, f));
    if (!('skipped' in ceph.iscsi)) {
      // The gateway tgtd's log (it logs its rbd backing store's options) and its CHAP password.
      files.push(ceph.iscsi.logFile);
      secrets.push(ceph.iscsi.targets[0]!.chap!.password);
    }
    const leaked = files.filter((f) => {
      const text = fs.readFileSync(f, 'utf8');
      return secrets.some((k) => text.includes(k));
    });
    t.ok(files.length >= 5, `${files.length} log files read`);
    t.same(leaked, [], 'no log file contains a key or the gateway\'s CHAP password');
  });
}
