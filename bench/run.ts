/**
 * virtkit's benchmark: times virtkit, Debian's python3-libvirt (bench/pylibvirt.py under
 * /usr/bin/python3) and spawning `virsh` side by side, on libvirt's in-process test driver
 * on a real libvirtd, and on storage (a dir pool of 1,000 volumes, 1 GiB volume streams, on
 * the private libvirtd: bench/storage.ts). See bench/README.md.
 *
 *   npm run bench                         # builds if needed, then: node dist/bench/run.js
 *   node dist/bench/run.js [--target test|daemon|storage|domains|iscsi]... [--quick]
 *
 * Prints an aligned table per target, the ratios and the issue's targets (informational: the
 * bench never fails on them), and writes everything to bench/results/latest.json.
 * `--child SPEC` is internal: one virtkit measurement in a fresh process (used for the
 * VIRTKIT_THREADPOOL_SIZE=64 row), printed as JSON. `--child-stream SPEC` likewise: one volume
 * transfer with libvirt's event loop running (the storage target's "event loop on" rows).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { connect, formatVersion, libvirtVersion, type Connection } from 'virtkit';
import {
  cleanUpOnSignals, cleanups, errorMessage, fmtMs, fmtRate, fmtUs, lastLines, measureRow, progress, PY_HELPER, PYTHON, ratio, ROOT, run, runCleanups,
  state, table, VIRSH, writeOut, type Goal, type PrivateDaemon, type Ran,
} from './common';
import { measure, type Budget, type Raw, type Stats } from './measure';
import { domainsGoals, domainsReport, runDomains, type DomainsTarget } from './domains';
import { iscsiGoals, iscsiReport, runIscsi, type IscsiTarget } from './iscsi';
import { runStorage, storageGoals, storageReport, streamChildMain, type StorageTarget } from './storage';

const TESTENV = path.join(ROOT, 'scripts', 'testenv.js');
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'latest.json');
/** monitorEventLoopDelay's sampling interval. Its histogram records the whole interval
 * between two timer callbacks, so an idle loop reads about this much. */
const ELD_RESOLUTION_MS = 1;

// ---------------------------------------------------------------------------------------------
// what is measured

type Kind = 'connect' | 'lookupInfo' | 'getXML' | 'type';
type Impl = 'virtkit' | 'virtkit-uv64' | 'python' | 'python-el' | 'virsh';

interface OpDef {
  id: string;
  label: string;
  kind: Kind;
  concurrency: number;
  /** Needs the domain (`test` on the test driver, a defined one on the daemon). */
  needsDomain: boolean;
  /** Only on test:///default. */
  testOnly?: boolean;
  /** Not one of the issue's operations: context for the per-call numbers. */
  extra?: boolean;
  budget: Omit<Budget, 'concurrency'>;
  /** The virsh command doing the nearest thing (one process per op); none: not measured. */
  virsh?: (domain: string) => string[];
}

const OPS: OpDef[] = [
  {
    id: 'connect', label: 'connect+close', kind: 'connect', concurrency: 1, needsDomain: false,
    budget: { warmup: 20, warmupMs: 500, iterations: 5000, timeMs: 2500 },
    virsh: () => ['uri'],
  },
  {
    id: 'lookupInfo', label: 'lookup+getInfo', kind: 'lookupInfo', concurrency: 1, needsDomain: true,
    budget: { warmup: 200, warmupMs: 500, iterations: 50000, timeMs: 2500 },
    virsh: (d) => ['dominfo', d],
  },
  {
    id: 'lookupInfo64', label: 'lookup+getInfo x64 in flight', kind: 'lookupInfo', concurrency: 64, needsDomain: true,
    budget: { warmup: 1000, warmupMs: 500, iterations: 100000, timeMs: 3000 },
  },
  {
    id: 'getXML', label: 'getXMLDesc', kind: 'getXML', concurrency: 1, needsDomain: true,
    budget: { warmup: 200, warmupMs: 500, iterations: 50000, timeMs: 2500 },
    virsh: (d) => ['dumpxml', d],
  },
  {
    id: 'type', label: 'per-call: conn.type()', kind: 'type', concurrency: 1, needsDomain: false, testOnly: true,
    budget: { warmup: 2000, warmupMs: 300, iterations: 200000, timeMs: 2500 },
  },
  {
    id: 'type64', label: 'conn.type() x64 in flight', kind: 'type', concurrency: 64, needsDomain: false, testOnly: true, extra: true,
    budget: { warmup: 2000, warmupMs: 300, iterations: 200000, timeMs: 2000 },
  },
];

const VIRSH_BUDGET: Omit<Budget, 'concurrency'> = { warmup: 3, warmupMs: 2000, iterations: 60, timeMs: 4000 };

/** One measurement, for virtkit (in this process or a child) and for pylibvirt.py. */
interface Spec extends Budget {
  uri: string;
  op: Kind;
  domain: string | null;
  /** pylibvirt.py only: run libvirt's default event loop on a thread, as virtkit does. */
  eventLoop?: boolean;
}

interface Eld {
  /** Raw monitorEventLoopDelay histogram (includes the sampling interval), in ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  samples: number;
  resolutionMs: number;
}

interface Row {
  target: string;
  op: string;
  label: string;
  impl: Impl;
  implLabel: string;
  /** What ran, for the record (virsh command line, threads, pool size). */
  how: string;
  stats?: Stats;
  eld?: Eld;
  skipped?: string;
  error?: string;
}

interface Target {
  name: 'test' | 'daemon';
  uri: string | null;
  source: string;
  domain: string | null;
  skipped?: string;
  domainSkipped?: string;
  rows: Row[];
}

const IMPL_LABEL: Record<Impl, string> = {
  virtkit: 'virtkit',
  'virtkit-uv64': 'virtkit, VIRTKIT_THREADPOOL_SIZE=64',
  python: 'python3-libvirt',
  'python-el': 'python3-libvirt + event loop',
  virsh: 'virsh (spawned)',
};

// ---------------------------------------------------------------------------------------------
// small helpers

function phaseTimeoutMs(b: Omit<Budget, 'concurrency'>): number {
  return 2 * (b.warmupMs + b.timeMs) + 30000;
}

function eldOf(h: IntervalHistogram): Eld {
  return {
    p50Ms: h.percentile(50) / 1e6,
    p99Ms: h.percentile(99) / 1e6,
    maxMs: h.max / 1e6,
    meanMs: h.mean / 1e6,
    samples: h.count,
    resolutionMs: ELD_RESOLUTION_MS,
  };
}

// ---------------------------------------------------------------------------------------------
// the three implementations

/** virtkit, in this process. 64-in-flight runs are watched by monitorEventLoopDelay. */
async function virtkitMeasure(spec: Spec): Promise<{ raw: Raw; eld?: Eld }> {
  let conn: Connection | null = null;
  try {
    let fn: () => Promise<unknown>;
    if (spec.op === 'connect') {
      fn = async () => {
        const c = await connect(spec.uri);
        await c.close();
      };
    } else {
      const c = (conn = await connect(spec.uri));
      const name = spec.domain ?? '';
      if (spec.op === 'lookupInfo') {
        fn = async () => (await c.lookupDomainByName(name)).info();
      } else if (spec.op === 'getXML') {
        const dom = await c.lookupDomainByName(name);
        fn = () => dom.getXML();
      } else {
        fn = () => c.type();
      }
    }
    if (spec.concurrency === 1) return { raw: await measure(fn, spec) };
    const h = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    const raw = await measure(fn, spec, { before: () => h.enable(), after: () => h.disable() });
    return { raw, eld: eldOf(h) };
  } catch (err) {
    return { raw: { samplesNs: [], wallNs: 0, n: 0, error: errorMessage(err) } };
  } finally {
    if (conn) await conn.close().catch(() => undefined);
  }
}

/** virtkit in a fresh Node process with its own environment (VIRTKIT_THREADPOOL_SIZE). */
async function virtkitChild(spec: Spec, env: NodeJS.ProcessEnv): Promise<{ raw: Raw; eld?: Eld }> {
  const r = await run(process.execPath, [__filename, '--child', JSON.stringify(spec)], {
    timeoutMs: phaseTimeoutMs(spec),
    env,
  });
  if (r.code !== 0) throw new Error(`child exited ${r.code}: ${lastLines(r.stderr)}`);
  return JSON.parse(r.stdout) as { raw: Raw; eld?: Eld };
}

async function childMain(specJson: string): Promise<void> {
  const { raw, eld } = await virtkitMeasure(JSON.parse(specJson) as Spec);
  const samplesNs = Array.from(raw.samplesNs, Math.round);
  await writeOut(JSON.stringify({ raw: { ...raw, samplesNs }, eld }) + '\n');
}

async function pythonMeasure(spec: Spec): Promise<Raw> {
  const r = await run(PYTHON, [PY_HELPER, JSON.stringify(spec)], { timeoutMs: phaseTimeoutMs(spec) });
  if (r.code !== 0) throw new Error(`${PYTHON} ${path.relative(ROOT, PY_HELPER)} exited ${r.code}: ${lastLines(r.stderr)}`);
  return JSON.parse(r.stdout) as Raw;
}

/** One op = one `virsh -c URI ...` process, spawned and waited for. */
async function virshMeasure(uri: string, args: string[], b: Budget): Promise<Raw> {
  const fn = async () => {
    const r = await run(VIRSH, ['-q', '-c', uri, ...args], { timeoutMs: 30000 });
    if (r.code !== 0) throw new Error(`virsh ${args.join(' ')} exited ${r.code}: ${lastLines(r.stderr)}`);
  };
  return measure(fn, b);
}

// ---------------------------------------------------------------------------------------------
// the daemon target: $VIRTKIT_BENCH_URI or a private libvirtd from scripts/testenv.js; the
// storage target always uses the private one (it needs the daemon's files to be local)

const PRIVATE_SOURCE = 'private libvirtd (node scripts/testenv.js start)';
let privateDaemon: Promise<PrivateDaemon | { skipped: string }> | null = null;

/** Starts the private libvirtd once per run (the daemon and storage targets share it); it is
 * stopped by the cleanups. */
function startPrivateDaemon(): Promise<PrivateDaemon | { skipped: string }> {
  privateDaemon ??= (async (): Promise<PrivateDaemon | { skipped: string }> => {
    if (!fs.existsSync(TESTENV)) return { skipped: `${path.relative(ROOT, TESTENV)} not found` };
    // Short path: the daemon's UNIX socket lives under it (sun_path is 108 bytes).
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkbench.'));
    let starting: Promise<Ran> | null = null;
    let starter: ChildProcess | null = null;
    cleanups.push({
      what: 'testenv stop',
      fn: async () => {
        if (starter && starter.exitCode === null && starter.signalCode === null) {
          // Interrupted while starting: testenv's start stops what it began on SIGTERM.
          starter.kill('SIGTERM');
          await starting;
        }
        progress(`stopping the private libvirtd (${stateDir})`);
        const r = await run(process.execPath, [TESTENV, 'stop', '--state', stateDir], { timeoutMs: 60000 });
        if (r.code !== 0) progress(`testenv stop exited ${r.code}: ${lastLines(r.stderr)}`);
      },
    });
    progress(`starting a private libvirtd: node scripts/testenv.js start --state ${stateDir}`);
    // The bench needs libvirt only: no tgtd, no Ceph.
    const skip = [process.env.VIRTKIT_TESTENV_SKIP ?? '', 'iscsi', 'ceph'].filter(Boolean).join(',');
    starting = run(process.execPath, [TESTENV, 'start', '--state', stateDir], {
      timeoutMs: 180000,
      env: { ...process.env, VIRTKIT_TESTENV_SKIP: skip },
      onSpawn: (c) => (starter = c),
    });
    const r = await starting;
    if (r.code !== 0) return { skipped: `testenv start exited ${r.code}: ${lastLines(r.stderr)}` };
    let env: { libvirt?: { uri?: string; skipped?: string; pid?: number } };
    try {
      env = JSON.parse(fs.readFileSync(path.join(stateDir, 'env.json'), 'utf8'));
    } catch (err) {
      return { skipped: `cannot read ${stateDir}/env.json: ${errorMessage(err)}` };
    }
    if (env.libvirt?.skipped) return { skipped: `testenv: ${env.libvirt.skipped}` };
    if (!env.libvirt?.uri) return { skipped: 'testenv env.json has no libvirt.uri' };
    return { uri: env.libvirt.uri, stateDir, pid: typeof env.libvirt.pid === 'number' ? env.libvirt.pid : null };
  })();
  return privateDaemon;
}

async function daemonUri(): Promise<{ uri: string; source: string } | { skipped: string; source: string }> {
  const given = process.env.VIRTKIT_BENCH_URI;
  if (given) return { uri: given, source: '$VIRTKIT_BENCH_URI' };
  const d = await startPrivateDaemon();
  return 'skipped' in d ? { skipped: d.skipped, source: PRIVATE_SOURCE } : { uri: d.uri, source: PRIVATE_SOURCE };
}

function guestArch(): string {
  return ({ x64: 'x86_64', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? 'x86_64';
}

/** Defines a minimal persistent (never started) domain for lookup+getInfo and getXMLDesc. */
async function defineBenchDomain(uri: string): Promise<{ name: string } | { skipped: string }> {
  const name = `virtkit-bench-${process.pid}`;
  const xml = `<domain type='qemu'><name>${name}</name><memory>65536</memory><os><type arch='${guestArch()}'>hvm</type></os></domain>\n`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkbench-xml.'));
  const file = path.join(dir, 'domain.xml');
  fs.writeFileSync(file, xml);
  try {
    const r = await run(VIRSH, ['-q', '-c', uri, 'define', file], { timeoutMs: 30000 });
    if (r.code !== 0) return { skipped: `virsh define failed: ${lastLines(r.stderr)}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  cleanups.push({
    what: `undefine ${name}`,
    fn: async () => {
      const r = await run(VIRSH, ['-q', '-c', uri, 'undefine', name], { timeoutMs: 30000 });
      if (r.code !== 0) progress(`virsh undefine ${name} exited ${r.code}: ${lastLines(r.stderr)}`);
    },
  });
  return { name };
}

// ---------------------------------------------------------------------------------------------
// running a target

interface Availability {
  python: string | null; // skip reason, or null when usable
  virsh: string | null;
}

function scaled(b: Omit<Budget, 'concurrency'>, factor: number): Omit<Budget, 'concurrency'> {
  if (factor === 1) return b;
  const n = (x: number) => Math.max(1, Math.round(x * factor));
  return { warmup: n(b.warmup), warmupMs: n(b.warmupMs), iterations: n(b.iterations), timeMs: n(b.timeMs) };
}

async function runTarget(t: Target, avail: Availability, factor: number): Promise<void> {
  const uri = t.uri!;
  for (const op of OPS) {
    if (op.testOnly && t.name !== 'test') continue;
    const budget = scaled(op.budget, factor);
    const spec: Spec = { uri, op: op.kind, domain: t.domain, concurrency: op.concurrency, ...budget };
    const base = { target: t.name, op: op.id, label: op.label };
    const impls: Impl[] = ['virtkit'];
    if (op.concurrency > 1 && !op.extra) impls.push('virtkit-uv64');
    impls.push('python');
    // Over a socket, libvirt's client behaves differently once an event loop is registered
    // (virtkit always registers one): measure python3-libvirt that way too.
    if (t.name === 'daemon') impls.push('python-el');
    if (op.virsh) impls.push('virsh');
    for (const impl of impls) {
      if (state.aborted) return;
      const row: Row = { ...base, impl, implLabel: IMPL_LABEL[impl], how: '' };
      t.rows.push(row);
      const poolSize = process.env.VIRTKIT_THREADPOOL_SIZE ?? '32 (default)';
      row.how =
        impl === 'virtkit' ? `in-process, VIRTKIT_THREADPOOL_SIZE=${poolSize}${op.concurrency > 1 ? `, ${op.concurrency} promises` : ''}`
        : impl === 'virtkit-uv64' ? `child process, VIRTKIT_THREADPOOL_SIZE=64, ${op.concurrency} promises`
        : impl === 'python' || impl === 'python-el'
          ? `${PYTHON} bench/pylibvirt.py${impl === 'python-el' ? ', virEventRegisterDefaultImpl + a thread running the loop' : ''}` +
            `${op.concurrency > 1 ? `, ${op.concurrency} threads, one connection` : ''}`
        : `${VIRSH} -q -c ${uri} ${op.virsh!(t.domain ?? 'DOMAIN').join(' ')}`;
      if (op.needsDomain && !t.domain) {
        row.skipped = t.domainSkipped ?? 'no domain';
        continue;
      }
      if ((impl === 'python' || impl === 'python-el') && avail.python) {
        row.skipped = avail.python;
        continue;
      }
      if (impl === 'virsh' && avail.virsh) {
        row.skipped = avail.virsh;
        continue;
      }
      await measureRow(
        row,
        async () => {
          if (impl === 'virtkit' || impl === 'virtkit-uv64') {
            const r = impl === 'virtkit' ? await virtkitMeasure(spec)
              : await virtkitChild(spec, { ...process.env, VIRTKIT_THREADPOOL_SIZE: '64' });
            if (r.eld) row.eld = r.eld;
            return r.raw;
          }
          if (impl === 'python' || impl === 'python-el') return pythonMeasure({ ...spec, eventLoop: impl === 'python-el' });
          const vb = scaled(VIRSH_BUDGET, factor);
          return virshMeasure(uri, op.virsh!(t.domain ?? ''), { ...vb, concurrency: 1 });
        },
        `${targetLabel(t)}  ${op.label}  ${row.implLabel}`,
        (s) => `${s.n} ops, mean ${fmtUs(s.meanUs)} µs, ${fmtRate(s.opsPerSec)} ops/s`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// output


function targetTable(t: Target): string {
  const withEl = t.rows.some((r) => r.impl === 'python-el');
  const headers = ['operation', 'implementation', 'n', 'mean µs', 'p50 µs', 'p99 µs', 'ops/s', 'vs python', ...(withEl ? ['vs py+EL'] : []), 'vs virsh'];
  const right = headers.map((_, i) => i >= 2);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const op of OPS) {
    const opRows = t.rows.filter((r) => r.op === op.id);
    if (!opRows.length) continue;
    const ref = (impl: Impl) => opRows.find((r) => r.impl === impl)?.stats;
    opRows.forEach((r, i) => {
      const label = i === 0 ? op.label + (op.extra ? ' (extra)' : '') : '';
      const mine = r.impl.startsWith('virtkit');
      const vs = (impl: Impl) => (mine ? ratio(r.stats, ref(impl)) : '');
      const ratios = [vs('python'), ...(withEl ? [vs('python-el')] : []), vs('virsh')];
      if (r.stats) {
        const s = r.stats;
        rows.push([label, r.implLabel, String(s.n), fmtUs(s.meanUs), fmtUs(s.p50Us), fmtUs(s.p99Us), fmtRate(s.opsPerSec), ...ratios]);
      } else {
        // The reason goes below the table, so that it does not widen a column.
        rows.push([label, r.implLabel, r.skipped ? 'skipped' : 'error', ...headers.slice(3).map(() => '')]);
        notes.push(`  ${op.label} / ${r.implLabel}: ${r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`}`);
      }
    });
  }
  return [table(headers, rows, right), ...notes].join('\n');
}

/** Short name for summaries: the daemon's URI is long (it names a socket path). */
function targetLabel(t: Target): string {
  return t.name === 'test' ? 'test:///default' : 'daemon';
}

function find(targets: Target[], target: string, op: string, impl: Impl): Row | undefined {
  return targets.find((t) => t.name === target)?.rows.find((r) => r.op === op && r.impl === impl);
}

function goals(targets: Target[]): Goal[] {
  const out: Goal[] = [];
  const missing = (r?: Row) => (r ? (r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`) : 'not run');

  const call = find(targets, 'test', 'type', 'virtkit');
  const callPy = find(targets, 'test', 'type', 'python');
  out.push({
    goal: 'per-call overhead < 10 µs (conn.type() sequential, mean)',
    target: 'test:///default',
    pass: call?.stats ? call.stats.meanUs < 10 : null,
    detail: call?.stats
      ? `virtkit mean ${fmtUs(call.stats.meanUs)} µs, p50 ${fmtUs(call.stats.p50Us)} µs` +
        (callPy?.stats
          ? `; python3-libvirt mean ${fmtUs(callPy.stats.meanUs)} µs (virtkit's extra cost per call: ${fmtUs(call.stats.meanUs - callPy.stats.meanUs)} µs)`
          : '')
      : missing(call),
  });

  for (const op of ['connect', 'lookupInfo', 'getXML']) {
    const vk = find(targets, 'daemon', op, 'virtkit');
    const py = find(targets, 'daemon', op, 'python');
    const label = OPS.find((o) => o.id === op)!.label;
    const el = find(targets, 'daemon', op, 'python-el');
    out.push({
      goal: `daemon, sequential ${label}: virtkit at least as fast as python3-libvirt`,
      target: 'daemon',
      pass: vk?.stats && py?.stats ? vk.stats.opsPerSec >= py.stats.opsPerSec : null,
      detail: vk?.stats && py?.stats
        ? `virtkit ${fmtRate(vk.stats.opsPerSec)} ops/s vs ${fmtRate(py.stats.opsPerSec)} ops/s (${ratio(vk.stats, py.stats)})` +
          (el?.stats ? `; python3-libvirt + event loop: ${fmtRate(el.stats.opsPerSec)} ops/s (virtkit ${ratio(vk.stats, el.stats)})` : '')
        : missing(vk?.stats ? py : vk),
    });
  }

  for (const t of targets) {
    const vk = find(targets, t.name, 'lookupInfo64', 'virtkit');
    const py = find(targets, t.name, 'lookupInfo64', 'python');
    const uv = find(targets, t.name, 'lookupInfo64', 'virtkit-uv64');
    const el = find(targets, t.name, 'lookupInfo64', 'python-el');
    out.push({
      goal: '64 in flight: virtkit faster than python3-libvirt with 64 threads',
      target: targetLabel(t),
      pass: vk?.stats && py?.stats ? vk.stats.opsPerSec > py.stats.opsPerSec : null,
      detail: vk?.stats && py?.stats
        ? `virtkit ${fmtRate(vk.stats.opsPerSec)} ops/s vs ${fmtRate(py.stats.opsPerSec)} ops/s (${ratio(vk.stats, py.stats)})` +
          (uv?.stats ? `; with VIRTKIT_THREADPOOL_SIZE=64: ${fmtRate(uv.stats.opsPerSec)} ops/s (${ratio(uv.stats, py.stats)})` : '') +
          (el?.stats ? `; python3-libvirt + event loop: ${fmtRate(el.stats.opsPerSec)} ops/s (virtkit ${ratio(vk.stats, el.stats)})` : '')
        : missing(vk?.stats ? py : vk),
    });
  }

  for (const t of targets) {
    const vk = find(targets, t.name, 'lookupInfo64', 'virtkit');
    out.push({
      goal: 'event-loop delay p99 < 5 ms during virtkit 64 in flight',
      target: targetLabel(t),
      pass: vk?.eld ? vk.eld.p99Ms < 5 : null,
      detail: vk?.eld ? `p99 ${fmtMs(vk.eld.p99Ms)} ms (raw histogram, includes the ${ELD_RESOLUTION_MS} ms sampling interval)` : missing(vk),
    });
  }
  return out;
}

function eldTable(targets: Target[], idle: Eld): string {
  const rows: string[][] = [['idle (baseline)', '-', fmtMs(idle.p50Ms), fmtMs(idle.p99Ms), fmtMs(idle.maxMs), String(idle.samples)]];
  for (const t of targets) {
    for (const r of t.rows) {
      if (!r.eld) continue;
      rows.push([`${targetLabel(t)}  ${r.label}`, r.implLabel, fmtMs(r.eld.p50Ms), fmtMs(r.eld.p99Ms), fmtMs(r.eld.maxMs), String(r.eld.samples)]);
    }
  }
  return table(['run', 'implementation', 'p50 ms', 'p99 ms', 'max ms', 'samples'], rows, [false, false, true, true, true, true]);
}

// ---------------------------------------------------------------------------------------------
// main

async function idleEld(ms: number): Promise<Eld> {
  const h = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  h.enable();
  await new Promise((r) => setTimeout(r, ms));
  h.disable();
  return eldOf(h);
}

async function availability(): Promise<Availability> {
  let python: string | null = null;
  if (!fs.existsSync(PYTHON)) python = `${PYTHON} not found`;
  else {
    const r = await run(PYTHON, ['-c', 'import libvirt'], { timeoutMs: 30000 });
    if (r.code !== 0) python = `${PYTHON} cannot import libvirt (Debian package python3-libvirt): ${lastLines(r.stderr, 1)}`;
  }
  const v = await run(VIRSH, ['--version'], { timeoutMs: 30000 });
  const virsh = v.code === 0 ? null : `${VIRSH} not usable (Debian package libvirt-clients): ${lastLines(v.stderr, 1)}`;
  return { python, virsh };
}

const PY_VERSIONS = `
import sys
try:
    from importlib.metadata import version
    binding = version("libvirt-python")
except Exception:
    binding = "?"
print("%s, libvirt-python %s" % (sys.version.split()[0], binding))
`;

async function versions(): Promise<Record<string, string>> {
  const py = await run(PYTHON, ['-c', PY_VERSIONS], { timeoutMs: 30000 });
  const vs = await run(VIRSH, ['--version'], { timeoutMs: 30000 });
  return {
    node: process.version,
    libvirt: formatVersion(libvirtVersion()),
    python: py.code === 0 ? py.stdout.trim() : 'unavailable',
    virsh: vs.code === 0 ? vs.stdout.trim() : 'unavailable',
  };
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') return childMain(argv[1] ?? '{}');
  if (argv[0] === '--child-stream') return writeOut(await streamChildMain(argv[1] ?? '{}'));
  const wanted = new Set<string>();
  let factor = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--target') wanted.add(argv[++i] ?? '');
    else if (a.startsWith('--target=')) wanted.add(a.slice('--target='.length));
    else if (a === '--quick') factor = 0.1;
    else throw new Error(`unknown argument ${a} (usage: run.js [--target test|daemon|storage|domains|iscsi]... [--quick])`);
  }
  for (const w of wanted) if (!['test', 'daemon', 'storage', 'domains', 'iscsi'].includes(w)) throw new Error(`unknown target ${w}`);
  const want = (n: string) => wanted.size === 0 || wanted.has(n);

  cleanUpOnSignals();

  const started = Date.now();
  const cpus = os.cpus();
  const meta = {
    date: new Date().toISOString(),
    host: os.hostname(),
    kernel: os.release(),
    cpu: `${cpus[0]?.model ?? 'unknown'} x ${cpus.length}`,
    uvThreadpoolSize: process.env.VIRTKIT_THREADPOOL_SIZE ?? '32 (default)',
    /** 1-minute load average before and after: other work on the machine skews every number. */
    loadavgStart: os.loadavg()[0]!,
    quick: factor !== 1,
    versions: await versions(),
  };
  const avail = await availability();
  const idle = await idleEld(500);
  const targets: Target[] = [];
  let storage: StorageTarget | null = null;
  let domains: DomainsTarget | null = null;
  let iscsiTarget: IscsiTarget | null = null;

  try {
    if (want('test')) {
      const t: Target = { name: 'test', uri: 'test:///default', source: "libvirt's in-process test driver", domain: 'test', rows: [] };
      targets.push(t);
      await runTarget(t, avail, factor);
    }
    if (want('daemon') && !state.aborted) {
      const d = await daemonUri();
      const t: Target = { name: 'daemon', uri: null, source: d.source, domain: null, rows: [] };
      targets.push(t);
      if ('skipped' in d) t.skipped = d.skipped;
      else if (!state.aborted) {
        t.uri = d.uri;
        const dom = await defineBenchDomain(d.uri);
        if ('name' in dom) t.domain = dom.name;
        else t.domainSkipped = dom.skipped;
        await runTarget(t, avail, factor);
      }
    }
    if (want('storage') && !state.aborted) {
      // Always the private libvirtd, even with $VIRTKIT_BENCH_URI: the pool, the files and
      // libvirtd's CPU time must be local.
      storage = { name: 'storage', uri: null, source: PRIVATE_SOURCE, setup: [], notes: [], rows: [] };
      const d = await startPrivateDaemon();
      if ('skipped' in d) storage.skipped = d.skipped;
      else if (!state.aborted) {
        try {
          await runStorage(storage, { daemon: d, python: avail.python, virsh: avail.virsh, factor });
        } catch (err) {
          storage.error = errorMessage(err);
          progress(`storage: failed: ${storage.error}`);
        }
      }
    }
    if (want('domains') && !state.aborted) {
      domains = { name: 'domains', uri: null, source: PRIVATE_SOURCE, setup: [], rows: [] };
      const d = await startPrivateDaemon();
      if ('skipped' in d) domains.skipped = d.skipped;
      else if (!state.aborted) {
        try {
          await runDomains(domains, { daemon: d, python: avail.python, virsh: avail.virsh, factor });
        } catch (err) {
          domains.error = errorMessage(err);
          progress(`domains: failed: ${domains.error}`);
        }
      }
    }
    if (want('iscsi') && !state.aborted) {
      iscsiTarget = { name: 'iscsi', source: 'a private tgtd from scripts/testenv.js, libiscsi-bin tools', setup: [], rows: [] };
      try {
        await runIscsi(iscsiTarget, { factor });
      } catch (err) {
        iscsiTarget.error = errorMessage(err);
        progress(`iscsi: failed: ${iscsiTarget.error}`);
      }
    }
  } finally {
    await runCleanups();
  }
  if (state.aborted) return new Promise<void>(() => undefined); // the signal handler exits

  // ---- report
  const loadavgEnd = os.loadavg()[0]!;
  const out: string[] = [];
  out.push('');
  out.push(`virtkit benchmark  ${meta.date}  ${meta.cpu}  ${meta.kernel}`);
  out.push(
    `node ${meta.versions.node}, libvirt ${meta.versions.libvirt}, python ${meta.versions.python} (${PYTHON}), ` +
      `virsh ${meta.versions.virsh}, VIRTKIT_THREADPOOL_SIZE=${meta.uvThreadpoolSize}${meta.quick ? ', --quick' : ''}`,
  );
  out.push(
    `1-min load average: ${meta.loadavgStart.toFixed(2)} at start, ${loadavgEnd.toFixed(2)} at end ` +
      `(${cpus.length} CPUs; anything else running skews the numbers)`,
  );
  out.push('Latencies per op in µs. "vs X": virtkit ops/s divided by X\'s (above 1: virtkit faster).');
  out.push('"python3-libvirt + event loop" (py+EL): the same helper with libvirt\'s default event loop running on a thread, as in virtkit.');
  for (const t of targets) {
    out.push('');
    out.push(`== ${t.uri ?? t.name}  (${t.source}${t.domain ? `; domain ${t.domain}` : ''})`);
    if (t.skipped) {
      out.push(`skipped: ${t.skipped}`);
      continue;
    }
    out.push(targetTable(t));
  }
  if (storage) {
    out.push('');
    out.push(storageReport(storage));
  }
  if (domains) {
    out.push('');
    out.push(domainsReport(domains));
  }
  if (iscsiTarget) {
    out.push('');
    out.push(iscsiReport(iscsiTarget));
  }
  if (targets.length) {
    out.push('');
    out.push(`== Event-loop delay (monitorEventLoopDelay, resolution ${ELD_RESOLUTION_MS} ms; the raw histogram includes the interval, so idle reads about ${ELD_RESOLUTION_MS} ms)`);
    out.push(eldTable(targets, idle));
  }
  const g = [...(targets.length ? goals(targets) : []), ...storageGoals(storage), ...domainsGoals(domains), ...iscsiGoals(iscsiTarget)];
  out.push('');
  out.push('== Targets from the issue (informational: the bench never fails on them)');
  for (const x of g) {
    const mark = x.pass === null ? '[ -- ]' : x.pass ? '[PASS]' : '[FAIL]';
    out.push(`${mark} ${x.goal}  @ ${x.target}`);
    out.push(`       ${x.detail}`);
  }
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(
    RESULTS_FILE,
    JSON.stringify({ meta: { ...meta, loadavgEnd, durationS: (Date.now() - started) / 1000 }, idleEventLoopDelay: idle, targets: [...targets, ...(storage ? [storage] : []), ...(domains ? [domains] : []), ...(iscsiTarget ? [iscsiTarget] : [])], goals: g }, null, 2) + '\n',
  );
  out.push('');
  out.push(`Results: ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}  (whole run ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  await writeOut(out.join('\n') + '\n');
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  async (err) => {
    progress(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    await runCleanups();
    process.exit(1);
  },
);
