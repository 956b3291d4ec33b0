/**
 * Load with events, for the concurrency tests (test/driver/45.workers-load.test.ts,
 * test/daemon/85.workers.test.ts). One participant (a worker thread running this file, or the
 * main thread calling runLoad) opens its own connection, listens on it to domain and pool
 * lifecycle events (and, on a daemon, secret lifecycle and value-changed events), and runs
 * load: `inflight` read calls kept in flight while it takes `objects` domains, pools (and
 * secrets) through their lifecycle, all at once, names carrying its tag.
 *
 * Every connection hears every object's events: on a daemon, and on test:///default as well
 * (libvirt's test driver shares one `default` state among all connections of a process,
 * worker threads included). So each event is counted by the tag in its object's name: a
 * participant's own events must be exactly its objects' lifecycles, in order, and those of
 * every other participant (when `others` is given: all of them registered before anyone
 * started, see `ready`) exactly their number, no more, no fewer.
 *
 * As a worker (workerData: LoadOptions): posts { ready } once subscribed, waits for the
 * message 'go', runs, posts { result } (or { error }). With `forever`, it runs rounds until
 * terminated and posts 'busy' once the first events came back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { connect, type Connection } from 'virtkit';
import { registerSecret } from './helpers';

export interface LoadOptions {
  uri: string;
  /** Prefix of every object name: unique per participant (and not a prefix of another's). */
  tag: string;
  /** The other participants' tags, whose events are counted too (exactly, when given). */
  others?: string[];
  /** Domains, pools (and secrets, with `daemon`) per round. */
  objects: number;
  /** Read calls kept in flight while the lifecycles run. */
  inflight: number;
  /** A daemon (qemu:// …): connect with { events: true }; domains are defined and undefined
   * but not started (no guests); pools are dir pools under `poolDir`; secrets too. */
  daemon?: boolean;
  /** Directory for dir pools (required with `daemon`). */
  poolDir?: string;
  /** How long to wait for the events still expected once the load is done. */
  timeoutMs?: number;
  /** Run rounds until terminated (a worker only). */
  forever?: boolean;
  /** With `forever`: once its first event came, the worker ends itself, by process.exit()
   * (which ends a worker thread only) or by an uncaught exception. */
  endBy?: 'exit' | 'throw';
}

export interface LoadResult {
  tag: string;
  /** Calls made (lifecycle steps and read calls) and how many of them failed. */
  calls: number;
  failures: string[];
  /** Own events by kind. */
  own: { domain: number; pool: number; secret: number };
  /** Own objects whose events differ from their lifecycle (name: what came). */
  wrongSequences: string[];
  /** Events of other participants, by tag. */
  foreign: Record<string, number>;
  /** Own events expected, and those each other participant causes. */
  expected: number;
  /** 'error' events of the connection (a subscription libvirt refused). */
  errors: string[];
  /** Whether every expected event came before the timeout. */
  complete: boolean;
}

const domXml = (name: string, daemon: boolean) =>
  daemon
    ? `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`
    : `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;
const poolXml = (name: string, dir: string) => `<pool type='dir'><name>${name}</name><target><path>${dir}</path></target></pool>`;

/** The events one object goes through. */
export function lifecycles(daemon: boolean): { domain: string[]; pool: string[]; secret: string[] } {
  return {
    domain: daemon ? ['defined/added', 'undefined/removed'] : ['defined/added', 'started/booted', 'stopped/destroyed', 'undefined/removed'],
    pool: ['defined', 'started', 'stopped', 'undefined'],
    secret: daemon ? ['defined', 'value-changed', 'undefined'] : [],
  };
}

/** Events one participant causes per round. */
export function eventsPerRound(o: Pick<LoadOptions, 'objects' | 'daemon'>): number {
  const l = lifecycles(!!o.daemon);
  return o.objects * (l.domain.length + l.pool.length + l.secret.length);
}

/** A prepared participant: subscribed, waiting to run. */
export async function prepare(o: LoadOptions): Promise<{ conn: Connection; run: (round?: number) => Promise<void>; finish: () => Promise<LoadResult>; firstEvent: Promise<void> }> {
  const daemon = !!o.daemon;
  const conn = await connect(o.uri, daemon ? { events: true } : undefined);
  const seen = new Map<string, string[]>();
  const own = { domain: 0, pool: 0, secret: 0 };
  const foreign: Record<string, number> = Object.fromEntries((o.others ?? []).map((t) => [t, 0]));
  const errors: string[] = [];
  const failures: string[] = [];
  let calls = 0;
  let rounds = 0;
  let wake: (() => void) | null = null;
  let gotFirst: () => void = () => undefined;
  const firstEvent = new Promise<void>((resolve) => (gotFirst = resolve));

  const hear = (kind: 'domain' | 'pool' | 'secret', name: string, what: string) => {
    if (name.startsWith(`${o.tag}-`)) {
      own[kind]++;
      const list = seen.get(name) ?? [];
      list.push(what);
      seen.set(name, list);
      gotFirst();
    } else {
      const other = (o.others ?? []).find((t) => name.startsWith(`${t}-`));
      if (other) foreign[other]!++;
    }
    wake?.();
  };
  conn.on('domain-lifecycle', (e) => hear('domain', e.domain.name, `${e.eventName}/${e.detailName}`));
  conn.on('pool-lifecycle', (e) => hear('pool', e.pool.name, e.eventName));
  if (daemon) {
    conn.on('secret-lifecycle', (e) => hear('secret', e.secret.usageId, e.eventName));
    conn.on('secret-value-changed', (e) => hear('secret', e.secret.usageId, 'value-changed'));
  }
  conn.on('error', (e) => errors.push(String(e)));
  await conn.eventsReady();

  const step = async <T>(what: string, p: () => Promise<T>): Promise<T | undefined> => {
    calls++;
    try {
      return await p();
    } catch (err) {
      failures.push(`${what}: ${String(err)}`);
      return undefined;
    }
  };

  const domain = async (name: string) => {
    const dom = await step(`defineDomain ${name}`, () => conn.defineDomain(domXml(name, daemon)));
    if (!dom) return;
    if (!daemon) {
      await step(`start ${name}`, () => dom.start());
      await step(`info ${name}`, () => dom.info());
      await step(`destroy ${name}`, () => dom.destroy());
    }
    await step(`undefine ${name}`, () => dom.undefine());
  };
  const pool = async (name: string) => {
    let dir = `/vk-load/${name}`; // the test driver touches no directory
    if (daemon) {
      dir = path.join(o.poolDir!, name);
      fs.mkdirSync(dir, { recursive: true });
    }
    const p = await step(`defineStoragePool ${name}`, () => conn.defineStoragePool(poolXml(name, dir)));
    if (!p) return;
    await step(`start ${name}`, () => p.start());
    await step(`listVolumes ${name}`, () => p.listVolumes());
    await step(`destroy ${name}`, () => p.destroy());
    await step(`undefine ${name}`, () => p.undefine());
  };
  const secret = async (name: string) => {
    const s = await step(`defineSecret ${name}`, () => conn.defineSecret({ private: true, usage: { type: 'iscsi', target: name } }));
    if (!s) return;
    await step(`setValue ${name}`, () => s.setValue(registerSecret('event-load secret value', `vk-load-value-${name}`)));
    await step(`undefine ${name}`, () => s.undefine());
  };
  const reads: Array<() => Promise<unknown>> = [
    () => conn.listAllDomains(), () => conn.listAllStoragePools(), () => conn.nodeInfo(), () => conn.capabilitiesXml(),
    () => conn.version(), () => conn.isAlive(),
  ];

  const run = async (round = 0) => {
    rounds = Math.max(rounds, round + 1);
    let done = false;
    const lifecycle = Promise.all(Array.from({ length: o.objects }, (_, i) => [
      domain(`${o.tag}-r${round}-d${i}`),
      pool(`${o.tag}-r${round}-p${i}`),
      ...(daemon ? [secret(`${o.tag}-r${round}-s${i}`)] : []),
    ]).flat()).then(() => {
      done = true;
    });
    // `inflight` read calls in flight until the lifecycles are over.
    const reader = async (k: number) => {
      for (let j = k; !done; j++) await step('read', reads[j % reads.length]!);
    };
    await Promise.all([lifecycle, ...Array.from({ length: o.inflight }, (_, k) => reader(k))]);
  };

  const finish = async (): Promise<LoadResult> => {
    const expected = rounds * eventsPerRound(o);
    const othersComplete = () => Object.values(foreign).every((n) => n >= expected);
    const complete = () => own.domain + own.pool + own.secret >= expected && othersComplete();
    // Wait for what is still on its way, then a little longer for anything unexpected.
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    while (!complete() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    wake = null;
    const ok = complete();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const l = lifecycles(daemon);
    const wrongSequences: string[] = [];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < o.objects; i++) {
        const want: Array<[string, string[]]> = [[`${o.tag}-r${r}-d${i}`, l.domain], [`${o.tag}-r${r}-p${i}`, l.pool]];
        if (daemon) want.push([`${o.tag}-r${r}-s${i}`, l.secret]);
        for (const [name, seq] of want) {
          const got = seen.get(name) ?? [];
          if (got.join(',') !== seq.join(',')) wrongSequences.push(`${name}: ${got.join(',') || '(none)'}`);
        }
      }
    }
    await conn.close();
    return { tag: o.tag, calls, failures, own, wrongSequences, foreign, expected, errors, complete: ok };
  };

  return { conn, run, finish, firstEvent };
}

/** One participant in this thread: prepare, wait for `go`, run, finish. */
export async function runLoad(o: LoadOptions, go: (ready: true) => Promise<void> = async () => undefined): Promise<LoadResult> {
  const p = await prepare(o);
  await go(true);
  await p.run(0);
  return p.finish();
}

/** What a crashed process (or a worker taking it down) prints: none may appear on stderr. */
export const CRASH_TEXT = /FATAL|Abort|abort\(|Segmentation|terminate called|core dumped|Assertion|double free|corrupted/i;

/** Starts a worker running this file's load; resolves it once it is subscribed. */
export function startWorker(o: LoadOptions): Promise<{ worker: Worker; result: Promise<LoadResult> }> {
  return new Promise((resolveReady, rejectReady) => {
    const worker = new Worker(__filename, { workerData: o });
    let settle: { resolve: (r: LoadResult) => void; reject: (e: Error) => void };
    const result = new Promise<LoadResult>((resolve, reject) => (settle = { resolve, reject }));
    worker.on('message', (m: { ready?: true; result?: LoadResult; error?: string }) => {
      if (m.ready) resolveReady({ worker, result });
      else if (m.result) settle.resolve(m.result);
      else if (m.error) settle.reject(new Error(`worker ${o.tag}: ${m.error}`));
    });
    worker.once('error', (e) => {
      rejectReady(e);
      settle.reject(e);
    });
    worker.once('exit', (code) => settle.reject(new Error(`worker ${o.tag} exited (${code}) without a result`)));
  });
}

if (!isMainThread && parentPort && (workerData as { tag?: string } | null)?.tag) {
  const port = parentPort;
  const o = workerData as LoadOptions;
  void (async () => {
    if (o.forever) {
      const p = await prepare(o);
      port.postMessage({ ready: true });
      void p.firstEvent.then(() => {
        port.postMessage('busy');
        if (o.endBy === 'exit') setImmediate(() => process.exit(5));
        if (o.endBy === 'throw') setImmediate(() => { throw new Error(`${o.tag} threw while in flight`); });
      });
      for (let round = 0; ; round++) await p.run(round);
    }
    const result = await runLoad(o, () => {
      port.postMessage({ ready: true });
      return new Promise<void>((resolve) => port.once('message', (m) => m === 'go' && resolve()));
    });
    port.postMessage({ result });
  })().catch((err: unknown) => port.postMessage({ error: String((err as Error)?.stack ?? err) }));
} else if (isMainThread && require.main === module) {
  // tap, given the folder, would run this file: a plan of none.
  console.log('1..0 # SKIP the concurrency tests\' load, run by them in worker threads');
}
