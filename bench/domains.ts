/**
 * The domains target of virtkit's benchmark (see bench/README.md), on the private libvirtd:
 *
 * 1. Listing: GUESTS persistent QEMU guests are defined (untimed, never started); one op lists
 *    every one of them with its state: virtkit (`listAllDomains()` then `state()` of each, all
 *    in flight; and one `getAllDomainStats(STATE)` call), python3-libvirt (`listAllDomains()`
 *    then `name()` and `state()` of each, in order; and one `getAllDomainStats`), and
 *    `virsh list --all` (one process per listing).
 * 2. Events: CYCLES define/undefine cycles of a guest, one after the other, with a
 *    connection-wide `domain-lifecycle` listener: cycles per second, events received, and the
 *    delivery latency of each event, from the moment libvirt called virtkit's native callback
 *    (on its event-loop thread) to the moment the JS listener ran. The same on the test driver,
 *    where no daemon or socket is involved.
 */
import { performance } from 'node:perf_hooks';
import { connect, DomainStatsTypes, type Connection, type DomainLifecycleEvent } from 'virtkit';
import { _eventProbe } from '../lib/emitter';
import { cleanups, errorMessage, fmtRate, lastLines, measureRow, progress, PY_HELPER, PYTHON, ratio, run, state, table, VIRSH, type Goal, type PrivateDaemon } from './common';
import { measure, type Budget, type Raw, type Stats } from './measure';

/** Defined guests in the listing rows. */
const GUESTS = 200;
/** Define/undefine cycles per event row. */
const CYCLES = 1000;

const LIST_BUDGET: Omit<Budget, 'concurrency'> = { warmup: 3, warmupMs: 1000, iterations: 200, timeMs: 4000 };
const VIRSH_BUDGET: Omit<Budget, 'concurrency'> = { warmup: 1, warmupMs: 1000, iterations: 30, timeMs: 4000 };

export interface DomainsRow {
  op: 'list' | 'events';
  impl: string;
  implLabel: string;
  how: string;
  stats?: Stats;
  /** events rows */
  uri?: string;
  cycles?: number;
  cyclesPerSec?: number;
  eventsExpected?: number;
  eventsReceived?: number;
  latencyUs?: { p50: number; p99: number; max: number; mean: number };
  skipped?: string;
  error?: string;
}

export interface DomainsTarget {
  name: 'domains';
  source: string;
  uri: string | null;
  skipped?: string;
  error?: string;
  setup: { what: string; ms: number }[];
  rows: DomainsRow[];
}

export interface DomainsContext {
  daemon: PrivateDaemon;
  python: string | null;
  virsh: string | null;
  factor: number;
}

const guestXml = (name: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`;
const testXml = (name: string) => `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;

function scaled(b: Omit<Budget, 'concurrency'>, factor: number): Budget {
  const n = (x: number) => Math.max(1, Math.round(x * factor));
  return factor === 1 ? { ...b, concurrency: 1 } : { warmup: n(b.warmup), warmupMs: n(b.warmupMs), iterations: n(b.iterations), timeMs: n(b.timeMs), concurrency: 1 };
}

/** Domains every listing must return: GUESTS plus what the daemon had before (the daemon
 * target's own guest, when it ran first). */
let expected = GUESTS;

function check(n: number): void {
  if (n !== expected) throw new Error(`listed ${n} domains, expected ${expected}`);
}

async function python(uri: string, op: string, b: Budget): Promise<Raw> {
  const spec = { uri, op, expect: expected, ...b };
  const r = await run(PYTHON, [PY_HELPER, JSON.stringify(spec)], { timeoutMs: 2 * (b.warmupMs + b.timeMs) + 60000 });
  if (r.code !== 0) throw new Error(`${PYTHON} bench/pylibvirt.py exited ${r.code}: ${lastLines(r.stderr)}`);
  return JSON.parse(r.stdout) as Raw;
}

async function virshList(uri: string): Promise<void> {
  const r = await run(VIRSH, ['-q', '-c', uri, 'list', '--all'], { timeoutMs: 60000 });
  if (r.code !== 0) throw new Error(`virsh exited ${r.code}: ${lastLines(r.stderr)}`);
  check(r.stdout.split('\n').filter((l) => l.trim()).length);
}

/** One event row: `cycles` define/undefine cycles on `uri` with a lifecycle listener. */
async function eventRow(row: DomainsRow, uri: string, xml: (name: string) => string, cycles: number): Promise<void> {
  const conn = await connect(uri, { events: true });
  try {
    const latencies = new Float64Array(cycles * 2);
    let received = 0;
    let pendingRaised = 0;
    _eventProbe.raw = (raw) => {
      if (typeof raw.raisedNs === 'number') pendingRaised = raw.raisedNs;
    };
    conn.on('domain-lifecycle', (e: DomainLifecycleEvent) => {
      if (!e.domain.name.startsWith('vk-bench-ev-')) return;
      const now = Number(process.hrtime.bigint());
      if (received < latencies.length) latencies[received] = (now - pendingRaised) / 1000;
      received++;
    });
    await conn.eventsReady();
    const t0 = performance.now();
    for (let i = 0; i < cycles && !state.aborted; i++) {
      const dom = await conn.defineDomain(xml(`vk-bench-ev-${i % 10}`));
      await dom.undefine();
    }
    const ms = performance.now() - t0;
    // The last events may still be on their way: wait (bounded) for them.
    for (let i = 0; i < 100 && received < cycles * 2; i++) await new Promise((r) => setTimeout(r, 20));
    const l = Array.from(latencies.subarray(0, Math.min(received, latencies.length))).sort((a, b) => a - b);
    const q = (p: number) => l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? NaN;
    row.cycles = cycles;
    row.cyclesPerSec = cycles / (ms / 1000);
    row.eventsExpected = cycles * 2;
    row.eventsReceived = received;
    row.latencyUs = { p50: q(0.5), p99: q(0.99), max: l[l.length - 1] ?? NaN, mean: l.reduce((a, b) => a + b, 0) / (l.length || 1) };
    progress(`domains  events ${row.implLabel}: ${row.cyclesPerSec.toFixed(0)} cycles/s, ${received}/${cycles * 2} events, latency p50 ${row.latencyUs.p50.toFixed(0)} µs p99 ${row.latencyUs.p99.toFixed(0)} µs`);
  } finally {
    _eventProbe.raw = null;
    await conn.close();
  }
}

export async function runDomains(target: DomainsTarget, ctx: DomainsContext): Promise<void> {
  const uri = ctx.daemon.uri;
  target.uri = uri;
  const conn: Connection = await connect(uri);
  cleanups.push({ what: 'domains connection', fn: () => conn.close() });
  // Setup: GUESTS defined guests (never started).
  const t0 = performance.now();
  const names = Array.from({ length: GUESTS }, (_, i) => `vk-bench-list-${String(i).padStart(3, '0')}`);
  expected = GUESTS + (await conn.listAllDomains()).length;
  const doms = await Promise.all(names.map((n) => conn.defineDomain(guestXml(n))));
  cleanups.push({ what: `undefine ${GUESTS} guests`, fn: async () => void (await Promise.all(doms.map((d) => d.undefine().catch(() => undefined)))) });
  target.setup.push({ what: `define ${GUESTS} guests`, ms: performance.now() - t0 });

  const rows: Array<DomainsRow & { measure: (b: Budget) => Promise<Raw>; budget: Omit<Budget, 'concurrency'> }> = [
    {
      op: 'list', impl: 'virtkit', implLabel: 'virtkit', how: 'listAllDomains() + state() of each, all in flight', budget: LIST_BUDGET,
      measure: (b) => measure(async () => check((await Promise.all((await conn.listAllDomains()).map((d) => d.state()))).length), b),
    },
    {
      op: 'list', impl: 'virtkit-stats', implLabel: 'virtkit getAllDomainStats', how: 'getAllDomainStats(STATE): one call', budget: LIST_BUDGET,
      measure: (b) => measure(async () => check((await conn.getAllDomainStats(DomainStatsTypes.VIR_DOMAIN_STATS_STATE)).length), b),
    },
    {
      op: 'list', impl: 'python', implLabel: 'python3-libvirt', how: 'listAllDomains() + name(), state() of each, in order', budget: LIST_BUDGET,
      skipped: ctx.python ?? undefined, measure: (b) => python(uri, 'listDomainsState', b),
    },
    {
      op: 'list', impl: 'python-stats', implLabel: 'python3-libvirt getAllDomainStats', how: 'getAllDomainStats(STATE): one call', budget: LIST_BUDGET,
      skipped: ctx.python ?? undefined, measure: (b) => python(uri, 'allDomainStatsState', b),
    },
    {
      op: 'list', impl: 'virsh', implLabel: 'virsh list --all', how: 'one virsh process per listing', budget: VIRSH_BUDGET,
      skipped: ctx.virsh ?? undefined, measure: (b) => measure(() => virshList(uri), b),
    },
  ];
  for (const r of rows) {
    const { measure: m, budget, ...row } = r;
    target.rows.push(row);
    if (row.skipped || state.aborted) continue;
    await measureRow(row, () => m(scaled(budget, ctx.factor)), `domains  list ${GUESTS} with state  ${row.implLabel}`,
      (s) => `${s.n} listings, mean ${(s.meanUs / 1000).toFixed(2)} ms`);
  }

  const cycles = Math.max(10, Math.round(CYCLES * ctx.factor));
  for (const [u, label, xml] of [[uri, 'private libvirtd', guestXml], ['test:///default', 'test driver', testXml]] as const) {
    const row: DomainsRow = { op: 'events', impl: label === 'test driver' ? 'virtkit-test' : 'virtkit', implLabel: `virtkit, ${label}`, how: `${cycles} define/undefine cycles in order, one domain-lifecycle listener`, uri: u };
    target.rows.push(row);
    if (state.aborted) break;
    try {
      await eventRow(row, u, xml, cycles);
    } catch (err) {
      row.error = errorMessage(err);
      progress(`domains  events ${label}: error: ${row.error}`);
    }
  }
}

export function domainsReport(t: DomainsTarget): string {
  const out: string[] = [];
  out.push(`== domains  (${t.source})`);
  if (t.skipped) return [...out, `skipped: ${t.skipped}`].join('\n');
  if (t.error) out.push(`failed part-way: ${t.error}`);
  for (const s of t.setup) out.push(`setup: ${s.what}: ${(s.ms / 1000).toFixed(1)} s`);
  const list = t.rows.filter((r) => r.op === 'list');
  const base = list.find((r) => r.impl === 'virtkit')?.stats;
  out.push(`List ${GUESTS} defined guests with their state (one op = the whole listing; ms):`);
  out.push(table(['implementation', 'how', 'n', 'mean ms', 'p50 ms', 'p99 ms', 'listings/s', 'virtkit vs'],
    list.map((r) => [r.implLabel, r.how, r.stats ? String(r.stats.n) : '-',
      ...(r.stats ? [(r.stats.meanUs / 1000).toFixed(2), (r.stats.p50Us / 1000).toFixed(2), (r.stats.p99Us / 1000).toFixed(2), fmtRate(r.stats.opsPerSec)] : [r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`, '', '', '']),
      r.impl === 'virtkit' ? '' : ratio(base, r.stats)]),
    [false, false, true, true, true, true, true, true]));
  const ev = t.rows.filter((r) => r.op === 'events');
  out.push('');
  out.push('Events: define/undefine cycles with a domain-lifecycle listener; latency = libvirt calling the native callback -> the JS listener running (µs):');
  out.push(table(['where', 'cycles', 'cycles/s', 'events', 'p50 µs', 'p99 µs', 'max µs', 'mean µs'],
    ev.map((r) => r.latencyUs ? [r.implLabel, String(r.cycles), r.cyclesPerSec!.toFixed(0), `${r.eventsReceived}/${r.eventsExpected}`, r.latencyUs.p50.toFixed(0), r.latencyUs.p99.toFixed(0), r.latencyUs.max.toFixed(0), r.latencyUs.mean.toFixed(0)]
      : [r.implLabel, `error: ${r.error ?? r.skipped}`, '', '', '', '', '', '']),
    [false, true, true, true, true, true, true, true]));
  return out.join('\n');
}

export function domainsGoals(t: DomainsTarget | null): Goal[] {
  if (!t || t.skipped) return [];
  const v = t.rows.find((r) => r.impl === 'virtkit')?.stats;
  const p = t.rows.find((r) => r.impl === 'python')?.stats;
  const ev = t.rows.find((r) => r.op === 'events' && r.impl === 'virtkit');
  return [
    {
      goal: `list ${GUESTS} guests with state: virtkit at least as fast as python3-libvirt`,
      target: 'domains',
      pass: v && p ? v.opsPerSec >= p.opsPerSec : null,
      detail: v && p ? `virtkit ${fmtRate(v.opsPerSec)}/s, python3-libvirt ${fmtRate(p.opsPerSec)}/s (x${(v.opsPerSec / p.opsPerSec).toFixed(2)})` : 'not measured',
    },
    {
      goal: `every event of ${CYCLES} define/undefine cycles delivered`,
      target: 'domains',
      pass: ev?.eventsReceived !== undefined ? ev.eventsReceived === ev.eventsExpected : null,
      detail: ev?.latencyUs ? `${ev.eventsReceived}/${ev.eventsExpected}, latency p50 ${ev.latencyUs.p50.toFixed(0)} µs, p99 ${ev.latencyUs.p99.toFixed(0)} µs` : 'not measured',
    },
  ];
}
