/**
 * The iscsi target of virtkit's benchmark (see bench/README.md): virtkit's iSCSI initiator
 * against libiscsi's own tools, on a private tgtd with a 1 GiB LUN.
 *
 * 1. Sequential READ(16) of the 1 GiB LUN, wrapping around, for a fixed time, at queue depth 1
 *    and 32, with 4 KiB requests (iscsi-perf's default) and 256 KiB requests: virtkit (N
 *    concurrent `session.readInto()` loops on one session, a buffer each; and the same with
 *    `session.read()`, a new Buffer per read) vs `iscsi-perf -m N -b BLOCKS -t S`
 *    (libiscsi-bin). The rows run interleaved, round by round; each row reports the median.
 * 2. Login + report LUNs: `iscsi-ls -s` (a process: discovery, login, REPORT LUNS, INQUIRY and
 *    READ CAPACITY per LUN) vs virtkit doing the same work in-process (discover, connect,
 *    reportLuns, inquiry + readCapacity per block LUN, close), and virtkit's connect +
 *    reportLuns + close alone.
 *
 * Setup: `scripts/testenv.js start` with VIRTKIT_TESTENV_SKIP=libvirt,ceph gives a private tgtd;
 * its two test targets are deleted so that iscsi-ls sees only the bench target (no CHAP: the
 * libiscsi tools take CHAP passwords only on their command line); a 1 GiB file of random bytes
 * (in the page cache after it is written) is its LUN 1.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { iscsi } from 'virtkit';
import { cleanups, errorMessage, fmtRate, fmtUs, lastLines, measureRow, progress, ROOT, run, state, table, type Goal } from './common';
import { measure, type Stats } from './measure';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const LUN_BYTES = GiB;
const BLOCK = 512;
const TESTENV = path.join(ROOT, 'scripts', 'testenv.js');
const TGTADM = '/usr/sbin/tgtadm';
const ISCSI_PERF = '/usr/bin/iscsi-perf';
const ISCSI_LS = '/usr/bin/iscsi-ls';
const BENCH_IQN = 'iqn.2026-11.org.virtkit.bench:lun1g';
const INITIATOR = 'iqn.2026-11.org.virtkit.bench:initiator';
/** Seconds per sequential-read run (iscsi-perf's -t is whole seconds), and rounds. */
const READ_SECONDS = 3;
const READ_ROUNDS = 5;
/** iscsi-ls runs for its latency row. */
const LS_RUNS = 40;

/** One sequential-read configuration. */
interface ReadConfig {
  queueDepth: number;
  blocks: number;
}
const READ_CONFIGS: ReadConfig[] = [
  { queueDepth: 1, blocks: 8 },
  { queueDepth: 32, blocks: 8 },
  { queueDepth: 1, blocks: 512 },
  { queueDepth: 32, blocks: 512 },
];

export interface IscsiRow {
  op: 'seqRead' | 'login';
  label: string;
  impl: 'virtkit' | 'virtkit-into' | 'iscsi-perf' | 'iscsi-ls' | 'virtkit-ls' | 'virtkit-login';
  implLabel: string;
  how: string;
  queueDepth?: number;
  requestBytes?: number;
  /** Sequential reads: MB/s (1e6 B) of every round, and their median; requests per second. */
  roundsMbPerSec?: number[];
  mbPerSec?: number;
  iops?: number;
  /** virtkit rows: CPU seconds of this process per GiB read, and the event-loop delay. */
  cpuSPerGiB?: number;
  eldP99Ms?: number;
  eldMaxMs?: number;
  stats?: Stats;
  error?: string;
}

export interface IscsiTarget {
  name: 'iscsi';
  source: string;
  setup: string[];
  rows: IscsiRow[];
  skipped?: string;
  error?: string;
}

interface BenchTgtd {
  portal: string;
  port: number;
  lun: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A private tgtd with one target: LUN 1 is a 1 GiB file of random bytes. */
async function startTgtd(t: IscsiTarget): Promise<BenchTgtd | { skipped: string }> {
  for (const [bin, pkg] of [[TGTADM, 'tgt'], [ISCSI_PERF, 'libiscsi-bin'], [ISCSI_LS, 'libiscsi-bin']] as const) {
    if (!fs.existsSync(bin)) return { skipped: `${bin} not found (Debian package ${pkg})` };
  }
  if (process.getuid?.() !== 0) return { skipped: 'tgtd needs root' };
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkbench-iscsi.'));
  const free = fs.statfsSync(stateDir);
  if (free.bavail * free.bsize < 2 * LUN_BYTES) {
    fs.rmSync(stateDir, { recursive: true, force: true });
    return { skipped: `less than 2 GiB free in ${os.tmpdir()} for the 1 GiB LUN` };
  }
  cleanups.push({
    what: 'testenv stop (iscsi)',
    fn: async () => {
      progress(`stopping the private tgtd (${stateDir})`);
      const r = await run(process.execPath, [TESTENV, 'stop', '--state', stateDir], { timeoutMs: 60000 });
      if (r.code !== 0) progress(`testenv stop exited ${r.code}: ${lastLines(r.stderr)}`);
    },
  });
  progress(`starting a private tgtd: node scripts/testenv.js start --state ${stateDir}`);
  const skip = [process.env.VIRTKIT_TESTENV_SKIP ?? '', 'libvirt', 'ceph'].filter(Boolean).join(',');
  const r = await run(process.execPath, [TESTENV, 'start', '--state', stateDir], { timeoutMs: 120000, env: { ...process.env, VIRTKIT_TESTENV_SKIP: skip } });
  if (r.code !== 0) return { skipped: `testenv start exited ${r.code}: ${lastLines(r.stderr)}` };
  const env = JSON.parse(fs.readFileSync(path.join(stateDir, 'env.json'), 'utf8')) as {
    iscsi: { portal: string; port: number; controlPort: number; targets: Array<{ tid: number }> } | { skipped: string };
  };
  if ('skipped' in env.iscsi) return { skipped: `testenv: ${env.iscsi.skipped}` };
  const { controlPort, targets } = env.iscsi;
  const adm = async (args: string[]) => {
    const x = await run(TGTADM, ['-C', String(controlPort), '--lld', 'iscsi', ...args], { timeoutMs: 15000 });
    if (x.code !== 0) throw new Error(`tgtadm ${args.join(' ')}: ${lastLines(x.stderr)}`);
  };
  for (const x of targets) await adm(['--op', 'delete', '--mode', 'target', '--tid', String(x.tid), '--force']);

  const file = path.join(stateDir, 'iscsi', 'bench-lun1.img');
  progress(`writing the 1 GiB LUN file ${file}`);
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    const chunk = Buffer.alloc(16 * MiB);
    for (let off = 0; off < LUN_BYTES; off += chunk.length) {
      randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, chunk.length, off);
    }
  } finally {
    fs.closeSync(fd);
  }
  const tid = '9';
  await adm(['--op', 'new', '--mode', 'target', '--tid', tid, '--targetname', BENCH_IQN]);
  await adm(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', '1', '--backing-store', file]);
  await adm(['--op', 'bind', '--mode', 'target', '--tid', tid, '--initiator-address', 'ALL']);
  t.setup.push(`private tgtd on ${env.iscsi.portal}: target ${BENCH_IQN}, LUN 1 = a 1 GiB file of random bytes (page cache), no CHAP`);
  return { portal: env.iscsi.portal, port: env.iscsi.port, lun: 1 };
}

// ---------------------------------------------------------------------------------------------
// sequential reads

async function iscsiPerf(tg: BenchTgtd, c: ReadConfig, seconds: number): Promise<{ mbPerSec: number; iops: number }> {
  const url = `iscsi://${tg.portal}/${BENCH_IQN}/${tg.lun}`;
  const r = await run(ISCSI_PERF, ['-i', INITIATOR, '-m', String(c.queueDepth), '-b', String(c.blocks), '-t', String(seconds), url], {
    timeoutMs: (seconds + 30) * 1000,
  });
  const all = [...r.stdout.matchAll(/iops average (\d+)/g)];
  if (r.code !== 0 || all.length === 0) throw new Error(`iscsi-perf exited ${r.code}: ${lastLines(r.stdout + r.stderr)}`);
  const iops = Number(all[all.length - 1]![1]);
  return { iops, mbPerSec: (iops * c.blocks * BLOCK) / 1e6 };
}

async function virtkitRead(tg: BenchTgtd, c: ReadConfig, seconds: number, into: boolean): Promise<{ mbPerSec: number; iops: number; cpuS: number; eldP99Ms: number; eldMaxMs: number }> {
  const s = await iscsi.connect({ portal: tg.portal, target: BENCH_IQN, initiatorIqn: INITIATOR });
  try {
    const cap = await s.readCapacity(tg.lun);
    const total = cap.blocks;
    let next = 0;
    let done = 0;
    const eld = monitorEventLoopDelay({ resolution: 1 });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    eld.enable();
    const worker = async () => {
      const buf = into ? Buffer.allocUnsafe(c.blocks * BLOCK) : null;
      while (performance.now() < deadline) {
        if (next + c.blocks > total) next = 0;
        const lba = next;
        next += c.blocks;
        if (buf) await s.readInto(tg.lun, lba, buf);
        else await s.read(tg.lun, lba, c.blocks);
        done++;
      }
    };
    await Promise.all(Array.from({ length: c.queueDepth }, worker));
    const wallS = (performance.now() - t0) / 1000;
    eld.disable();
    const cpu = process.cpuUsage(cpu0);
    const bytes = done * c.blocks * BLOCK;
    return {
      iops: done / wallS,
      mbPerSec: bytes / wallS / 1e6,
      cpuS: (cpu.user + cpu.system) / 1e6 / (bytes / GiB),
      eldP99Ms: eld.percentile(99) / 1e6,
      eldMaxMs: eld.max / 1e6,
    };
  } finally {
    await s.close();
  }
}

// ---------------------------------------------------------------------------------------------
// login + report LUNs

/** What `iscsi-ls -s` does, in-process: discovery, then per target login, REPORT LUNS, INQUIRY and READ CAPACITY. */
async function virtkitLs(tg: BenchTgtd): Promise<void> {
  const found = await iscsi.discover(tg.portal, { initiatorIqn: INITIATOR });
  for (const target of found) {
    const s = await iscsi.connect({ portal: tg.portal, target: target.iqn, initiatorIqn: INITIATOR });
    try {
      for (const lun of await s.reportLuns()) {
        const q = await s.inquiry(lun);
        if (q.deviceType === 0) await s.readCapacity(lun);
      }
    } finally {
      await s.close();
    }
  }
}

async function virtkitLogin(tg: BenchTgtd): Promise<void> {
  const s = await iscsi.connect({ portal: tg.portal, target: BENCH_IQN, initiatorIqn: INITIATOR });
  try {
    await s.reportLuns();
  } finally {
    await s.close();
  }
}

async function iscsiLs(tg: BenchTgtd): Promise<void> {
  const r = await run(ISCSI_LS, ['-i', INITIATOR, '-s', `iscsi://${tg.portal}`], { timeoutMs: 30000 });
  if (r.code !== 0 || !r.stdout.includes('Lun:1')) throw new Error(`iscsi-ls exited ${r.code}: ${lastLines(r.stdout + r.stderr)}`);
}

// ---------------------------------------------------------------------------------------------

export async function runIscsi(t: IscsiTarget, { factor }: { factor: number }): Promise<void> {
  const tg = await startTgtd(t);
  if ('skipped' in tg) {
    t.skipped = tg.skipped;
    return;
  }
  const seconds = Math.max(1, Math.round(READ_SECONDS * factor));
  const rounds = factor < 1 ? 1 : READ_ROUNDS;
  t.setup.push(`sequential reads: ${seconds} s per run, ${rounds} round(s), rows interleaved; median of the rounds`);

  // Check the data path once: virtkit reads what the file holds.
  const s = await iscsi.connect({ portal: tg.portal, target: BENCH_IQN, initiatorIqn: INITIATOR });
  const cap = await s.readCapacity(tg.lun);
  await s.close();
  if (cap.bytes !== LUN_BYTES) throw new Error(`the bench LUN reports ${cap.bytes} bytes, not ${LUN_BYTES}`);

  const rowsFor = new Map<string, IscsiRow>();
  for (const c of READ_CONFIGS) {
    const kb = (c.blocks * BLOCK) / 1024;
    const label = `seq read, QD ${c.queueDepth}, ${kb} KiB requests`;
    const perf: IscsiRow = {
      op: 'seqRead', label, impl: 'iscsi-perf', implLabel: 'iscsi-perf', queueDepth: c.queueDepth, requestBytes: c.blocks * BLOCK,
      how: `iscsi-perf -m ${c.queueDepth} -b ${c.blocks} -t ${seconds}`, roundsMbPerSec: [],
    };
    const vk: IscsiRow = {
      op: 'seqRead', label, impl: 'virtkit', implLabel: 'virtkit read', queueDepth: c.queueDepth, requestBytes: c.blocks * BLOCK,
      how: `${c.queueDepth} session.read() loop(s) on one session, ${seconds} s`, roundsMbPerSec: [],
    };
    const into: IscsiRow = {
      op: 'seqRead', label, impl: 'virtkit-into', implLabel: 'virtkit readInto', queueDepth: c.queueDepth, requestBytes: c.blocks * BLOCK,
      how: `${c.queueDepth} session.readInto() loop(s) on one session, a buffer each, ${seconds} s`, roundsMbPerSec: [],
    };
    rowsFor.set(`${c.queueDepth}/${c.blocks}/perf`, perf);
    rowsFor.set(`${c.queueDepth}/${c.blocks}/vk`, vk);
    rowsFor.set(`${c.queueDepth}/${c.blocks}/into`, into);
    t.rows.push(perf, into, vk);
  }
  const iops: Record<string, number[]> = {};
  const extra: Record<string, Array<{ cpuS: number; eldP99Ms: number; eldMaxMs: number }>> = {};
  for (let round = 0; round < rounds && !state.aborted; round++) {
    for (const c of READ_CONFIGS) {
      const order = round % 2 === 0 ? (['perf', 'into', 'vk'] as const) : (['vk', 'into', 'perf'] as const);
      for (const which of order) {
        if (state.aborted) break;
        const key = `${c.queueDepth}/${c.blocks}/${which}`;
        const row = rowsFor.get(key)!;
        if (row.error) continue;
        try {
          let r: { mbPerSec: number; iops: number };
          if (which === 'perf') {
            r = await iscsiPerf(tg, c, seconds);
          } else {
            const v = await virtkitRead(tg, c, seconds, which === 'into');
            (extra[key] ??= []).push(v);
            r = v;
          }
          row.roundsMbPerSec!.push(r.mbPerSec);
          (iops[key] ??= []).push(r.iops);
          progress(`iscsi: ${row.label}, ${row.implLabel}: ${r.mbPerSec.toFixed(1)} MB/s (round ${round + 1})`);
        } catch (err) {
          row.error = errorMessage(err);
          progress(`iscsi: ${row.label}, ${row.implLabel}: error: ${row.error}`);
        }
      }
    }
  }
  for (const [key, row] of rowsFor) {
    if (!row.roundsMbPerSec?.length) continue;
    row.mbPerSec = median(row.roundsMbPerSec);
    row.iops = median(iops[key] ?? []);
    const x = extra[key];
    if (x?.length) {
      row.cpuSPerGiB = median(x.map((e) => e.cpuS));
      row.eldP99Ms = Math.max(...x.map((e) => e.eldP99Ms));
      row.eldMaxMs = Math.max(...x.map((e) => e.eldMaxMs));
    }
  }
  if (state.aborted) return;

  // Login + report LUNs.
  const budget = { warmup: 3, warmupMs: 1000, iterations: Math.max(5, Math.round(LS_RUNS * factor)), timeMs: 20000, concurrency: 1 };
  const ls: IscsiRow = { op: 'login', label: 'discovery + login + LUN list', impl: 'iscsi-ls', implLabel: 'iscsi-ls -s (a process each)', how: `iscsi-ls -i IQN -s iscsi://${tg.portal}` };
  const vkLs: IscsiRow = { op: 'login', label: 'discovery + login + LUN list', impl: 'virtkit-ls', implLabel: 'virtkit, same work', how: 'discover, connect, reportLuns, inquiry + readCapacity per disk LUN, close' };
  const vkLogin: IscsiRow = { op: 'login', label: 'login + REPORT LUNS + logout', impl: 'virtkit-login', implLabel: 'virtkit', how: 'connect, reportLuns, close' };
  t.rows.push(ls, vkLs, vkLogin);
  const describe = (x: Stats) => `p50 ${fmtUs(x.p50Us)} µs`;
  await measureRow(ls, () => measure(() => iscsiLs(tg), budget), 'iscsi: iscsi-ls -s', describe);
  await measureRow(vkLs, () => measure(() => virtkitLs(tg), budget), 'iscsi: virtkit, same work as iscsi-ls -s', describe);
  await measureRow(vkLogin, () => measure(() => virtkitLogin(tg), budget), 'iscsi: virtkit login + REPORT LUNS + logout', describe);
}

export function iscsiReport(t: IscsiTarget): string {
  const out: string[] = [`== iscsi  (${t.source})`];
  if (t.skipped) return [...out, `skipped: ${t.skipped}`].join('\n');
  for (const s of t.setup) out.push(`   ${s}`);
  const reads = t.rows.filter((r) => r.op === 'seqRead');
  if (reads.length) {
    out.push('');
    out.push(
      table(
        ['sequential READ(16), 1 GiB LUN', 'impl', 'MB/s (median)', 'rounds', 'IOPS', 'vs iscsi-perf', 'CPU s/GiB', 'loop delay p99/max ms'],
        reads.map((r) => {
          const perf = reads.find((p) => p.impl === 'iscsi-perf' && p.label === r.label);
          const vs = r.impl !== 'iscsi-perf' && perf?.mbPerSec && r.mbPerSec ? `x${(r.mbPerSec / perf.mbPerSec).toFixed(2)}` : '';
          return [
            r.label, r.implLabel, r.error ? `error: ${r.error}` : fmtRate(r.mbPerSec), (r.roundsMbPerSec ?? []).map((x) => x.toFixed(0)).join(' '),
            fmtRate(r.iops), vs, r.cpuSPerGiB === undefined ? '' : r.cpuSPerGiB.toFixed(2),
            r.eldP99Ms === undefined ? '' : `${r.eldP99Ms.toFixed(2)} / ${r.eldMaxMs!.toFixed(2)}`,
          ];
        }),
        [false, false, true, false, true, true, true, true],
      ),
    );
  }
  const logins = t.rows.filter((r) => r.op === 'login');
  if (logins.length) {
    out.push('');
    out.push(
      table(
        ['login latency', 'impl', 'n', 'p50 ms', 'p99 ms', 'mean ms'],
        logins.map((r) => [
          r.label, r.implLabel, r.stats ? String(r.stats.n) : '', r.error ? `error: ${r.error}` : r.stats ? (r.stats.p50Us / 1000).toFixed(2) : '-',
          r.stats ? (r.stats.p99Us / 1000).toFixed(2) : '', r.stats ? (r.stats.meanUs / 1000).toFixed(2) : '',
        ]),
        [false, false, true, true, true, true],
      ),
    );
  }
  if (t.error) out.push(`error: ${t.error}`);
  return out.join('\n');
}

export function iscsiGoals(t: IscsiTarget | null): Goal[] {
  if (!t || t.skipped) return [];
  const goals: Goal[] = [];
  for (const c of READ_CONFIGS) {
    const label = `seq read, QD ${c.queueDepth}, ${(c.blocks * BLOCK) / 1024} KiB requests`;
    const perf = t.rows.find((r) => r.label === label && r.impl === 'iscsi-perf');
    for (const impl of ['virtkit-into', 'virtkit'] as const) {
      const vk = t.rows.find((r) => r.label === label && r.impl === impl);
      const ok = vk?.mbPerSec !== undefined && perf?.mbPerSec !== undefined;
      goals.push({
        goal: `sequential ${impl === 'virtkit' ? 'read()' : 'readInto()'} within 10% of iscsi-perf (QD ${c.queueDepth}, ${(c.blocks * BLOCK) / 1024} KiB)`,
        target: 'iscsi (private tgtd)',
        pass: ok ? vk!.mbPerSec! >= 0.9 * perf!.mbPerSec! : null,
        detail: ok ? `virtkit ${vk!.mbPerSec!.toFixed(1)} MB/s vs iscsi-perf ${perf!.mbPerSec!.toFixed(1)} MB/s (x${(vk!.mbPerSec! / perf!.mbPerSec!).toFixed(2)})` : 'not measured',
      });
    }
  }
  const ls = t.rows.find((r) => r.impl === 'iscsi-ls')?.stats;
  const vkLs = t.rows.find((r) => r.impl === 'virtkit-ls')?.stats;
  goals.push({
    goal: 'login + report LUNs vs iscsi-ls (informational)',
    target: 'iscsi (private tgtd)',
    pass: null,
    detail: ls && vkLs ? `iscsi-ls -s p50 ${(ls.p50Us / 1000).toFixed(2)} ms (a process) vs virtkit p50 ${(vkLs.p50Us / 1000).toFixed(2)} ms (in-process)` : 'not measured',
  });
  return goals;
}
