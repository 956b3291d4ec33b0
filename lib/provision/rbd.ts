/**
 * `provisionRbdPool`: a Ceph RBD pool in libvirt, its cephx key in a libvirt secret (usage
 * type `ceph`).
 *
 * @see https://libvirt.org/storage.html#rbd-pool
 * @see https://docs.ceph.com/en/latest/rbd/libvirt/
 */
import * as net from 'node:net';
import type { Connection } from '../connection';
import { LibvirtError } from '../errors';
import { parsePortal } from '../iscsi/args';
import type { Secret } from '../secret';
import type { StoragePool } from '../storage-pool';
import type { PoolHost, RbdPool, StoragePoolDefinition } from '../xml/pool';
import { isUnreachableCode } from './errors';
import type { Journal } from './journal';
import {
  boolArg, connArg, nameArg, objectArg, provisionCall, provisionPool, said, textArg, timeoutMsArg, type PoolSpec, type PoolVolume,
} from './steps';

/** libvirt's (and Ceph's msgr v1) monitor port when a monitor names none. */
export const CEPH_MON_PORT = 6789;

/** Options of {@link provisionRbdPool}. */
export interface RbdPoolOptions {
  /** The libvirt pool's name. */
  name: string;
  /** Ceph monitors: `host`, `host:port` (6789 by default), `[ipv6]:port`, or `{ host, port }`. */
  monitors: Array<string | { host: string; port?: number }>;
  /** The Ceph (RADOS) pool holding the images. */
  pool: string;
  /** The cephx user, without `client.` (`libvirt`); a leading `client.` is dropped. */
  cephUser: string;
  /** The user's key as `ceph auth get-key client.<user>` prints it (base64). Stored in the
   * secret as the bytes it encodes, as libvirt expects; never shown. */
  cephKey: string;
  /** Start the pool with libvirtd (default true). */
  autostart?: boolean;
  /** The secret's usage name (`<usage type='ceph'><name>`); default `<name>-ceph`. */
  secretUsage?: string;
  /** librados options for the pool (`<rbd:config_opts>`), e.g. `{ client_mount_timeout: '10' }`. */
  config?: Record<string, string>;
  /** Check that a monitor answers as a Ceph monitor before libvirt sees anything (default true). */
  preflight?: boolean;
  /** Bound for each monitor check; default 5000 ms. */
  timeoutMs?: number;
}

/** What {@link provisionRbdPool} resolves to. */
export interface ProvisionedRbdPool {
  pool: StoragePool;
  secret: Secret;
  /** The RBD images, as volumes. */
  volumes: PoolVolume[];
  actions: string[];
}

interface Checked {
  name: string;
  monitors: Array<{ host: string; port: number; address: string }>;
  cephPool: string;
  user: string;
  key: Buffer;
  autostart: boolean;
  secretUsage: string;
  config: Record<string, string> | undefined;
  preflight: boolean;
  timeoutMs: number;
}

/** The bytes of a cephx key given in base64; TypeError (never quoting it) when it is not one. */
export function cephKeyBytes(key: unknown, what = 'options.cephKey'): Buffer {
  if (typeof what !== 'string') what = 'options.cephKey'; // a label for messages only
  if (typeof key !== 'string' || key === '') throw new TypeError(`${what} must be the key in base64 (as \`ceph auth get-key\` prints it)`);
  const k = key.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/u.test(k) || k.length % 4 !== 0) throw new TypeError(`${what} is not base64 (as \`ceph auth get-key\` prints it)`);
  const bytes = Buffer.from(k, 'base64');
  if (bytes.length < 16) {
    bytes.fill(0);
    throw new TypeError(`${what} is too short to be a cephx key`);
  }
  return bytes;
}

function monitorArg(m: unknown, i: number): { host: string; port: number; address: string } {
  const what = `options.monitors[${i}]`;
  if (typeof m === 'string') {
    const p = parsePortal(m, what);
    const port = /:\d+$/u.test(m) ? p.port : CEPH_MON_PORT;
    return { host: p.host, port, address: p.host.includes(':') ? `[${p.host}]:${port}` : `${p.host}:${port}` };
  }
  const o = objectArg(m, what);
  const host = textArg(o.host, `${what}.host`);
  if (o.port !== undefined && (typeof o.port !== 'number' || !Number.isInteger(o.port))) throw new TypeError(`${what}.port must be an integer`);
  const port = (o.port as number | undefined) ?? CEPH_MON_PORT;
  if (port < 1 || port > 65535) throw new RangeError(`${what}.port is out of range`);
  const p = parsePortal(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, what);
  return { host: p.host, port, address: p.address };
}

function check(options: unknown): Checked {
  const o = objectArg(options, 'options');
  const name = nameArg(o.name, 'options.name');
  if (!Array.isArray(o.monitors) || o.monitors.length === 0) throw new TypeError('options.monitors must be a non-empty array of host[:port] or { host, port }');
  const monitors = o.monitors.map(monitorArg);
  const cephPool = nameArg(o.pool, 'options.pool');
  let user = nameArg(o.cephUser, 'options.cephUser');
  if (user.startsWith('client.')) user = user.slice('client.'.length);
  if (user === '') throw new TypeError('options.cephUser must name a user');
  const autostart = boolArg(o.autostart, 'options.autostart') ?? true;
  const secretUsage = o.secretUsage === undefined ? `${name}-ceph` : nameArg(o.secretUsage, 'options.secretUsage');
  let config: Record<string, string> | undefined;
  if (o.config !== undefined) {
    const c = objectArg(o.config, 'options.config');
    for (const [k, v] of Object.entries(c)) if (typeof v !== 'string') throw new TypeError(`options.config.${k} must be a string`);
    config = { ...(c as Record<string, string>) };
  }
  const preflight = boolArg(o.preflight, 'options.preflight') ?? true;
  const timeoutMs = timeoutMsArg(o.timeoutMs, 'options.timeoutMs', 5000);
  const key = cephKeyBytes(o.cephKey); // last: nothing after it can throw and leave it unwiped
  return { name, monitors, cephPool, user, key, autostart, secretUsage, config, preflight, timeoutMs };
}

function definition(c: Checked): RbdPool {
  const hosts: PoolHost[] = c.monitors.map((m) => ({ name: m.host, port: m.port }));
  const def: RbdPool = {
    type: 'rbd',
    name: c.name,
    source: { name: c.cephPool, hosts, auth: { type: 'ceph', username: c.user, secret: { usage: c.secretUsage } } },
  };
  if (c.config && Object.keys(c.config).length) def.rbdConfig = c.config;
  return def;
}

/**
 * The typed definition {@link provisionRbdPool} defines: `<pool type='rbd'>` with the Ceph
 * pool as `<source><name>`, the monitors as `<host name port>`, and
 * `<auth type='ceph' username=…><secret usage=…/></auth>`.
 */
export function rbdPoolDefinition(options: RbdPoolOptions): RbdPool {
  const c = check(options);
  c.key.fill(0);
  return definition(c);
}

function describe(def: StoragePoolDefinition): string {
  if (def.type !== 'rbd') {
    const dev = def.source?.devices?.[0]?.path ?? def.target?.path;
    return `${def.type} pool${dev ? ` on ${dev}` : ''}`;
  }
  const mons = (def.source?.hosts ?? []).map((h) => (h.name.includes(':') ? `[${h.name}]` : h.name) + `:${h.port ?? CEPH_MON_PORT}`);
  return `rbd pool on Ceph pool ${def.source?.name ?? '?'}${mons.length ? ` (monitors ${mons.join(', ')})` : ''}`;
}

/** What a monitor check found wrong: in words, and whether nothing answers at the address. */
interface MonitorProblem {
  words: string;
  unreachable: boolean;
}

/** Connects to a monitor and waits for its banner (`ceph v027` for msgr v1, `ceph v2` for v2). */
function probeMonitor(host: string, port: number, timeoutMs: number): Promise<MonitorProblem | null> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const sock = net.connect({ host, port });
    const done = (problem: string | null, unreachable = false) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(problem === null ? null : { words: problem, unreachable });
    };
    const timer = setTimeout(() => done(got.length ? 'answered, but not as a Ceph monitor' : `no answer within ${timeoutMs} ms`), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'connection refused' : e.message, isUnreachableCode(e.code)));
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]).subarray(0, 16);
      if (got.length >= 6) done(got.subarray(0, 6).toString('latin1') === 'ceph v' ? null : 'answered, but not as a Ceph monitor');
    });
    sock.on('end', () => done('closed the connection without a Ceph banner'));
  });
}

/**
 * A failed start of the pool after the preflight found the monitors answering: librados
 * could not connect (libvirt: "failed to connect to the RADOS monitor"). With monitors that
 * answer, that is cephx refusing the user or its key (librados retries until
 * `client_mount_timeout`, 30 s by libvirt's default, then gives up with a misleading errno;
 * the monitor logs "unexpected key"): an `auth` error in words that say so.
 */
function cephxRefusal(c: Checked, journal: Journal, answered: string[]): (err: unknown) => Promise<string | null> {
  return async (err) => {
    if (answered.length === 0 || !(err instanceof LibvirtError) || !/failed to connect to the RADOS monitor/u.test(err.message)) return null;
    throw await journal.fail(
      'start',
      'auth',
      `pool ${c.name} did not start: the Ceph monitors (${answered.join(', ')}) answer, but librados could not log in as client.${c.user}: ` +
        `a wrong key or user name (libvirt said: ${said(err)}).`,
      err,
    );
  };
}

/**
 * Provisions a Ceph RBD pool, idempotently, like {@link provisionIscsiPool}: preflight (a
 * monitor answers with Ceph's banner), the secret (usage `ceph`, value the key's bytes),
 * the pool (defined, or updated when a pool of that name uses the same Ceph pool through at
 * least one of the same monitors; otherwise a `conflict`), started, autostart set; resolves to
 * the pool and its images. A start that fails although the monitors answered is an `auth` error
 * (cephx refused the user or key). Rolls back what it did on failure (see provisionIscsiPool for
 * the rules).
 */
export async function provisionRbdPool(conn: Connection, options: RbdPoolOptions): Promise<ProvisionedRbdPool> {
  connArg(conn);
  const c = check(options);
  return provisionCall(c.name, async (journal) => {
    let answered: string[] = [];
    if (c.preflight) {
      const results = await Promise.all(c.monitors.map(async (m) => ({ m, problem: await probeMonitor(m.host, m.port, c.timeoutMs) })));
      const ok = results.filter((r) => r.problem === null);
      if (ok.length === 0) {
        const unreachable = results.every((r) => r.problem?.unreachable);
        const list = results.map((r) => `${r.m.address}: ${r.problem?.words}`).join('; ');
        throw await journal.fail('preflight', unreachable ? 'unreachable' : 'timeout', `no Ceph monitor answers (${list}). Nothing was changed in libvirt.`);
      }
      answered = ok.map((r) => r.m.address);
      journal.did(`checked the Ceph monitors: ${answered.join(', ')} answer`);
    }
    const def = definition(c);
    const spec: PoolSpec = {
      definition: def,
      describe,
      // The same Ceph pool of the same cluster: at least one monitor in common (the list may change).
      sameStorage: (e) =>
        e.type === 'rbd' &&
        e.source?.name === c.cephPool &&
        (e.source.hosts ?? []).some((h) => c.monitors.some((m) => m.host === h.name && m.port === (h.port ?? CEPH_MON_PORT))),
      apply: (e) => {
        if (e.type !== 'rbd') return;
        e.source = { ...e.source, ...def.source };
        if (def.rbdConfig) e.rbdConfig = def.rbdConfig;
        else delete e.rbdConfig;
      },
    };
    const secret = { usage: { type: 'ceph' as const, name: c.secretUsage }, value: c.key, description: `cephx key of client.${c.user} (pool ${c.name})` };
    const done = await provisionPool(conn, journal, { pool: spec, secret, autostart: c.autostart, recover: cephxRefusal(c, journal, answered) });
    return { pool: done.pool, secret: done.secret!, volumes: done.volumes, actions: [...journal.actions] };
  }, c.key);
}
