// The examples, run as a person would run them (node dist/examples/NAME.js with flags), their
// printed tables checked: quickstart on libvirt's test driver; iscsi-direct-guest and
// watch-events against the test environment's tgtd and a libvirtd of this file's own (given
// with --uri: the shared daemon's other tests count its clients and must not see these).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { connect, defineGuest, provisionIscsiPool, teardownPool } from 'virtkit';
import { daemonUri, privateLibvirtd, repoRoot, testEnv, type IscsiTarget, tableAfter } from '../helpers';

const example = (name: string) => path.join(repoRoot, 'dist', 'examples', `${name}.js`);
const run = (name: string, args: string[]) => spawnSync(process.execPath, [example(name), ...args], { encoding: 'utf8', timeout: 240000 });

t.test('quickstart on test:///default: host, pools with volumes, domains', async (t) => {
  const r = run('quickstart', ['--uri', 'test:///default']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^Connected to test:\/\/\/default\n/);
  t.match(r.stdout, /\nhost\s+driver\s+hypervisor\s+libvirt\s+arch\s+cpus\s+memory\n/);
  t.same(tableAfter(r.stdout, 'Domains').map((row) => row.slice(0, 3)), [['test', '1', 'running']]);
  t.ok(tableAfter(r.stdout, 'Storage pools and volumes').some((row) => row[0] === 'default-pool'), 'the test driver\'s pool');
});

const shared = daemonUri();
const env = testEnv();
const tgt = env && !('skipped' in env.iscsi) ? env.iscsi : null;
const guests = tgt?.targets.find((x) => x.chap && !x.mutual && x.luns.length >= 5) as IscsiTarget | undefined;
const skip = 'skip' in shared ? shared.skip : !guests ? 'no tgtd target with five LUNs (see scripts/testenv.js)' : false;

// This file's own libvirtd, started before the tests that need it and stopped at the end.
let ownUri = '';
if (!skip)
  t.before(() => {
    const own = privateLibvirtd(t);
    if ('skip' in own) throw new Error(own.skip);
    ownUri = own.uri;
  });

t.test('iscsi-direct-guest against the test environment: preflight, pool, volumes, five guests running, torn down', { skip }, async (t) => {
  const r = run('iscsi-direct-guest', ['--env', process.env.VIRTKIT_TESTENV!, '--uri', ownUri]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '', 'nothing on stderr');
  const out = r.stdout;
  t.notMatch(out, guests!.chap!.password, 'the CHAP password is not printed');
  const preflight = tableAfter(out, 'Preflight (libiscsi): 5 LUN(s) with blocks');
  t.same(preflight.map((row) => row[0]), ['0', '1', '2', '3', '4', '5']);
  for (const lun of guests!.luns)
    t.same(preflight.find((row) => row[0] === String(lun.lun)), [String(lun.lun), 'DIRECT_ACCESS', lun.vendor, lun.product, lun.serial, `${(lun.sizeBytes / 1048576).toFixed(1)} MiB`], `LUN ${lun.lun} row`);
  const pool = /\nPool (vk-demo-[0-9a-f]{6}) \(iscsi-direct\):\n/u.exec(out)?.[1];
  t.ok(pool, 'the pool is named');
  t.match(out, /  defined secret iscsi:vk-demo-[0-9a-f]{6}-chap \(.*, private\)\n  set the value of secret/);
  const volumes = tableAfter(out, `Volumes of pool ${pool}`);
  t.same(volumes.map((row) => row[0]), ['unit:0:0:0', 'unit:0:0:1', 'unit:0:0:2', 'unit:0:0:3', 'unit:0:0:4', 'unit:0:0:5']);
  for (const row of volumes.slice(1)) t.match(row[2], new RegExp(`-iscsi-${guests!.iqn}-lun-${row[1]}$`), `${row[0]}: its path`);
  const g = tableAfter(out, 'Guests');
  t.equal(g.length, 5, 'five guests');
  for (const [i, row] of g.entries()) {
    t.equal(row[0], `${pool}-g${i + 1}`);
    t.match(row[1], /^\d+$/, 'an id');
    t.equal(row[2], 'running');
    t.equal(row[3], `${pool}/unit:0:0:${i + 1}`, 'on its own LUN');
  }
  t.match(out, new RegExp(`\nTeardown\n(  (stopped|removed) guest ${pool}-g\\d\n){10}  stopped pool ${pool}\n  removed the definition of pool ${pool}\n  removed secret iscsi:${pool}-chap\n`));
  t.match(out, /\nDone: nothing left behind\.\n$/);
  const conn = await connect(ownUri);
  t.teardown(() => conn.close());
  t.notOk((await conn.listAllStoragePools()).some((p) => p.name === pool), 'the pool is gone');
  t.notOk((await conn.listAllDomains()).some((d) => d.name.startsWith(pool!)), 'the guests are gone');
});

t.test('iscsi-direct-guest with a target the portal lacks: the preflight error, exit status 1', { skip }, async (t) => {
  const r = run('iscsi-direct-guest', ['--env', process.env.VIRTKIT_TESTENV!, '--uri', ownUri, '--target', 'iqn.2026-11.org.virtkit.test:nope']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^provisioning failed at preflight \(no-target\): the portal 127\.0\.0\.1:\d+ does not offer target iqn\.2026-11\.org\.virtkit\.test:nope/);
  t.match(r.stdout, /\nTeardown\n  nothing to remove\n/);
});

t.test('watch-events: a provision, a guest and a teardown, row by row', { skip }, async (t) => {
  const id = randomUUID().slice(0, 8);
  const name = `vk-watch-${id}`;
  const child = spawn(process.execPath, [example('watch-events'), '--env', process.env.VIRTKIT_TESTENV!, '--uri', ownUri, '--seconds', '180'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  // Subscribed once it says so (a loaded machine may take a while to get there).
  for (let i = 0; i < 600 && !out.includes('Ctrl-C stops.') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /Watching pool, secret and guest events for 180 s; Ctrl-C stops\./, `it is watching ${err}`);
  t.match(out, /Pools on 127\.0\.0\.1:\d+\n/, 'it listed the pools on the portal first');

  const conn = await connect(ownUri);
  t.teardown(() => conn.close());
  t.teardown(() => teardownPool(conn, name, { guests: 'remove' }).catch(() => undefined));
  await provisionIscsiPool(conn, { type: 'iscsi-direct', name, portal: tgt!.portal, target: guests!.iqn, initiatorIqn: `iqn.2026-11.org.virtkit.test:watch-${id}`, chap: guests!.chap! });
  await defineGuest(conn, { name: `${name}-g1`, memoryMiB: 64, vcpus: 1, disks: [{ pool: name, volume: 'unit:0:0:1' }], start: true });
  await teardownPool(conn, name, { guests: 'remove' });
  const want = [
    ['secret', `iscsi:${name}-chap`, 'defined'],
    ['secret', `iscsi:${name}-chap`, 'value-changed'],
    ['pool', name, 'defined'],
    ['pool', name, 'started'],
    ['guest', `${name}-g1`, 'defined'],
    ['guest', `${name}-g1`, 'started'],
    ['guest', `${name}-g1`, 'stopped'],
    ['guest', `${name}-g1`, 'undefined'],
    ['pool', name, 'stopped'],
    ['pool', name, 'undefined'],
    ['secret', `iscsi:${name}-chap`, 'undefined'],
  ];
  const mine = () =>
    out
      .split('\n')
      .map((l) => l.split(/\s{2,}/u))
      .filter((c) => /^\d\d:\d\d:\d\d\.\d{3}$/u.test(c[0] ?? '') && ((c[2] ?? '').startsWith(name) || c[2] === `iscsi:${name}-chap`));
  for (let i = 0; i < 400 && mine().filter((c) => c[3] === 'undefined').length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  t.equal(await exited, 0, err);
  const rows = mine().map((c) => c.slice(1, 4)).filter((c) => want.some((w) => w[2] === c[2] && w[0] === c[0]));
  t.same(rows, want, 'the events of this run, in order');
  t.match(out, /\ntime {10}object {2}name {34}event {10}detail\n-{12} {2}-{6} {2}-{36}/, 'under a header');
  t.match(out, /\n\d+ event\(s\)\n$/, 'and a count at the end');
  t.notMatch(out, guests!.chap!.password);
});
