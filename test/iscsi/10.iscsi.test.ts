// The iSCSI initiator against the test environment's tgtd: discovery, CHAP and mutual CHAP,
// LUNs and their sizes, block I/O checked against the backing files, SCSI errors, timeouts,
// closed sessions, many sessions at once. Portal parsing, argument checks, a portal that never
// answers and a refused connection need no tgtd and always run.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { iscsi, IscsiError } from 'virtkit';
import { forceGc, registerSecret, testEnv, type IscsiTarget, shown } from '../helpers';

const env = testEnv();
const tgt = env && !('skipped' in env.iscsi) ? env.iscsi : null;
const skipReason = !env
  ? 'no test environment: run the tests with `npm test` (scripts/test.sh starts tgtd)'
  : 'skipped' in env.iscsi
    ? `tgtd not running: ${env.iscsi.skipped}`
    : null;

/** A fresh initiator name per use, so tgtd's sessions never meet. */
const initiator = () => `iqn.2026-11.org.virtkit.test:initiator-${randomUUID().slice(0, 8)}`;

const rejection = async (p: Promise<unknown>): Promise<IscsiError> => {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof IscsiError)) throw new Error(`expected an IscsiError, got ${inspect(err)}`);
  return err;
};

/** A TCP listener on loopback that accepts connections and never says a word. */
async function silentListener(t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

// ------------------------------------------------------------------------------------------
// no tgtd needed

t.test('portals: host, host:port, [ipv6]:port, bare IPv6, iscsi:// URLs', async (t) => {
  t.match(iscsi.parsePortal('127.0.0.1'), { host: '127.0.0.1', port: 3260, address: '127.0.0.1:3260' });
  t.match(iscsi.parsePortal('127.0.0.1:3261'), { host: '127.0.0.1', port: 3261, address: '127.0.0.1:3261' });
  t.match(iscsi.parsePortal('gw1.example:3262'), { host: 'gw1.example', port: 3262 });
  t.match(iscsi.parsePortal('[::1]:3263'), { host: '::1', port: 3263, address: '[::1]:3263' });
  t.match(iscsi.parsePortal('[::1]'), { host: '::1', port: 3260, address: '[::1]:3260' });
  t.match(iscsi.parsePortal('::1'), { host: '::1', port: 3260, address: '[::1]:3260' });
  registerSecret('iscsi/10 password in a parsed iscsi:// URL', 's3cretPassw0rd');
  const url = iscsi.parsePortal('iscsi://user1%s3cretPassw0rd@127.0.0.1:3264/iqn.2026-11.org.example%3Atarget1/3');
  t.same(url, {
    host: '127.0.0.1', port: 3264, address: '127.0.0.1:3264', target: 'iqn.2026-11.org.example:target1', lun: 3,
    chap: { username: 'user1', password: 's3cretPassw0rd' },
  });
  t.match(iscsi.parsePortal('iscsi://[::1]/iqn.2026-11.org.example:t'), { address: '[::1]:3260', target: 'iqn.2026-11.org.example:t' });
  for (const bad of ['', 'a b', 'host:port', '[::1', '[zz]:1', 'iscsi://', 'iscsi://h/t/x', 'iscsi://h/t/1/2', 'a/b', 7]) {
    t.throws(() => iscsi.parsePortal(bad), TypeError, String(bad));
  }
  for (const bad of ['host:0', 'host:70000']) t.throws(() => iscsi.parsePortal(bad), RangeError, bad);
  const err = t.throws(() => iscsi.parsePortal('iscsi://user%s3cretPassw0rd@/x')) as Error;
  t.notOk(err.message.includes('s3cretPassw0rd'), 'the message does not quote the URL credentials');
});

t.test('arguments are checked before native code runs', async (t) => {
  const iqn = initiator();
  const portal = '127.0.0.1:9';
  const target = 'iqn.2026-11.org.virtkit.test:open';
  const cases: Array<[string, () => Promise<unknown>, ErrorConstructor | RangeErrorConstructor]> = [
    ['no options', () => iscsi.connect(undefined as never), TypeError],
    ['no portal', () => iscsi.connect({ target, initiatorIqn: iqn } as never), TypeError],
    ['no target', () => iscsi.connect({ portal, initiatorIqn: iqn }), TypeError],
    ['bad initiator', () => iscsi.connect({ portal, target, initiatorIqn: 'host1' }), TypeError],
    ['bad target', () => iscsi.connect({ portal, target: 'disk1', initiatorIqn: iqn }), TypeError],
    ['chap not an object', () => iscsi.connect({ portal, target, initiatorIqn: iqn, chap: 'u:p' as never }), TypeError],
    ['chap without password', () => iscsi.connect({ portal, target, initiatorIqn: iqn, chap: { username: 'u' } as never }), TypeError],
    ['mutual without chap', () => iscsi.connect({ portal, target, initiatorIqn: iqn, mutualChap: { username: 'u', password: 'p' } }), TypeError],
    ['timeout 0', () => iscsi.connect({ portal, target, initiatorIqn: iqn, timeoutMs: 0 }), RangeError],
    ['timeout not integer', () => iscsi.connect({ portal, target, initiatorIqn: iqn, timeoutMs: 1.5 }), TypeError],
    ['lun out of range', () => iscsi.connect({ portal, target, initiatorIqn: iqn, lun: 70000 }), RangeError],
    ['bad digest', () => iscsi.connect({ portal, target, initiatorIqn: iqn, headerDigest: 'md5' as never }), TypeError],
    ['URL target differs', () => iscsi.connect({ portal: `iscsi://${portal}/${target}x`, target, initiatorIqn: iqn }), TypeError],
    ['discover without initiator', () => iscsi.discover(portal, {} as never), TypeError],
    ['discover bad portal', () => iscsi.discover('a/b', { initiatorIqn: iqn }), TypeError],
  ];
  for (const [name, call, type] of cases) await t.rejects(call(), type, name);
});

t.test('a portal that accepts TCP and never answers: connect rejects with timeout', { timeout: 1500 + 15000 }, async (t) => {
  const portal = await silentListener(t);
  const err = await rejection(iscsi.connect({ portal, target: 'iqn.2026-11.org.virtkit.test:silent', initiatorIqn: initiator(), timeoutMs: 1500 }));
  t.equal(err.kind, 'timeout');
  t.equal(err.op, 'login');
  t.match(err.message, /1500 ms/);
  const disc = await rejection(iscsi.discover(portal, { initiatorIqn: initiator(), timeoutMs: 1500 }));
  t.equal(disc.kind, 'timeout', 'discovery too');
});

t.test('a refused connection rejects with connect', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve())); // nothing listens there now
  const err = await rejection(iscsi.connect({ portal: `127.0.0.1:${port}`, target: 'iqn.2026-11.org.virtkit.test:none', initiatorIqn: initiator(), timeoutMs: 5000 }));
  t.equal(err.kind, 'connect');
  t.equal(err.op, 'connect');
  t.match(err.message, /refused/i);
});

// ------------------------------------------------------------------------------------------
// against tgtd

if (!tgt) {
  t.test('iSCSI against tgtd', { skip: skipReason ?? 'tgtd not running' }, async () => {});
} else {
  const portal = tgt.portal;
  const open = tgt.targets.find((x) => x.chap === null) as IscsiTarget;
  const chap = tgt.targets.find((x) => x.chap !== null && x.mutual !== null) as IscsiTarget;
  const chapCreds = chap.chap as { username: string; password: string };
  const mutualCreds = chap.mutual as { username: string; password: string };
  const passwords = [chapCreds.password, mutualCreds.password];
  const port = Number(portal.split(':')[1]);

  const connectChap = (extra: Partial<iscsi.ConnectOptions> = {}) =>
    iscsi.connect({ portal, target: chap.iqn, initiatorIqn: initiator(), chap: chapCreds, ...extra });

  // Every target, each with its one portal.
  const byIqn = (a: { iqn: string }, b: { iqn: string }) => a.iqn.localeCompare(b.iqn);
  const everyTarget = tgt.targets.map((x) => ({ iqn: x.iqn, portals: [{ address: '127.0.0.1', port, portalGroup: 1 }] })).sort(byIqn);
  const sorted = (found: iscsi.DiscoveredTarget[]) => [...found].sort(byIqn);

  t.test('discovery without CHAP lists every target with its portal', async (t) => {
    t.same(sorted(await iscsi.discover(portal, { initiatorIqn: initiator() })), everyTarget);
    t.same(sorted(await iscsi.discover(`iscsi://${portal}`, { initiatorIqn: initiator(), headerDigest: 'crc32c' })), everyTarget);
  });

  // tgtd cannot require CHAP on discovery sessions (accounts bind to targets, tid >= 1), so
  // this checks the initiator side: CHAP offered (AuthMethod=CHAP,None), the target picks None.
  t.test('discovery with CHAP offered', async (t) => {
    t.same(sorted(await iscsi.discover(portal, { initiatorIqn: initiator(), chap: chapCreds })), everyTarget);
    const url = `iscsi://${chapCreds.username}%${chapCreds.password}@${portal}`;
    t.same(sorted(await iscsi.discover(url, { initiatorIqn: initiator() })), everyTarget);
  });

  t.test('the open target: no CHAP, one LUN', async (t) => {
    const s = await iscsi.connect({ portal, target: open.iqn, initiatorIqn: initiator(), lun: 1 });
    t.teardown(() => s.close());
    const luns = (await s.luns()).filter((l) => l.deviceTypeName === 'DIRECT_ACCESS');
    t.same(luns.map((l) => l.lun), open.luns.map((l) => l.lun));
    t.equal(luns[0]?.capacity?.bytes, open.luns[0]?.sizeBytes);
  });

  t.test('luns() on the CHAP target: both LUNs, exact sizes, 512-byte blocks, vendor/product/serial', async (t) => {
    const s = await connectChap();
    t.teardown(() => s.close());
    t.same(await s.reportLuns(), [0, ...chap.luns.map((l) => l.lun)], 'LUN 0 is tgtd\'s controller');
    const all = await s.luns();
    const controller = all.find((l) => l.lun === 0);
    t.equal(controller?.deviceTypeName, 'STORAGE_ARRAY_CONTROLLER');
    t.equal(controller?.capacity, null, 'a controller has no capacity');
    const disks = all.filter((l) => l.deviceTypeName === 'DIRECT_ACCESS');
    t.equal(disks.length, 2);
    for (const want of chap.luns) {
      const got = disks.find((l) => l.lun === want.lun);
      if (!got) {
        t.fail(`LUN ${want.lun} reported`);
        continue;
      }
      t.equal(got.capacity?.bytes, want.sizeBytes, `LUN ${want.lun}: bytes as created`);
      t.equal(got.capacity?.bytes, fs.statSync(want.path).size, `LUN ${want.lun}: bytes = backing file size`);
      t.equal(got.capacity?.blockSize, 512);
      t.equal(got.capacity?.blocks, want.sizeBytes / 512);
      t.equal(got.capacity?.command, 16, 'READ CAPACITY 16 answered');
      t.equal(got.vendor, want.vendor);
      t.equal(got.product, want.product);
      t.equal(got.revision, '0001');
      t.equal(got.serial, want.serial);
      t.equal(got.ready, true);
      const scsiId = (want as { scsiId?: string }).scsiId;
      t.ok(got.identifiers.some((i) => i.type === 't10-vendor-id' && i.value === scsiId), 'the T10 vendor id designator is tgtd\'s scsi_id');
      t.match(got.naa, /^[0-9a-f]{16,32}$/, 'an NAA designator');
      t.equal(got.wwn, `0x${got.naa}`);
    }
    t.match(await s.inquiry(1), {
      peripheralQualifier: 0, deviceType: 0, deviceTypeName: 'DIRECT_ACCESS', vendor: chap.luns[0]?.vendor,
      product: chap.luns[0]?.product, revision: '0001', removable: false,
    });
  });

  t.test('CHAP refused: no CHAP, wrong user, wrong password → auth, and no password shown', async (t) => {
    const none = await rejection(iscsi.connect({ portal, target: chap.iqn, initiatorIqn: initiator() }));
    t.equal(none.kind, 'auth', 'no CHAP on a CHAP target');
    const wrongUser = await rejection(connectChap({ chap: { username: 'nobody', password: chapCreds.password } }));
    t.equal(wrongUser.kind, 'auth', 'wrong user');
    t.same(wrongUser.loginStatus, { class: 2, detail: 1 }, 'login status: initiator error, authentication failure');
    const wrongPassword = registerSecret('iscsi/10 wrong CHAP password', `Wr0ng${randomBytes(6).toString('hex')}`);
    const wrongPw = await rejection(connectChap({ chap: { username: chapCreds.username, password: wrongPassword } }));
    t.equal(wrongPw.kind, 'auth', 'wrong password');
    t.equal(wrongPw.op, 'login');
    for (const err of [none, wrongUser, wrongPw]) {
      for (const pw of [...passwords, wrongPassword]) t.notOk(shown(err).includes(pw), 'no password in message, stack, inspect or JSON');
    }
  });

  t.test('mutual CHAP: right, wrong password, wrong user', async (t) => {
    const s = await connectChap({ mutualChap: mutualCreds });
    t.same((await s.reportLuns()).filter((l) => l > 0), chap.luns.map((l) => l.lun), 'the target proved itself');
    await s.close();
    const wrongPassword = registerSecret('iscsi/10 wrong mutual CHAP password', `Wr0ng${randomBytes(6).toString('hex')}`);
    const badPw = await rejection(connectChap({ mutualChap: { username: mutualCreds.username, password: wrongPassword } }));
    t.equal(badPw.kind, 'auth', 'the target could not answer with our secret');
    const badUser = await rejection(connectChap({ mutualChap: { username: 'someone-else', password: mutualCreds.password } }));
    t.equal(badUser.kind, 'auth', 'the target answered under another name');
    for (const err of [badPw, badUser]) {
      for (const pw of [...passwords, wrongPassword]) t.notOk(shown(err).includes(pw), 'no password shown');
    }
    t.notOk(inspect(s, { depth: 5, showHidden: true }).includes(chapCreds.password), 'no password in the session');
  });

  t.test('an unknown target → connect, with the login status', async (t) => {
    const err = await rejection(iscsi.connect({ portal, target: 'iqn.2026-11.org.virtkit.test:nope', initiatorIqn: initiator() }));
    t.equal(err.kind, 'connect');
    t.same(err.loginStatus, { class: 2, detail: 3 }, 'target not found');
  });

  t.test('write a pattern, read it back, and find it in the backing file', async (t) => {
    const lun = chap.luns[1] as (typeof chap.luns)[number];
    const s = await connectChap({ headerDigest: 'crc32c' });
    t.teardown(() => s.close());
    const lba = 2048 + Math.floor(Math.random() * 1024);
    const pattern = randomBytes(64 * 1024);
    await s.write(lun.lun, lba, pattern);
    t.ok((await s.read(lun.lun, lba, pattern.length / 512)).equals(pattern), 'read back through iSCSI');
    const fd = fs.openSync(lun.path, 'r');
    try {
      const onDisk = Buffer.alloc(pattern.length);
      fs.readSync(fd, onDisk, 0, onDisk.length, lba * 512);
      t.ok(onDisk.equals(pattern), 'the backing file holds the same bytes at lba × 512');
    } finally {
      fs.closeSync(fd);
    }
    const last = lun.sizeBytes / 512 - 1;
    t.equal((await s.read(lun.lun, last, 1)).length, 512, 'the last block reads');
    await t.rejects(s.read(lun.lun, 0, 1.5), TypeError);
    await t.rejects(s.read(lun.lun, -1, 1), RangeError);
    await t.rejects(s.write(lun.lun, 0, Buffer.alloc(100)), RangeError, 'not a whole block');
    await t.rejects(s.write(lun.lun, 0, 'text' as never), TypeError);
  });

  t.test('read and write past the end → scsi with the sense data', async (t) => {
    const lun = chap.luns[0] as (typeof chap.luns)[number];
    const s = await connectChap();
    t.teardown(() => s.close());
    const blocks = lun.sizeBytes / 512;
    for (const [what, call] of [
      ['read', () => s.read(lun.lun, blocks, 1)],
      ['read across', () => s.read(lun.lun, blocks - 1, 2)],
      ['write', () => s.write(lun.lun, blocks, Buffer.alloc(512))],
    ] as const) {
      const err = await rejection(call());
      t.equal(err.kind, 'scsi', what);
      t.equal(err.status, 2);
      t.equal(err.statusName, 'CHECK_CONDITION');
      t.equal(err.senseKey, 5);
      t.equal(err.senseKeyName, 'ILLEGAL_REQUEST');
      t.equal(err.asc, 0x21);
      t.equal(err.ascq, 0);
      t.equal(err.ascqName, 'LBA_OUT_OF_RANGE');
    }
    t.equal((await s.read(lun.lun, 0, 1)).length, 512, 'the session still works after SCSI errors');
    const noLun = await rejection(s.readCapacity(77));
    t.equal(noLun.kind, 'scsi', 'a LUN that is not there');
    t.equal(noLun.ascqName, 'LOGICAL_UNIT_NOT_SUPPORTED');
  });

  t.test('a closed session rejects with closed; close is idempotent', async (t) => {
    const s = await connectChap();
    const pending = s.reportLuns(); // made before close: runs first
    const first = s.close();
    t.equal(s.close(), first, 'close() twice: one promise');
    t.ok((await pending).length > 0, 'the call made before close() finished');
    await first;
    t.equal(s.closed, true);
    for (const call of [() => s.reportLuns(), () => s.inquiry(1), () => s.read(1, 0, 1), () => s.write(1, 0, Buffer.alloc(512)), () => s.luns()]) {
      const err = await rejection(call());
      t.equal(err.kind, 'closed');
    }
    await s.close();
  });

  t.test('readStream: a whole LUN and a part of it, equal to the backing file', async (t) => {
    const lun = chap.luns[1] as (typeof chap.luns)[number];
    const s = await connectChap();
    t.teardown(() => s.close());
    await s.write(lun.lun, 100, randomBytes(8192)); // something that is not zeroes
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const file = fs.readFileSync(lun.path);
    const drain = async (stream: NodeJS.ReadableStream) => {
      const hash = createHash('sha256');
      let bytes = 0;
      await pipeline(stream, new Writable({
        write(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done();
        },
      }));
      return { bytes, sha: hash.digest('hex') };
    };
    const whole = s.readStream(lun.lun, { chunkSize: 3 * 1024 * 1024 + 100 }); // rounded down to whole blocks
    t.same(await drain(whole), { bytes: lun.sizeBytes, sha: sha(file) }, 'every byte of the LUN');
    t.equal(whole.bytes, lun.sizeBytes);
    t.equal(whole.capacity?.bytes, lun.sizeBytes);
    const part = await drain(s.readStream(lun.lun, { offset: 51200, length: 40960, chunkSize: 4096 }));
    t.same(part, { bytes: 40960, sha: sha(file.subarray(51200, 51200 + 40960)) }, 'offset and length');
    t.throws(() => s.readStream(lun.lun, { chunkSize: 0 }), RangeError);
    t.throws(() => s.readStream(lun.lun, { offset: '1' as never }), TypeError);
    await t.rejects(drain(s.readStream(lun.lun, { offset: 100 })), RangeError, 'not a whole block');
    await t.rejects(drain(s.readStream(lun.lun, { offset: lun.sizeBytes, length: 512 })), RangeError, 'past the end');
    const ac = new AbortController();
    const aborted = s.readStream(lun.lun, { chunkSize: 65536, signal: ac.signal });
    aborted.once('data', () => ac.abort());
    await t.rejects(drain(aborted), { name: 'AbortError' }, 'an AbortSignal stops it');
    t.equal((await s.read(lun.lun, 0, 1)).length, 512, 'the session still works');
    await s.close();
    const closed = await rejection(drain(s.readStream(lun.lun)));
    t.equal(closed.kind, 'closed', 'a stream on a closed session errors with closed');
  });

  t.test('connect({ lun }) checks that LUN first', async (t) => {
    const s = await connectChap({ lun: 2 });
    await s.close();
    const err = await rejection(connectChap({ lun: 9 }));
    t.equal(err.kind, 'scsi');
    t.equal(err.ascqName, 'LOGICAL_UNIT_NOT_SUPPORTED');
  });

  t.test('a session dropped without close() is logged out by the garbage collector', async (t) => {
    const iqn = initiator();
    /** Whether tgtd lists a session (I_T nexus) of our initiator. */
    const loggedIn = () =>
      execFileSync('tgtadm', ['-C', String(tgt.controlPort), '--lld', 'iscsi', '--mode', 'target', '--op', 'show'], { encoding: 'utf8' })
        .includes(`Initiator: ${iqn} `);
    await (async () => {
      const s = await iscsi.connect({ portal, target: open.iqn, initiatorIqn: iqn });
      await s.reportLuns();
    })();
    t.ok(loggedIn(), 'tgtd sees the session');
    // Wait (bounded) for the finalizer's logout to reach tgtd.
    for (let i = 0; i < 200 && loggedIn(); i++) {
      forceGc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.notOk(loggedIn(), 'tgtd no longer sees it');
  });

  t.test('100 sessions opened at once all work and all close', async (t) => {
    const iqn = initiator(); // one initiator name: libiscsi gives each session its own ISID
    const sessions = await Promise.all(
      Array.from({ length: 100 }, () => iscsi.connect({ portal, target: chap.iqn, initiatorIqn: iqn, chap: chapCreds, timeoutMs: 60000 })),
    );
    t.equal(sessions.length, 100);
    const lun = chap.luns[0] as (typeof chap.luns)[number];
    const reads = await Promise.all(sessions.map((s, i) => s.read(lun.lun, i, 1)));
    t.ok(reads.every((b) => b.length === 512), 'each read one block');
    await Promise.all(sessions.map((s) => s.close()));
    t.ok(sessions.every((s) => s.closed));
  });
}
