// Connection API against the private libvirtd that scripts/testenv.js starts (QEMU driver).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { connect, diagnostics, eventLoopRunning, LibvirtError, libvirtVersion } from 'virtkit';
import { spawnSync } from 'node:child_process';
import { daemonUri, forceGc, timeScale } from '../helpers';

// What libvirt reads for the host's memory: the NUMA nodes' totals from sysfs when the
// kernel has them, else /proc/meminfo.
function hostMemoryKiB(): number {
  const nodes = '/sys/devices/system/node';
  const files = fs.existsSync(nodes)
    ? fs.readdirSync(nodes).filter((n) => /^node\d+$/.test(n)).map((n) => `${nodes}/${n}/meminfo`)
    : [];
  const read = (f: string) => Number(/MemTotal:\s+(\d+) kB/.exec(fs.readFileSync(f, 'utf8'))?.[1] ?? NaN);
  return files.length ? files.reduce((sum, f) => sum + read(f), 0) : read('/proc/meminfo');
}

const target = daemonUri();
if ('skip' in target) {
  t.test('daemon tier', { skip: target.skip }, async () => {});
} else {
  const { uri } = target;

  t.test('connects to the private libvirtd and reads host facts', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    t.match(conn.uri, /^qemu\+unix:\/\/\/system/);
    t.equal(await conn.type(), 'QEMU');
    t.equal(await conn.isAlive(), true);
    t.equal(await conn.isSecure(), true, 'a UNIX socket is secure');
    t.equal(await conn.isEncrypted(), false);
    t.same(await conn.libVersion(), libvirtVersion());
    t.ok((await conn.version()).major >= 7, 'QEMU version decoded');
    t.equal(await conn.hostname(), os.hostname());
    const info = await conn.nodeInfo();
    t.equal(info.cpus, os.cpus().length);
    t.equal(info.memoryKiB, hostMemoryKiB(), 'memory matches what the kernel reports');
    const caps = await conn.capabilities();
    t.equal(caps.host.cpu.arch, 'x86_64');
    const x86 = caps.guests.find((g) => g.arch === 'x86_64' && g.osType === 'hvm');
    t.ok(x86, 'x86_64 hvm guests');
    const types = x86!.domains.map((d) => d.type);
    t.ok(types.includes('qemu'), 'TCG available');
    if (fs.existsSync('/dev/kvm')) t.ok(types.includes('kvm'), 'KVM available with /dev/kvm');
    t.ok(x86!.machines.some((m) => m.name.startsWith('pc-q35') || m.canonical?.startsWith('pc-q35')), 'q35 machines listed');
    t.ok((await conn.maxVcpus('kvm').catch(() => conn.maxVcpus('qemu'))) >= 1);
  });

  t.test('keepalive needs the event loop; connect({ keepAlive }) starts it', async (t) => {
    const plain = await connect(uri);
    t.teardown(() => plain.close());
    if (!eventLoopRunning()) {
      const err = await plain.setKeepAlive({ interval: 5, count: 3 }).catch((e: unknown) => e);
      t.equal((err as LibvirtError).codeName, 'VIR_ERR_OPERATION_INVALID');
    }
    t.match(await plain.getURI(), /^qemu\+unix:\/\/\/system/, 'the remote driver names the URI');
  });

  t.test('keepAlive is active on a daemon connection', async (t) => {
    const conn = await connect(uri, { keepAlive: { interval: 5, count: 3 } });
    t.teardown(() => conn.close());
    t.equal(conn.keepAlive, true);
    t.equal(await conn.type(), 'QEMU');
  });

  t.test('a keepalive connection runs its calls one at a time, in order, without holding the call pool', async (t) => {
    // libvirt 9.0's client mishandles a keepalive timeout with several calls in flight on one
    // connection (test/daemon/80.faults), so a keepalive connection's calls wait in a lane of
    // their own (native/worker.h). Waiting there takes no pool thread: with a pool of two
    // threads, a plain connection's call is answered while 200 keepalive calls still wait.
    const script = `
      const { connect } = require('virtkit');
      (async () => {
        const ka = await connect(${JSON.stringify(uri)}, { keepAlive: { interval: 5, count: 3 } });
        const plain = await connect(${JSON.stringify(uri)});
        const order = [];
        const queued = Array.from({ length: 200 }, (_, i) => ka.capabilitiesXml().then(() => order.push(i)));
        const other = plain.nodeInfo().then(() => order.push('plain'));
        await Promise.all([...queued, other]);
        await ka.close();
        await plain.close();
        console.log(JSON.stringify(order));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 * timeScale, env: { ...process.env, VIRTKIT_THREADPOOL_SIZE: '2' } });
    t.equal(r.status, 0, r.stderr);
    const order = JSON.parse(r.stdout) as Array<number | 'plain'>;
    const ka = order.filter((x) => x !== 'plain');
    t.same(ka, Array.from({ length: 200 }, (_, i) => i), 'the keepalive calls settled in the order they were made');
    t.ok(order.indexOf('plain') < 100, `the plain connection's call was not queued behind them (settled at position ${order.indexOf('plain') + 1} of 201)`);
  });

  t.test('a keepalive gate lives as long as the libvirt connection, not longer', async (t) => {
    const gates = () => diagnostics.liveObjects().keepaliveGates;
    const base = gates();
    // close() with nothing else holding the connection: the gate goes with it.
    const a = await connect(uri, { keepAlive: { interval: 5, count: 3 } });
    t.equal(gates(), base + 1, 'keepalive on: one gate');
    t.equal(await a.setKeepAlive({ interval: 5, count: 3 }), true, 'set again while on');
    t.equal(gates(), base + 1, 'still one gate');
    await a.close();
    t.equal(gates(), base, 'closed: gone');
    const off = await connect(uri, { keepAlive: { interval: 5, count: 3 } });
    t.equal(gates(), base + 1);
    await off.setKeepAlive({ interval: 0, count: 0 });
    t.equal(gates(), base, 'keepalive off: no gate');
    const again = await off.setKeepAlive({ interval: 5, count: 3 }).catch((e: unknown) => e);
    t.match(again, { codeName: 'VIR_ERR_INTERNAL_ERROR', message: /keepalive interval already set/ }, 'libvirt does not turn keepalive on again');
    t.equal(gates(), base, 'the refused call leaves no gate');
    await off.close();
    t.equal(gates(), base, 'closed: gone');
    // close() while one of its objects still holds the connection (and its keepalive) open:
    // that object's calls stay gated until it lets go.
    const b = await connect(uri, { keepAlive: { interval: 5, count: 3 } });
    const secret = await b.defineSecret({ ephemeral: true, private: true, usage: { type: 'volume', volume: `/vk-gate/${process.pid}-${Date.now()}` } });
    await b.close();
    t.equal(gates(), base + 1, 'its objects keep the connection, and the gate');
    t.equal((await Promise.all(Array.from({ length: 20 }, () => secret.getXML()))).filter((x) => x.startsWith('<secret')).length, 20, 'their calls still work');
    await secret.undefine();
    // Connections dropped without close(): the gate goes when the collector frees them, and a
    // later connection at the same address is not gated by an old one's gate.
    for (let round = 0; round < 5; round++) {
      await (async () => {
        const c = await connect(uri, { keepAlive: { interval: 5, count: 3 } });
        t.equal(await c.type(), 'QEMU');
      })();
      for (let i = 0; i < 100 && gates() > base + 1; i++) {
        forceGc();
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    t.equal(gates(), base + 1, 'no gates pile up from dropped connections: only the secret\'s connection has one');
    secret.free();
  });

  t.test('read-only connection to the daemon', async (t) => {
    const conn = await connect(uri, { readOnly: true });
    t.teardown(() => conn.close());
    t.equal(await conn.type(), 'QEMU');
  });

  t.test('sysinfo is typed or a typed error', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const r = await conn.sysinfo().catch((e: unknown) => e);
    if (r instanceof LibvirtError) t.ok(r.codeName.startsWith('VIR_ERR_'), `typed error: ${r.codeName}`);
    else t.equal((r as { type: string }).type, 'smbios');
  });

  t.test('a socket that does not exist is a typed error', async (t) => {
    const err = await connect('qemu+unix:///system?socket=/nonexistent/virtkit-sock').catch((e: unknown) => e);
    t.ok(err instanceof LibvirtError);
    t.equal((err as LibvirtError).codeName, 'VIR_ERR_SYSTEM_ERROR');
    t.match((err as LibvirtError).message, /nonexistent/);
  });

  t.test('many calls in flight to the daemon', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const r = await Promise.all(Array.from({ length: 500 }, () => conn.nodeInfo()));
    t.equal(new Set(r.map((x) => x.cpus)).size, 1);
  });
}

{
  const target2 = daemonUri();
  if (!('skip' in target2)) {
    t.test('GC of a daemon connection while thousands of calls are in flight', async (t) => {
      let finalized = false;
      const registry = new FinalizationRegistry<string>(() => {
        finalized = true;
      });
      const pending: Array<Promise<unknown>> = [];
      await (async () => {
        const conn = await connect(target2.uri);
        registry.register(conn, 'daemon');
        for (let i = 0; i < 3000; i++) pending.push(i % 2 ? conn.nodeInfo() : conn.hostname());
      })();
      forceGc(); // the Connection object is unreachable now; its calls are still running
      const results = await Promise.allSettled(pending);
      t.equal(results.filter((r) => r.status === 'fulfilled').length, 3000, 'every call resolved');
      for (let i = 0; i < 50 && !finalized; i++) {
        forceGc();
        await new Promise((r) => setTimeout(r, 20));
      }
      t.ok(finalized, 'the connection was collected');
    });
  }
}
