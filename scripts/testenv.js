#!/usr/bin/env node
// The project's real test environment: a private libvirtd (+ virtlogd) in its own mount
// namespace, and a private tgtd serving file-backed iSCSI LUNs with CHAP on a loopback port.
//
//   node scripts/testenv.js start --state DIR   # DIR: a fresh (empty) temp dir from the caller
//   node scripts/testenv.js stop  --state DIR   # stops everything, removes DIR; idempotent
//
// or from JavaScript: `await start({ stateDir })` (returns the env object) and `await stop(dir)`.
//
// start writes DIR/env.json (0600; the shape is documented at writeEnv below) and DIR/env.sh
// (`export VIRTKIT_TESTENV=DIR/env.json`). A part that cannot run here (binary missing, not root,
// or named in $VIRTKIT_TESTENV_SKIP=libvirt,iscsi) is recorded as { skipped: "reason" }; a part
// that is present but fails to start makes start fail, after stopping what it had started (the
// logs stay in DIR for the caller's `stop` to remove). Every process is recorded in DIR/pids.json
// as soon as it exists, so `stop` also cleans up after a start that died half-way.
//
// Everything listens on 127.0.0.1 or on UNIX sockets inside DIR only. CHAP passwords are
// generated per run and written only to env.json; they are never printed. (tgtadm takes them
// on its command line, the only way it accepts them, for the few milliseconds it runs.)
//
// Layout: DIR/libvirt/{run,lib,log,etc,cache} are bind-mounted (in libvirtd's namespace only)
// over /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /etc/libvirt, /var/cache/libvirt; the
// client socket is DIR/libvirt/run/libvirt-sock, QEMU logs are DIR/libvirt/log/qemu/NAME.log.
// DIR/iscsi holds tgtd.log and the sparse LUN files. Runs beside any other libvirtd/tgtd; one
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
${VIRTLOGD} -d -p "$base/virtlogd.pid"
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
  const out = fs.openSync(daemonOut, 'a');
  let child;
  try {
    child = spawn(UNSHARE, ['-m', '--propagation', 'private', '--', '/bin/sh', nsScript, base], {
      detached: true,
      stdio: ['ignore', out, out],
      env: DAEMON_ENV,
      cwd: '/',
    });
  } finally {
    fs.closeSync(out);
  }
  let exited = null;
  child.on('exit', (code, sig) => { exited = sig ? `killed by ${sig}` : `exited with status ${code}`; });
  child.on('error', (e) => { exited = `could not be started: ${e.message}`; });
  child.unref();
  if (child.pid) state.addPid('libvirtd', child.pid); // unshare -> sh -> exec libvirtd: one pid
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
    if (exited) throw failure(exited);
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
    pid: child.pid,
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
async function spawnTgtd(state, dir, port, controlPort, deadline) {
  const logFile = path.join(dir, 'tgtd.log');
  const out = fs.openSync(logFile, 'a');
  let child;
  try {
    child = spawn(TGTD, ['-f', '-C', String(controlPort), '--iscsi', `portal=127.0.0.1:${port}`], {
      detached: true, // its own process group and session; outlives this CLI
      stdio: ['ignore', out, out],
      env: DAEMON_ENV,
      cwd: dir,
    });
  } finally {
    fs.closeSync(out);
  }
  let exited = null;
  child.on('exit', (code, sig) => { exited = sig ? `killed by ${sig}` : `exited with status ${code}`; });
  child.on('error', (e) => { exited = `could not be started: ${e.message}`; });
  child.unref();
  const startTime = child.pid ? procStat(child.pid)?.startTime ?? null : null;
  if (child.pid) state.addPid('tgtd', child.pid, { controlPort });
  const wantPortal = `Portal: 127.0.0.1:${port},`;
  for (;;) {
    if (exited) return { ok: false, why: `tgtd ${exited}`, pid: child.pid, startTime, logFile };
    const r = await run(TGTADM, ['-C', String(controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'portal'], { timeoutMs: 5000 });
    if (r.code === 0) {
      if (r.stdout.includes(wantPortal)) return { ok: true, pid: child.pid, startTime, logFile };
      // tgtd stays up even when it could not bind the portal (port taken meanwhile).
      return { ok: false, why: `tgtd did not bind 127.0.0.1:${port}`, pid: child.pid, startTime, logFile, retry: true };
    }
    if (Date.now() > deadline) return { ok: false, why: 'tgtd did not answer tgtadm in time', pid: child.pid, startTime, logFile };
    await sleep(100);
  }
}

async function stopTgtd(pid, startTime, controlPort, { graceMs = 5000 } = {}) {
  if (typeof startTime === 'string' && isAlive(pid, startTime) && controlPort) {
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

async function startIscsi(state, { timeoutMs }) {
  const dir = path.join(state.dir, 'iscsi');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;

  let port;
  let controlPort;
  let tgtd;
  // The "control port" is the suffix of tgtd's UNIX control socket (/run/tgtd/socket.N), not a TCP
  // port; tgtd accepts 0..32767.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    do controlPort = 10000 + crypto.randomInt(22768); while (controlPortTaken(controlPort));
    tgtd = await spawnTgtd(state, dir, port, controlPort, deadline);
    if (tgtd.ok) break;
    await stopTgtd(tgtd.pid, tgtd.startTime, controlPort);
    if (!tgtd.retry || attempt >= 3) {
      throw new TestEnvError(`private tgtd failed to start: ${tgtd.why}\n  tgtd log (${tgtd.logFile}):\n${tail(tgtd.logFile)}`);
    }
  }

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
  const C = (args) => tgtadm(controlPort, args, secrets);
  const accounts = new Set(); // tgtd accounts created so far (one may be bound to several targets)
  for (const t of targets) {
    const tid = String(t.tid);
    await C(['--op', 'new', '--mode', 'target', '--tid', tid, '--targetname', t.iqn]);
    for (const l of t.luns) {
      await C(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', String(l.lun), '--backing-store', l.path]);
      await C(['--op', 'update', '--mode', 'logicalunit', '--tid', tid, '--lun', String(l.lun), '--params',
        `vendor_id=${l.vendor},product_id=${l.product},product_rev=0001,scsi_sn=${l.serial},scsi_id=${l.scsiId}`]);
    }
    await C(['--op', 'bind', '--mode', 'target', '--tid', tid, '--initiator-address', 'ALL']);
    if (t.chap) {
      if (!accounts.has(t.chap.username)) await C(['--op', 'new', '--mode', 'account', '--user', t.chap.username, '--password', t.chap.password]);
      accounts.add(t.chap.username);
      await C(['--op', 'bind', '--mode', 'account', '--tid', tid, '--user', t.chap.username]);
    }
    if (t.mutual) {
      await C(['--op', 'new', '--mode', 'account', '--user', t.mutual.username, '--password', t.mutual.password]);
      await C(['--op', 'bind', '--mode', 'account', '--tid', tid, '--user', t.mutual.username, '--outgoing']);
    }
  }
  return { portal: `127.0.0.1:${port}`, port, controlPort, pid: tgtd.pid, logFile: tgtd.logFile, targets };
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

  // 2. tgtd
  const tg = recorded.filter((p) => p.name === 'tgtd');
  for (const p of tg) await stopTgtd(p.pid, p.startTime, p.controlPort ?? env.iscsi?.controlPort);

  const all = [...lv, ...nsProcs, ...tg];
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
  lines.push(`env: ${path.join(env.stateDir, 'env.json')} (source ${path.join(env.stateDir, 'env.sh')})`);
  return lines.join('\n');
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  let stateDir = null;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--state') stateDir = rest[++i];
    else if (rest[i].startsWith('--state=')) stateDir = rest[i].slice('--state='.length);
    else throw new TestEnvError(`unknown argument ${rest[i]}`);
  }
  if ((cmd !== 'start' && cmd !== 'stop') || !stateDir) {
    throw new TestEnvError('usage: node scripts/testenv.js start|stop --state DIR');
  }
  if (cmd === 'start') {
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

module.exports = { start, stop };
