/**
 * The soak run (issue 7; see bench/README.md, "Soak"): many calls mixed over pools, volumes,
 * secrets and domains, and the memory and native-object curves while they run.
 *
 * - driver: 1,000,000 calls on test:///default, 64 in flight, in rounds of 50,000.
 * - daemon: 100,000 calls on a private libvirtd (scripts/testenv.js, iSCSI and Ceph skipped),
 *   64 in flight, in rounds of 5,000; also the daemon's RSS and open file descriptors.
 *
 * Objects churn: volumes are created and deleted, secrets defined (with a value set and read
 * back) and undefined, domains defined (and on the test driver started and destroyed) and
 * undefined, lookups return new wraps that are dropped (some free()d). After every round the
 * workers stop, the garbage collector is forced until the native objects are finalized, and a
 * sample is taken: process.memoryUsage(), diagnostics.liveObjects(), calls/s of the round.
 * The first 10% of the calls are warm-up; growth is the last sample minus the warm-up sample.
 *
 * Verdict (exit status 1 when it fails, so CI can run it): per phase, no call failed; at every
 * sample the live objects are exactly the ones the soak keeps (baseline) and no call is
 * pending; RSS trend after warm-up (the median slope of all pairs of samples, which a single
 * step of the allocator does not move) times the calls after warm-up below LIMITS.rssMiB, and
 * the raw RSS growth below LIMITS.rssStepMiB (a step larger than any allocator warm-up seen
 * here); heap growth below
 * LIMITS.heapMiB; daemon: its RSS growth below LIMITS.daemonRssMiB and its open fds no more
 * than at warm-up plus LIMITS.daemonFds; after the phase closes its connection, every native
 * object is gone again.
 *
 * Usage: node dist/bench/soak.js [--phase driver|daemon]... [--quick] [--driver-calls N]
 *        [--daemon-calls N] [--in-flight N] [--only OP]
 * --only: just the operations of the mix whose name contains OP, to find which one leaks.
 * Without NODE_FLAGS (below) on its command line, it runs itself again with them.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { connect, diagnostics, formatVersion, LibvirtError, libvirtVersion, type Connection, type Domain, type LiveObjects, type StoragePool } from 'virtkit';
import { cleanUpOnSignals, cleanups, errorMessage, lastLines, progress, ROOT, run, runCleanups, state, table, writeOut } from './common';

const MiB = 1024 * 1024;
const TESTENV = path.join(ROOT, 'scripts', 'testenv.js');
const REPORT_FILE = path.join(ROOT, 'dist', 'reports', 'soak.json');

/** Flatness limits (see the verdict above). */
const LIMITS = {
  rssMiB: 16,
  rssStepMiB: 32,
  heapMiB: 4,
  daemonRssMiB: 16,
  daemonFds: 2,
};

// ---------------------------------------------------------------------------------------------
// the report (dist/reports/soak.json)

/**
 * dist/reports/soak.json:
 * {
 *   date, host, cpu: "model x N", node, libvirt: "9.0.0", seconds (whole run),
 *   limits: { rssMiB, rssStepMiB, heapMiB, daemonRssMiB, daemonFds },
 *   pass: boolean                          every phase run passed (skipped phases do not fail)
 *   driver: Phase, daemon: Phase           a phase may be { skipped: reason } instead
 * }
 * Phase: {
 *   uri, calls, inFlight, sampleEvery, warmupCalls, seconds (wall, with the sampling),
 *   workSeconds, callsPerSec (calls / workSeconds), errors, errorMessages (first few, distinct),
 *   mix: [op names],
 *   samples: [{ calls, seconds, callsPerSec (this round), rssMiB, heapUsedMiB, heapTotalMiB,
 *               externalMiB, arrayBuffersMiB, nonHeapMiB (rss - heapTotal), threads, objects (LiveObjects after GC), totalObjects,
 *               peakObjects (the most seen during the round, 100 ms polls),
 *               daemonRssMiB?, daemonFds? }],
 *   warmupRssMiB, finalRssMiB, growthMiB, growthBytesPerCall (growthMiB over the calls after
 *   warm-up), slopeBytesPerCall (least squares over the samples after warm-up),
 *   trendBytesPerCall (Theil–Sen over the same: the verdict's), heapGrowthMiB,
 *   baselineObjects (the soak's own, kept all along), maxObjectsAtSample, peakObjects,
 *   objectsBefore, objectsAfter (LiveObjects before the phase and after it closed everything),
 *   daemonPid?, daemonWarmupRssMiB?, daemonFinalRssMiB?, daemonGrowthMiB?, daemonFdsWarmup?,
 *   daemonFdsFinal?,
 *   verdict: { pass, failures: [strings] }
 * }
 */
interface Sample {
  calls: number;
  seconds: number;
  callsPerSec: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  /** RSS minus V8's heapTotal: native memory (malloc, libvirt, thread stacks) and code. */
  nonHeapMiB: number;
  /** This process's threads (/proc/self/status): virtkit's call pool grows up to 32. */
  threads: number;
  objects: LiveObjects;
  totalObjects: number;
  peakObjects: number;
  daemonRssMiB?: number;
  daemonFds?: number;
}

interface Phase {
  uri: string;
  calls: number;
  inFlight: number;
  sampleEvery: number;
  warmupCalls: number;
  seconds: number;
  workSeconds: number;
  callsPerSec: number;
  errors: number;
  errorMessages: string[];
  mix: string[];
  samples: Sample[];
  warmupRssMiB: number;
  finalRssMiB: number;
  growthMiB: number;
  growthBytesPerCall: number;
  slopeBytesPerCall: number;
  /** The Theil–Sen slope of RSS over the samples after warm-up (see trend()). */
  trendBytesPerCall: number;
  heapGrowthMiB: number;
  baselineObjects: number;
  maxObjectsAtSample: number;
  peakObjects: number;
  objectsBefore: LiveObjects;
  objectsAfter: LiveObjects;
  daemonPid?: number;
  daemonWarmupRssMiB?: number;
  daemonFinalRssMiB?: number;
  daemonGrowthMiB?: number;
  daemonFdsWarmup?: number;
  daemonFdsFinal?: number;
  verdict: { pass: boolean; failures: string[] };
}

type PhaseResult = Phase | { skipped: string };

// ---------------------------------------------------------------------------------------------
// measuring

let gcFn: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;
function forceGc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Forces full collections until the native objects are finalized (their finalizers run on a
 * later tick) and the count stops changing, or until `want` is reached. */
async function collect(want?: number): Promise<LiveObjects> {
  let last = -1;
  let counts = diagnostics.liveObjects();
  for (let i = 0; i < 40; i++) {
    forceGc();
    await tick();
    counts = diagnostics.liveObjects();
    const total = diagnostics.totalLiveObjects(counts);
    if (want !== undefined ? total <= want : total === last) break;
    last = total;
  }
  return counts;
}

/** A number field of /proc/PID/status (kB fields by default). */
function procStatusKiB(pid: number | 'self', field: string, unit = ' kB'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)${unit}`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function daemonSample(pid: number | undefined): { daemonRssMiB?: number; daemonFds?: number } {
  if (!pid) return {};
  const rss = procStatusKiB(pid, 'VmRSS');
  let fds: number | undefined;
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    fds = undefined;
  }
  return { ...(rss !== undefined ? { daemonRssMiB: rss / 1024 } : {}), ...(fds !== undefined ? { daemonFds: fds } : {}) };
}

const mib = (b: number) => b / MiB;

/** The Theil–Sen slope: the median of the slopes of all pairs of points. A leak raises every
 * pair's slope; one step (an allocator arena, V8 growing a space) only the pairs across it. */
function trend(xs: number[], ys: number[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) if (xs[j] !== xs[i]) slopes.push((ys[j]! - ys[i]!) / (xs[j]! - xs[i]!));
  if (!slopes.length) return 0;
  slopes.sort((a, b) => a - b);
  const m = slopes.length >> 1;
  return slopes.length % 2 ? slopes[m]! : (slopes[m - 1]! + slopes[m]!) / 2;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : 0;
}

// ---------------------------------------------------------------------------------------------
// the workload

/** One operation of the mix: `calls` libvirt calls, made by run(worker, n). */
interface Op {
  name: string;
  calls: number;
  run: (worker: number, n: number) => Promise<unknown>;
}

interface Fixture {
  conn: Connection;
  pool: StoragePool;
  domain: Domain;
  /** The domain XML to define (and, on the test driver, to start) for churn. */
  domainXml: (name: string) => string;
  /** Whether the connection has a secret driver (the test driver has none). */
  secrets: boolean;
  /** Whether defined domains can be started (the test driver's can; the daemon has no qemu to run). */
  canStart: boolean;
  tag: string;
}

function mix(f: Fixture): Op[] {
  const { conn, pool, domain, tag } = f;
  const name = (kind: string, w: number, n: number) => `soak-${tag}-${kind}-${w}-${n}`;
  const ops: Op[] = [
    { name: 'lookupDomainByName+info', calls: 2, run: async () => (await conn.lookupDomainByName(domain.name)).info() },
    { name: 'domain.getXML', calls: 1, run: () => domain.getXML() },
    { name: 'domain.state', calls: 1, run: () => domain.state() },
    { name: 'listAllDomains', calls: 1, run: () => conn.listAllDomains() },
    { name: 'listAllStoragePools', calls: 1, run: () => conn.listAllStoragePools() },
    { name: 'pool.info', calls: 1, run: () => pool.info() },
    { name: 'pool.getXML', calls: 1, run: () => pool.getXML() },
    {
      name: 'lookupStoragePoolByName+isActive+free',
      calls: 2,
      run: async () => {
        const p = await conn.lookupStoragePoolByName(pool.name);
        await p.isActive();
        p.free();
      },
    },
    { name: 'pool.listVolumes', calls: 1, run: () => pool.listVolumes() },
    {
      name: 'createVolume+info+getXML+delete',
      calls: 4,
      run: async (w, n) => {
        const v = await pool.createVolume(`<volume><name>${name('vol', w, n)}</name><capacity>1048576</capacity><allocation>0</allocation><target><format type='raw'/></target></volume>`);
        await v.info();
        await v.getXML();
        await v.delete();
      },
    },
  ];
  if (f.secrets) {
    ops.push(
      {
        name: 'defineSecret+setValue+getValue+lookupSecretByUUID+undefine',
        calls: 5,
        run: async (w, n) => {
          const s = await conn.defineSecret({ ephemeral: true, private: false, usage: { type: 'volume', volume: `/soak/${name('secret', w, n)}` } });
          try {
            const value = randomBytes(32);
            await s.setValue(value);
            const back = await s.getValue();
            if (!back.equals(value)) throw new Error('secret value read back differs');
            await conn.lookupSecretByUUID(s.uuid);
          } finally {
            await s.undefine();
          }
        },
      },
      { name: 'listAllSecrets', calls: 1, run: () => conn.listAllSecrets() },
    );
  } else {
    // The test driver has no secret driver: these calls exercise the failure path instead
    // (a LibvirtError built per call), which must not leak either.
    const unsupported = (p: Promise<unknown>) =>
      p.then(
        () => {
          throw new Error('expected VIR_ERR_NO_SUPPORT');
        },
        (e: unknown) => {
          if (!(e instanceof LibvirtError) || e.codeName !== 'VIR_ERR_NO_SUPPORT') throw e;
        },
      );
    ops.push(
      {
        name: 'defineSecret (VIR_ERR_NO_SUPPORT)',
        calls: 1,
        run: (w, n) => unsupported(conn.defineSecret({ ephemeral: true, usage: { type: 'volume', volume: `/soak/${name('secret', w, n)}` } })),
      },
      { name: 'listAllSecrets (VIR_ERR_NO_SUPPORT)', calls: 1, run: () => unsupported(conn.listAllSecrets()) },
    );
  }
  if (f.canStart) {
    ops.push(
      {
        name: 'defineDomain+start+info+destroy+undefine',
        calls: 5,
        run: async (w, n) => {
          const d = await conn.defineDomain(f.domainXml(name('dom', w, n)));
          try {
            await d.start();
            await d.info();
            await d.destroy();
          } finally {
            await d.undefine();
          }
        },
      },
      {
        name: 'createDomain+destroy',
        calls: 2,
        run: async (w, n) => (await conn.createDomain(f.domainXml(name('tdom', w, n)))).destroy(),
      },
    );
  } else {
    ops.push({
      name: 'defineDomain+info+getXML+undefine',
      calls: 4,
      run: async (w, n) => {
        const d = await conn.defineDomain(f.domainXml(name('dom', w, n)));
        try {
          await d.info();
          await d.getXML();
        } finally {
          await d.undefine();
        }
      },
    });
  }
  return ops;
}

interface PhaseOptions {
  label: string;
  uri: string;
  calls: number;
  inFlight: number;
  sampleEvery: number;
  daemonPid?: number;
  /** Only the operations whose name contains this (for hunting a leak down). */
  only?: string;
  setup: (conn: Connection) => Promise<Omit<Fixture, 'conn'> & { teardown: () => Promise<void> }>;
}

async function soak(o: PhaseOptions): Promise<Phase> {
  const started = performance.now();
  const objectsBefore = await collect();
  // Everything that holds the soak's objects lives in this function, so that nothing is left
  // reachable for objectsAfter once it returned.
  const { baselineObjects, samples, errors, errorMessages, calls, workMs, mixNames } = await (async () => {
    const conn = await connect(o.uri);
    const f = await o.setup(conn);
    const fixture: Fixture = { ...f, conn };
    const ops = mix(fixture).filter((x) => !o.only || x.name.includes(o.only));
    if (!ops.length) throw new Error(`no operation of the mix matches --only ${o.only}`);
    // The soak's own objects (connection, pool, domain; whatever setup keeps) once settled.
    const baselineObjects = diagnostics.totalLiveObjects(await collect());
    const samples: Sample[] = [];
    const errorMessages = new Map<string, number>();
    let errors = 0;
    let calls = 0;
    let workMs = 0;
    let seq = 0;
    const perWorker = new Array<number>(o.inFlight).fill(0);

    progress(`${o.label}: ${o.calls.toLocaleString('en')} calls on ${o.uri}, ${o.inFlight} in flight, a sample every ${o.sampleEvery.toLocaleString('en')}; mix: ${ops.map((x) => x.name).join(', ')}`);
    while (calls < o.calls && !state.aborted) {
      const quota = Math.min(o.sampleEvery, o.calls - calls);
      let claimed = 0;
      let peak = 0;
      const poll = setInterval(() => {
        peak = Math.max(peak, diagnostics.totalLiveObjects());
      }, 100);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: o.inFlight }, async (_, w) => {
          while (claimed < quota && !state.aborted) {
            const op = ops[seq++ % ops.length]!;
            claimed += op.calls;
            try {
              await op.run(w, perWorker[w]!++);
            } catch (err) {
              errors++;
              const m = errorMessage(err);
              errorMessages.set(m, (errorMessages.get(m) ?? 0) + 1);
            }
          }
        }),
      );
      const roundMs = performance.now() - t0;
      clearInterval(poll);
      workMs += roundMs;
      calls += claimed;
      const objects = await collect(baselineObjects);
      const mem = process.memoryUsage();
      const s: Sample = {
        calls,
        seconds: (performance.now() - started) / 1000,
        callsPerSec: claimed / (roundMs / 1000),
        rssMiB: mib(mem.rss),
        heapUsedMiB: mib(mem.heapUsed),
        heapTotalMiB: mib(mem.heapTotal),
        externalMiB: mib(mem.external),
        arrayBuffersMiB: mib(mem.arrayBuffers),
        nonHeapMiB: mib(mem.rss - mem.heapTotal),
        threads: procStatusKiB('self', 'Threads', '') ?? 0,
        objects,
        totalObjects: diagnostics.totalLiveObjects(objects),
        peakObjects: Math.max(peak, diagnostics.totalLiveObjects(objects)),
        ...daemonSample(o.daemonPid),
      };
      samples.push(s);
      progress(
        `${o.label}: ${calls.toLocaleString('en')} calls, ${Math.round(s.callsPerSec)}/s, rss ${s.rssMiB.toFixed(1)} MiB, heap ${s.heapUsedMiB.toFixed(1)} MiB, objects ${s.totalObjects} (peak ${s.peakObjects})` +
          (s.daemonRssMiB !== undefined ? `, libvirtd rss ${s.daemonRssMiB.toFixed(1)} MiB, fds ${s.daemonFds}` : '') +
          (errors ? `, ${errors} errors` : ''),
      );
    }
    await f.teardown();
    await conn.close();
    return { baselineObjects, samples, errors, errorMessages, calls, workMs, mixNames: ops.map((x) => x.name) };
  })();
  const objectsAfter = await collect(diagnostics.totalLiveObjects(objectsBefore));

  // Warm-up: the first sample at or after 10% of the calls.
  const warmupCalls = Math.ceil(o.calls / 10);
  const warm = samples.find((s) => s.calls >= warmupCalls) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const after = samples.filter((s) => s.calls >= warm.calls);
  const growthMiB = last.rssMiB - warm.rssMiB;
  const afterCalls = last.calls - warm.calls;
  const phase: Phase = {
    uri: o.uri,
    calls,
    inFlight: o.inFlight,
    sampleEvery: o.sampleEvery,
    warmupCalls: warm.calls,
    seconds: (performance.now() - started) / 1000,
    workSeconds: workMs / 1000,
    callsPerSec: calls / (workMs / 1000),
    errors,
    errorMessages: [...errorMessages].slice(0, 5).map(([m, n]) => `${n}x ${m}`),
    mix: mixNames,
    samples,
    warmupRssMiB: warm.rssMiB,
    finalRssMiB: last.rssMiB,
    growthMiB,
    growthBytesPerCall: afterCalls > 0 ? (growthMiB * MiB) / afterCalls : 0,
    slopeBytesPerCall: slope(after.map((s) => s.calls), after.map((s) => s.rssMiB * MiB)),
    trendBytesPerCall: trend(after.map((s) => s.calls), after.map((s) => s.rssMiB * MiB)),
    heapGrowthMiB: last.heapUsedMiB - warm.heapUsedMiB,
    baselineObjects,
    maxObjectsAtSample: Math.max(...samples.map((s) => s.totalObjects)),
    peakObjects: Math.max(...samples.map((s) => s.peakObjects)),
    objectsBefore,
    objectsAfter,
    verdict: { pass: true, failures: [] },
  };
  if (o.daemonPid) {
    phase.daemonPid = o.daemonPid;
    if (warm.daemonRssMiB !== undefined && last.daemonRssMiB !== undefined) {
      phase.daemonWarmupRssMiB = warm.daemonRssMiB;
      phase.daemonFinalRssMiB = last.daemonRssMiB;
      phase.daemonGrowthMiB = last.daemonRssMiB - warm.daemonRssMiB;
    }
    if (warm.daemonFds !== undefined && last.daemonFds !== undefined) {
      phase.daemonFdsWarmup = warm.daemonFds;
      phase.daemonFdsFinal = last.daemonFds;
    }
  }
  phase.verdict = judge(phase);
  return phase;
}

function judge(p: Phase): { pass: boolean; failures: string[] } {
  const failures: string[] = [];
  if (p.errors) failures.push(`${p.errors} calls failed: ${p.errorMessages.join('; ')}`);
  const leaky = p.samples.filter((s) => s.totalObjects !== p.baselineObjects || s.objects.pendingCalls !== 0);
  if (leaky.length) failures.push(`live objects not back to the baseline ${p.baselineObjects} at ${leaky.length} samples (e.g. ${leaky[0]!.totalObjects} at ${leaky[0]!.calls} calls)`);
  if (diagnostics.totalLiveObjects(p.objectsAfter) !== diagnostics.totalLiveObjects(p.objectsBefore))
    failures.push(`after closing: ${diagnostics.totalLiveObjects(p.objectsAfter)} live objects, ${diagnostics.totalLiveObjects(p.objectsBefore)} before`);
  const afterCalls = p.calls - p.warmupCalls;
  const trendMiB = (p.trendBytesPerCall * afterCalls) / MiB;
  if (trendMiB >= LIMITS.rssMiB) failures.push(`RSS trend ${p.trendBytesPerCall.toFixed(1)} B/call after warm-up, ${trendMiB.toFixed(1)} MiB over the run (limit ${LIMITS.rssMiB})`);
  if (p.growthMiB >= LIMITS.rssStepMiB) failures.push(`RSS grew ${p.growthMiB.toFixed(1)} MiB after warm-up (limit ${LIMITS.rssStepMiB})`);
  if (p.heapGrowthMiB >= LIMITS.heapMiB) failures.push(`heap grew ${p.heapGrowthMiB.toFixed(1)} MiB after warm-up (limit ${LIMITS.heapMiB})`);
  if (p.daemonGrowthMiB !== undefined && p.daemonGrowthMiB >= LIMITS.daemonRssMiB)
    failures.push(`libvirtd RSS grew ${p.daemonGrowthMiB.toFixed(1)} MiB after warm-up (limit ${LIMITS.daemonRssMiB})`);
  if (p.daemonFdsFinal !== undefined && p.daemonFdsWarmup !== undefined && p.daemonFdsFinal > p.daemonFdsWarmup + LIMITS.daemonFds)
    failures.push(`libvirtd fds went from ${p.daemonFdsWarmup} to ${p.daemonFdsFinal}`);
  return { pass: failures.length === 0, failures };
}

// ---------------------------------------------------------------------------------------------
// the phases

function testDomainXml(name: string): string {
  return `<domain type='test'><name>${name}</name><memory>8192</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
}

function guestArch(): string {
  return ({ x64: 'x86_64', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? 'x86_64';
}

function qemuDomainXml(name: string): string {
  return `<domain type='qemu'><name>${name}</name><memory>65536</memory><os><type arch='${guestArch()}'>hvm</type></os></domain>`;
}

async function driverPhase(calls: number, inFlight: number, only?: string): Promise<Phase> {
  return soak({
    ...(only ? { only } : {}),
    label: 'driver',
    uri: 'test:///default',
    calls,
    inFlight,
    sampleEvery: Math.max(1000, Math.round(calls / 20)),
    setup: async (conn) => ({
      pool: await conn.lookupStoragePoolByName('default-pool'),
      domain: await conn.lookupDomainByName('test'),
      domainXml: testDomainXml,
      canStart: true,
      secrets: false,
      tag: `d${process.pid}`,
      teardown: async () => undefined,
    }),
  });
}

/** A private libvirtd from `scripts/testenv.js start` (no tgtd, no Ceph), stopped by the cleanups. */
async function startDaemon(): Promise<{ uri: string; pid?: number; stateDir: string } | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'the private libvirtd needs root' };
  // Short path: the daemon's UNIX socket lives under it (sun_path is 108 bytes).
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vksoak.'));
  cleanups.push({
    what: 'testenv stop',
    fn: async () => {
      progress(`stopping the private libvirtd (${stateDir})`);
      const r = await run(process.execPath, [TESTENV, 'stop', '--state', stateDir], { timeoutMs: 60000 });
      if (r.code !== 0) progress(`testenv stop exited ${r.code}: ${lastLines(r.stderr)}`);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  });
  progress(`starting a private libvirtd: node scripts/testenv.js start --state ${stateDir}`);
  const skip = [process.env.VIRTKIT_TESTENV_SKIP ?? '', 'iscsi', 'ceph'].filter(Boolean).join(',');
  const r = await run(process.execPath, [TESTENV, 'start', '--state', stateDir], { timeoutMs: 180000, env: { ...process.env, VIRTKIT_TESTENV_SKIP: skip } });
  if (r.code !== 0) return { skipped: `testenv start exited ${r.code}: ${lastLines(r.stderr)}` };
  const env = JSON.parse(fs.readFileSync(path.join(stateDir, 'env.json'), 'utf8')) as { libvirt?: { uri?: string; skipped?: string; pid?: number } };
  if (env.libvirt?.skipped) return { skipped: `testenv: ${env.libvirt.skipped}` };
  if (!env.libvirt?.uri) return { skipped: 'testenv env.json has no libvirt.uri' };
  return { uri: env.libvirt.uri, stateDir, ...(typeof env.libvirt.pid === 'number' ? { pid: env.libvirt.pid } : {}) };
}

async function daemonPhase(calls: number, inFlight: number, only?: string): Promise<PhaseResult> {
  const d = await startDaemon();
  if ('skipped' in d) return d;
  const tag = `q${process.pid}`;
  return soak({
    ...(only ? { only } : {}),
    label: 'daemon',
    uri: d.uri,
    calls,
    inFlight,
    sampleEvery: Math.max(500, Math.round(calls / 20)),
    ...(d.pid ? { daemonPid: d.pid } : {}),
    setup: async (conn) => {
      // A transient dir pool in a fresh directory, and one persistent domain (never started).
      const poolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vksoak-pool.'));
      const pool = await conn.createStoragePool(`<pool type='dir'><name>soak-${tag}</name><target><path>${poolDir}</path></target></pool>`);
      const domain = await conn.defineDomain(qemuDomainXml(`soak-${tag}`));
      const teardown = async () => {
        await domain.undefine().catch((e: unknown) => progress(`undefine soak-${tag}: ${errorMessage(e)}`));
        await pool.destroy().catch((e: unknown) => progress(`destroy pool soak-${tag}: ${errorMessage(e)}`));
        fs.rmSync(poolDir, { recursive: true, force: true });
      };
      return { pool, domain, domainXml: qemuDomainXml, canStart: false, secrets: true, tag, teardown };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// output

const BARS = '▁▂▃▄▅▆▇█';
function sparkline(ys: number[]): string {
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  return ys.map((y) => BARS[hi > lo ? Math.round(((y - lo) / (hi - lo)) * (BARS.length - 1)) : 0]).join('');
}

function phaseText(name: string, p: PhaseResult): string {
  if ('skipped' in p) return `== ${name}: skipped: ${p.skipped}\n`;
  const daemon = p.daemonPid !== undefined;
  const headers = ['calls', 's', 'calls/s', 'rss MiB', 'heap MiB', 'heapTotal', 'rss-heapTotal', 'external MiB', 'threads', 'objects', 'peak', ...(daemon ? ['libvirtd MiB', 'fds'] : [])];
  const rows = p.samples.map((s) => [
    s.calls.toLocaleString('en') + (s.calls === p.warmupCalls ? ' (warm)' : ''),
    s.seconds.toFixed(0),
    Math.round(s.callsPerSec).toString(),
    s.rssMiB.toFixed(1),
    s.heapUsedMiB.toFixed(1),
    s.heapTotalMiB.toFixed(1),
    s.nonHeapMiB.toFixed(1),
    s.externalMiB.toFixed(2),
    s.threads.toString(),
    s.totalObjects.toString(),
    s.peakObjects.toString(),
    ...(daemon ? [s.daemonRssMiB?.toFixed(1) ?? '-', s.daemonFds?.toString() ?? '-'] : []),
  ]);
  const rss = p.samples.map((s) => s.rssMiB);
  const out = [
    `== ${name}: ${p.calls.toLocaleString('en')} calls on ${p.uri}, ${p.inFlight} in flight: ${p.seconds.toFixed(0)} s, ${Math.round(p.callsPerSec)} calls/s (without the sampling)`,
    table(headers, rows, headers.map(() => true)),
    '',
    `rss      ${sparkline(rss)}  ${Math.min(...rss).toFixed(1)}..${Math.max(...rss).toFixed(1)} MiB`,
    `heap     ${sparkline(p.samples.map((s) => s.heapUsedMiB))}`,
    ...(daemon && p.samples.every((s) => s.daemonRssMiB !== undefined) ? [`libvirtd ${sparkline(p.samples.map((s) => s.daemonRssMiB!))}`] : []),
    `RSS after warm-up (${p.warmupCalls.toLocaleString('en')} calls): ${p.warmupRssMiB.toFixed(1)} -> ${p.finalRssMiB.toFixed(1)} MiB, growth ${p.growthMiB >= 0 ? '+' : ''}${p.growthMiB.toFixed(2)} MiB ` +
      `(${p.growthBytesPerCall.toFixed(2)} B/call; slope ${p.slopeBytesPerCall.toFixed(2)} B/call, trend ${p.trendBytesPerCall.toFixed(2)} B/call); heap ${p.heapGrowthMiB >= 0 ? '+' : ''}${p.heapGrowthMiB.toFixed(2)} MiB`,
    `objects: ${p.baselineObjects} kept by the soak, ${p.maxObjectsAtSample} at most at a sample, ${p.peakObjects} peak while running; ` +
      `${diagnostics.totalLiveObjects(p.objectsBefore)} before, ${diagnostics.totalLiveObjects(p.objectsAfter)} after closing`,
    ...(p.daemonGrowthMiB !== undefined ? [`libvirtd (pid ${p.daemonPid}): RSS ${p.daemonWarmupRssMiB!.toFixed(1)} -> ${p.daemonFinalRssMiB!.toFixed(1)} MiB (${p.daemonGrowthMiB >= 0 ? '+' : ''}${p.daemonGrowthMiB.toFixed(2)}), fds ${p.daemonFdsWarmup} -> ${p.daemonFdsFinal}`] : []),
    `errors: ${p.errors}`,
    `${p.verdict.pass ? '[PASS]' : '[FAIL]'} ${name} flat after warm-up${p.verdict.failures.length ? ': ' + p.verdict.failures.join('; ') : ''}`,
    '',
  ];
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const phases = new Set<string>();
  let driverCalls = 1_000_000;
  let daemonCalls = 100_000;
  let inFlight = 64;
  let only: string | undefined;
  const num = (s: string | undefined) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`not a positive integer: ${s}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--phase') phases.add(argv[++i] ?? '');
    else if (a === '--quick') {
      driverCalls /= 10;
      daemonCalls /= 10;
    } else if (a === '--driver-calls') driverCalls = num(argv[++i]);
    else if (a === '--daemon-calls') daemonCalls = num(argv[++i]);
    else if (a === '--in-flight') inFlight = num(argv[++i]);
    else if (a === '--only') only = argv[++i];
    else throw new Error(`unknown argument ${a} (usage: soak.js [--phase driver|daemon]... [--quick] [--driver-calls N] [--daemon-calls N] [--in-flight N] [--only OP])`);
  }
  for (const p of phases) if (p !== 'driver' && p !== 'daemon') throw new Error(`unknown phase ${p}`);
  const want = (p: string) => phases.size === 0 || phases.has(p);

  cleanUpOnSignals();

  const started = Date.now();
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    host: os.hostname(),
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}`,
    node: process.version,
    libvirt: formatVersion(libvirtVersion()),
    limits: LIMITS,
  };
  const results: Record<string, PhaseResult> = {};
  if (want('driver')) results.driver = await driverPhase(driverCalls, inFlight, only);
  if (want('daemon') && !state.aborted) {
    try {
      results.daemon = await daemonPhase(daemonCalls, inFlight, only);
    } finally {
      await runCleanups();
    }
  }
  if (state.aborted) return new Promise<number>(() => undefined); // the signal handler exits
  const pass = Object.values(results).every((r) => 'skipped' in r || r.verdict.pass);
  Object.assign(report, { seconds: (Date.now() - started) / 1000, pass, ...results });
  fs.mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  fs.writeFileSync(REPORT_FILE, JSON.stringify(report, null, 2) + '\n');
  const text = Object.entries(results).map(([n, r]) => phaseText(n, r)).join('\n');
  await writeOut(
    `${text}\n${pass ? '[PASS]' : '[FAIL]'} soak: ${pass ? 'memory and native objects flat after warm-up' : 'see the failures above'} (whole run ${((Date.now() - started) / 1000).toFixed(0)} s)\n` +
      `Report: ${path.relative(process.cwd(), REPORT_FILE) || REPORT_FILE}\n`,
  );
  return pass ? 0 : 1;
}

// The flags scripts/soak.sh runs with: a full GC before every sample, and V8's young generation
// at its largest size from the start (V8 grows it on its own after a few hundred thousand calls,
// a one-time step of 16 MiB of RSS that would read as growth after warm-up). Started without
// them, the soak runs itself again with them.
const NODE_FLAGS = ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
if (!NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...NODE_FLAGS, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 2);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err) => {
    progress(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    await runCleanups();
    process.exit(2);
  },
);
