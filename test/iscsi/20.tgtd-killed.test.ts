// tgtd killed while 32 reads are in flight on a session: every read settles (the ones that
// had not finished reject with a typed IscsiError), the process lives, close() still works,
// and a session to a tgtd started afterwards works. Uses a tgtd of its own (the shared one
// serves the other tiers): `scripts/testenv.js start` with VIRTKIT_TESTENV_SKIP=libvirt,ceph.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { iscsi, IscsiError } from 'virtkit';
import { privateTgtd, privateTgtdSkip as skip, recordFaults, tallySettled } from '../helpers';

const initiator = () => `iqn.2026-11.org.virtkit.test:killed-${randomUUID().slice(0, 8)}`;

t.test('tgtd killed under 32 reads in flight', { skip }, async (t) => {
  const first = privateTgtd(t);
  const lun = first.target.luns[0]!;
  const session = await iscsi.connect({ portal: first.portal, target: first.target.iqn, initiatorIqn: initiator(), chap: first.target.chap!, timeoutMs: 5000 });
  const blocks = 2048; // 1 MiB per read: long enough in total that the kill lands mid-flight
  const reads = Array.from({ length: 32 }, (_, i) => session.read(lun.lun, (i * blocks) % (lun.sizeBytes / 512 - blocks), blocks));
  process.kill(first.pid, 'SIGKILL');
  const inFlight = reads.length; // none had settled: the kill comes in the same tick
  const settled = await Promise.allSettled(reads);
  const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const done = settled.length - rejected.length;
  t.equal(settled.length, 32, 'every read settled');
  t.ok(rejected.length > 0, `the kill landed mid-flight (${done} reads had finished, ${rejected.length} rejected)`);
  for (const r of rejected) {
    t.ok(r.reason instanceof IscsiError, 'a typed IscsiError');
    t.ok(['connect', 'timeout', 'closed', 'protocol'].includes((r.reason as IscsiError).kind), `kind ${(r.reason as IscsiError).kind}`);
  }
  const fulfilled = settled.filter((r): r is PromiseFulfilledResult<Buffer> => r.status === 'fulfilled');
  t.ok(fulfilled.every((r) => r.value.length === blocks * 512), 'the reads that finished carry whole data');
  await session.close().catch(() => undefined); // the target is gone: logging out may fail, never crash
  await session.close().catch(() => undefined); // idempotent
  const after = await session.readCapacity(lun.lun).then(() => null, (e: unknown) => e);
  t.ok(after instanceof IscsiError && after.kind === 'closed', 'a closed session rejects with kind closed');

  // A tgtd started afterwards: a new session works.
  const second = privateTgtd(t);
  const fresh = await iscsi.connect({ portal: second.portal, target: second.target.iqn, initiatorIqn: initiator(), chap: second.target.chap!, timeoutMs: 5000 });
  const cap = await fresh.readCapacity(second.target.luns[0]!.lun);
  t.equal(cap.bytes, second.target.luns[0]!.sizeBytes, 'a new session reads the LUN capacity');
  await fresh.close();
  const tally = tallySettled(settled, (e) => (e instanceof IscsiError ? e.kind : null));
  recordFaults(__filename, [{
    fault: 'tgtd SIGKILL under 32 iSCSI reads in flight',
    injected: 1,
    inFlight,
    settled: settled.length,
    typedErrors: tally.typedErrors,
    resolved: tally.resolved,
    recovered: cap.bytes === second.target.luns[0]!.sizeBytes,
    codes: tally.codes,
  }]);
});
