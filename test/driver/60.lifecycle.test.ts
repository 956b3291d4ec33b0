// Process lifecycle: an idle program exits by itself (nothing virtkit starts keeps it alive),
// a pending call keeps it alive until it settles, and exiting with calls in flight is clean.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { repoRoot, timeScale } from '../helpers';

function node(code: string) {
  return spawnSync(process.execPath, ['-e', code], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 * timeScale });
}

t.test('a program that never closes its connection still exits', async (t) => {
  const r = node(`require('virtkit').connect('test:///default', { keepAlive: { interval: 5, count: 3 } }).then((c) => c.type()).then((x) => console.log(x))`);
  t.equal(r.signal, null, 'not killed by the timeout');
  t.equal(r.status, 0);
  t.equal(r.stdout.trim(), 'TEST');
});

t.test('pending calls keep the program alive until they settle', async (t) => {
  const r = node(`const { connect } = require('virtkit');
    connect('test:///default').then((c) => { for (let i = 0; i < 500; i++) c.nodeInfo().then(() => { if (i === 499) console.log('last settled'); }); });`);
  t.equal(r.status, 0);
  t.equal(r.stdout.trim(), 'last settled');
});

t.test('exiting while calls are in flight is clean', async (t) => {
  const r = node(`const { connect } = require('virtkit');
    connect('test:///default').then((c) => { for (let i = 0; i < 2000; i++) c.capabilitiesXml(); setImmediate(() => process.exit(7)); });`);
  t.equal(r.signal, null, 'no crash signal');
  t.equal(r.status, 7);
  t.equal(r.stderr, '');
});

t.test('worker threads torn down with calls in flight leave the process healthy', async (t) => {
  // The main thread loads virtkit only after the workers are gone: the addon's code must stay
  // mapped for its own threads (built with -z nodelete).
  const r = node(`const { Worker } = require('node:worker_threads');
    const src = "const { connect } = require('virtkit'); connect('test:///default').then((c) => { for (let i = 0; i < 2000; i++) c.capabilitiesXml(); require('node:worker_threads').parentPort.postMessage('busy'); });";
    (async () => {
      for (let round = 0; round < 5; round++) {
        const ws = [new Worker(src, { eval: true }), new Worker(src, { eval: true })];
        await Promise.all(ws.map((w) => new Promise((r) => w.once('message', r))));
        await Promise.all(ws.map((w) => w.terminate()));
      }
      const c = await require('virtkit').connect('test:///default'); console.log(await c.type()); await c.close();
    })();`);
  t.equal(r.signal, null, 'no crash signal');
  t.equal(r.status, 0);
  t.equal(r.stdout.trim(), 'TEST');
});

/** The process survived its workers: no crash, no std::terminate text, and the main thread
 * (which calls virtkit after them) printed the type. */
function mainThreadGoesOn(tt: Pick<typeof t, 'equal'>, r: ReturnType<typeof node>) {
  tt.equal(r.signal, null, 'no crash signal');
  tt.equal(r.stderr, '', 'nothing on stderr (no std::terminate)');
  tt.equal(r.status, 0);
  tt.equal(r.stdout.trim(), 'TEST', 'the main thread still calls virtkit');
}

/**
 * A program that starts `count` workers one after another, each running `calling` on its own
 * test:///default connection `c` once it has said so, and terminates each of them (after 0 to
 * `spread` - 1 ms); then the main thread calls virtkit and prints the connection's type.
 */
function terminating(calling: string, count: number, spread: number) {
  const src = `const { connect } = require('virtkit'); connect('test:///default').then(async (c) => { require('node:worker_threads').parentPort.postMessage('go'); ${calling} });`;
  return node(`const { Worker } = require('node:worker_threads');
    (async () => {
      for (let i = 0; i < ${count}; i++) {
        const w = new Worker(${JSON.stringify(src)}, { eval: true });
        await new Promise((r) => w.once('message', r));
        await new Promise((r) => setTimeout(r, i % ${spread}));
        await w.terminate();
      }
      const c = await require('virtkit').connect('test:///default'); console.log(await c.type()); await c.close();
    })();`);
}

t.test('worker threads terminated in the middle of calling virtkit', async (t) => {
  const r = terminating('for (;;) await Promise.all([c.listAllDomains(), c.capabilitiesXml(), c.nodeInfo()]);', 20, 7);
  mainThreadGoesOn(t, r);
});

t.test('worker threads terminated while calling virtkit in a synchronous loop', async (t) => {
  // Every turn of the loop is inside a virtkit method, most of it creating the call's promise:
  // the termination lands there, and must end the worker, not the process (it was a
  // std::terminate in 5 of 5 runs of this program before Deferred::New took it off).
  const r = terminating('for (;;) c.nodeInfo().catch(() => {});', 60, 5);
  mainThreadGoesOn(t, r);
});
