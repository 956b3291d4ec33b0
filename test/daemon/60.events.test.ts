// Events from the private libvirtd: a real QEMU guest whose disks are LUNs of an iscsi-direct
// pool (tgtd, CHAP) through its lifecycle and a LUN hot-plug; secret and pool events; and a
// libvirtd killed under a running guest (on a second, throwaway libvirtd). Every wait has a
// timeout, and every event's typed fields are checked.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, DomainJobOperation, LibvirtError, type Connection, type DomainDeviceEvent, type DomainLifecycleEvent } from 'virtkit';
import { daemonUri, registerSecret, repoRoot, tempDir, testEnv, type IscsiTarget } from '../helpers';

const target = daemonUri();
const env = testEnv();
const iscsi = env && !('skipped' in env.iscsi) ? env.iscsi : null;
const chapTarget = iscsi?.targets.find((x) => x.chap && x.luns.length >= 2) as IscsiTarget | undefined;
const type = fs.existsSync('/dev/kvm') ? 'kvm' : 'qemu';

/** The next event of `name` on `emitter` that satisfies `match`, or a rejection after `ms`. */
function next<E>(emitter: { on(n: string, l: (e: E) => void): unknown; off(n: string, l: (e: E) => void): unknown }, name: string, match: (e: E) => boolean, ms = 20000): Promise<E> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, listener);
      reject(new Error(`no matching ${name} event within ${ms} ms`));
    }, ms);
    const listener = (e: E) => {
      if (!match(e)) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve(e);
    };
    emitter.on(name, listener);
  });
}

const lunDisk = (pool: string, lun: number, dev: string) =>
  `<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='${pool}' volume='unit:0:0:${lun}'/><target dev='${dev}' bus='scsi'/></disk>`;

if ('skip' in target) {
  t.test('events from the daemon', { skip: target.skip }, async () => {});
} else {
  const { uri } = target;

  t.test('without { events: true } a daemon connection refuses to subscribe, with a typed error', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    conn.on('domain-lifecycle', () => undefined);
    conn.on('error', () => undefined);
    const err = await conn.eventsReady().catch((e: unknown) => e);
    // Earlier test files in this process may have started the loop after this connection
    // opened; either way the connection itself was opened without it.
    t.ok(err instanceof LibvirtError);
    t.equal((err as LibvirtError).codeName, 'VIR_ERR_OPERATION_INVALID');
    t.match((err as LibvirtError).message, /events: true/);
  });

  t.test('secret events: defined, value changed, undefined', async (t) => {
    const conn = await connect(uri, { events: true });
    t.teardown(() => conn.close());
    const usage = `vk-ev-secret-${randomUUID().slice(0, 8)}`;
    const defined = next<{ secret: { usageId: string }; eventName: string }>(conn, 'secret-lifecycle', (e) => e.secret.usageId === usage);
    await conn.eventsReady();
    const secret = await conn.defineSecret({ private: true, usage: { type: 'iscsi', target: usage } });
    t.teardown(() => secret.undefine().catch(() => undefined));
    t.equal((await defined).eventName, 'defined');
    const changed = next<{ secret: { uuid: string } }>(secret, 'value-changed', () => true);
    await secret.eventsReady();
    await secret.setValue(registerSecret('daemon/60 secret value', 'not-a-real-password'));
    t.equal((await changed).secret.uuid, secret.uuid, 'value-changed names the secret and carries no value');
    const undefinedEv = next<{ eventName: string }>(secret, 'lifecycle', () => true);
    await secret.eventsReady();
    await secret.undefine();
    t.equal((await undefinedEv).eventName, 'undefined');
  });

  t.test(`a ${type} guest on iscsi-direct LUNs: started, device-added, block stats, device-removed, stopped, undefined`, {
    skip: chapTarget ? false : `no tgtd target with two LUNs: ${env && 'skipped' in env.iscsi ? env.iscsi.skipped : 'test environment not started'}`,
  }, async (t) => {
    const conn = await connect(uri, { events: true });
    t.teardown(() => conn.close());
    const id = randomUUID().slice(0, 8);
    const usage = `vk-ev-chap-${id}`;
    const secret = await conn.defineSecret({ private: true, usage: { type: 'iscsi', target: usage } });
    t.teardown(() => secret.undefine().catch(() => undefined));
    await secret.setValue(chapTarget!.chap!.password);
    const [host, port] = iscsi!.portal.split(':');
    const poolName = `vk-ev-pool-${id}`;
    const poolStarted = next<{ pool: { name: string }; eventName: string }>(conn, 'pool-lifecycle', (e) => e.pool.name === poolName && e.eventName === 'started');
    await conn.eventsReady();
    const pool = await conn.createStoragePool(`<pool type='iscsi-direct'><name>${poolName}</name>
      <source><host name='${host}' port='${port}'/><device path='${chapTarget!.iqn}'/>
        <initiator><iqn name='iqn.2026-11.org.virtkit.test:events-${id}'/></initiator>
        <auth type='chap' username='${chapTarget!.chap!.username}'><secret usage='${usage}'/></auth>
      </source></pool>`);
    t.teardown(() => pool.destroy().catch(() => undefined));
    t.equal((await poolStarted).eventName, 'started', 'pool-lifecycle: started');
    const [lunA, lunB] = chapTarget!.luns;

    const name = `vk-ev-guest-${id}`;
    const dom = await conn.defineDomain(`<domain type='${type}'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os><on_poweroff>destroy</on_poweroff>
      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
        <controller type='scsi' model='virtio-scsi'/>
        ${lunDisk(poolName, lunA.lun, 'sda')}
        <console type='pty'/></devices></domain>`);
    t.teardown(async () => {
      await dom.destroy().catch(() => undefined);
      await dom.undefine().catch(() => undefined);
    });

    const started = next<DomainLifecycleEvent>(dom, 'lifecycle', (e) => e.eventName === 'started');
    await dom.eventsReady();
    await dom.start();
    const s = await started;
    t.equal(s.domain.name, name);
    t.equal(s.detailName, 'booted');
    t.equal((await dom.blockInfo('sda')).capacity, lunA.sizeBytes, 'QEMU sees the whole first LUN through libiscsi');

    const added = next<DomainDeviceEvent>(dom, 'device-added', () => true);
    await dom.eventsReady();
    await dom.attachDevice(lunDisk(poolName, lunB.lun, 'sdb'), 1 /* VIR_DOMAIN_AFFECT_LIVE */);
    const a = await added;
    t.equal(a.domain.uuid, dom.uuid);
    t.equal(a.devAlias, 'scsi0-0-0-1', 'device-added names the hot-plugged disk by its alias (SCSI controller 0, unit 1)');
    t.equal((await dom.blockInfo('sdb')).capacity, lunB.sizeBytes, 'the hot-plugged disk is the second LUN');
    const stats = await dom.blockStats('sdb');
    for (const k of ['readRequests', 'readBytes', 'writeRequests', 'writeBytes'] as const) {
      const v = (stats as unknown as Record<string, number | null>)[k];
      t.ok(v === null || (Number.isInteger(v) && v >= 0), `block stats ${k} is a count (${v})`);
    }

    const removed = next<DomainDeviceEvent>(dom, 'device-removed', () => true);
    await dom.eventsReady();
    await dom.detachDevice(lunDisk(poolName, lunB.lun, 'sdb'), 1);
    t.equal((await removed).devAlias, a.devAlias, 'device-removed names the same alias');

    const stopped = next<DomainLifecycleEvent>(conn, 'domain-lifecycle', (e) => e.domain.name === name && e.eventName === 'stopped');
    await conn.eventsReady();
    await dom.destroy();
    t.equal((await stopped).detailName, 'destroyed');
    const undefinedEv = next<DomainLifecycleEvent>(dom, 'lifecycle', (e) => e.eventName === 'undefined');
    await dom.eventsReady();
    await dom.undefine();
    t.equal((await undefinedEv).detailName, 'removed');
  });

  t.test('job-completed carries the save job\'s statistics as typed parameters', async (t) => {
    const conn = await connect(uri, { events: true });
    t.teardown(() => conn.close());
    const name = `vk-ev-job-${randomUUID().slice(0, 8)}`;
    const dir = tempDir(t, 'virtkit-job');
    const dom = await conn.createDomain(`<domain type='${type}'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`);
    t.teardown(() => dom.destroy().catch(() => undefined));
    const done = next<{ domain: { name: string }; params: Record<string, unknown> }>(dom, 'job-completed', () => true);
    await dom.eventsReady();
    await dom.save(path.join(dir, 'guest.save'));
    const e = await done;
    t.equal(e.domain.name, name);
    t.equal(e.params.operation, DomainJobOperation.VIR_DOMAIN_JOB_OPERATION_SAVE, 'the job was the save');
    t.type(e.params.time_elapsed, 'number');
    t.ok((e.params.memory_total as number) >= 64 * 1024 * 1024, `memory_total covers the guest's 64 MiB (${e.params.memory_total})`);
  });

  t.test("a worker thread terminated with live subscriptions: its daemon connection closes", { skip: fs.existsSync('/usr/bin/virt-admin') ? false : 'virt-admin (libvirt-clients) missing: cannot count the daemon\'s clients' }, async (t) => {
    const { Worker } = await import('node:worker_threads');
    const state = path.dirname(path.dirname(path.dirname(new URL(uri.replace(/^qemu\+unix:/, 'file:')).searchParams.get('socket')!)));
    const admin = (...args: string[]) =>
      execFileSync('/usr/bin/virt-admin', ['-c', `libvirtd:///system?socket=${state}/libvirt/run/libvirt-admin-sock`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // The daemon's clients from this process (its worker threads included), by id (libvirt
    // numbers clients and never reuses an id). Other test files connect to the same daemon
    // meanwhile, and this file's earlier connections may still close (their handles are
    // released by the garbage collector), so a plain count is not this test's: the worker's
    // client is the one id that appears while it starts.
    const mine = new RegExp(`^unix_process_id:\\s*${process.pid}$`, 'm');
    const clientIds = () =>
      admin('srv-clients-list', 'libvirtd')
        .split('\n')
        .map((l) => /^\s*(\d+)\s/.exec(l)?.[1])
        .filter((id): id is string => id !== undefined)
        .filter((id) => {
          try {
            return mine.test(admin('client-info', 'libvirtd', id));
          } catch {
            return false; // disconnected meanwhile
          }
        });
    const before = new Set(clientIds());
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      const { connect } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'lib', 'index.js'))});
      (async () => {
        const conn = await connect(${JSON.stringify(uri)}, { events: true });
        conn.on('domain-lifecycle', () => {});
        conn.on('closed', () => {});
        await conn.eventsReady();
        setInterval(() => {}, 1000);
        parentPort.postMessage('ready');
      })();`, { eval: true });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const added = clientIds().filter((id) => !before.has(id));
    t.equal(added.length, 1, "the worker's connection is a client of the daemon");
    await worker.terminate();
    let left = clientIds().filter((id) => added.includes(id));
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = clientIds().filter((id) => added.includes(id));
    }
    t.same(left, [], 'its registrations were undone and the connection closed');
  });

  t.test('libvirtd killed under a running guest: closed (eof), pending calls reject with typed errors', async (t) => {
    // A libvirtd of its own (no tgtd, no Ceph), so the rest of the suite keeps its daemon.
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-killenv-'));
    const script = path.join(repoRoot, 'scripts', 'testenv.js');
    t.teardown(() => {
      execFileSync(process.execPath, [script, 'stop', '--state', state], { stdio: 'ignore', timeout: 60000 });
    });
    execFileSync(process.execPath, [script, 'start', '--state', state], { stdio: 'ignore', timeout: 120000, env: { ...process.env, VIRTKIT_TESTENV_SKIP: 'iscsi,ceph' } });
    const killEnv = JSON.parse(fs.readFileSync(path.join(state, 'env.json'), 'utf8')) as { libvirt: { uri: string; pid: number } };
    const conn: Connection = await connect(killEnv.libvirt.uri, { events: true });
    const dom = await conn.createDomain(`<domain type='${type}'><name>vk-ev-killed</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`);
    const closed = next<{ reason: number; reasonName: string }>(conn, 'closed', () => true, 30000);
    await conn.eventsReady();
    const pending = Array.from({ length: 50 }, () => dom.info());
    process.kill(killEnv.libvirt.pid, 'SIGKILL');
    const results = await Promise.allSettled(pending);
    const ev = await closed;
    t.equal(ev.reasonName, 'eof', `closed with reason ${ev.reasonName}`);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    t.ok(rejected.every((r) => r.reason instanceof LibvirtError), `every call that failed failed with a LibvirtError (${rejected.length} of 50 failed)`);
    const after = await dom.info().catch((e: unknown) => e);
    t.ok(after instanceof LibvirtError, 'a call after the daemon died is a typed error');
    t.ok(['VIR_ERR_INTERNAL_ERROR', 'VIR_ERR_SYSTEM_ERROR', 'VIR_ERR_RPC', 'VIR_ERR_INVALID_CONN', 'VIR_ERR_NO_CONNECT'].includes((after as LibvirtError).codeName), (after as LibvirtError).codeName);
    await conn.close();
    t.equal(conn.closed, true);
    const again = await connect(killEnv.libvirt.uri).catch((e: unknown) => e);
    t.ok(again instanceof LibvirtError, 'connecting to the dead socket is a typed error');
  });
}
