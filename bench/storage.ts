/**
 * The storage target of virtkit's benchmark (see bench/README.md), on the private libvirtd
 * only: libvirt's test driver has no real dir pools, and the stream rows compare files on the
 * daemon's disk.
 *
 * 1. Listing: a transient dir pool with VOLUMES small raw volumes (set up untimed), listed
 *    with every volume's name, capacity, allocation and path by virtkit (one bulk call; per
 *    volume with 64 in flight; per volume in order), python3-libvirt (in order; 64 threads) and
 *    `virsh vol-list --details`. One op = one complete listing.
 * 2. Streams: a 1 GiB random file uploaded into a 1 GiB raw volume and downloaded back, by
 *    virtkit (Node streams over `vol.upload()` / `vol.download()`, at several chunk sizes; and
 *    `vol.uploadFromFile()` / `vol.downloadToFile()`), with and without libvirt's event loop,
 *    and by `virsh vol-upload` / `vol-download`. The rows run interleaved, round by round, so
 *    that drift on the machine hits every row alike. One download of each kind (Readable and
 *    downloadToFile) is checked byte-equal first.
 */
import { createHash, randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { connect, startEventLoop, type Connection, type StoragePool, type StorageVolume } from 'virtkit';
import {
  cleanups, errorMessage, fmtRate, lastLines, measureRow, progress, PY_HELPER, PYTHON, ratio, run, state, table, VIRSH,
  type Goal, type PrivateDaemon,
} from './common';
import { measure, summarise, type Budget, type Raw, type Stats } from './measure';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Volumes in the listing pool, and each one's size. */
const VOLUMES = 1000;
const VOLUME_BYTES = 4 * KiB;
/** Creations in flight while the pool is filled (setup, not timed in the rows). */
const CREATE_IN_FLIGHT = 64;
/** Per-volume calls in flight for the "64 in flight" rows. */
const IN_FLIGHT = 64;

/** One op = one listing of every volume. */
const LIST_BUDGET: Omit<Budget, 'concurrency'> = { warmup: 2, warmupMs: 1000, iterations: 40, timeMs: 4000 };
const VIRSH_LIST_BUDGET: Omit<Budget, 'concurrency'> = { warmup: 1, warmupMs: 1000, iterations: 20, timeMs: 4000 };

/** The stream volume and file: 1 GiB when the temp dir has STREAM_MIN_FREE free. It holds the
 * source file, the volume and one downloaded copy at a time. */
const STREAM_BYTES = GiB;
const STREAM_MIN_FREE = 6 * GiB;
/** Rounds of every stream row (interleaved), and a time after which no new round starts. */
const STREAM_ROUNDS = 3;
const STREAM_ROUNDS_MS = 90000;
/** One transfer may take this long before it is aborted (an error row). */
const TRANSFER_TIMEOUT_MS = 180000;

/** USER_HZ: the unit of /proc/PID/stat's CPU times (100 on every Linux Node runs on). */
const CLOCK_TICKS = 100;

export interface StorageRow {
  target: 'storage';
  /** 'listVolumes', 'upload' or 'download'. */
  op: string;
  label: string;
  /** Short id of the implementation and variant (e.g. 'virtkit-bulk', 'virtkit-1m', 'virsh'). */
  impl: string;
  implLabel: string;
  /** What ran, for the record. */
  how: string;
  extra?: boolean;
  /** Volumes per listing, or bytes per transfer. */
  perOp: number;
  unit: 'volumes' | 'bytes';
  stats?: Stats;
  /** Streams: bytes over the mean transfer time, and over the fastest one, in MB/s (1e6 B). */
  mbPerSec?: number;
  bestMbPerSec?: number;
  /** Streams: mean CPU seconds per transfer of the client (this process for virtkit, the
   * virsh child for virsh) and of libvirtd. */
  clientCpuS?: number;
  daemonCpuS?: number;
  /** Streams, virtkit only: libvirt send/recv calls per transfer (one `progress` event each). */
  calls?: number;
  skipped?: string;
  error?: string;
}

interface Verify { bytes: number; sourceSha256: string; downloadedBytes: number; downloadedSha256: string; equal: boolean }

export interface StorageTarget {
  name: 'storage';
  uri: string | null;
  source: string;
  skipped?: string;
  /** The target failed part-way (its rows so far are kept). */
  error?: string;
  pool?: string;
  dir?: string;
  /** Setup steps, timed but not part of any row. */
  setup: { what: string; ms: number }[];
  /** The one checked download (`vol.download()` Readable): sizes and sha256 of the source and
   * of the download. */
  verify?: Verify;
  /** The same check for `vol.downloadToFile()`. */
  verifyToFile?: Verify;
  streamBytes?: number;
  streamRounds?: number;
  notes: string[];
  rows: StorageRow[];
}

export interface StorageContext {
  daemon: PrivateDaemon;
  /** Skip reasons, or null when usable. */
  python: string | null;
  virsh: string | null;
  /** 1, or 0.1 with --quick. */
  factor: number;
}

function scaled(b: Omit<Budget, 'concurrency'>, factor: number): Budget {
  const n = (x: number) => Math.max(1, Math.round(x * factor));
  return factor === 1 ? { ...b, concurrency: 1 } : { warmup: n(b.warmup), warmupMs: n(b.warmupMs), iterations: n(b.iterations), timeMs: n(b.timeMs), concurrency: 1 };
}

/** Runs `fn` on up to `width` async workers over indexes 0..n-1 (a bounded loop each). */
async function inFlight(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n && !state.aborted) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** CPU seconds of a process (`self`) and of its waited-for children, from /proc/PID/stat. */
function procCpu(pid: number | 'self'): { self: number; children: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { self: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS, children: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS };
  } catch {
    return null;
  }
}

function daemonCpu(pid: number | null): number | null {
  if (pid === null) return null;
  const c = procCpu(pid);
  return c ? c.self + c.children : null;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(fs.createReadStream(file, { highWaterMark: 4 * MiB }), h);
  return h.digest('hex');
}

/** Writes `bytes` of random data with fs streams; returns its sha256. */
async function writeRandomFile(file: string, bytes: number): Promise<string> {
  const h = createHash('sha256');
  const ws = fs.createWriteStream(file);
  const done = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('finish', resolve);
  });
  for (let off = 0; off < bytes && !state.aborted; off += 4 * MiB) {
    const b = randomFillSync(Buffer.allocUnsafe(Math.min(4 * MiB, bytes - off)));
    h.update(b);
    if (!ws.write(b)) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  ws.end();
  await done;
  return h.digest('hex');
}

function fmtBytes(n: number): string {
  if (n >= GiB) return `${+(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  return `${+(n / KiB).toFixed(1)} KiB`;
}

function fmtS(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

// ---------------------------------------------------------------------------------------------
// 1. listing

type Listing = { name: string; capacity: number; allocation: number; path: string }[];

/** `pool.listVolumesWithInfo()`, typed structurally: the bench still builds (and reports the
 * row as skipped) if lib/ changes it. */
type BulkLister = {
  listVolumesWithInfo?: (flags?: number) => Promise<{ volume: { name: string }; path: string; info: { capacity: number; allocation: number } }[]>;
};

function checkCount(n: number): void {
  if (n !== VOLUMES) throw new Error(`listed ${n} volumes, expected ${VOLUMES}`);
}

async function perVolume(pool: StoragePool, width: number): Promise<Listing> {
  const vols: StorageVolume[] = await pool.listVolumes();
  const out: Listing = new Array(vols.length);
  await inFlight(vols.length, width, async (i) => {
    const v = vols[i]!;
    const info = await v.info();
    out[i] = { name: v.name, capacity: info.capacity, allocation: info.allocation, path: await v.path() };
  });
  return out;
}

async function runListing(t: StorageTarget, ctx: StorageContext, pool: StoragePool, poolName: string): Promise<void> {
  const uri = ctx.daemon.uri;
  const bulk = (pool as unknown as BulkLister).listVolumesWithInfo;
  const virshArgs = ['-q', '-c', uri, 'vol-list', '--details', poolName];
  const defs: { impl: string; implLabel: string; how: string; extra?: boolean; measure: (b: Budget) => Promise<Raw>; skip?: string | null }[] = [
    {
      impl: 'virtkit-bulk',
      implLabel: 'virtkit bulk: pool.listVolumesWithInfo()',
      how: 'one native call: virStoragePoolListAllVolumes, then virStorageVolGetInfo + GetPath per volume on one call-pool thread',
      skip: typeof bulk === 'function' ? null : 'StoragePool.listVolumesWithInfo() is not in this build of virtkit',
      measure: (b) =>
        measure(async () => {
          const rows = await bulk!.call(pool);
          const out: Listing = rows.map((r) => ({ name: r.volume.name, capacity: r.info.capacity, allocation: r.info.allocation, path: r.path }));
          checkCount(out.length);
        }, b),
    },
    {
      impl: 'virtkit-64',
      implLabel: `virtkit per volume, ${IN_FLIGHT} in flight`,
      how: `pool.listVolumes(), then await vol.info() and vol.path() per volume, ${IN_FLIGHT} async workers over one connection`,
      measure: (b) => measure(async () => checkCount((await perVolume(pool, IN_FLIGHT)).length), b),
    },
    {
      impl: 'virtkit-seq',
      implLabel: 'virtkit per volume, in order',
      how: 'pool.listVolumes(), then await vol.info() and vol.path() per volume, one at a time',
      extra: true,
      measure: (b) => measure(async () => checkCount((await perVolume(pool, 1)).length), b),
    },
    {
      impl: 'python',
      implLabel: 'python3-libvirt, in order',
      how: `${PYTHON} bench/pylibvirt.py: pool.listAllVolumes(), then vol.info() and vol.path() per volume`,
      skip: ctx.python,
      measure: (b) => pythonList(uri, poolName, 1, b),
    },
    {
      impl: 'python-64',
      implLabel: `python3-libvirt, ${IN_FLIGHT} threads`,
      how: `${PYTHON} bench/pylibvirt.py: pool.listAllVolumes(), then executor.map(info + path) on ${IN_FLIGHT} threads, one connection`,
      skip: ctx.python,
      measure: (b) => pythonList(uri, poolName, IN_FLIGHT, b),
    },
    {
      impl: 'virsh',
      implLabel: 'virsh vol-list --details (spawned)',
      how: `${VIRSH} ${virshArgs.join(' ')}`,
      skip: ctx.virsh,
      measure: (b) =>
        measure(async () => {
          const r = await run(VIRSH, virshArgs, { timeoutMs: 60000 });
          if (r.code !== 0) throw new Error(`virsh vol-list exited ${r.code}: ${lastLines(r.stderr)}`);
          checkCount(r.stdout.split('\n').filter((l) => l.trim()).length);
        }, b),
    },
  ];
  for (const d of defs) {
    if (state.aborted) return;
    const row: StorageRow = {
      target: 'storage', op: 'listVolumes', label: `list ${VOLUMES} volumes with info`, impl: d.impl, implLabel: d.implLabel,
      how: d.how, perOp: VOLUMES, unit: 'volumes', ...(d.extra ? { extra: true } : {}),
    };
    t.rows.push(row);
    if (d.skip) {
      row.skipped = d.skip;
      continue;
    }
    await measureRow(
      row,
      () => d.measure(scaled(d.impl === 'virsh' ? VIRSH_LIST_BUDGET : LIST_BUDGET, ctx.factor)),
      `storage  list ${VOLUMES} volumes  ${row.implLabel}`,
      (s) => `${s.n} listings, mean ${(s.meanUs / 1000).toFixed(1)} ms, ${fmtRate(s.opsPerSec * VOLUMES)} volumes/s`,
    );
  }
}

async function pythonList(uri: string, pool: string, threads: number, b: Budget): Promise<Raw> {
  const spec = { uri, op: 'listVolumes', pool, expect: VOLUMES, innerThreads: threads, ...b };
  const r = await run(PYTHON, [PY_HELPER, JSON.stringify(spec)], { timeoutMs: 2 * (b.warmupMs + b.timeMs) + 60000 });
  if (r.code !== 0) throw new Error(`${PYTHON} bench/pylibvirt.py exited ${r.code}: ${lastLines(r.stderr)}`);
  return JSON.parse(r.stdout) as Raw;
}

// ---------------------------------------------------------------------------------------------
// 2. streams

interface StreamDef {
  op: 'upload' | 'download';
  impl: string;
  implLabel: string;
  how: string;
  extra?: boolean;
  /** One transfer: the libvirt calls it made (virtkit), and, from a child process, its own
   * timing of the transfer alone and its CPU time. */
  transfer: (signal: AbortSignal) => Promise<{ calls?: number; wallMs?: number; cpuS?: number }>;
  /** Where the client's CPU time comes from: process.cpuUsage() (virtkit in this process), the
   * waited-for children's times (virsh), or the child's own report (virtkit in a child). */
  client: 'self' | 'child' | 'report';
}

/** What `run.js --child-stream SPEC` does: one virtkit transfer in a fresh process (to run
 * libvirt's event loop, which, once started, stays on for the whole process). */
interface ChildStreamSpec {
  uri: string;
  pool: string;
  volume: string;
  op: 'upload' | 'download';
  file: string;
  bytes: number;
  eventLoop: boolean;
  /** 'stream' (default): vol.upload()/download() with fs streams; 'file':
   * vol.uploadFromFile()/downloadToFile() with their defaults. */
  method?: 'stream' | 'file';
  chunkSize?: number;
  readSize?: number;
}

/** The child's side: connects, transfers, prints { wallMs, calls, cpuS } of the transfer alone. */
export async function streamChildMain(specJson: string): Promise<string> {
  const spec = JSON.parse(specJson) as ChildStreamSpec;
  if (spec.eventLoop) startEventLoop();
  const conn = await connect(spec.uri);
  try {
    const vol = await (await conn.lookupStoragePoolByName(spec.pool)).lookupVolumeByName(spec.volume);
    const signal = AbortSignal.timeout(TRANSFER_TIMEOUT_MS);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const calls = spec.method === 'file'
      ? spec.op === 'upload'
        ? (await vkUploadFromFile(vol, spec.file, spec.bytes, signal), undefined)
        : (await vkDownloadToFile(vol, spec.file, spec.bytes, signal), undefined)
      : spec.op === 'upload'
        ? await vkUpload(vol, spec.file, spec.bytes, signal, spec.chunkSize, spec.readSize)
        : await vkDownload(vol, spec.file, spec.bytes, signal, spec.chunkSize);
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return JSON.stringify({ wallMs, ...(calls !== undefined ? { calls } : {}), cpuS: (c.user + c.system) / 1e6 }) + '\n';
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function childTransfer(spec: ChildStreamSpec): Promise<{ calls?: number; wallMs: number; cpuS: number }> {
  const r = await run(process.execPath, [path.join(__dirname, 'run.js'), '--child-stream', JSON.stringify(spec)], { timeoutMs: TRANSFER_TIMEOUT_MS + 30000 });
  if (r.code !== 0) throw new Error(`child exited ${r.code}: ${lastLines(r.stderr)}`);
  return JSON.parse(r.stdout) as { calls?: number; wallMs: number; cpuS: number };
}

async function vkUpload(vol: StorageVolume, file: string, bytes: number, signal: AbortSignal, chunkSize?: number, readSize?: number): Promise<number> {
  const up = vol.upload({ length: bytes, ...(chunkSize ? { chunkSize } : {}) });
  let calls = 0;
  up.on('progress', () => calls++);
  await pipeline(fs.createReadStream(file, readSize ? { highWaterMark: readSize } : {}), up, { signal });
  if (up.bytes !== bytes) throw new Error(`uploaded ${up.bytes} bytes, expected ${bytes}`);
  return calls;
}

async function vkDownload(vol: StorageVolume, file: string, bytes: number, signal: AbortSignal, chunkSize?: number): Promise<number> {
  const down = vol.download({ length: bytes, ...(chunkSize ? { chunkSize } : {}) });
  let calls = 0;
  down.on('progress', () => calls++);
  await pipeline(down, fs.createWriteStream(file), { signal });
  const size = fs.statSync(file).size;
  if (size !== bytes) throw new Error(`downloaded ${size} bytes, expected ${bytes}`);
  return calls;
}

/** `vol.uploadFromFile(file)` with its defaults (1 MiB reads, one libvirt call each; length =
 * the file's size). It emits no progress events, so no call count. */
async function vkUploadFromFile(vol: StorageVolume, file: string, bytes: number, signal: AbortSignal): Promise<void> {
  const sent = await vol.uploadFromFile(file, { signal });
  if (sent !== bytes) throw new Error(`uploadFromFile sent ${sent} bytes, expected ${bytes}`);
}

/** `vol.downloadToFile(file)` with its defaults (chunkSize 256 KiB; the write of one chunk
 * overlaps the receipt of the next). No progress events, so no call count. */
async function vkDownloadToFile(vol: StorageVolume, file: string, bytes: number, signal: AbortSignal): Promise<void> {
  const got = await vol.downloadToFile(file, { signal });
  const size = fs.statSync(file).size;
  if (got !== bytes || size !== bytes) throw new Error(`downloadToFile wrote ${got} bytes (file: ${size}), expected ${bytes}`);
}

async function virshTransfer(args: string[], expectFile?: { file: string; bytes: number }): Promise<{ calls?: number }> {
  const r = await run(VIRSH, args, { timeoutMs: TRANSFER_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`virsh ${args[3]} exited ${r.code}: ${lastLines(r.stderr)}`);
  if (expectFile) {
    const size = fs.statSync(expectFile.file).size;
    if (size !== expectFile.bytes) throw new Error(`virsh downloaded ${size} bytes, expected ${expectFile.bytes}`);
  }
  return {};
}

function streamSize(dir: string): { bytes: number; note?: string } {
  let free = Infinity;
  try {
    const s = fs.statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch {
    /* unknown: assume enough */
  }
  if (free >= STREAM_MIN_FREE) return { bytes: STREAM_BYTES };
  let bytes = 256 * MiB;
  while (bytes > 16 * MiB && bytes * 6 > free) bytes /= 2;
  if (bytes * 6 > free) return { bytes: 0, note: `only ${fmtBytes(free)} free in ${dir}: stream rows skipped` };
  return { bytes, note: `only ${fmtBytes(free)} free in ${dir} (under ${fmtBytes(STREAM_MIN_FREE)}): streams use ${fmtBytes(bytes)} instead of ${fmtBytes(STREAM_BYTES)}` };
}

async function runStreams(t: StorageTarget, ctx: StorageContext, pool: StoragePool, poolName: string, dir: string): Promise<void> {
  const uri = ctx.daemon.uri;
  const size = streamSize(dir);
  if (size.note) {
    t.notes.push(size.note);
    progress(`storage: ${size.note}`);
  }
  const bytes = size.bytes;
  if (bytes === 0) return;
  t.streamBytes = bytes;
  const src = path.join(dir, 'source.bin');
  const dst = path.join(dir, 'downloaded.bin');
  const volName = 'stream.raw';
  const sized = fmtBytes(bytes);

  progress(`storage: writing ${sized} of random data to ${src}`);
  let t0 = performance.now();
  const sourceSha = await writeRandomFile(src, bytes);
  t.setup.push({ what: `${sized} random source file written with fs streams (+ sha256)`, ms: performance.now() - t0 });
  if (state.aborted) return;

  t0 = performance.now();
  const vol = await pool.createVolume(
    `<volume><name>${volName}</name><capacity unit='bytes'>${bytes}</capacity><allocation unit='bytes'>0</allocation><target><format type='raw'/></target></volume>`,
  );
  t.setup.push({ what: `${sized} raw volume ${volName} created (sparse)`, ms: performance.now() - t0 });

  // Warm-up and the one check: virtkit uploads (allocating the volume's blocks), downloads,
  // and the download must equal the source.
  t0 = performance.now();
  await vkUpload(vol, src, bytes, AbortSignal.timeout(TRANSFER_TIMEOUT_MS));
  t.setup.push({ what: 'first upload, virtkit defaults (warm-up: allocates the volume\'s blocks)', ms: performance.now() - t0 });
  t0 = performance.now();
  await vkDownload(vol, dst, bytes, AbortSignal.timeout(TRANSFER_TIMEOUT_MS));
  t.setup.push({ what: 'first download, virtkit defaults (warm-up)', ms: performance.now() - t0 });
  t0 = performance.now();
  const downloadedBytes = fs.statSync(dst).size;
  const downloadedSha = await sha256File(dst);
  fs.rmSync(dst, { force: true });
  t.setup.push({ what: 'sha256 of the download', ms: performance.now() - t0 });
  const equal = downloadedBytes === bytes && downloadedSha === sourceSha;
  t.verify = { bytes, sourceSha256: sourceSha, downloadedBytes, downloadedSha256: downloadedSha, equal };
  progress(`storage: download check: ${equal ? 'equal to the source' : 'DIFFERS from the source'} (${downloadedBytes} bytes, sha256 ${downloadedSha.slice(0, 16)}…)`);

  // The same check for downloadToFile (also its warm-up). It writes at positions, so a wrong
  // offset would show here and not in the size checks of the rounds.
  let equalToFile = false;
  if (equal && !state.aborted) {
    t0 = performance.now();
    let err: string | null = null;
    try {
      await vol.downloadToFile(dst, { signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
    } catch (e) {
      err = errorMessage(e);
    }
    t.setup.push({ what: 'first downloadToFile, defaults (warm-up)', ms: performance.now() - t0 });
    t0 = performance.now();
    const fileBytes = err === null ? fs.statSync(dst).size : 0;
    const fileSha = err === null ? await sha256File(dst) : '';
    fs.rmSync(dst, { force: true });
    t.setup.push({ what: 'sha256 of the downloadToFile output', ms: performance.now() - t0 });
    equalToFile = fileBytes === bytes && fileSha === sourceSha;
    t.verifyToFile = { bytes, sourceSha256: sourceSha, downloadedBytes: fileBytes, downloadedSha256: fileSha, equal: equalToFile };
    progress(
      `storage: downloadToFile check: ${err !== null ? `failed: ${err}` : `${equalToFile ? 'equal to the source' : 'DIFFERS from the source'} (${fileBytes} bytes, sha256 ${fileSha.slice(0, 16)}…)`}`,
    );
  }

  const virshUp = ['-q', '-c', uri, 'vol-upload', '--pool', poolName, volName, src];
  const virshDown = ['-q', '-c', uri, 'vol-download', '--pool', poolName, volName, dst];
  const defs: StreamDef[] = [
    {
      op: 'upload', impl: 'virtkit', implLabel: 'virtkit, defaults', client: 'self',
      how: `pipeline(fs.createReadStream(file), vol.upload({ length })): 64 KiB reads, chunkSize 256 KiB (default)`,
      transfer: async (s) => ({ calls: await vkUpload(vol, src, bytes, s) }),
    },
    {
      op: 'upload', impl: 'virtkit-file', implLabel: 'virtkit uploadFromFile', client: 'self',
      how: 'await vol.uploadFromFile(file): defaults (1 MiB reads at positions, one virStreamSend each)',
      transfer: async (s) => (await vkUploadFromFile(vol, src, bytes, s), {}),
    },
    {
      op: 'upload', impl: 'virtkit-256k', implLabel: 'virtkit, 256 KiB reads + chunkSize', client: 'self', extra: true,
      how: 'fs.createReadStream(file, { highWaterMark: 256 KiB }) into vol.upload({ length, chunkSize: 256 KiB })',
      transfer: async (s) => ({ calls: await vkUpload(vol, src, bytes, s, 256 * KiB, 256 * KiB) }),
    },
    {
      op: 'upload', impl: 'virtkit-1m', implLabel: 'virtkit, 1 MiB reads + chunkSize', client: 'self', extra: true,
      how: 'fs.createReadStream(file, { highWaterMark: 1 MiB }) into vol.upload({ length, chunkSize: 1 MiB })',
      transfer: async (s) => ({ calls: await vkUpload(vol, src, bytes, s, MiB, MiB) }),
    },
    {
      op: 'upload', impl: 'virtkit-4m', implLabel: 'virtkit, 4 MiB reads + chunkSize', client: 'self', extra: true,
      how: 'fs.createReadStream(file, { highWaterMark: 4 MiB }) into vol.upload({ length, chunkSize: 4 MiB })',
      transfer: async (s) => ({ calls: await vkUpload(vol, src, bytes, s, 4 * MiB, 4 * MiB) }),
    },
    {
      op: 'upload', impl: 'virtkit-el', implLabel: 'virtkit, 256 KiB reads, event loop on', client: 'report', extra: true,
      how: 'as "256 KiB reads + chunkSize", in a child node process that called startEventLoop() before connect() (timed there: the transfer alone)',
      transfer: () => childTransfer({ uri, pool: poolName, volume: volName, op: 'upload', file: src, bytes, eventLoop: true, chunkSize: 256 * KiB, readSize: 256 * KiB }),
    },
    {
      op: 'upload', impl: 'virtkit-file-el', implLabel: 'virtkit uploadFromFile, event loop on', client: 'report',
      how: 'as "virtkit uploadFromFile", in a child node process that called startEventLoop() before connect() (timed there: the transfer alone)',
      transfer: () => childTransfer({ uri, pool: poolName, volume: volName, op: 'upload', file: src, bytes, eventLoop: true, method: 'file' }),
    },
    {
      op: 'upload', impl: 'virsh', implLabel: 'virsh vol-upload (spawned)', client: 'child',
      how: `${VIRSH} ${virshUp.join(' ')}`,
      transfer: () => virshTransfer(virshUp),
    },
    {
      op: 'download', impl: 'virtkit', implLabel: 'virtkit, defaults', client: 'self',
      how: 'pipeline(vol.download({ length }), fs.createWriteStream(file)): chunkSize 256 KiB (default)',
      transfer: async (s) => ({ calls: await vkDownload(vol, dst, bytes, s) }),
    },
    {
      op: 'download', impl: 'virtkit-file', implLabel: 'virtkit downloadToFile', client: 'self',
      how: 'await vol.downloadToFile(file): defaults (chunkSize 256 KiB; each chunk\'s write overlaps the next virStreamRecv)',
      transfer: async (s) => (await vkDownloadToFile(vol, dst, bytes, s), {}),
    },
    {
      op: 'download', impl: 'virtkit-1m', implLabel: 'virtkit, chunkSize 1 MiB', client: 'self', extra: true,
      how: 'pipeline(vol.download({ length, chunkSize: 1 MiB }), fs.createWriteStream(file))',
      transfer: async (s) => ({ calls: await vkDownload(vol, dst, bytes, s, MiB) }),
    },
    {
      op: 'download', impl: 'virtkit-4m', implLabel: 'virtkit, chunkSize 4 MiB', client: 'self', extra: true,
      how: 'pipeline(vol.download({ length, chunkSize: 4 MiB }), fs.createWriteStream(file))',
      transfer: async (s) => ({ calls: await vkDownload(vol, dst, bytes, s, 4 * MiB) }),
    },
    {
      op: 'download', impl: 'virtkit-el', implLabel: 'virtkit, defaults, event loop on', client: 'report', extra: true,
      how: 'as "virtkit, defaults", in a child node process that called startEventLoop() before connect() (timed there: the transfer alone)',
      transfer: () => childTransfer({ uri, pool: poolName, volume: volName, op: 'download', file: dst, bytes, eventLoop: true }),
    },
    {
      op: 'download', impl: 'virtkit-file-el', implLabel: 'virtkit downloadToFile, event loop on', client: 'report',
      how: 'as "virtkit downloadToFile", in a child node process that called startEventLoop() before connect() (timed there: the transfer alone)',
      transfer: () => childTransfer({ uri, pool: poolName, volume: volName, op: 'download', file: dst, bytes, eventLoop: true, method: 'file' }),
    },
    {
      op: 'download', impl: 'virsh', implLabel: 'virsh vol-download (spawned)', client: 'child',
      how: `${VIRSH} ${virshDown.join(' ')}`,
      transfer: () => virshTransfer(virshDown, { file: dst, bytes }),
    },
  ];
  const acc = defs.map((d) => ({
    d,
    row: {
      target: 'storage', op: d.op, label: `${d.op} ${sized}`, impl: d.impl, implLabel: d.implLabel, how: d.how,
      perOp: bytes, unit: 'bytes', ...(d.extra ? { extra: true } : {}),
    } as StorageRow,
    samplesNs: [] as number[],
    client: [] as number[],
    daemon: [] as number[],
    calls: [] as number[],
  }));
  for (const a of acc) t.rows.push(a.row);
  if (!equal) {
    for (const a of acc) a.row.error = 'not run: the checked download differs from the source';
    return;
  }
  if (ctx.virsh) for (const a of acc) if (a.d.impl === 'virsh') a.row.skipped = ctx.virsh;
  if (!equalToFile) {
    const why = t.verifyToFile ? 'the checked downloadToFile output differs from the source' : 'the downloadToFile check did not run';
    for (const a of acc) if (a.d.op === 'download' && a.d.impl.startsWith('virtkit-file')) a.row.error = `not run: ${why}`;
  }

  const rounds = Math.max(1, Math.round(STREAM_ROUNDS * ctx.factor));
  const started = Date.now();
  let done = 0;
  for (let r = 0; r < rounds && !state.aborted; r++) {
    if (r > 0 && Date.now() - started > STREAM_ROUNDS_MS) {
      t.notes.push(`streams: stopped after ${r} of ${rounds} rounds (${(STREAM_ROUNDS_MS / 1000).toFixed(0)} s budget)`);
      break;
    }
    for (const a of acc) {
      if (state.aborted) break;
      if (a.row.error || a.row.skipped) continue;
      const c0 = a.d.client === 'self' ? process.cpuUsage() : null;
      const k0 = a.d.client === 'child' ? procCpu('self') : null;
      const d0 = daemonCpu(ctx.daemon.pid);
      const w0 = performance.now();
      try {
        const res = await a.d.transfer(AbortSignal.timeout(TRANSFER_TIMEOUT_MS));
        const wall = res.wallMs ?? performance.now() - w0;
        const d1 = daemonCpu(ctx.daemon.pid);
        if (a.d.client === 'self') {
          const c = process.cpuUsage(c0!);
          a.client.push((c.user + c.system) / 1e6);
        } else if (a.d.client === 'child') {
          const k1 = procCpu('self');
          if (k0 && k1) a.client.push(k1.children - k0.children);
        } else if (res.cpuS !== undefined) a.client.push(res.cpuS);
        if (d0 !== null && d1 !== null) a.daemon.push(d1 - d0);
        if (res.calls !== undefined) a.calls.push(res.calls);
        a.samplesNs.push(wall * 1e6);
        progress(`storage  ${a.row.label}  ${a.row.implLabel}: ${(wall / 1000).toFixed(2)} s, ${fmtRate(bytes / (wall / 1000) / 1e6)} MB/s (round ${r + 1}/${rounds})`);
      } catch (err) {
        a.row.error = errorMessage(err);
        progress(`storage  ${a.row.label}  ${a.row.implLabel}: error: ${a.row.error}`);
      } finally {
        if (a.d.op === 'download') fs.rmSync(dst, { force: true });
      }
    }
    done = r + 1;
  }
  t.streamRounds = done;
  const mean = (xs: number[]) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : undefined);
  for (const a of acc) {
    if (!a.samplesNs.length) continue;
    const wallNs = a.samplesNs.reduce((x, y) => x + y, 0);
    a.row.stats = summarise({ samplesNs: a.samplesNs, wallNs, n: a.samplesNs.length, error: null });
    a.row.mbPerSec = bytes / (a.row.stats.meanUs / 1e6) / 1e6;
    a.row.bestMbPerSec = bytes / (a.row.stats.minUs / 1e6) / 1e6;
    const client = mean(a.client);
    const daemon = mean(a.daemon);
    const calls = mean(a.calls);
    if (client !== undefined) a.row.clientCpuS = client;
    if (daemon !== undefined) a.row.daemonCpuS = daemon;
    if (calls !== undefined) a.row.calls = calls;
  }
}

// ---------------------------------------------------------------------------------------------
// the target

export async function runStorage(t: StorageTarget, ctx: StorageContext): Promise<void> {
  t.uri = ctx.daemon.uri;
  // In the temp dir (not under the daemon's state dir): the private libvirtd shares /tmp.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkbench-storage.'));
  const poolDir = path.join(dir, 'pool');
  fs.mkdirSync(poolDir);
  const poolName = `vkbench-${process.pid}`;
  t.pool = poolName;
  t.dir = poolDir;
  let conn: Connection | null = null;
  let pool: StoragePool | null = null;
  let torn: Promise<void> | null = null;
  // Idempotent: runs at the end of the target, or from the cleanups on a signal or failure.
  const teardown = () =>
    (torn ??= (async () => {
      if (pool) await pool.destroy().catch((err: unknown) => progress(`storage: pool destroy failed: ${errorMessage(err)}`));
      if (conn) await conn.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  cleanups.push({ what: `storage: destroy pool ${poolName}, remove ${dir}`, fn: teardown });
  try {
    conn = await connect(ctx.daemon.uri);
    let t0 = performance.now();
    pool = await conn.createStoragePool(`<pool type='dir'><name>${poolName}</name><target><path>${poolDir}</path></target></pool>`);
    t.setup.push({ what: `transient dir pool ${poolName} created`, ms: performance.now() - t0 });

    progress(`storage: creating ${VOLUMES} raw volumes of ${fmtBytes(VOLUME_BYTES)} in ${poolDir}, ${CREATE_IN_FLIGHT} in flight`);
    const p = pool;
    t0 = performance.now();
    await inFlight(VOLUMES, CREATE_IN_FLIGHT, async (i) => {
      const name = `vol-${String(i).padStart(4, '0')}.raw`;
      const v = await p.createVolume(
        `<volume><name>${name}</name><capacity unit='bytes'>${VOLUME_BYTES}</capacity><allocation unit='bytes'>${VOLUME_BYTES}</allocation><target><format type='raw'/></target></volume>`,
      );
      v.free();
    });
    t.setup.push({ what: `${VOLUMES} raw volumes of ${fmtBytes(VOLUME_BYTES)} created with pool.createVolume(), ${CREATE_IN_FLIGHT} in flight`, ms: performance.now() - t0 });
    if (state.aborted) return;

    await runListing(t, ctx, pool, poolName);
    if (state.aborted) return;
    await runStreams(t, ctx, pool, poolName, dir);
  } finally {
    await teardown();
  }
}

// ---------------------------------------------------------------------------------------------
// report

function findRow(t: StorageTarget, op: string, impl: string): StorageRow | undefined {
  return t.rows.find((r) => r.op === op && r.impl === impl);
}

function mbRatio(a?: StorageRow, b?: StorageRow): string {
  if (!a?.mbPerSec || !b?.mbPerSec) return '';
  const r = a.mbPerSec / b.mbPerSec;
  return `x${r >= 10 ? r.toFixed(0) : r.toFixed(2)}`;
}

export function storageReport(t: StorageTarget): string {
  const out: string[] = [];
  out.push(`== storage: ${t.uri ?? ''}  (${t.source}${t.pool ? `; transient dir pool ${t.pool} in ${t.dir}` : ''})`);
  if (t.skipped) {
    out.push(`skipped: ${t.skipped}`);
    return out.join('\n');
  }
  if (t.error) out.push(`failed part-way: ${t.error}`);
  if (t.setup.length) {
    out.push('Setup, not counted in any row:');
    for (const s of t.setup) out.push(`  ${(s.ms / 1000).toFixed(2).padStart(6)} s  ${s.what}`);
  }
  const notes: string[] = [];
  const note = (r: StorageRow) => notes.push(`  ${r.label} / ${r.implLabel}: ${r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`}`);

  const list = t.rows.filter((r) => r.op === 'listVolumes');
  if (list.length) {
    out.push('');
    out.push(`Listing ${VOLUMES} volumes with name, capacity, allocation and path; one op = the whole listing. "vs X": virtkit's rate over X's.`);
    const ref = (impl: string) => list.find((r) => r.impl === impl)?.stats;
    const headers = ['implementation', 'n', 'mean ms', 'p50 ms', 'p99 ms', 'volumes/s', 'vs python', 'vs py x64', 'vs virsh'];
    const rows = list.map((r) => {
      const s = r.stats;
      const label = r.implLabel + (r.extra ? ' (extra)' : '');
      if (!s) {
        note(r);
        return [label, r.skipped ? 'skipped' : 'error', '', '', '', '', '', '', ''];
      }
      const mine = r.impl.startsWith('virtkit');
      const vs = (impl: string) => (mine ? ratio(s, ref(impl)) : '');
      return [label, String(s.n), (s.meanUs / 1000).toFixed(1), (s.p50Us / 1000).toFixed(1), (s.p99Us / 1000).toFixed(1),
        fmtRate(s.opsPerSec * r.perOp), vs('python'), vs('python-64'), vs('virsh')];
    });
    out.push(table(headers, rows, headers.map((_, i) => i >= 1)));
  }

  const streams = t.rows.filter((r) => r.op !== 'listVolumes');
  if (streams.length && t.streamBytes) {
    out.push('');
    out.push(
      `Streams: ${fmtBytes(t.streamBytes)} of random data, file <-> raw volume in the pool, ${t.streamRounds ?? 0} interleaved round(s); ` +
        `MB/s = 1e6 bytes/s over the mean time. Files and volume sit in the page cache (${fmtBytes(os.totalmem())} RAM): this is the binding and libvirt's stream path, not the disk.`,
    );
    out.push('"calls": libvirt virStreamSend/Recv calls per transfer (virtkit\'s progress events). CPU s: mean per transfer, client (this process, or the virsh child) and libvirtd.');
    const headers = ['transfer', 'implementation', 'n', 'mean s', 'min s', 'MB/s', 'best MB/s', 'vs virsh', 'calls', 'KiB/call', 'client CPU s', 'daemon CPU s'];
    const rows: string[][] = [];
    for (const op of ['upload', 'download']) {
      const rs = streams.filter((r) => r.op === op);
      const virsh = rs.find((r) => r.impl === 'virsh');
      rs.forEach((r, i) => {
        const label = i === 0 ? r.label : '';
        const impl = r.implLabel + (r.extra ? ' (extra)' : '');
        const s = r.stats;
        if (!s) {
          note(r);
          rows.push([label, impl, r.skipped ? 'skipped' : 'error', ...headers.slice(3).map(() => '')]);
          return;
        }
        rows.push([
          label, impl, String(s.n), fmtS(s.meanUs / 1e6), fmtS(s.minUs / 1e6), fmtRate(r.mbPerSec), fmtRate(r.bestMbPerSec),
          r.impl.startsWith('virtkit') ? mbRatio(r, virsh) : '',
          r.calls !== undefined ? String(Math.round(r.calls)) : '-',
          r.calls ? (r.perOp / r.calls / KiB).toFixed(0) : '-',
          fmtS(r.clientCpuS), fmtS(r.daemonCpuS),
        ]);
      });
    }
    out.push(table(headers, rows, headers.map((_, i) => i >= 2)));
  }
  const check = (what: string, v: Verify) =>
    out.push(
      `Check (once, before the rounds): ${what} ${v.equal ? 'equals' : 'DIFFERS FROM'} the source: ` +
        `${v.downloadedBytes} vs ${v.bytes} bytes, sha256 ${v.downloadedSha256.slice(0, 16) || '-'}… vs ${v.sourceSha256.slice(0, 16)}…`,
    );
  if (t.verify) check("virtkit's download (Readable)", t.verify);
  if (t.verifyToFile) check("virtkit's downloadToFile", t.verifyToFile);
  for (const n of t.notes) out.push(`note: ${n}`);
  out.push(...notes);
  return out.join('\n');
}

export function storageGoals(t: StorageTarget | null): Goal[] {
  if (!t) return [];
  const out: Goal[] = [];
  const missing = (r?: StorageRow) => (t.skipped ? `skipped: ${t.skipped}` : r ? (r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`) : 'not run');

  const bulk = findRow(t, 'listVolumes', 'virtkit-bulk');
  const py = findRow(t, 'listVolumes', 'python');
  const py64 = findRow(t, 'listVolumes', 'python-64');
  const vk64 = findRow(t, 'listVolumes', 'virtkit-64');
  const vps = (r?: StorageRow) => (r?.stats ? `${fmtRate(r.stats.opsPerSec * r.perOp)} volumes/s` : '-');
  out.push({
    goal: `listing ${VOLUMES} volumes with info: virtkit bulk at least as fast as python3-libvirt`,
    target: 'storage',
    pass: bulk?.stats && py?.stats ? bulk.stats.opsPerSec >= py.stats.opsPerSec : null,
    detail: bulk?.stats && py?.stats
      ? `virtkit bulk ${vps(bulk)} vs python3-libvirt in order ${vps(py)} (${ratio(bulk.stats, py.stats)})` +
        (py64?.stats ? `; python3-libvirt ${IN_FLIGHT} threads ${vps(py64)}` : '') +
        (vk64?.stats ? `; virtkit per volume ${IN_FLIGHT} in flight ${vps(vk64)}` : '')
      : missing(bulk?.stats ? py : bulk),
  });

  // The candidates: the default Writable/Readable, the *ToFile call, and the event-loop rows.
  const CANDIDATES = ['virtkit', 'virtkit-file', 'virtkit-el', 'virtkit-file-el'];
  for (const op of ['upload', 'download']) {
    const vs = findRow(t, op, 'virsh');
    const cands = CANDIDATES.map((impl) => findRow(t, op, impl)).filter((r): r is StorageRow => r !== undefined);
    const measured = cands.filter((r) => r.mbPerSec).sort((a, b) => b.mbPerSec! - a.mbPerSec!);
    const best = measured[0];
    const fastest = t.rows.filter((r) => r.op === op && r.impl.startsWith('virtkit') && r.mbPerSec).sort((a, b) => b.mbPerSec! - a.mbPerSec!)[0];
    const named = (r: StorageRow) => `${r.implLabel} ${fmtRate(r.mbPerSec)} MB/s (${mbRatio(r, vs)})`;
    const unmeasured = cands.filter((r) => !r.mbPerSec).map((r) => `${r.implLabel}: ${missing(r)}`);
    out.push({
      goal: `stream ${op}: virtkit within 10% of virsh vol-${op} (MB/s; best of defaults, ${op === 'upload' ? 'uploadFromFile' : 'downloadToFile'}, event loop on)`,
      target: 'storage',
      pass: best && vs?.mbPerSec ? best.mbPerSec! >= 0.9 * vs.mbPerSec : null,
      detail: best && vs?.mbPerSec
        ? `best: ${named(best)} vs virsh ${fmtRate(vs.mbPerSec)} MB/s; ` +
          `within 10%: ${measured.filter((r) => r.mbPerSec! >= 0.9 * vs.mbPerSec!).map((r) => r.implLabel).join(', ') || 'none'}` +
          (measured.length > 1 ? `; others: ${measured.slice(1).map(named).join('; ')}` : '') +
          (unmeasured.length ? `; ${unmeasured.join('; ')}` : '') +
          (fastest && !cands.includes(fastest) && fastest.mbPerSec! > best.mbPerSec! ? `; fastest virtkit row (extra): ${named(fastest)}` : '')
        : missing(best ? vs : cands[0]),
    });
  }
  return out;
}
