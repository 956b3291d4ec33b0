/**
 * What run.ts and storage.ts share: paths, running programs, cleanups and signal state, and
 * the table formatting of the report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { summarise, type Raw, type Stats } from './measure';

export const ROOT = path.resolve(__dirname, '..', '..'); // dist/bench -> repo root
export const PYTHON = '/usr/bin/python3'; // Debian's, which has python3-libvirt (not pyenv's python3)
export const PY_HELPER = path.join(ROOT, 'bench', 'pylibvirt.py');
export const VIRSH = fs.existsSync('/usr/bin/virsh') ? '/usr/bin/virsh' : 'virsh';

// ---------------------------------------------------------------------------------------------
// small helpers

export function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

export interface Ran {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell); never rejects. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcess) => void },
): Promise<Ran> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onSpawn?.(child);
    const timer = setTimeout(() => {
      err.push(Buffer.from(`\n(timed out after ${opts.timeoutMs} ms)`));
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const finish = (code: number | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    };
    child.on('error', (e) => {
      err.push(Buffer.from(e.message));
      finish(-1);
    });
    child.on('close', (code, signal) => finish(code ?? `signal ${signal}`));
  });
}

/** Writes to stdout and waits until it is flushed: a pipe may take it asynchronously, and
 * main() ends with process.exit(). */
export function writeOut(s: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(s, (err) => (err ? reject(err) : resolve())));
}

export function lastLines(s: string, n = 3): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// cleanups and signals

/** `aborted` is set by SIGINT/SIGTERM: no new measurement starts, no report is written. */
export const state = { aborted: false };

/** On SIGINT/SIGTERM: sets `state.aborted`, runs the cleanups, exits 130/143 without a report. */
export function cleanUpOnSignals(): void {
  const onSignal = (sig: NodeJS.Signals) => {
    if (state.aborted) return;
    state.aborted = true;
    progress(`${sig}: cleaning up, no report`);
    void runCleanups().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * Runs one measurement into a report row: its stats, or its error; then prints a progress
 * line, `describe` saying what the stats mean (the elapsed seconds are added).
 */
export async function measureRow(
  row: { stats?: Stats; error?: string },
  measureFn: () => Promise<Raw>,
  label: string,
  describe: (s: Stats) => string,
): Promise<void> {
  const t0 = Date.now();
  try {
    const raw = await measureFn();
    if (raw.error !== null) row.error = raw.error;
    else row.stats = summarise(raw);
  } catch (err) {
    row.error = errorMessage(err);
  }
  const s = row.stats;
  progress(`${label}: ${s ? describe(s) : `error: ${row.error}`} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

export type Cleanup = { what: string; fn: () => Promise<void> };
export const cleanups: Cleanup[] = [];

let cleaning: Promise<void> | null = null;

/** Undoes what was set up, newest first. Once: later calls wait for the same run. */
export function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const c = cleanups.pop()!;
      try {
        await c.fn();
      } catch (err) {
        progress(`cleanup (${c.what}) failed: ${errorMessage(err)}`);
      }
    }
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// output

export function fmtUs(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (x < 10) return x.toFixed(2);
  if (x < 1000) return x.toFixed(1);
  return x.toFixed(0);
}

export function fmtRate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x >= 100 ? Math.round(x).toString() : x.toFixed(1);
}

export function fmtMs(x: number): string {
  return x.toFixed(2);
}

/** virtkit's throughput over the other's: above 1 means virtkit is faster. */
export function ratio(a?: Stats, b?: Stats): string {
  if (!a || !b || !(a.opsPerSec > 0) || !(b.opsPerSec > 0)) return '';
  const r = a.opsPerSec / b.opsPerSec;
  return `x${r >= 10 ? r.toFixed(0) : r.toFixed(2)}`;
}

export function table(headers: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The private libvirtd from `scripts/testenv.js start` (shared by the daemon and storage
 * targets). */
export interface PrivateDaemon {
  uri: string;
  stateDir: string;
  /** libvirtd's pid (from env.json), for its CPU time; null if unknown. */
  pid: number | null;
}

/** One of the issue's targets, printed with PASS/FAIL (informational). */
export interface Goal {
  goal: string;
  target: string;
  pass: boolean | null; // null: could not be measured
  detail: string;
}
