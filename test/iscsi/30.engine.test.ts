// The event-loop-driven sessions: many commands in flight on one session (data checked against
// the backing file), timeouts of commands and of a logout against a stopped tgtd, idle sessions
// that do not hold the process open, sessions in worker threads torn down mid-flight, host
// names resolved off the loop, readStream with several READs in flight.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { inspect } from 'node:util';
import { iscsi, IscsiError } from 'virtkit';
import { privateTgtd, privateTgtdSkip, testEnv, type IscsiTarget } from '../helpers';

const env = testEnv();
const tgt = env && !('skipped' in env.iscsi) ? env.iscsi : null;
const skip = !env
  ? 'no test environment: run the tests with `npm test` (scripts/test.sh starts tgtd)'
  : 'skipped' in env.iscsi
    ? `tgtd not running: ${env.iscsi.skipped}`
    : false;

const initiator = () => `iqn.2026-11.org.virtkit.test:engine-${randomUUID().slice(0, 8)}`;
const virtkitPath = require.resolve('virtkit');

const rejection = async (p: Promise<unknown>): Promise<IscsiError> => {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof IscsiError)) throw new Error(`expected an IscsiError, got ${inspect(err)}`);
  return err;
};

/** Bytes of a LUN's backing file. */
function fileBytes(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    fs.readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

t.test('on the shared tgtd', { skip }, async (t) => {
  if (!tgt) return;
  const target = tgt.targets.find((x) => x.chap !== null && x.luns.length > 0) as IscsiTarget;
  const lun = target.luns[0]!;
  const blocks = lun.sizeBytes / 512;
  const connect = () => iscsi.connect({ portal: tgt.portal, target: target.iqn, initiatorIqn: initiator(), chap: target.chap!, timeoutMs: 30000 });

  t.test('64 commands in flight on one session: writes, then reads, every one equal to the backing file', async (t) => {
    const s = await connect();
    t.teardown(() => s.close());
    // 64 disjoint 8-block regions in the second half of the LUN, written all at once.
    const base = blocks / 2;
    const regions = Array.from({ length: 64 }, (_, i) => ({ lba: base + i * 16, data: randomBytes(8 * 512) }));
    await Promise.all(regions.map((r) => s.write(lun.lun, r.lba, r.data)));
    const back = await Promise.all(regions.map((r) => s.read(lun.lun, r.lba, 8)));
    back.forEach((b, i) => t.ok(b.equals(regions[i]!.data), `region ${i} read back`));
    const onDisk = regions.every((r) => fileBytes(lun.path, r.lba * 512, r.data.length).equals(r.data));
    t.ok(onDisk, 'every region is in the backing file');
    // Mixed commands in flight together: each answers its own question.
    const [cap, luns, tur, inq] = await Promise.all([s.readCapacity(lun.lun), s.reportLuns(), s.testUnitReady(lun.lun), s.inquiry(lun.lun)]);
    t.equal(cap.bytes, lun.sizeBytes);
    t.ok(luns.includes(lun.lun));
    t.equal(tur, undefined);
    t.equal(inq.deviceTypeName, 'DIRECT_ACCESS');
  });

  t.test('readInto: 16 reads in flight into buffers of our own, each equal to the backing file', async (t) => {
    const s = await connect();
    t.teardown(() => s.close());
    const targets = Array.from({ length: 16 }, () => Buffer.alloc(64 * 512, 0xee));
    await Promise.all(targets.map((b, i) => s.readInto(lun.lun, i * 64, b)));
    targets.forEach((b, i) => t.ok(b.equals(fileBytes(lun.path, i * 64 * 512, b.length)), `buffer ${i}`));
    const view = new Uint8Array(new ArrayBuffer(4096), 1024, 1024); // a view into a larger buffer: only its bytes are written
    await s.readInto(lun.lun, 3, view);
    t.ok(Buffer.from(view).equals(fileBytes(lun.path, 3 * 512, 1024)), 'a Uint8Array view at an offset');
    t.ok(new Uint8Array(view.buffer, 0, 1024).every((x) => x === 0) && new Uint8Array(view.buffer, 2048).every((x) => x === 0), 'nothing outside the view');
    await t.rejects(s.readInto(lun.lun, 0, Buffer.alloc(100)), RangeError, 'not a whole block');
    await t.rejects(s.readInto(lun.lun, 0, Buffer.alloc(0)), RangeError, 'empty');
    await t.rejects(s.readInto(lun.lun, 0, 'x' as never), TypeError);
    await t.rejects(s.readInto(lun.lun, -1, Buffer.alloc(512)), RangeError);
    const past = await rejection(s.readInto(lun.lun, blocks, Buffer.alloc(512)));
    t.equal(past.kind, 'scsi');
    t.equal(past.ascqName, 'LBA_OUT_OF_RANGE');
  });

  t.test('readStream with 8 READs in flight equals the backing file', async (t) => {
    const s = await connect();
    t.teardown(() => s.close());
    const stream = s.readStream(lun.lun, { chunkSize: 256 * 1024, queueDepth: 8 });
    const hash = createHash('sha256');
    for await (const chunk of stream) hash.update(chunk as Buffer);
    const expected = createHash('sha256').update(fs.readFileSync(lun.path)).digest('hex');
    t.equal(hash.digest('hex'), expected, 'the whole LUN, in order');
    t.equal(stream.bytes, lun.sizeBytes);
    t.throws(() => s.readStream(lun.lun, { queueDepth: 0 }), RangeError);
    t.throws(() => s.readStream(lun.lun, { queueDepth: 257 }), RangeError);
    t.throws(() => s.readStream(lun.lun, { queueDepth: 1.5 }), TypeError);
  });

  t.test('an open, idle session does not keep the process alive; one with a command does until it is done', async (t) => {
    const script = `
      const { iscsi } = require(${JSON.stringify(virtkitPath)});
      (async () => {
        const s = await iscsi.connect(JSON.parse(process.env.OPTS));
        const b = await s.read(${lun.lun}, 0, 1);
        console.log('read ' + b.length);
        // no close(): the process ends by itself
      })().catch((e) => { console.error(e.message); process.exit(3); });`;
    const opts = { portal: tgt.portal, target: target.iqn, initiatorIqn: initiator(), chap: target.chap };
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000, env: { ...process.env, OPTS: JSON.stringify(opts) } });
    t.equal(r.signal, null, 'not killed by the 30 s timeout');
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout.trim(), 'read 512', 'the read finished before the process ended');
  });

  t.test('worker threads: a session each, one torn down with 16 reads in flight, one closing cleanly', async (t) => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { iscsi } = require(workerData.virtkit);
      (async () => {
        const s = await iscsi.connect(workerData.opts);
        if (workerData.abandon) {
          for (let i = 0; i < 16; i++) s.read(workerData.lun, i * 2048, 2048).catch(() => {});
          parentPort.postMessage('in flight');
          process.exit(0); // ends this worker only, with the reads in flight
        }
        const bufs = await Promise.all(Array.from({ length: 16 }, (_, i) => s.read(workerData.lun, i * 8, 8)));
        await s.close();
        parentPort.postMessage(bufs.reduce((n, b) => n + b.length, 0));
      })().catch((e) => parentPort.postMessage('error: ' + e.message));`;
    const run = (abandon: boolean) =>
      new Promise<unknown[]>((resolve, reject) => {
        const w = new Worker(code, {
          eval: true,
          workerData: { virtkit: virtkitPath, lun: lun.lun, abandon, opts: { portal: tgt.portal, target: target.iqn, initiatorIqn: initiator(), chap: target.chap } },
        });
        const messages: unknown[] = [];
        w.on('message', (m) => messages.push(m));
        w.on('error', reject);
        w.on('exit', () => resolve(messages));
      });
    const [abandoned, clean, clean2] = await Promise.all([run(true), run(false), run(false)]);
    t.same(abandoned, ['in flight'], 'the abandoning worker got its reads going and exited');
    t.same(clean, [16 * 8 * 512], 'a worker read and closed');
    t.same(clean2, [16 * 8 * 512], 'another worker at the same time too');
    const s = await connect();
    t.equal((await s.readCapacity(lun.lun)).bytes, lun.sizeBytes, 'this thread still works');
    await s.close();
  });

  t.test('host names are resolved before libiscsi sees them', async (t) => {
    const port = tgt.portal.split(':')[1];
    const found = await iscsi.discover(`localhost:${port}`, { initiatorIqn: initiator() });
    t.ok(found.some((x) => x.iqn === target.iqn), 'discovery through localhost');
    const err = await rejection(iscsi.connect({ portal: 'no-such-host.invalid', target: target.iqn, initiatorIqn: initiator(), timeoutMs: 5000 }));
    t.equal(err.kind, 'connect');
    t.equal(err.op, 'connect');
    t.match(err.message, /cannot resolve the portal host no-such-host\.invalid/);
    const derr = await rejection(iscsi.discover('no-such-host.invalid:3260', { initiatorIqn: initiator() }));
    t.equal(derr.op, 'discovery');
  });
});

t.test('a stopped tgtd: commands, logout and login time out on time', { skip: privateTgtdSkip }, async (t) => {
  const own = privateTgtd(t);
  const lun = own.target.luns[0]!;
  const timeoutMs = 1500;
  const s = await iscsi.connect({ portal: own.portal, target: own.target.iqn, initiatorIqn: initiator(), chap: own.target.chap!, timeoutMs });
  await s.readCapacity(lun.lun); // past the first UNIT ATTENTION
  process.kill(own.pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(own.pid, 'SIGCONT');
    } catch {
      // already gone
    }
  });
  const started = Date.now();
  const errors = await Promise.all(Array.from({ length: 8 }, (_, i) => rejection(s.read(lun.lun, i * 8, 8))));
  const elapsed = Date.now() - started;
  t.ok(errors.every((e) => e.kind === 'timeout' && e.op === 'READ(16)'), `8 reads rejected with timeout (${errors.map((e) => e.kind).join(',')})`);
  t.match(errors[0]!.message, /not answered within 1500 ms/);
  t.ok(elapsed >= timeoutMs - 50, `not before the timeout (${elapsed} ms)`);
  t.ok(elapsed < timeoutMs + 10000, `and not long after it (${elapsed} ms)`);

  const closeStarted = Date.now();
  await s.close(); // the logout is not answered either: close() resolves after the timeout
  t.ok(Date.now() - closeStarted < timeoutMs + 10000, 'close() resolves although the logout is not answered');
  t.equal((await rejection(s.read(lun.lun, 0, 1))).kind, 'closed');

  const login = await rejection(iscsi.connect({ portal: own.portal, target: own.target.iqn, initiatorIqn: initiator(), chap: own.target.chap!, timeoutMs }));
  t.equal(login.kind, 'timeout', 'a login to a stopped tgtd (TCP accepted by the kernel) times out');
  t.equal(login.op, 'login');
});
