/** Shared test helpers: paths, the test environment started by scripts/test.sh, GC. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** The repository root (tests run from dist/test/<tier>/). */
export const repoRoot = path.resolve(__dirname, '..', '..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures');

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
export interface TestEnv {
  libvirt: Part<{ uri: string; socket: string }>;
  iscsi: Part<{ portal: string; controlPort: number; targets: IscsiTarget[] }>;
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

/** Forces a full garbage collection, with or without --expose-gc. */
export function forceGc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g();
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Whether libvirt's schema checker (virt-xml-validate, which needs xmllint) is installed. */
export const canValidateXml = fs.existsSync('/usr/bin/virt-xml-validate') && fs.existsSync('/usr/bin/xmllint');

/** Checks a document against libvirt's RNG schema (`domain`, `storagepool`, `storagevol`,
 * `secret`…) with virt-xml-validate; the temp file is removed again. */
export function validateXml(xml: string, schema: string): { status: number | null; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-xml-'));
  try {
    const file = path.join(dir, `${schema}.xml`);
    fs.writeFileSync(file, xml);
    const r = spawnSync('virt-xml-validate', [file, schema], { encoding: 'utf8' });
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

/**
 * A private libvirtd of the test's own (scripts/testenv.js with VIRTKIT_TESTENV_SKIP=iscsi),
 * stopped and removed when `t` ends: for tests that compare the daemon's whole lists of
 * secrets, pools and domains, which the shared daemon's other tests change meanwhile.
 * Returns its URI, or the reason it cannot run.
 */
export function privateLibvirtd(t: { teardown: (fn: () => unknown) => void }): { uri: string } | { skip: string } {
  const script = path.join(repoRoot, 'scripts', 'testenv.js');
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-own-'));
  t.teardown(() => spawnSync(process.execPath, [script, 'stop', '--state', state], { stdio: 'ignore', timeout: 60000 }));
  const r = spawnSync(process.execPath, [script, 'start', '--state', state], {
    encoding: 'utf8', timeout: 120000, env: { ...process.env, VIRTKIT_TESTENV_SKIP: 'iscsi' },
  });
  if (r.status !== 0) throw new Error(`private libvirtd did not start: ${r.stderr}`);
  const env = JSON.parse(fs.readFileSync(path.join(state, 'env.json'), 'utf8')) as TestEnv;
  if (isSkipped(env.libvirt)) return { skip: `private libvirtd not available: ${env.libvirt.skipped}` };
  return { uri: env.libvirt.uri };
}
