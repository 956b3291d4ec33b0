// Secrets (issue 7): no secret value the suite used appears in anything it printed or in the
// daemons' logs. Runs after every other tier (scripts/run-tap.js runs zz-secrets last) and
// reads, in the environment's state dir: tap-output.log (every line tap printed so far, tee'd
// by run-tap.js) and every log file (libvirtd, virtlogd, QEMU's guest logs, both tgtds, the
// Ceph daemons, the mon's cluster and audit logs). The secrets: the CHAP and mutual CHAP
// passwords and the cephx key of env.json (base64 and its decoded bytes), and every value tests
// registered with registerSecret() (test-secrets.jsonl). What it prints names a secret and a
// file, never a value.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, testEnv } from '../helpers';

/**
 * The machine-readable result, for the README's reliability section (scripts/reliability.js):
 * { values: secret values checked, files: files read, bytes: bytes read, hits: number found,
 *   sources: { env: values from env.json, registered: values tests registered } }. Names only.
 */
const REPORT_FILE = path.join(repoRoot, 'dist', 'reports', 'secrets.json');

const envFile = process.env.VIRTKIT_TESTENV;

interface Secret {
  name: string;
  bytes: Buffer;
}

/** The secrets of env.json, by where they sit in it. */
function envSecrets(): Secret[] {
  const env = testEnv() as unknown as Record<string, unknown>;
  const out: Secret[] = [];
  const walk = (v: unknown, where: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const at = where ? `${where}.${k}` : k;
        if (typeof x === 'string' && k === 'password') out.push({ name: `env.json ${at}`, bytes: Buffer.from(x, 'utf8') });
        else if (typeof x === 'string' && k === 'key' && where === 'ceph') {
          out.push({ name: 'env.json ceph.key (base64)', bytes: Buffer.from(x, 'utf8') });
          out.push({ name: 'env.json ceph.key (decoded bytes)', bytes: Buffer.from(x, 'base64') });
        } else walk(x, at);
      }
    }
  };
  walk(env, '');
  return out;
}

/** What tests registered with registerSecret(). */
function registeredSecrets(dir: string): Secret[] {
  const file = path.join(dir, 'test-secrets.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const r = JSON.parse(line) as { name: string; base64: string; test: string };
    return { name: `${r.name} (${r.test})`, bytes: Buffer.from(r.base64, 'base64') };
  });
}

/** Files the check reads: tap's output and every log, not the files meant to hold secrets
 * (env.json, keyrings, libvirt's secret store, the mon's database). */
function printedFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'store.db') walk(p); // the mon's RocksDB (its write-ahead files end in .log): a database, it holds the keys
      }
      else if (e.isFile() && (/\.log(\.\d+)?$/.test(e.name) || e.name === 'tap-output.log')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Which of `needles` occur in which of `files` ("name in file"), never the values. */
function hits(dir: string, files: string[], needles: Secret[]): { found: string[]; bytes: number } {
  const found: string[] = [];
  let bytes = 0;
  for (const file of files) {
    const content = fs.readFileSync(file);
    bytes += content.length;
    for (const s of needles) if (content.includes(s.bytes)) found.push(`${s.name} in ${path.relative(dir, file)}`);
  }
  return { found, bytes };
}

t.test('no secret value in anything the suite printed or in the daemons\' logs', { skip: envFile ? false : 'no test environment: run the tests with `npm test`' }, async (t) => {
  const dir = path.dirname(envFile!);
  const secrets = [...envSecrets(), ...registeredSecrets(dir)].filter((s) => s.bytes.length > 0);
  const files = printedFiles(dir);
  const tap = path.join(dir, 'tap-output.log');
  t.ok(files.includes(tap), 'tap-output.log (what the suite printed) is there');
  t.ok(fs.statSync(tap).size > 10_000, 'and holds the other tiers\' output');
  const env = testEnv()!;
  const started = (p: unknown) => !!p && typeof (p as { skipped?: unknown }).skipped !== 'string';
  if (started(env.libvirt)) t.ok(files.some((f) => /libvirtd\.log$/.test(f)), 'libvirtd\'s log is read');
  if (started(env.iscsi)) t.ok(files.some((f) => /tgtd\.log$/.test(f)), 'tgtd\'s log is read');
  if (started(env.ceph)) t.ok(files.some((f) => /ceph-mon\.\w+\.log$/.test(f)), 'the Ceph mon\'s log is read');
  t.ok(secrets.some((s) => s.name.startsWith('env.json') && s.name.includes('password')), 'env.json\'s CHAP passwords are checked');
  t.ok(secrets.some((s) => s.name.includes('(dist/test/')), 'values tests registered are checked');
  // The same search finds what is there: names the other tiers printed.
  const known = hits(dir, [tap], [{ name: 'a test file name', bytes: Buffer.from('dist/test/driver/10.connection.test.js') }]);
  t.same(known.found, ['a test file name in tap-output.log'], 'the search finds a string the suite printed');
  const { found, bytes } = hits(dir, files, secrets);
  t.comment(`secrets: ${secrets.length} values checked in ${files.length} files (${(bytes / 1024 / 1024).toFixed(1)} MiB)`);
  const registered = secrets.filter((s) => !s.name.startsWith('env.json')).length;
  fs.mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  fs.writeFileSync(REPORT_FILE, JSON.stringify({ values: secrets.length, files: files.length, bytes, hits: found.length, sources: { env: secrets.length - registered, registered } }, null, 2));
  for (const h of found) t.fail(`secret found: ${h}`);
  t.equal(found.length, 0, 'zero hits');
});
