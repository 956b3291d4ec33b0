/**
 * Bounded timing loops and the statistics every implementation is summarised with.
 * Latencies are kept in nanoseconds (doubles); `performance.now()` is Node's monotonic
 * high-resolution clock (not coarsened).
 */
import { performance } from 'node:perf_hooks';

/** How long one measurement may run: each phase stops at its count or its time, first hit. */
export interface Budget {
  warmup: number;
  warmupMs: number;
  iterations: number;
  timeMs: number;
  /** Operations in flight at once (closed loop: each worker starts its next op when one ends). */
  concurrency: number;
}

/** What a measured phase produced, in the shape pylibvirt.py prints too. */
export interface Raw {
  samplesNs: ArrayLike<number>;
  wallNs: number;
  n: number;
  error: string | null;
}

export interface Stats {
  n: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  minUs: number;
  maxUs: number;
  /** Completed operations per second of wall time of the measured phase. */
  opsPerSec: number;
  wallMs: number;
}

/**
 * Runs `fn` for `n` operations or `ms` milliseconds, whichever comes first, with
 * `concurrency` workers. Records each op's latency into `record` (when given). An error stops
 * every worker; the first one is returned.
 */
async function phase(
  fn: () => Promise<unknown>,
  n: number,
  ms: number,
  concurrency: number,
  record: Float64Array | null,
): Promise<{ n: number; wallNs: number; error: string | null }> {
  let claimed = 0;
  let done = 0;
  let error: string | null = null;
  const deadline = performance.now() + ms;
  const worker = async (): Promise<void> => {
    while (error === null && claimed < n && performance.now() < deadline) {
      const i = claimed++;
      const t0 = performance.now();
      try {
        await fn();
      } catch (err) {
        error ??= err instanceof Error ? err.message : String(err);
        return;
      }
      const t1 = performance.now();
      if (record) record[i] = (t1 - t0) * 1e6;
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallNs = (performance.now() - t0) * 1e6;
  return { n: done, wallNs, error };
}

/**
 * Warm-up, then the measured phase. `around` brackets the measured phase only (the event-loop
 * delay monitor hooks in there).
 */
export async function measure(
  fn: () => Promise<unknown>,
  b: Budget,
  around?: { before(): void; after(): void },
): Promise<Raw> {
  const warm = await phase(fn, b.warmup, b.warmupMs, b.concurrency, null);
  if (warm.error !== null) return { samplesNs: [], wallNs: 0, n: 0, error: warm.error };
  const record = new Float64Array(b.iterations);
  around?.before();
  let r;
  try {
    r = await phase(fn, b.iterations, b.timeMs, b.concurrency, record);
  } finally {
    around?.after();
  }
  // With an error, claimed-but-failed slots stay 0: keep only completed ones.
  const samples = r.error === null ? record.subarray(0, r.n) : record.subarray(0, r.n).filter((x) => x > 0);
  return { samplesNs: samples, wallNs: r.wallNs, n: samples.length, error: r.error };
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarise(raw: Raw): Stats {
  const sorted = Float64Array.from(raw.samplesNs).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  const n = sorted.length;
  return {
    n,
    meanUs: n ? sum / n / 1e3 : NaN,
    p50Us: percentile(sorted, 50) / 1e3,
    p99Us: percentile(sorted, 99) / 1e3,
    minUs: n ? sorted[0]! / 1e3 : NaN,
    maxUs: n ? sorted[n - 1]! / 1e3 : NaN,
    opsPerSec: raw.wallNs > 0 ? n / (raw.wallNs / 1e9) : NaN,
    wallMs: raw.wallNs / 1e6,
  };
}
