#!/usr/bin/env node
// The project's real test environment: a private libvirtd (+ virtlogd) in its own mount
// namespace, a private tgtd serving file-backed iSCSI LUNs with CHAP on a loopback port, and a
// private single-node Ceph cluster (mon, mgr, memstore OSD; cephx) with an RBD pool, whose images
// a second private tgtd exports as CHAP LUNs through tgt's rbd backing store.
//
//   node scripts/testenv.js start --state DIR   # DIR: a fresh (empty) temp dir from the caller
//   node scripts/testenv.js stop  --state DIR   # stops everything, removes DIR; idempotent
//   node scripts/testenv.js respawn --state DIR libvirtd|ceph-osd   # again, after a test killed it
//
// or from JavaScript: `await start({ stateDir })` (returns the env object) and `await stop(dir)`.
//
// start writes DIR/env.json (0600; the shape is documented at writeEnv below) and DIR/env.sh
// (`export VIRTKIT_TESTENV=DIR/env.json`). A part that cannot run here (binary missing, not root,
// or named in $VIRTKIT_TESTENV_SKIP=libvirt,iscsi,ceph; `iscsi` also skips Ceph's gateway tgtd) is
// recorded as { skipped: "reason" }; a part
// that is present but fails to start makes start fail, after stopping what it had started (the
// logs stay in DIR for the caller's `stop` to remove). Every process is recorded in DIR/pids.json
// as soon as it exists, so `stop` also cleans up after a start that died half-way.
//
// Everything listens on 127.0.0.1 or on UNIX sockets inside DIR only. CHAP passwords and the
// Ceph keys are generated per run and written only to env.json and (the keys) 0600 keyring files
// in DIR; they are never printed. (tgtadm takes CHAP passwords on its command line, the only way
// it accepts them, for the few milliseconds it runs; Ceph's tools read keys from keyring files.)
//
// Layout: DIR/libvirt/{run,lib,log,etc,cache} are bind-mounted (in libvirtd's namespace only)
// over /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /etc/libvirt, /var/cache/libvirt; the
// client socket is DIR/libvirt/run/libvirt-sock, QEMU logs are DIR/libvirt/log/qemu/NAME.log.
// DIR/iscsi holds tgtd.log and the sparse LUN files. DIR/ceph holds ceph.conf, the keyrings, the
// daemons' data (mon/, mgr/, osd/: memstore keeps the OSD's objects in memory), their admin
// sockets (run/), every log including the mon's cluster and audit logs (log/), and the gateway
// tgtd's log (iscsi/). Runs beside any other libvirtd/tgtd/Ceph; one
// thing is shared: two instances running a guest of the same name under the same domain id at
// the same time share its cgroup (machine/qemu-ID-NAME.libvirt-qemu), so use unique names.
//
// Plain Node 20 CommonJS, no npm packages.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');

const MARKER = '.virtkit-testenv';
const LIBVIRTD = '/usr/sbin/libvirtd';
const VIRTLOGD = '/usr/sbin/virtlogd';
const UNSHARE = '/usr/bin/unshare';
const VIRSH = '/usr/bin/virsh';
const TGTD = '/usr/sbin/tgtd';
const TGTADM = '/usr/sbin/tgtadm';
const TGTD_RUN_DIR = '/run/tgtd'; // tgtd's control socket: /run/tgtd/socket.<control port>
const IQN_PREFIX = 'iqn.2026-11.org.virtkit.test';
const MiB = 1024 * 1024;
// The daemons get a clean environment: nothing of the caller's (CHAP variables, LD_*, ...) leaks.
const DAEMON_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  HOME: '/root',
};
// Where the private libvirtd's directories are bind-mounted, relative to DIR/libvirt.
const LIBVIRT_MOUNTS = [
  ['run', '/run/libvirt'],
  ['lib', '/var/lib/libvirt'],
  ['log', '/var/log/libvirt'],
  ['etc', '/etc/libvirt'],
  ['cache', '/var/cache/libvirt'],
];

// ---------------------------------------------------------------------------------------------
// small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(msg) {
  process.stderr.write(`testenv: ${msg}\n`);
}

class TestEnvError extends Error {}

/** Runs a program (no shell). Resolves { code, stdout, stderr }; never rejects. */
function run(cmd, args, { timeoutMs = 15000, env = DAEMON_ENV } = {}) {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    let child;
    try {
      child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: -1, stdout: '', stderr: String(e.message) });
      return;
    }
    const timer = setTimeout(() => {
      stderr += `\n(timed out after ${timeoutMs} ms)`;
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const finish = (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    };
    child.on('error', (e) => { stderr += String(e.message); finish(-1); });
    child.on('close', (code, signal) => finish(code === null ? `signal ${signal}` : code));
  });
}

/** /proc/PID/stat: { state, startTime } or null when the process is gone. */
function procStat(pid) {
  if (!Number.isInteger(pid) || pid <= 1) return null;
  let s;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

/** True when pid is alive (a zombie counts as dead) and, if given, started at startTime. */
function isAlive(pid, startTime) {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || startTime === null || st.startTime === startTime;
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch { /* already gone */ }
}

/** SIGTERM (or `first`), wait up to graceMs, then SIGKILL and wait again. Never throws. */
async function terminate(procs, { graceMs = 5000, first = 'SIGTERM' } = {}) {
  // Only processes whose start time was seen: a pid alone may have been reused meanwhile.
  const live = () => procs.filter((p) => p.pid !== process.pid && typeof p.startTime === 'string' && isAlive(p.pid, p.startTime));
  for (const p of live()) signal(p.pid, first);
  for (let waited = 0; live().length && waited < graceMs; waited += 100) await sleep(100);
  for (const p of live()) signal(p.pid, 'SIGKILL');
  for (let waited = 0; live().length && waited < 5000; waited += 100) await sleep(100);
  return live().length === 0;
}

function writeFileAtomic(file, data, mode = 0o600) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function tail(file, lines = 25) {
  try {
    const all = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).map((l) => `    | ${l}`).join('\n');
  } catch {
    return `    | (no ${file})`;
  }
}

/** A CHAP secret: 16 characters from [A-Za-z0-9] (RFC 7143 wants 12+; some initiators cap at 16). */
function password() {
  const abc = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = crypto.randomBytes(16);
  let s = '';
  for (const b of bytes) s += abc[b % abc.length];
  return s;
}

/** A free TCP port on 127.0.0.1 (free now; the caller retries if it is taken meanwhile). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function skipList() {
  return (process.env.VIRTKIT_TESTENV_SKIP || '').split(/[\s,]+/).filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// the state dir and its pid list

class State {
  constructor(dir) {
    this.dir = dir;
    this.pidsFile = path.join(dir, 'pids.json');
  }

  /** Records a process (name, pid, start time) at once, so `stop` can find it. */
  addPid(name, pid, extra = {}) {
    const st = procStat(pid);
    const list = readJson(this.pidsFile) || [];
    list.push({ name, pid, startTime: st ? st.startTime : null, ...extra });
    writeFileAtomic(this.pidsFile, JSON.stringify(list, null, 2) + '\n');
  }

  pids() {
    return readJson(this.pidsFile) || [];
  }
}

/**
 * Spawns a daemon in the foreground, detached (its own process group and session: it outlives
 * this CLI), stdout and stderr appended to `outFile`, recorded in pids.json as `name` at once.
 * Returns { pid, startTime, exited() } (exited: null while it runs, else how it ended).
 */
function spawnDaemon(state, name, cmd, args, { outFile, cwd, extra }) {
  const out = fs.openSync(outFile, 'a');
  let child;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: DAEMON_ENV, cwd });
  } finally {
    fs.closeSync(out);
  }
  let exited = null;
  child.on('exit', (code, sig) => { exited = sig ? `killed by ${sig}` : `exited with status ${code}`; });
  child.on('error', (e) => { exited = `could not be started: ${e.message}`; });
  child.unref();
  if (child.pid) state.addPid(name, child.pid, extra);
  const startTime = child.pid ? procStat(child.pid)?.startTime ?? null : null;
  return { pid: child.pid, startTime, exited: () => exited };
}

function prepareStateDir(stateDir) {
  if (!stateDir) throw new TestEnvError('no state dir given (--state DIR)');
  const dir = path.resolve(stateDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries = fs.readdirSync(dir);
  if (entries.length) {
    throw new TestEnvError(`state dir ${dir} is not empty: give start a fresh dir (mktemp -d)`);
  }
  fs.chmodSync(dir, 0o700);
  fs.writeFileSync(path.join(dir, MARKER), 'virtkit test environment state dir\n');
  return fs.realpathSync(dir);
}

// ---------------------------------------------------------------------------------------------
// libvirt: a private libvirtd + virtlogd in their own mount namespace

// Runs inside `unshare -m --propagation private`: makes sure nothing propagates back to the
// host, lays DIR/libvirt/<x> over the libvirt directories, starts virtlogd (daemonized, pid
// file in DIR) and then becomes libvirtd (foreground, so the pid node spawned is libvirtd's).
// The mount points themselves are created on the host if missing (empty directories).
const NS_SCRIPT = `#!/bin/sh
# Generated by scripts/testenv.js. Usage: ns.sh DIR/libvirt (run under unshare -m).
set -eu
base=$1
mount --make-rprivate /
${LIBVIRT_MOUNTS.map(([sub, target]) => `mkdir -p ${target} && mount --bind "$base/${sub}" ${target}`).join('\n')}
# A libvirtd started again (respawn) keeps the virtlogd that is still running: its socket is
# in $base/run, which this namespace mounts too.
kill -0 "$(cat "$base/virtlogd.pid" 2>/dev/null)" 2>/dev/null || ${VIRTLOGD} -d -p "$base/virtlogd.pid"
exec ${LIBVIRTD} -p "$base/libvirtd.pid"
`;

const LIBVIRTD_CONF = (hostUuid) => `# Private libvirtd of scripts/testenv.js. UNIX sockets only (no TCP/TLS), root only (0700),
# no authentication beyond the socket permissions.
listen_tls = 0
listen_tcp = 0
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
# Each instance reports its own host UUID.
host_uuid = "${hostUuid}"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
`;

// Why QEMU runs as root here: the machines this runs on have no udev, so /dev/kvm stays
// root:root 0600 instead of root:kvm 0660, and libvirt's DAC driver never relabels /dev/kvm.
// A QEMU running as libvirt-qemu:kvm therefore fails with "Could not access KVM kernel module:
// Permission denied" (seen here); as libvirt-qemu it would also need read access to every
// image the tests create in their temp dirs. root:root starts KVM and TCG guests alike, and
// nothing else depends on it: guests reach their iSCSI disks over loopback TCP. The
// libvirt-qemu user and group must still exist: Debian's QEMU driver resolves its compiled-in
// default (libvirt-qemu:libvirt-qemu) before it reads this file and fails to load without
// them ("Failed to parse group 'libvirt-qemu'"); kvm is created too, as Debian would.
// (Migration addresses keep their defaults: libvirt refuses 127.0.0.1 there.)
// security_driver = "none": no AppArmor/SELinux profiles in these containers (DAC still runs).
// remember_owner = 0: no trusted.libvirt.* xattrs written on the tests' files.
const QEMU_CONF = `# Private libvirtd of scripts/testenv.js (see the comment in testenv.js for the reasons).
user = "root"
group = "root"
dynamic_ownership = 1
remember_owner = 0
security_driver = "none"
vnc_listen = "127.0.0.1"
spice_listen = "127.0.0.1"
`;

const VIRTLOGD_CONF = `# Private virtlogd of scripts/testenv.js.
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
`;

async function lookup(db, name) {
  const r = await run('getent', [db, name], { timeoutMs: 5000 });
  return r.code === 0;
}

/** Creates the kvm and libvirt-qemu groups and the libvirt-qemu user, as Debian's
 * libvirt-daemon-system would (the QEMU driver refuses to load without them). */
async function ensureQemuUser() {
  const steps = [
    ['group', 'kvm', 'groupadd', ['--system', 'kvm']],
    ['group', 'libvirt-qemu', 'groupadd', ['--system', 'libvirt-qemu']],
    ['passwd', 'libvirt-qemu', 'useradd', ['--system', '--no-create-home', '--home-dir', '/var/lib/libvirt',
      '--shell', '/usr/sbin/nologin', '--gid', 'libvirt-qemu', '--groups', 'kvm', 'libvirt-qemu']],
  ];
  for (const [db, name, cmd, args] of steps) {
    if (await lookup(db, name)) continue;
    const r = await run(cmd, args, { timeoutMs: 15000 });
    // Another start running at the same moment may have created it first: check again.
    if (!(await lookup(db, name))) {
      throw new TestEnvError(`cannot create ${db === 'passwd' ? 'user' : 'group'} ${name}: ${cmd} exited ${r.code}: ${r.stderr.trim()}`);
    }
  }
}

function libvirtSkipReason() {
  if (skipList().includes('libvirt')) return 'skipped by VIRTKIT_TESTENV_SKIP';
  if (!fs.existsSync(LIBVIRTD)) return `${LIBVIRTD} not found (Debian package libvirt-daemon)`;
  if (!fs.existsSync(VIRTLOGD)) return `${VIRTLOGD} not found (Debian package libvirt-daemon)`;
  if (!fs.existsSync(VIRSH)) return `${VIRSH} not found (Debian package libvirt-clients)`;
  if (!fs.existsSync(UNSHARE)) return `${UNSHARE} not found (Debian package util-linux)`;
  if (!isRoot()) return `not running as root (uid ${process.getuid()}): the private libvirtd needs root for its mount namespace`;
  return null;
}

async function startLibvirt(state, { timeoutMs }) {
  const base = path.join(state.dir, 'libvirt');
  const socket = path.join(base, 'run', 'libvirt-sock');
  // sun_path holds 108 bytes; QEMU's own sockets live inside the namespace (short paths).
  if (Buffer.byteLength(socket) > 100) {
    throw new TestEnvError(`state dir path too long for a UNIX socket (${socket}): use a shorter one`);
  }
  await ensureQemuUser();

  for (const [sub] of LIBVIRT_MOUNTS) fs.mkdirSync(path.join(base, sub), { recursive: true, mode: 0o755 });
  // /etc/libvirt: a copy of the real one's top-level config files (and nwfilter definitions),
  // with our own libvirtd.conf, qemu.conf and virtlogd.conf. Not copied on purpose: the
  // host's persistent domains, networks (an autostarted "default" network would create a
  // bridge), storage pools, secrets and hooks.
  const etc = path.join(base, 'etc');
  if (fs.existsSync('/etc/libvirt')) {
    for (const ent of fs.readdirSync('/etc/libvirt', { withFileTypes: true })) {
      const from = path.join('/etc/libvirt', ent.name);
      if (ent.isFile()) fs.copyFileSync(from, path.join(etc, ent.name));
      else if (ent.isDirectory() && ent.name === 'nwfilter') fs.cpSync(from, path.join(etc, ent.name), { recursive: true });
    }
  }
  fs.writeFileSync(path.join(etc, 'libvirtd.conf'), LIBVIRTD_CONF(crypto.randomUUID()));
  fs.writeFileSync(path.join(etc, 'qemu.conf'), QEMU_CONF);
  fs.writeFileSync(path.join(etc, 'virtlogd.conf'), VIRTLOGD_CONF);
  const nsScript = path.join(base, 'ns.sh');
  fs.writeFileSync(nsScript, NS_SCRIPT, { mode: 0o755 });

  const logDir = path.join(base, 'log');
  const daemonOut = path.join(logDir, 'daemon-stderr.log'); // before libvirtd's own logging is up
  // unshare -> sh -> exec libvirtd: one pid
  const daemon = spawnDaemon(state, 'libvirtd', UNSHARE, ['-m', '--propagation', 'private', '--', '/bin/sh', nsScript, base], {
    outFile: daemonOut, cwd: '/',
  });
  const uri = `qemu+unix:///system?socket=${socket}`;

  const virtlogdPidFile = path.join(base, 'virtlogd.pid');
  let virtlogdPid = null;
  const recordVirtlogd = () => {
    if (virtlogdPid) return;
    const pid = parseInt(fs.existsSync(virtlogdPidFile) ? fs.readFileSync(virtlogdPidFile, 'utf8') : '', 10);
    if (pid > 1) {
      virtlogdPid = pid;
      state.addPid('virtlogd', pid);
    }
  };

  const failure = (why) => new TestEnvError(
    `private libvirtd ${why}\n  libvirtd log (${path.join(logDir, 'libvirtd.log')}):\n${tail(path.join(logDir, 'libvirtd.log'))}` +
      `\n  stderr (${daemonOut}):\n${tail(daemonOut, 10)}\n  virtlogd log:\n${tail(path.join(logDir, 'virtlogd.log'), 10)}`);

  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    recordVirtlogd();
    if (daemon.exited()) throw failure(daemon.exited());
    if (fs.existsSync(socket)) {
      const r = await run(VIRSH, ['-q', '-c', uri, 'version'], { timeoutMs: 10000 });
      if (r.code === 0) break;
      last = r.stderr.trim();
    }
    if (Date.now() > deadline) {
      throw failure(`did not answer on ${socket} within ${Math.round(timeoutMs / 1000)} s${last ? ` (virsh: ${last})` : ''}`);
    }
    await sleep(200);
  }
  recordVirtlogd();
  if (!virtlogdPid || !isAlive(virtlogdPid)) throw failure('is up but virtlogd is not running');
  return {
    uri,
    socket,
    pid: daemon.pid,
    virtlogdPid,
    logDir,
    domainType: fs.existsSync('/dev/kvm') ? 'kvm' : 'qemu',
  };
}

// ---------------------------------------------------------------------------------------------
// iSCSI: a private tgtd

function iscsiSkipReason() {
  if (skipList().includes('iscsi')) return 'skipped by VIRTKIT_TESTENV_SKIP';
  if (!fs.existsSync(TGTD)) return `${TGTD} not found (Debian package tgt)`;
  if (!fs.existsSync(TGTADM)) return `${TGTADM} not found (Debian package tgt)`;
  if (!isRoot()) return `not running as root (uid ${process.getuid()}): tgtd needs root`;
  return null;
}

function controlPortTaken(n) {
  return fs.existsSync(path.join(TGTD_RUN_DIR, `socket.${n}`)) || fs.existsSync(path.join(TGTD_RUN_DIR, `socket.${n}.lock`));
}

/** tgtadm with its arguments; CHAP passwords are redacted from any error message. */
async function tgtadm(controlPort, args, secrets = []) {
  const r = await run(TGTADM, ['-C', String(controlPort), '--lld', 'iscsi', ...args], { timeoutMs: 15000 });
  if (r.code !== 0) {
    let shown = `tgtadm ${args.join(' ')}`;
    let err = r.stderr.trim();
    for (const s of secrets) {
      shown = shown.split(s).join('***');
      err = err.split(s).join('***');
    }
    throw new TestEnvError(`${shown} failed (exit ${r.code}): ${err}`);
  }
  return r.stdout;
}

/** One attempt: spawns tgtd on the given ports and waits until it serves the portal. */
async function spawnTgtd(state, dir, port, controlPort, deadline, name = 'tgtd') {
  const logFile = path.join(dir, 'tgtd.log');
  const daemon = spawnDaemon(state, name, TGTD, ['-f', '-C', String(controlPort), '--iscsi', `portal=127.0.0.1:${port}`], {
    outFile: logFile, cwd: dir, extra: { controlPort },
  });
  const { pid, startTime } = daemon;
  const wantPortal = `Portal: 127.0.0.1:${port},`;
  for (;;) {
    if (daemon.exited()) return { ok: false, why: `tgtd ${daemon.exited()}`, pid, startTime, logFile };
    const r = await run(TGTADM, ['-C', String(controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'portal'], { timeoutMs: 5000 });
    if (r.code === 0) {
      if (r.stdout.includes(wantPortal)) return { ok: true, pid, startTime, logFile };
      // tgtd stays up even when it could not bind the portal (port taken meanwhile).
      return { ok: false, why: `tgtd did not bind 127.0.0.1:${port}`, pid, startTime, logFile, retry: true };
    }
    if (Date.now() > deadline) return { ok: false, why: 'tgtd did not answer tgtadm in time', pid, startTime, logFile };
    await sleep(100);
  }
}

async function stopTgtd(pid, startTime, controlPort, { graceMs = 5000, graceful = true } = {}) {
  if (graceful && typeof startTime === 'string' && isAlive(pid, startTime) && controlPort) {
    const t = ['-C', String(controlPort), '--lld', 'iscsi'];
    // tgtd ignores SIGTERM: take it offline, drop every target, then delete the system.
    await run(TGTADM, [...t, '--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline'], { timeoutMs: 5000 });
    const show = await run(TGTADM, [...t, '--op', 'show', '--mode', 'target'], { timeoutMs: 5000 });
    for (const m of show.stdout.matchAll(/^Target (\d+):/gm)) {
      await run(TGTADM, [...t, '--op', 'delete', '--mode', 'target', '--tid', m[1], '--force'], { timeoutMs: 5000 });
    }
    await run(TGTADM, [...t, '--op', 'delete', '--mode', 'system'], { timeoutMs: 5000 });
    for (let w = 0; isAlive(pid, startTime) && w < graceMs; w += 100) await sleep(100);
  }
  await terminate([{ pid, startTime }], { graceMs: 2000, first: 'SIGKILL' });
  // tgtd leaves its control socket and lock file behind.
  if (controlPort && !isAlive(pid, startTime)) {
    for (const f of [`socket.${controlPort}`, `socket.${controlPort}.lock`]) {
      try { fs.unlinkSync(path.join(TGTD_RUN_DIR, f)); } catch { /* gone */ }
    }
  }
}

/**
 * Starts a private tgtd in `dir` on a free loopback portal, recorded in pids.json as `name`.
 * Retries with other ports when the portal was taken meanwhile. Resolves { port, controlPort,
 * pid, startTime, logFile }.
 */
async function startTgtd(state, dir, { name, deadline }) {
  // The "control port" is the suffix of tgtd's UNIX control socket (/run/tgtd/socket.N), not a TCP
  // port; tgtd accepts 0..32767.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let controlPort;
    do controlPort = 10000 + crypto.randomInt(22768); while (controlPortTaken(controlPort));
    const tgtd = await spawnTgtd(state, dir, port, controlPort, deadline, name);
    if (tgtd.ok) return { port, controlPort, pid: tgtd.pid, startTime: tgtd.startTime, logFile: tgtd.logFile };
    await stopTgtd(tgtd.pid, tgtd.startTime, controlPort);
    if (!tgtd.retry || attempt >= 3) {
      throw new TestEnvError(`private ${name} failed to start: ${tgtd.why}\n  tgtd log (${tgtd.logFile}):\n${tail(tgtd.logFile)}`);
    }
  }
}

/**
 * Creates a target with its LUNs (a backing file `path`, or an RBD image `rbd: { image, conf,
 * user }` through tgt's rbd backing store), INQUIRY/VPD parameters, an ACL for everyone and its
 * CHAP accounts. `secrets` are redacted from errors.
 */
/** Creates target t on a tgtd; `accounts` holds the CHAP accounts that tgtd has already (one
 * account may be bound to several targets). */
async function addTarget(controlPort, t, secrets, accounts = new Set()) {
  const C = (args) => tgtadm(controlPort, args, secrets);
  const tid = String(t.tid);
  await C(['--op', 'new', '--mode', 'target', '--tid', tid, '--targetname', t.iqn]);
  for (const l of t.luns) {
    const store = l.rbd
      ? ['--bstype', 'rbd', '--backing-store', l.rbd.image, '--bsopts', `conf=${l.rbd.conf};id=${l.rbd.user}`]
      : ['--backing-store', l.path];
    await C(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', String(l.lun), ...store]);
    await C(['--op', 'update', '--mode', 'logicalunit', '--tid', tid, '--lun', String(l.lun), '--params',
      `vendor_id=${l.vendor},product_id=${l.product},product_rev=0001,scsi_sn=${l.serial},scsi_id=${l.scsiId}`]);
  }
  await C(['--op', 'bind', '--mode', 'target', '--tid', tid, '--initiator-address', 'ALL']);
  for (const [account, outgoing] of [[t.chap, false], [t.mutual, true]]) {
    if (!account) continue;
    if (!accounts.has(account.username)) {
      await C(['--op', 'new', '--mode', 'account', '--user', account.username, '--password', account.password]);
      accounts.add(account.username);
    }
    await C(['--op', 'bind', '--mode', 'account', '--tid', tid, '--user', account.username, ...(outgoing ? ['--outgoing'] : [])]);
  }
}

async function startIscsi(state, { timeoutMs }) {
  const dir = path.join(state.dir, 'iscsi');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  const tgtd = await startTgtd(state, dir, { name: 'tgtd', deadline });
  const { port, controlPort } = tgtd;

  const run8 = crypto.randomBytes(3).toString('hex'); // makes serials unique per run
  const mkLun = (targetNo, lun, sizeBytes, product) => {
    const file = path.join(dir, `t${targetNo}-lun${lun}.img`);
    const fd = fs.openSync(file, 'w', 0o600);
    try { fs.ftruncateSync(fd, sizeBytes); } finally { fs.closeSync(fd); } // sparse
    return {
      lun,
      sizeBytes,
      path: file,
      vendor: 'VIRTKIT', // INQUIRY vendor: 8 characters at most
      product, // INQUIRY product: 16 characters at most
      serial: `VK${run8}T${targetNo}L${lun}`, // VPD page 0x80
      scsiId: `virtkit-${run8}-t${targetNo}-l${lun}`, // VPD page 0x83 (T10 vendor id)
    };
  };
  const chapAccount = { username: 'virtkit-user', password: password() };
  const targets = [
    {
      iqn: `${IQN_PREFIX}:open`,
      tid: 1,
      chap: null,
      mutual: null,
      luns: [mkLun(1, 1, 16 * MiB, 'OPEN-LUN1')],
    },
    {
      iqn: `${IQN_PREFIX}:chap`,
      tid: 2,
      chap: chapAccount,
      mutual: { username: 'virtkit-target', password: password() },
      luns: [mkLun(2, 1, 64 * MiB, 'CHAP-LUN1'), mkLun(2, 2, 32 * MiB, 'CHAP-LUN2')],
    },
    // Five small LUNs for guests (the provisioning tests and the iscsi-direct-guest example):
    // the same CHAP account as the chap target (so an initiator logging in to every target
    // with it, as iscsi-ls does, gets in everywhere), without mutual CHAP (libvirt's
    // iscsi-direct pools and QEMU do one-way CHAP only).
    {
      iqn: `${IQN_PREFIX}:guests`,
      tid: 3,
      chap: chapAccount,
      mutual: null,
      luns: [1, 2, 3, 4, 5].map((n) => mkLun(3, n, (8 + 8 * n) * MiB, `GUEST-LUN${n}`)),
    },
  ];
  const secrets = targets.flatMap((t) => [t.chap, t.mutual].filter(Boolean).map((a) => a.password));
  const accounts = new Set();
  for (const t of targets) await addTarget(controlPort, t, secrets, accounts);
  return { portal: `127.0.0.1:${port}`, port, controlPort, pid: tgtd.pid, logFile: tgtd.logFile, targets };
}

// ---------------------------------------------------------------------------------------------
// Ceph: one ceph-mon, one ceph-mgr, one ceph-osd (memstore), cephx on, pool size 1, on loopback;
// and a private tgtd exporting RBD images through tgt's rbd backing store (tgt-rbd).

const CEPH_MON = '/usr/bin/ceph-mon';
const CEPH_MGR = '/usr/bin/ceph-mgr';
const CEPH_OSD = '/usr/bin/ceph-osd';
const CEPH = '/usr/bin/ceph';
const RBD = '/usr/bin/rbd';
const MONMAPTOOL = '/usr/bin/monmaptool';
const TGT_BS_RBD = '/usr/lib/tgt/backing-store/bs_rbd.so'; // tgtd loads it at start-up
const CEPH_POOL = 'virtkit';
const CEPH_USER = 'virtkit'; // client.virtkit, caps limited to the pool
// The OSD settings Ceph's iSCSI gateway requirements ask for (docs.ceph.com/en/pacific/rbd/
// iscsi-requirements: "lower the default timers for detecting down OSDs"), in the [osd] section
// as the document shows them. Pacific's defaults: 20, 6, 30. start checks each running value
// and its source ('file': ours, not the default) through the OSD's admin socket.
const CEPH_OSD_SETTINGS = { osd_heartbeat_grace: 20, osd_heartbeat_interval: 5, osd_client_watch_timeout: 15 };
// The RBD images the gateway tgtd exports (LUN number, size, INQUIRY product).
const CEPH_LUNS = [[1, 64 * MiB, 'RBD-LUN1'], [2, 32 * MiB, 'RBD-LUN2']];

/** The OSD's object store: memstore (the default: fastest, in memory), or `bluestore` (a
 * sparse file in DIR) from $VIRTKIT_TESTENV_OSD_STORE, for tests that kill the OSD and start it
 * again (respawn) on the same data. */
function osdStore() {
  const s = process.env.VIRTKIT_TESTENV_OSD_STORE || 'memstore';
  if (s !== 'memstore' && s !== 'bluestore') throw new TestEnvError(`VIRTKIT_TESTENV_OSD_STORE must be memstore or bluestore, not ${s}`);
  return s;
}

function cephSkipReason() {
  if (skipList().includes('ceph')) return 'skipped by VIRTKIT_TESTENV_SKIP';
  const bins = [[CEPH_MON, 'ceph-mon'], [CEPH_MGR, 'ceph-mgr'], [CEPH_OSD, 'ceph-osd'], [CEPH, 'ceph-common'],
    [RBD, 'ceph-common'], [MONMAPTOOL, 'ceph-base']];
  for (const [bin, pkg] of bins) if (!fs.existsSync(bin)) return `${bin} not found (Debian package ${pkg})`;
  return null;
}

/** Why the Ceph part's gateway tgtd cannot run here, or null. */
function cephGatewaySkipReason() {
  if (skipList().includes('iscsi')) return 'skipped by VIRTKIT_TESTENV_SKIP (iscsi)';
  if (!fs.existsSync(TGTD) || !fs.existsSync(TGTADM)) return `${TGTD} or ${TGTADM} not found (Debian package tgt)`;
  if (!fs.existsSync(TGT_BS_RBD)) return `${TGT_BS_RBD} not found (Debian package tgt-rbd)`;
  if (!isRoot()) return `not running as root (uid ${process.getuid()}): tgtd needs root`;
  return null;
}

/** A new cephx secret, encoded as Ceph's tools print it (CryptoKey: type 1 = AES, created,
 * length 16, 16 random bytes; base64). */
function cephKey() {
  const b = Buffer.alloc(28);
  const now = Date.now();
  b.writeUInt16LE(1, 0);
  b.writeUInt32LE(Math.floor(now / 1000), 2);
  b.writeUInt32LE((now % 1000) * 1e6, 6);
  b.writeUInt16LE(16, 10);
  crypto.randomBytes(16).copy(b, 12);
  return b.toString('base64');
}

/** A keyring file's text: one section per entity, with its key and caps. */
function keyring(entities) {
  return entities.map(({ name, key, caps }) =>
    `[${name}]\n\tkey = ${key}\n${Object.entries(caps).map(([svc, c]) => `\tcaps ${svc} = "${c}"\n`).join('')}`).join('');
}

const CEPH_CONF = (d, { fsid, v1, v2, store }) => `# ceph.conf of the private cluster of scripts/testenv.js: one mon (a), one mgr (x), one
# memstore OSD (0), cephx, pool size 1, everything on 127.0.0.1 and in ${d}.
[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${v2},v1:127.0.0.1:${v1}]
# Every messenger binds on loopback only (OSD and mgr ports come from 6800-7300, as usual).
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
# One OSD: pools of one replica, no placement across hosts, no PG autoscaling mid-test.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# Daemon statistics to the mgr, and the mgr's digest to the mon, every second instead of every
# 5: health and PG states reach \`ceph status\` sooner (start: about 8.5 s instead of 11).
mgr stats period = 1
mon mgr digest period = 1
# The state dir shares its disk with everything else on the machine: warn below 10% free, not 30%.
mon data avail warn = 10
run dir = ${d}/run
crash dir = ${d}/crash
log file = ${d}/log/$cluster-$name.log
mon cluster log file = default=${d}/log/$cluster.$channel.log cluster=${d}/log/$cluster.log
mon data = ${d}/mon/$cluster-$id
mgr data = ${d}/mgr/$cluster-$id
osd data = ${d}/osd/$cluster-$id
${store === 'bluestore' ? `# BlueStore on a sparse file (VIRTKIT_TESTENV_OSD_STORE=bluestore): an OSD killed and started
# again finds its objects, which memstore (kept in memory, saved only by a clean umount, which
# Pacific's fast shutdown skips even on SIGTERM) loses.
osd objectstore = bluestore
bluestore block path = ${d}/osd/$cluster-$id.block
bluestore block size = ${1024 * MiB}
bluestore fsck on mount = false
osd memory target = ${896 * MiB}` : `osd objectstore = memstore
memstore device bytes = ${1024 * MiB}`}

[mon]
keyring = ${d}/mon/$cluster-$id/keyring
# A port taken since it was probed: give up after one attempt (start then tries other ports),
# not after three, 5 s apart. (0 would mean no attempt at all.)
ms bind retry count = 1
ms bind retry delay = 1

[mgr]
keyring = ${d}/mgr/$cluster-$id/keyring

[osd]
keyring = ${d}/osd/$cluster-$id/keyring
${Object.entries(CEPH_OSD_SETTINGS).map(([k, v]) => `${k.replace(/_/g, ' ')} = ${v}`).join('\n')}

[client.admin]
keyring = ${d}/admin.keyring

[client.${CEPH_USER}]
keyring = ${d}/${CEPH_USER}.keyring
`;

/** Spawns a Ceph daemon in the foreground (-f: its own log file, no fork), detached, recorded in
 * pids.json at once. Returns { name, pid, startTime, logFile, stderrFile, exited() }. */
function spawnCephDaemon(state, d, conf, type, id) {
  const name = `ceph-${type}`;
  const stderrFile = path.join(d, 'log', `${name}.${id}.stderr.log`);
  const daemon = spawnDaemon(state, name, `/usr/bin/${name}`, ['-f', '-c', conf, '-i', id], { outFile: stderrFile, cwd: d });
  return {
    name: `${name}.${id}`, pid: daemon.pid, startTime: daemon.startTime,
    logFile: path.join(d, 'log', `ceph-${type}.${id}.log`), stderrFile, exited: daemon.exited,
  };
}

async function startCeph(state, { timeoutMs }) {
  const t0 = Date.now();
  const deadline = t0 + timeoutMs;
  const d = path.join(state.dir, 'ceph');
  const f = (...p) => path.join(d, ...p);
  for (const sub of ['log', 'run', 'crash', 'mon', 'mgr/ceph-x', 'osd/ceph-0', 'iscsi']) fs.mkdirSync(f(sub), { recursive: true, mode: 0o700 });
  const conf = f('ceph.conf');
  const fsid = crypto.randomUUID();

  // The gateway is a tgtd of its own, not a third target on the iscsi part's tgtd: that one's
  // targets are what its discovery tests expect to see, and a tgtd whose RBD LUN lost its OSD
  // can hang in tgtadm; its stop comes before the cluster's (stopProcesses). It gets
  // DAEMON_ENV like every daemon: a CEPH_KEYRING (or CEPH_ARGS) from the caller's environment
  // would override the conf's keyring (seen: permission denied). It needs nothing from Ceph
  // until its LUNs are added: start it meanwhile.
  const gatewaySkip = cephGatewaySkipReason();
  const gateway = gatewaySkip ? null : startTgtd(state, f('iscsi'), { name: 'tgtd-ceph', deadline }).then((v) => ({ v }), (e) => ({ e }));

  // Keys are made here and written to 0600 keyring files; they never reach a command line.
  const user = { name: `client.${CEPH_USER}`, key: cephKey(), caps: { mon: 'profile rbd', osd: `profile rbd pool=${CEPH_POOL}`, mgr: `profile rbd pool=${CEPH_POOL}` } };
  const admin = { name: 'client.admin', key: cephKey(), caps: { mon: 'allow *', osd: 'allow *', mgr: 'allow *', mds: 'allow *' } };
  const mgr = { name: 'mgr.x', key: cephKey(), caps: { mon: 'allow profile mgr', osd: 'allow *', mds: 'allow *' } };
  const osd = { name: 'osd.0', key: cephKey(), caps: { mon: 'allow profile osd', mgr: 'allow profile osd', osd: 'allow *' } };
  const mon = { name: 'mon.', key: cephKey(), caps: { mon: 'allow *' } };
  writeFileAtomic(f('admin.keyring'), keyring([admin]));
  writeFileAtomic(f(`${CEPH_USER}.keyring`), keyring([user]));
  writeFileAtomic(f('mgr', 'ceph-x', 'keyring'), keyring([mgr]));
  writeFileAtomic(f('osd', 'ceph-0', 'keyring'), keyring([osd]));
  // The mon's mkfs imports every entity of this keyring (with its caps) into its auth database.
  writeFileAtomic(f('mon.keyring'), keyring([mon, admin, mgr, osd, user]));

  const daemons = [];
  const logs = () => daemons.map((p) => `\n  ${p.name} log (${p.logFile}):\n${tail(p.logFile, 15)}\n  ${p.name} stderr:\n${tail(p.stderrFile, 5)}`).join('');
  const failure = (why) => new TestEnvError(`private Ceph cluster ${why}${logs()}`);
  const checkDaemons = () => {
    for (const p of daemons) if (p.exited()) throw failure(`failed: ${p.name} ${p.exited()}`);
  };
  const left = () => Math.max(1000, deadline - Date.now());
  /** A ceph CLI / rbd call as client.admin (or `id`; null: none, for `ceph daemon`, which talks
   * to an admin socket); throws with stderr and the daemons' logs. */
  const cli = async (cmd, args, { id = 'admin', timeout = 20000 } = {}) => {
    const r = await run(cmd, ['-c', conf, ...(id ? ['--id', id] : []), ...args], { timeoutMs: Math.min(timeout, left()) });
    if (r.code !== 0) {
      checkDaemons();
      throw failure(`failed: ${path.basename(cmd)} ${args.join(' ')} (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join(' / ')}`);
    }
    return r.stdout;
  };
  const must = async (cmd, args, what) => {
    const r = await run(cmd, args, { timeoutMs: Math.min(30000, left()) });
    if (r.code !== 0) throw failure(`${what} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join(' / ')}`);
  };

  // 1. The mon, on two free loopback ports (msgr2 and the v1 protocol; libvirt and tgtd's librbd
  //    are given the v1 port). A port taken between the probe and the mon's bind makes the mon
  //    fail: then again on other ports.
  const osdUuid = crypto.randomUUID();
  let v1;
  let v2;
  for (let attempt = 1; ; attempt++) {
    v1 = await freePort();
    do v2 = await freePort(); while (v2 === v1);
    writeFileAtomic(conf, CEPH_CONF(d, { fsid, v1, v2, store: osdStore() }), 0o644);
    fs.rmSync(f('mon', 'ceph-a'), { recursive: true, force: true });
    fs.rmSync(f('monmap'), { force: true });
    await must(MONMAPTOOL, ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${v2},v1:127.0.0.1:${v1}]`, f('monmap')], 'monmaptool --create');
    await must(CEPH_MON, ['-c', conf, '--mkfs', '-i', 'a', '--monmap', f('monmap'), '--keyring', f('mon.keyring')], 'ceph-mon --mkfs');
    const monD = spawnCephDaemon(state, d, conf, 'mon', 'a');
    daemons.push(monD);
    // The OSD's store is made meanwhile: memstore, local files only, and --no-mon-config (else
    // it waits for the mon to hand it its configuration).
    if (attempt === 1 && osdStore() === 'bluestore') {
      fs.closeSync(fs.openSync(f('osd', 'ceph-0.block'), 'w', 0o600));
      fs.truncateSync(f('osd', 'ceph-0.block'), 1024 * MiB); // sparse
    }
    if (attempt === 1) await must(CEPH_OSD, ['-c', conf, '--no-mon-config', '--mkfs', '-i', '0', '--osd-uuid', osdUuid], 'ceph-osd --mkfs');
    // Registers OSD 0 (the mon answering it is the readiness check; `osd new` with the same
    // UUID and id is idempotent). Short connection attempts, so that a mon that could not bind
    // (it exits at once: ms bind retry count = 0) is noticed at once too.
    let r;
    for (;;) {
      r = await run(CEPH, ['-c', conf, '--id', 'admin', '--connect-timeout', '3', 'osd', 'new', osdUuid, '0'], { timeoutMs: Math.min(10000, left()) });
      if (r.code === 0 || monD.exited() || Date.now() > deadline || !/timed out|error connecting/i.test(r.stderr)) break;
    }
    if (r.code === 0) break;
    const monLog = tail(monD.logFile, 40);
    await terminate([monD], { graceMs: 2000 });
    daemons.pop();
    if (attempt >= 3 || !/bind.*(in use|unable)|Address already in use/i.test(monLog)) {
      daemons.push(monD);
      throw failure(`failed: ceph-mon.a did not answer on 127.0.0.1:${v1} (ceph osd new: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')})`);
    }
  }

  // 2. mgr and OSD. Without a mgr, health says MGR_DOWN and pool statistics (libvirt's capacity) are 0.
  daemons.push(spawnCephDaemon(state, d, conf, 'mgr', 'x'));
  daemons.push(spawnCephDaemon(state, d, conf, 'osd', '0'));

  // 3. The RBD pool (rbd pool init waits for its PGs to be active), and the gateway's images,
  //    made by client.virtkit itself (its caps are enough for RBD and nothing else).
  await cli(CEPH, ['osd', 'pool', 'create', CEPH_POOL, '8', '8', 'replicated']);
  await cli(RBD, ['pool', 'init', CEPH_POOL], { timeout: 60000 });
  const images = CEPH_LUNS.map(([lun, sizeBytes, product]) => ({ lun, sizeBytes, product, image: `${CEPH_POOL}/iscsi-lun${lun}` }));
  for (const im of images) await cli(RBD, ['create', im.image, '--size', `${im.sizeBytes / MiB}M`], { id: CEPH_USER });

  // 4. Healthy: HEALTH_OK, the mgr available, the OSD up and in, every PG active+clean.
  let status = null;
  let why = '';
  for (;;) {
    checkDaemons();
    const r = await run(CEPH, ['-c', conf, '--id', 'admin', '--connect-timeout', '10', 'status', '--format', 'json'], { timeoutMs: Math.min(15000, left()) });
    if (r.code === 0) {
      try {
        const s = JSON.parse(r.stdout);
        const pgs = s.pgmap?.pgs_by_state ?? [];
        const clean = pgs.filter((p) => p.state_name === 'active+clean').reduce((n, p) => n + p.count, 0);
        const checks = Object.keys(s.health?.checks ?? {});
        if (s.health?.status !== 'HEALTH_OK') why = `health ${s.health?.status} (${checks.join(', ')})`;
        else if (!s.mgrmap?.available) why = 'no mgr available';
        else if (s.osdmap?.num_up_osds !== 1 || s.osdmap?.num_in_osds !== 1) why = `OSDs up/in: ${s.osdmap?.num_up_osds}/${s.osdmap?.num_in_osds}`;
        else if (!(s.pgmap?.num_pgs > 0) || clean !== s.pgmap.num_pgs) why = `PGs: ${pgs.map((p) => `${p.count} ${p.state_name}`).join(', ') || 'none reported'}`;
        else { status = s; break; }
      } catch (e) {
        why = `unreadable ceph status: ${e.message}`;
      }
    } else why = `ceph status: ${r.stderr.trim().split('\n').pop()}`;
    if (Date.now() > deadline) throw failure(`not healthy within ${Math.round(timeoutMs / 1000)} s: ${why}`);
    await sleep(250);
  }

  // 5. The OSD runs with the gateway settings: value and source ('file') from its admin socket.
  const diff = JSON.parse(await cli(CEPH, ['daemon', 'osd.0', 'config', 'diff'], { id: null })).diff ?? {};
  const heartbeat = {};
  for (const [k, want] of Object.entries(CEPH_OSD_SETTINGS)) {
    const got = diff[k];
    if (!got || Number(got.final) !== want || Number(got.file) !== want) {
      throw failure(`failed: osd.0 does not run with ${k} = ${want} from ceph.conf (admin socket: ${JSON.stringify(got ?? null)})`);
    }
    heartbeat[k] = { value: Number(got.final), default: Number(got.default), source: 'file' };
  }
  const healthyMs = Date.now() - t0;

  // 6. The gateway: a tgtd target with CHAP whose LUNs are the RBD images.
  let iscsi;
  if (gatewaySkip) iscsi = { skipped: gatewaySkip };
  else {
    const g = await gateway;
    if (g.e) throw g.e;
    const tgtd = g.v;
    const run8 = crypto.randomBytes(3).toString('hex');
    const target = {
      iqn: `${IQN_PREFIX}:rbd`,
      tid: 1,
      chap: { username: 'virtkit-rbd', password: password() },
      mutual: null,
      luns: images.map((im) => ({
        lun: im.lun, sizeBytes: im.sizeBytes, image: im.image, vendor: 'VIRTKIT', product: im.product,
        serial: `VK${run8}R${im.lun}`, scsiId: `virtkit-${run8}-rbd-l${im.lun}`,
        rbd: { image: im.image, conf, user: CEPH_USER },
      })),
    };
    await addTarget(tgtd.controlPort, target, [target.chap.password]);
    for (const l of target.luns) delete l.rbd;
    iscsi = { portal: `127.0.0.1:${tgtd.port}`, port: tgtd.port, controlPort: tgtd.controlPort, pid: tgtd.pid, logFile: tgtd.logFile, targets: [target] };
  }

  const pid = (n) => daemons.find((p) => p.name === n)?.pid;
  return {
    conf,
    dir: d,
    logDir: f('log'),
    fsid,
    monHost: '127.0.0.1',
    monPort: v1,
    monPortV2: v2,
    pool: CEPH_POOL,
    user: CEPH_USER,
    key: user.key,
    keyring: f(`${CEPH_USER}.keyring`),
    adminKeyring: f('admin.keyring'),
    monPid: pid('ceph-mon.a'),
    mgrPid: pid('ceph-mgr.x'),
    osdPid: pid('ceph-osd.0'),
    images: images.map((im) => ({ image: im.image, sizeBytes: im.sizeBytes })),
    heartbeat,
    health: status.health.status,
    healthyMs,
    iscsi,
  };
}

// ---------------------------------------------------------------------------------------------
// start / stop

/**
 * Writes DIR/env.json (0600) and DIR/env.sh. env.json:
 * {
 *   stateDir: string,
 *   libvirt: { uri, socket, pid, virtlogdPid, logDir, domainType: 'kvm'|'qemu' } | { skipped },
 *   iscsi: { portal: '127.0.0.1:PORT', port, controlPort, pid, logFile,
 *            targets: [{ iqn, tid, chap: {username,password}|null, mutual: {username,password}|null,
 *                        luns: [{ lun, sizeBytes, path, vendor, product, serial, scsiId }] }] } | { skipped },
 *   (targets, in this order: `…:open` (tid 1, no CHAP, one LUN), `…:chap` (tid 2, CHAP and mutual
 *    CHAP, two LUNs), `…:guests` (tid 3, CHAP with the chap target's account, no mutual CHAP, five
 *    LUNs of 16, 24, 32, 40 and 48 MiB, for guests on an iscsi-direct pool); find them by what
 *    they offer, not by index)
 *   ceph: {
 *     conf,                       // DIR/ceph/ceph.conf: mon host, keyring paths (for ceph/rbd -c CONF --id ID)
 *     dir, logDir, fsid,
 *     monHost: '127.0.0.1', monPort,  // the mon's v1 port: what libvirt's pool XML and librbd are given
 *     monPortV2,                  // its msgr2 port (in ceph.conf's mon host)
 *     pool: 'virtkit',            // an RBD pool (rbd pool init'ed), one replica
 *     user: 'virtkit',            // client.virtkit: caps profile rbd, limited to the pool
 *     key,                        // client.virtkit's cephx key, base64 (a SECRET: never print it);
 *                                 // a libvirt `ceph` secret's value is its decoded bytes
 *     keyring, adminKeyring,      // 0600 keyring files of client.virtkit and client.admin
 *     monPid, mgrPid, osdPid,
 *     images: [{ image: 'virtkit/iscsi-lun1', sizeBytes }],  // the gateway's RBD images
 *     heartbeat: { osd_heartbeat_grace | osd_heartbeat_interval | osd_client_watch_timeout:
 *                  { value, default, source: 'file' } },   // as osd.0 runs them (admin socket)
 *     health: 'HEALTH_OK', healthyMs,                       // ms from start to healthy
 *     iscsi: { portal, port, controlPort, pid, logFile,     // the gateway tgtd, shaped like `iscsi`
 *              targets: [{ iqn, tid, chap: {username,password}, mutual: null,
 *                          luns: [{ lun, sizeBytes, image, vendor, product, serial, scsiId }] }] } | { skipped }
 *   } | { skipped },
 *   pids: [{ name, pid }]
 * }
 */
function writeEnv(state, env) {
  const file = path.join(state.dir, 'env.json');
  writeFileAtomic(file, JSON.stringify(env, null, 2) + '\n', 0o600);
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  writeFileAtomic(path.join(state.dir, 'env.sh'), `export VIRTKIT_TESTENV=${q(file)}\n`, 0o644);
  return file;
}

/** Stops every process recorded in or found for `dir`, without removing it. Never throws. */
async function stopProcesses(dir) {
  const state = new State(dir);
  const env = readJson(path.join(dir, 'env.json')) || {};
  const recorded = state.pids();

  // 1. libvirt: destroy running guests through libvirtd (it cleans up their cgroups), then
  //    stop libvirtd, then everything still living in its namespace (QEMU, virtlogd, helpers).
  const lv = recorded.filter((p) => p.name === 'libvirtd');
  const socket = path.join(dir, 'libvirt', 'run', 'libvirt-sock');
  if (lv.some((p) => isAlive(p.pid, p.startTime)) && fs.existsSync(socket)) {
    const uri = `qemu+unix:///system?socket=${socket}`;
    const list = await run(VIRSH, ['-q', '-c', uri, 'list', '--name'], { timeoutMs: 10000 });
    if (list.code === 0) {
      for (const name of list.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
        await run(VIRSH, ['-q', '-c', uri, 'destroy', name], { timeoutMs: 15000 });
      }
    }
  }
  await terminate(lv, { graceMs: 10000 });
  const nsProcs = [
    ...recorded.filter((p) => p.name === 'virtlogd'),
    ...qemuPidFiles(dir),
    ...processesInNamespace(dir),
  ];
  // Guests killed here (libvirtd already gone) leave their cgroups behind: note them first.
  const cgroups = guestCgroups(nsProcs);
  await terminate(nsProcs, { graceMs: 5000 });
  removeCgroups(cgroups);

  // 2. tgtd, and the Ceph gateway's tgtd before the cluster under its LUNs goes (tgtadm can
  //    hang once the OSD under an open RBD LUN is gone; every call has a timeout regardless).
  //    With the OSD already gone, tgtadm on the gateway only runs into its timeouts (about
  //    15 s): that tgtd is killed straight away (its LUNs' state is in Ceph, nothing to flush).
  const cephOf = (...names) => recorded.filter((p) => names.includes(p.name));
  const osdGone = cephOf('ceph-osd').length > 0 && !cephOf('ceph-osd').some((p) => isAlive(p.pid, p.startTime));
  const tg = recorded.filter((p) => p.name === 'tgtd' || p.name === 'tgtd-ceph');
  for (const p of tg) {
    await stopTgtd(p.pid, p.startTime, p.controlPort ?? env.iscsi?.controlPort, { graceful: !(p.name === 'tgtd-ceph' && osdGone) });
  }

  // 3. Ceph: OSD and mgr, then the mon. Its state is memory and files in DIR, nothing to flush.
  await terminate(cephOf('ceph-osd', 'ceph-mgr'), { graceMs: 5000 });
  await terminate(cephOf('ceph-mon'), { graceMs: 5000 });

  const all = [...lv, ...nsProcs, ...tg, ...cephOf('ceph-osd', 'ceph-mgr', 'ceph-mon')];
  // The daemons are orphans once the starting CLI has exited: give init a moment to reap
  // them, so that `pgrep` right after stop shows no <defunct> entries either.
  const zombie = (p) => { const st = procStat(p.pid); return st && st.startTime === p.startTime; };
  for (let w = 0; all.some(zombie) && w < 5000; w += 100) await sleep(100);
  return all.filter((p) => isAlive(p.pid, p.startTime));
}

/** QEMU pid files of the private libvirtd (DIR/libvirt/run/qemu/NAME.pid). */
function qemuPidFiles(dir) {
  const qdir = path.join(dir, 'libvirt', 'run', 'qemu');
  const out = [];
  let names = [];
  try { names = fs.readdirSync(qdir); } catch { return out; }
  for (const n of names.filter((f) => f.endsWith('.pid'))) {
    try {
      const pid = parseInt(fs.readFileSync(path.join(qdir, n), 'utf8'), 10);
      if (pid > 1 && /qemu/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) {
        out.push({ pid, startTime: procStat(pid)?.startTime });
      }
    } catch { /* gone */ }
  }
  return out;
}

/** The cgroup directories (`.../machine/qemu-N-NAME.libvirt-qemu`) libvirt made for these
 * processes, in every mounted hierarchy. */
function guestCgroups(procs) {
  const mounts = []; // { mountPoint, controllers: Set | null (cgroup2) }
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [pre, post] = line.split(' - ');
      if (!post) continue;
      const f = pre.split(' ');
      const [fstype, , opts] = post.split(' ');
      if (f[3] !== '/') continue; // only hierarchies mounted at their root
      if (fstype === 'cgroup2') mounts.push({ mountPoint: f[4], controllers: null });
      else if (fstype === 'cgroup') mounts.push({ mountPoint: f[4], controllers: new Set(opts.split(',')) });
    }
  } catch { return []; }
  const dirs = new Set();
  for (const p of procs) {
    let lines = [];
    try { lines = fs.readFileSync(`/proc/${p.pid}/cgroup`, 'utf8').split('\n'); } catch { continue; }
    for (const line of lines) {
      const m = /^\d+:([^:]*):(.*)$/.exec(line);
      if (!m) continue;
      const parts = m[2].split('/');
      const i = parts.findIndex((c) => c.endsWith('.libvirt-qemu'));
      if (i < 0) continue;
      const rel = parts.slice(0, i + 1).join('/');
      const wanted = m[1] === '' ? null : m[1].split(',');
      for (const mt of mounts) {
        const hit = wanted === null ? mt.controllers === null : mt.controllers && wanted.every((c) => mt.controllers.has(c));
        if (hit) dirs.add(path.join(mt.mountPoint, rel));
      }
    }
  }
  return [...dirs];
}

/** rmdir a cgroup directory and its sub-cgroups, deepest first; busy ones stay. */
function removeCgroups(dirs) {
  const rm = (d) => {
    let ents = [];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) if (e.isDirectory()) rm(path.join(d, e.name));
    try { fs.rmdirSync(d); } catch { /* busy or gone */ }
  };
  for (const d of dirs) if (d.endsWith('.libvirt-qemu')) rm(d);
}

/**
 * Every process whose mount table has DIR/libvirt/run mounted on /run/libvirt: libvirtd's
 * namespace and the per-guest namespaces QEMU gets inside it (which copy its mounts).
 */
function processesInNamespace(dir) {
  const want = path.join(dir, 'libvirt', 'run');
  const suffix = `/${path.basename(dir)}/libvirt/run`;
  const out = [];
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const pid = Number(ent);
    if (pid === process.pid) continue;
    let mi;
    try { mi = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'); } catch { continue; }
    for (const line of mi.split('\n')) {
      const f = line.split(' ');
      if (f[4] !== '/run/libvirt') continue;
      // mountinfo's root is relative to the source filesystem's root: a suffix of `want`.
      const root = f[3].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
      if (root.endsWith(suffix) && want.endsWith(root)) {
        out.push({ pid, startTime: procStat(pid)?.startTime });
        break;
      }
    }
  }
  return out;
}

/**
 * Starts the test environment in a fresh dir. Resolves the env object (also in DIR/env.json).
 * Options: stateDir (required), timeoutMs per part (default 60 s, $VIRTKIT_TESTENV_TIMEOUT_MS).
 */
async function start({ stateDir, timeoutMs } = {}) {
  timeoutMs = timeoutMs || Number(process.env.VIRTKIT_TESTENV_TIMEOUT_MS) || 60000;
  const dir = prepareStateDir(stateDir);
  const state = new State(dir);
  writeFileAtomic(state.pidsFile, '[]\n');

  // Cleanup while start runs: a signal or a stray exception stops what has been started.
  let cleaning = null;
  const cleanup = () => (cleaning ||= stopProcesses(dir).catch(() => {}));
  const onSignal = (sig) => {
    log(`${sig} during start: stopping what was started`);
    cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  const onFatal = (err) => {
    log(`unexpected failure during start: ${err && err.stack ? err.stack : err}`);
    cleanup().finally(() => process.exit(1));
  };
  const handlers = [['SIGINT', onSignal], ['SIGTERM', onSignal], ['SIGHUP', onSignal],
    ['uncaughtException', onFatal], ['unhandledRejection', onFatal]];
  for (const [ev, fn] of handlers) process.on(ev, fn);

  try {
    const parts = {};
    const tasks = [];
    const lvSkip = libvirtSkipReason();
    if (lvSkip) parts.libvirt = { skipped: lvSkip };
    else tasks.push(startLibvirt(state, { timeoutMs }).then((v) => { parts.libvirt = v; }));
    const isSkip = iscsiSkipReason();
    if (isSkip) parts.iscsi = { skipped: isSkip };
    else tasks.push(startIscsi(state, { timeoutMs }).then((v) => { parts.iscsi = v; }));
    const cephSkip = cephSkipReason();
    if (cephSkip) parts.ceph = { skipped: cephSkip };
    else tasks.push(startCeph(state, { timeoutMs }).then((v) => { parts.ceph = v; }));
    const results = await Promise.allSettled(tasks);
    const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (errors.length) {
      await cleanup();
      const msg = errors.map((e) => (e instanceof TestEnvError ? e.message : (e && e.stack) || String(e))).join('\n');
      throw new TestEnvError(`start failed (state and logs kept in ${dir}):\n${msg}`);
    }
    const env = {
      stateDir: dir,
      libvirt: parts.libvirt,
      iscsi: parts.iscsi,
      ceph: parts.ceph,
      pids: state.pids().map(({ name, pid }) => ({ name, pid })),
    };
    writeEnv(state, env);
    return env;
  } finally {
    for (const [ev, fn] of handlers) process.removeListener(ev, fn);
  }
}

/** Stops everything started in stateDir and removes it. Idempotent; resolves even when the
 * processes are already gone. Refuses (throws) to delete a non-empty dir that start did not make. */
async function stop(stateDir) {
  if (!stateDir) throw new TestEnvError('no state dir given (--state DIR)');
  const dir0 = path.resolve(stateDir);
  if (!fs.existsSync(dir0)) return { removed: false, left: [] };
  const dir = fs.realpathSync(dir0);
  if (!fs.existsSync(path.join(dir, MARKER))) {
    if (fs.readdirSync(dir).length === 0) {
      fs.rmdirSync(dir);
      return { removed: true, left: [] };
    }
    throw new TestEnvError(`${dir} is not a virtkit test environment state dir (no ${MARKER}): not touching it`);
  }
  let left = [];
  try {
    left = await stopProcesses(dir);
  } catch (e) {
    log(`warning: while stopping: ${(e && e.stack) || e}`);
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  return { removed: true, left };
}

/**
 * Starts a daemon of a running environment again, after a test killed it: `libvirtd` (same
 * socket, state and virtlogd: a new mount namespace laid out like the first) or `ceph-osd`
 * (osd.0 on the same data and ceph.conf). Waits until it serves (libvirtd: `virsh version`;
 * the OSD: up, and every PG active), records it in pids.json (so `stop` stops it) and its
 * pid in env.json. Resolves the new pid.
 */
async function respawn(stateDir, name, { timeoutMs = 60000 } = {}) {
  const dir = fs.realpathSync(path.resolve(stateDir));
  if (!fs.existsSync(path.join(dir, MARKER))) throw new TestEnvError(`${dir} is not a virtkit test environment state dir`);
  const state = new State(dir);
  const envFile = path.join(dir, 'env.json');
  const env = readJson(envFile);
  const deadline = Date.now() + timeoutMs;
  const running = (n) => state.pids().filter((p) => p.name === n && isAlive(p.pid, p.startTime));
  let pid;
  if (name === 'libvirtd') {
    if (!env?.libvirt?.uri) throw new TestEnvError('this environment has no libvirt part');
    if (running('libvirtd').length) throw new TestEnvError('libvirtd is still running');
    const base = path.join(dir, 'libvirt');
    const out = path.join(base, 'log', 'daemon-stderr.log');
    const daemon = spawnDaemon(state, 'libvirtd', UNSHARE, ['-m', '--propagation', 'private', '--', '/bin/sh', path.join(base, 'ns.sh'), base], { outFile: out, cwd: '/' });
    for (;;) {
      if (daemon.exited()) throw new TestEnvError(`libvirtd ${daemon.exited()}:\n${tail(path.join(base, 'log', 'libvirtd.log'))}\n${tail(out, 10)}`);
      const r = await run(VIRSH, ['-q', '-c', env.libvirt.uri, 'version'], { timeoutMs: 10000 });
      if (r.code === 0) break;
      if (Date.now() > deadline) throw new TestEnvError(`libvirtd did not answer again within ${timeoutMs} ms: ${r.stderr.trim()}`);
      await sleep(200);
    }
    pid = daemon.pid;
    env.libvirt.pid = pid;
  } else if (name === 'ceph-osd') {
    if (!env?.ceph?.conf) throw new TestEnvError('this environment has no ceph part');
    if (running('ceph-osd').length) throw new TestEnvError('ceph-osd is still running');
    const d = path.join(dir, 'ceph');
    const ceph = (args) => run(CEPH, ['-c', env.ceph.conf, '--id', 'admin', '--connect-timeout', '10', ...args, '--format', 'json'], { timeoutMs: 15000 });
    // The mon may still hold the killed OSD for up (one OSD: no peer reports it): the new one
    // serves once the osdmap has it up from a later epoch than the old one.
    const upFrom = async () => {
      const r = await ceph(['osd', 'dump']);
      const o = r.code === 0 ? JSON.parse(r.stdout).osds?.find((x) => x.osd === 0) : null;
      return o ? { up: o.up === 1, from: o.up_from } : null;
    };
    const before = (await upFrom())?.from ?? -1;
    const osd = spawnCephDaemon(state, d, env.ceph.conf, 'osd', '0');
    let why = '';
    for (;;) {
      if (osd.exited()) throw new TestEnvError(`ceph-osd.0 ${osd.exited()}:\n${tail(osd.logFile, 20)}`);
      const o = await upFrom().catch(() => null);
      const r = await ceph(['status']);
      if (!o || !o.up || o.from <= before) why = `osd.0 not up again (up_from ${o?.from}, was ${before})`;
      else if (r.code === 0) {
        try {
          const s = JSON.parse(r.stdout);
          const pgs = s.pgmap?.pgs_by_state ?? [];
          const active = pgs.filter((p) => p.state_name.split('+').includes('active') && !p.state_name.includes('stale')).reduce((n, p) => n + p.count, 0);
          if (s.pgmap?.num_pgs > 0 && active === s.pgmap.num_pgs) break;
          why = `PGs: ${pgs.map((p) => `${p.count} ${p.state_name}`).join(', ')}`;
        } catch (e) {
          why = `unreadable ceph status: ${e.message}`;
        }
      } else why = r.stderr.trim().split('\n').pop();
      if (Date.now() > deadline) throw new TestEnvError(`ceph-osd.0 not serving again within ${timeoutMs} ms: ${why}\n${tail(osd.logFile, 20)}`);
      await sleep(250);
    }
    pid = osd.pid;
    env.ceph.osdPid = pid;
  } else {
    throw new TestEnvError(`respawn: unknown daemon ${name} (libvirtd or ceph-osd)`);
  }
  env.pids = state.pids().map(({ name: n, pid: p }) => ({ name: n, pid: p }));
  writeEnv(state, env);
  return pid;
}

// ---------------------------------------------------------------------------------------------
// CLI

function summary(env) {
  const lines = [];
  const lv = env.libvirt;
  lines.push(lv.skipped ? `libvirt: skipped (${lv.skipped})` : `libvirt: ${lv.uri} (libvirtd ${lv.pid}, virtlogd ${lv.virtlogdPid}, guests: ${lv.domainType})`);
  const is = env.iscsi;
  if (is.skipped) lines.push(`iscsi: skipped (${is.skipped})`);
  else {
    lines.push(`iscsi: tgtd ${is.pid} on ${is.portal} (control port ${is.controlPort})`);
    for (const t of is.targets) {
      const auth = t.chap ? `CHAP user ${t.chap.username}${t.mutual ? `, mutual ${t.mutual.username}` : ''}` : 'no CHAP';
      lines.push(`  ${t.iqn} (tid ${t.tid}, ${auth}): ${t.luns.map((l) => `LUN ${l.lun} ${l.sizeBytes / MiB} MiB`).join(', ')}`);
    }
  }
  const ce = env.ceph;
  if (ce.skipped) lines.push(`ceph: skipped (${ce.skipped})`);
  else {
    lines.push(`ceph: mon 127.0.0.1:${ce.monPort} (v2 ${ce.monPortV2}), mon ${ce.monPid}, mgr ${ce.mgrPid}, osd ${ce.osdPid}; pool ${ce.pool}, user client.${ce.user}; ${ce.health} after ${(ce.healthyMs / 1000).toFixed(1)} s`);
    lines.push(`  osd.0: ${Object.entries(ce.heartbeat).map(([k, v]) => `${k} ${v.value} (default ${v.default})`).join(', ')}`);
    const gw = ce.iscsi;
    if (gw.skipped) lines.push(`  gateway: skipped (${gw.skipped})`);
    else {
      for (const t of gw.targets) {
        lines.push(`  gateway: tgtd ${gw.pid} on ${gw.portal}: ${t.iqn} (CHAP user ${t.chap.username}): ${t.luns.map((l) => `LUN ${l.lun} ${l.image} ${l.sizeBytes / MiB} MiB`).join(', ')}`);
      }
    }
  }
  lines.push(`env: ${path.join(env.stateDir, 'env.json')} (source ${path.join(env.stateDir, 'env.sh')})`);
  return lines.join('\n');
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  let stateDir = null;
  const names = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--state') stateDir = rest[++i];
    else if (rest[i].startsWith('--state=')) stateDir = rest[i].slice('--state='.length);
    else if (cmd === 'respawn' && !rest[i].startsWith('-')) names.push(rest[i]);
    else throw new TestEnvError(`unknown argument ${rest[i]}`);
  }
  if ((cmd !== 'start' && cmd !== 'stop' && cmd !== 'respawn') || !stateDir || (cmd === 'respawn' && names.length !== 1)) {
    throw new TestEnvError('usage: node scripts/testenv.js start|stop --state DIR, or respawn --state DIR libvirtd|ceph-osd');
  }
  if (cmd === 'respawn') {
    // stdout: the new pid, alone (for the tests' helper).
    process.stdout.write(`${await respawn(stateDir, names[0])}\n`);
  } else if (cmd === 'start') {
    const t0 = Date.now();
    const env = await start({ stateDir });
    process.stdout.write(`${summary(env)}\nstarted in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } else {
    const { left } = await stop(stateDir);
    if (left.length) log(`warning: still alive after stop: ${left.map((p) => p.pid).join(' ')}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      log(e instanceof TestEnvError ? e.message : (e && e.stack) || String(e));
      process.exit(1);
    },
  );
}

module.exports = { start, stop, respawn };
