// The test environment itself works: scripts/testenv-smoke.sh starts a real QEMU guest on the
// private libvirtd (KVM or TCG), one whose disk is an iSCSI LUN, and checks discovery, CHAP
// and mutual CHAP against tgtd. The later tiers build on all of it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot, toolEnv } from '../helpers';

const envFile = process.env.VIRTKIT_TESTENV;
if (!envFile) {
  t.test('test environment', { skip: 'no test environment: run the tests with `npm test`' }, async () => {});
} else {
  t.test('scripts/testenv-smoke.sh passes every check', async (t) => {
    const r = spawnSync('bash', [path.join(repoRoot, 'scripts', 'testenv-smoke.sh'), path.dirname(envFile)], {
      encoding: 'utf8',
      timeout: 180_000,
      env: toolEnv(),
    });
    const lines = r.stdout.split('\n').filter((l) => /^(not )?ok - /.test(l));
    for (const line of lines) {
      const skip = /# SKIP (.*)$/.exec(line);
      if (skip) t.test(line.replace(/^ok - /, ''), { skip: skip[1] }, async () => {});
      else t.ok(line.startsWith('ok - '), line.replace(/^(not )?ok - /, ''));
    }
    t.ok(lines.length >= 10, `the smoke script ran its checks (${lines.length})`);
    t.equal(r.status, 0, `smoke script exit status${r.stderr ? `: ${r.stderr.slice(-500)}` : ''}`);
  });
}
