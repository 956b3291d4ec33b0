/** Shared test helpers: paths, the test environment started by scripts/test.sh, GC. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { inspect } from 'node:util';
import * as vm from 'node:vm';
import type { Connection } from 'virtkit';

/** The repository root (tests run from dist/test/<tier>/). */
export const repoRoot = path.resolve(__dirname, '..', '..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures');
/** Time limits of child processes are multiplied by this: scripts/test-asan.sh sets
 * VIRTKIT_TEST_TIME_SCALE, because the ASan runtime's exact stacks make calls several times slower. */
export const timeScale = Math.max(1, Number(process.env.VIRTKIT_TEST_TIME_SCALE) || 1);

export interface IscsiLun {
  lun: number;
  sizeBytes: number;
  path: string;
  vendor?: string;
  product?: string;
  serial?: string;
}
export interface IscsiTarget {
  iqn: string;
  tid: number;
  chap: { username: string; password: string } | null;
  mutual: { username: string; password: string } | null;
  luns: IscsiLun[];
}
export type Part<T> = T | { skipped: string };
/** A LUN of the Ceph gateway's tgtd: an RBD image (`pool/image`) instead of a file. */
export interface RbdLun extends Omit<IscsiLun, 'path'> {
  image: string;
}
export interface RbdTarget extends Omit<IscsiTarget, 'luns'> {
  luns: RbdLun[];
}
/** The private Ceph cluster (scripts/testenv.js documents every field at writeEnv). */
export interface CephEnv {
  conf: string;
  logDir: string;
  fsid: string;
  monHost: string;
  /** The mon's v1 port: what libvirt's pool XML and librbd are given. */
  monPort: number;
  monPortV2: number;
  pool: string;
  /** client.<user>, caps limited to `pool`. */
  user: string;
  /** The user's cephx key, base64. A secret: never print it. */
  key: string;
  keyring: string;
  adminKeyring: string;
  monPid: number;
  mgrPid: number;
  osdPid: number;
  images: Array<{ image: string; sizeBytes: number }>;
  heartbeat: Record<string, { value: number; default: number; source: string }>;
  iscsi: Part<{ portal: string; controlPort: number; pid: number; logFile: string; targets: RbdTarget[] }>;
}
export interface TestEnv {
  libvirt: Part<{ uri: string; socket: string }>;
  iscsi: Part<{ portal: string; controlPort: number; targets: IscsiTarget[] }>;
  /** Absent in an env.json written before the Ceph part existed. */
  ceph?: Part<CephEnv>;
}

function isSkipped<T>(p: Part<T> | undefined): p is { skipped: string } {
  return !p || typeof (p as { skipped?: string }).skipped === 'string';
}

/** The environment scripts/testenv.js started (via $VIRTKIT_TESTENV), or null. */
export function testEnv(): TestEnv | null {
  const file = process.env.VIRTKIT_TESTENV;
  if (!file) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TestEnv;
}

/** The private libvirtd's URI, or the reason it is not available (for tap's `skip`). */
export function daemonUri(): { uri: string } | { skip: string } {
  const env = testEnv();
  if (!env) return { skip: 'no test environment: run the tests with `npm test` (scripts/test.sh starts a private libvirtd)' };
  if (isSkipped(env.libvirt)) return { skip: `private libvirtd not running: ${(env.libvirt as { skipped: string } | undefined)?.skipped ?? 'not started'}` };
  return { uri: env.libvirt.uri };
}

/** The private Ceph cluster, or the reason it is not available (for tap's `skip`). */
export function cephEnv(): { ceph: CephEnv } | { skip: string } {
  const env = testEnv();
  if (!env) return { skip: 'no test environment: run the tests with `npm test` (scripts/test.sh starts a private Ceph cluster)' };
  if (!env.ceph || isSkipped(env.ceph)) return { skip: `private Ceph cluster not running: ${env.ceph?.skipped ?? "not started (env.json has no ceph part)"}` };
  return { ceph: env.ceph };
}

/**
 * Runs Ceph's `ceph` or `rbd` CLI against the private cluster as client.admin (or `id`; '' for
 * none, as `ceph daemon` on an admin socket wants), with
 * the env's ceph.conf (which names the keyring files: no key on the command line), killed
 * after `timeoutMs`. Resolves the exit status and output.
 */
export function cephCli(ceph: CephEnv, tool: 'ceph' | 'rbd', args: string[], { id = 'admin', timeoutMs = 30_000 } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(`/usr/bin/${tool}`, ['-c', ceph.conf, ...(id ? ['--id', id] : []), ...args], { encoding: 'utf8', timeout: timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** cephCli that must succeed; returns stdout (parsed when `--format json` is among the args). */
export function cephJson<T = unknown>(ceph: CephEnv, tool: 'ceph' | 'rbd', args: string[], opts?: { id?: string; timeoutMs?: number }): T {
  const r = cephCli(ceph, tool, [...args, '--format', 'json'], opts);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (status ${r.status}): ${r.stderr.trim().slice(-500)}`);
  return JSON.parse(r.stdout) as T;
}

/** Forces a full garbage collection, with or without --expose-gc. */
export function forceGc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g();
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Whether libvirt's schema checker (virt-xml-validate, which needs xmllint) is installed. */
/**
 * The environment for a program other than node that a test runs: the caller's, without the
 * sanitizer runtime `npm run test:asan` preloads into node processes (scripts/test-asan.sh sets
 * VIRTKIT_SANITIZER_PRELOAD). Other programs are not under test there, and some do not survive
 * it (qemu-img deadlocks in its exit handlers).
 */
export function toolEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (env.VIRTKIT_SANITIZER_PRELOAD) delete env.LD_PRELOAD;
  return env;
}

export const canValidateXml = fs.existsSync('/usr/bin/virt-xml-validate') && fs.existsSync('/usr/bin/xmllint');

/** Checks a document against libvirt's RNG schema (`domain`, `storagepool`, `storagevol`,
 * `secret`…) with virt-xml-validate; the temp file is removed again. */
export function validateXml(xml: string, schema: string): { status: number | null; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-xml-'));
  try {
    const file = path.join(dir, `${schema}.xml`);
    fs.writeFileSync(file, xml);
    const r = spawnSync('virt-xml-validate', [file, schema], { encoding: 'utf8', env: toolEnv() });
    return { status: r.status, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh temp directory, removed when the test `t` ends. */
export function tempDir(t: { teardown: (fn: () => unknown) => void }, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A private environment's env.json: the shared shape, plus its state dir and daemon pids. */
export type PrivateTestEnv = Omit<TestEnv, 'libvirt' | 'iscsi'> & {
  stateDir: string;
  libvirt: Part<{ uri: string; socket: string; pid: number }>;
  iscsi: Part<{ portal: string; controlPort: number; targets: IscsiTarget[]; pid: number }>;
};

/**
 * A test environment of the test's own (`scripts/testenv.js start` with the given parts
 * skipped, and `env` added to its environment, e.g. VIRTKIT_TESTENV_OSD_STORE), stopped and
 * removed when `t` ends: for tests that kill or stop its daemons, or compare a daemon's whole
 * lists, which the shared environment's other tests change meanwhile.
 */
export function privateEnv(t: { teardown: (fn: () => unknown) => void }, prefix: string, skip: string, env: Record<string, string> = {}): PrivateTestEnv {
  const script = path.join(repoRoot, 'scripts', 'testenv.js');
  const state = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  t.teardown(() => {
    spawnSync(process.execPath, [script, 'stop', '--state', state], { stdio: 'ignore', timeout: 60000 });
  });
  const started = spawnSync(process.execPath, [script, 'start', '--state', state], {
    stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 120000, env: { ...process.env, ...env, VIRTKIT_TESTENV_SKIP: skip },
  });
  if (started.status !== 0) throw new Error(`a private test environment (without ${skip}) did not start: ${started.stderr}`);
  return JSON.parse(fs.readFileSync(path.join(state, 'env.json'), 'utf8')) as PrivateTestEnv;
}

/**
 * Starts a daemon of a private environment again after the test killed it
 * (`scripts/testenv.js respawn`): `libvirtd` on the same socket and state, or `ceph-osd` on
 * the same data (needs VIRTKIT_TESTENV_OSD_STORE=bluestore: memstore loses its objects).
 * Returns once it serves again; resolves its new pid (also written to the env).
 */
export function respawnDaemon(env: PrivateTestEnv, daemon: 'libvirtd' | 'ceph-osd'): number {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'testenv.js'), 'respawn', '--state', env.stateDir, daemon], {
    stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 90000 * timeScale,
  });
  if (r.status !== 0) throw new Error(`${daemon} did not start again: ${r.stderr}${r.error ? String(r.error) : ''}`);
  return Number(r.stdout.trim());
}

/** One fault a test injected, as `recordFaults` writes it. */
export interface FaultRecord {
  /** What was done, e.g. `libvirtd SIGKILL under 200 mixed calls`. */
  fault: string;
  /** How many times it was injected (a kill: 1). */
  injected: number;
  /** Calls not yet settled when it was injected. */
  inFlight: number;
  /** How many of those settled (== inFlight unless something hung). */
  settled: number;
  /** How many of them rejected with the library's typed error (LibvirtError, IscsiError). */
  typedErrors: number;
  /** How many resolved (with a valid result). */
  resolved: number;
  /** Whether the program worked again afterwards (a new connection/session, a refresh). */
  recovered: boolean;
  /** The typed errors by code name (LibvirtError.codeName, IscsiError `kind`). */
  codes: Record<string, number>;
}

/**
 * Writes the faults a test file injected and survived to
 * `dist/reports/faults/<test file's basename without .js>.json` (overwritten per run), for
 * scripts/reliability.js, which sums them up. The shape:
 *   { file: string,                 // the test file, relative to the repo (dist/test/…/NN.x.test.js)
 *     faults: FaultRecord[] }       // see FaultRecord: { fault, injected, inFlight, settled,
 *                                   //   typedErrors, resolved, recovered, codes: { CODE: n } }
 */
export function recordFaults(file: string, faults: FaultRecord[]): string {
  const dir = path.join(repoRoot, 'dist', 'reports', 'faults');
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `${path.basename(file).replace(/\.[cm]?[jt]s$/u, '')}.json`);
  fs.writeFileSync(out, JSON.stringify({ file: path.relative(repoRoot, file), faults }, null, 2) + '\n');
  return out;
}

/** Tallies settled results: how many resolved, how many rejected with a typed error (`code` names it; null: untyped), by code. */
export function tallySettled(results: PromiseSettledResult<unknown>[], code: (err: unknown) => string | null): { resolved: number; typedErrors: number; untyped: unknown[]; codes: Record<string, number> } {
  const codes: Record<string, number> = {};
  const untyped: unknown[] = [];
  let resolved = 0;
  let typedErrors = 0;
  for (const r of results) {
    if (r.status === 'fulfilled') {
      resolved++;
      continue;
    }
    const c = code(r.reason);
    if (c === null) untyped.push(r.reason);
    else {
      typedErrors++;
      codes[c] = (codes[c] ?? 0) + 1;
    }
  }
  return { resolved, typedErrors, untyped, codes };
}

/** Why a private tgtd cannot run here, or false. */
export const privateTgtdSkip = fs.existsSync('/usr/sbin/tgtd') && process.getuid?.() === 0 ? false : 'needs tgtd (Debian package tgt) and root';

/** A tgtd of the test's own, for tests that kill or stop it. Returns its CHAP target. */
export function privateTgtd(t: { teardown: (fn: () => unknown) => void }): { portal: string; pid: number; target: IscsiTarget } {
  const env = privateEnv(t, 'virtkit-tgtd', 'libvirt,ceph');
  if (isSkipped(env.iscsi)) throw new Error(`a private tgtd did not start: ${env.iscsi.skipped}`);
  const iscsi = env.iscsi as { portal: string; pid: number; targets: IscsiTarget[] };
  const target = iscsi.targets.find((x) => x.chap && x.luns.length > 0);
  if (!target) throw new Error('the private tgtd has no CHAP target with LUNs');
  return { portal: iscsi.portal, pid: iscsi.pid, target };
}

/**
 * A libvirtd of the test's own, for tests that compare the daemon's whole lists of secrets,
 * pools and domains, or kill it (respawnDaemon starts it again). Returns its URI, socket,
 * pid and environment, or the reason it cannot run.
 */
export function privateLibvirtd(t: { teardown: (fn: () => unknown) => void }): { uri: string; socket: string; pid: number; env: PrivateTestEnv } | { skip: string } {
  const env = privateEnv(t, 'virtkit-own', 'iscsi,ceph');
  if (isSkipped(env.libvirt)) return { skip: `private libvirtd not available: ${env.libvirt.skipped}` };
  return { uri: env.libvirt.uri, socket: env.libvirt.socket, pid: env.libvirt.pid, env };
}

/** Every way an error can show itself: message, stack, inspect, JSON (to look for secrets in). */
export const shown = (err: unknown): string =>
  `${String(err)}\n${(err as Error).stack}\n${inspect(err, { depth: 6 })}\n${JSON.stringify(err)}`;

/**
 * libvirt's lists of secrets, pools and domains, each entry with what identifies it and its
 * state: equal before and after a call that must leave libvirt as it was.
 */
export async function libvirtLists(conn: Connection): Promise<{ secrets: string[]; pools: string[]; domains: string[] }> {
  const pools = await Promise.all(
    (await conn.listAllStoragePools()).map(async (p) => `${p.name} ${p.uuid} ${(await p.info()).stateName} autostart=${await p.autostart()}`),
  );
  const domains = await Promise.all((await conn.listAllDomains()).map(async (d) => `${d.name} ${d.uuid} ${(await d.state()).stateName}`));
  const secrets = (await conn.listAllSecrets()).map((x) => `${x.usageType}:${x.usageId} ${x.uuid}`);
  return { secrets: secrets.sort(), pools: pools.sort(), domains: domains.sort() };
}

/** The error `p` rejects with; anything else (a resolution, another class) throws. */
export async function rejection<E>(p: Promise<unknown>, cls: abstract new (...args: never[]) => E): Promise<E> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof cls)) throw new Error(`expected a ${cls.name}, got ${inspect(err)}`);
  return err;
}

/**
 * A secret value a test uses (a password, a key), registered for the secrets check
 * (test/zz-secrets), which greps everything the suite printed and the daemons' logs for it.
 * Returns `value`. Kept in the environment's state dir (test-secrets.jsonl, 0600), beside
 * env.json, whose own secrets the check finds by itself; without an environment, a no-op.
 */
export function registerSecret<T extends string | Buffer>(name: string, value: T): T {
  const env = process.env.VIRTKIT_TESTENV;
  if (!env) return value;
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const line = JSON.stringify({ name, base64: bytes.toString('base64'), test: path.relative(repoRoot, process.argv[1] ?? '') }) + '\n';
  fs.appendFileSync(path.join(path.dirname(env), 'test-secrets.jsonl'), line, { mode: 0o600 });
  return value;
}

/** The rows of the table under `title` in an example's output (after its header and dashes), as cells. */
export function tableAfter(out: string, title: string): string[][] {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l === title);
  if (at < 0) return [];
  const rows: string[][] = [];
  for (const l of lines.slice(at + 3)) {
    if (l.trim() === '') break;
    rows.push(l.trim().split(/\s{2,}/u));
  }
  return rows;
}

/** Resolves `p`, or rejects when it has not settled after `ms` (times timeScale): a hang, not
 * a slow call. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled after ${ms} ms (a hang)`)), ms * timeScale);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

