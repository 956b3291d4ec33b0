/**
 * The steps every provisioning helper shares: argument checks, the secret found by usage or
 * defined, the pool defined or updated, started, autostart, its volumes listed. Each step
 * records in the call's {@link Journal} what it did and how to undo it.
 */
import { Connection } from '../connection';
import { ErrorNumber, StorageXMLFlags } from '../constants';
import { LibvirtError } from '../errors';
import type { Secret } from '../secret';
import type { StoragePool } from '../storage-pool';
import type { StorageVolume } from '../storage-volume';
import { buildPoolXml, parsePoolXml, type StoragePoolDefinition } from '../xml/pool';
import { poolDefineReason, ProvisionError } from './errors';
import { Journal } from './journal';

// ---- argument checks (TypeError before anything touches libvirt or the network) ----

export function connArg(conn: unknown): asserts conn is Connection {
  if (!(conn instanceof Connection)) throw new TypeError('conn must be a Connection (from connect())');
}

export function objectArg(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

/** A non-empty string without NUL characters. */
export function textArg(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${what} must be a non-empty string`);
  if (v.includes('\0')) throw new TypeError(`${what} must not contain NUL characters`);
  return v;
}

/** A name libvirt will take for a pool, secret usage or guest: no '/' and no control characters. */
export function nameArg(v: unknown, what: string): string {
  const s = textArg(v, what);
  if (s.includes('/') || /[\x00-\x1f\x7f]/u.test(s)) throw new TypeError(`${what} must not contain '/' or control characters`);
  return s;
}

export function boolArg(v: unknown, what: string): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean`);
  return v as boolean | undefined;
}

/** An integer from `min` to `max`: a TypeError for anything else, a RangeError out of range. */
export function integerArg(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer`);
  if (v < min || v > max) throw new RangeError(`${what} must be from ${min} to ${max}`);
  return v;
}

export function timeoutMsArg(v: unknown, what: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer (milliseconds)`);
  if (v < 1 || v > 600_000) throw new RangeError(`${what} must be from 1 to 600000 ms`);
  return v;
}

/** An absolute path. */
export function pathArg(v: unknown, what: string): string {
  const s = textArg(v, what);
  if (!s.startsWith('/')) throw new TypeError(`${what} must be an absolute path`);
  return s;
}

/** The error code of a LibvirtError, or null. */
export function codeOf(err: unknown): number | null {
  return err instanceof LibvirtError ? err.code : null;
}

/** Plain words for an error underneath: libvirt's or libiscsi's message. */
export function said(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- the secret ----

/** Ends the description of every secret a provisioning helper defines: teardownPool removes
 * only secrets with it. */
export const SECRET_MARK = '[defined by virtkit]';

/** Whether a secret's description says a provisioning helper defined it (also the form of
 * virtkit 0.1's first provisioning helpers: `… (pool NAME, virtkit)`). */
export function createdByVirtkit(description: string | undefined): boolean {
  return description !== undefined && (description.endsWith(SECRET_MARK) || /\(pool [^()]*, virtkit\)$/u.test(description));
}

export interface SecretSpec {
  usage: { type: 'iscsi'; target: string } | { type: 'ceph'; name: string };
  /** The value: a CHAP password (string) or a Ceph key's bytes. Never shown. */
  value: string | Uint8Array;
  description: string;
  /** The pool the secret is for: a pool of this name referring to the secret is its own. */
  pool: string;
}

function sameBytes(a: Uint8Array, b: string | Uint8Array): boolean {
  const bb = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  try {
    return a.length === bb.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(bb.buffer, bb.byteOffset, bb.length)) === 0;
  } finally {
    if (typeof b === 'string') bb.fill(0);
  }
}

/** The pools other than `except` whose definition (persistent or live) authenticates with `secret`. */
async function poolsUsingSecret(conn: Connection, secret: Secret, except: string): Promise<string[]> {
  const users: string[] = [];
  for (const p of await conn.listAllStoragePools()) {
    if (p.name === except) continue;
    const xmls = [await p.getXML(StorageXMLFlags.VIR_STORAGE_XML_INACTIVE).catch(() => '')];
    if (await p.isActive().catch(() => false)) xmls.push(await p.getXML().catch(() => ''));
    const uses = xmls.some((x) => {
      if (x === '') return false;
      let s: { uuid?: string; usage?: string } | undefined;
      try {
        s = parsePoolXml(x).source?.auth?.secret;
      } catch {
        return x.includes(secret.uuid) || x.includes(`usage='${secret.usageId}'`); // a document the typed parser refuses
      }
      return s !== undefined && (s.uuid === secret.uuid || (s.usage !== undefined && s.usage === secret.usageId));
    });
    if (uses) users.push(p.name);
  }
  return users.sort();
}

/**
 * The secret of this usage: found (its value updated) or defined (private, not ephemeral)
 * and its value set. The value goes to libvirt through `virSecretSetValue` only.
 *
 * An existing secret that is not private gets its previous value back if the call fails
 * later; a private one cannot (libvirt never hands a private value out): it keeps the new
 * value, which the preflight has checked. An existing secret is never deleted. An existing
 * secret that another pool (not `spec.pool`) authenticates with is not changed: a `conflict`
 * when it is private (its value cannot be compared or restored) or holds another value.
 */
export async function ensureSecret(conn: Connection, journal: Journal, spec: SecretSpec): Promise<Secret> {
  const id = spec.usage.type === 'iscsi' ? spec.usage.target : spec.usage.name;
  const label = `secret ${spec.usage.type}:${id}`;
  let secret: Secret | null = null;
  try {
    secret = await conn.lookupSecretByUsage(spec.usage.type, id);
  } catch (err) {
    if (codeOf(err) !== ErrorNumber.VIR_ERR_NO_SECRET) throw await journal.fail('secret', 'failed', `looking up ${label} failed: ${said(err)}.`, err);
  }
  if (secret === null) {
    try {
      secret = await conn.defineSecret({ ephemeral: false, private: true, description: `${spec.description} ${SECRET_MARK}`, usage: spec.usage });
    } catch (err) {
      throw await journal.fail('secret', 'failed', `defining ${label} failed: ${said(err)}.`, err);
    }
    const defined = secret;
    journal.did(`defined ${label} (${defined.uuid}, private)`, { what: `removed ${label}`, run: () => defined.undefine() });
    try {
      await defined.setValue(spec.value);
    } catch (err) {
      throw await journal.fail('secret', 'failed', `setting the value of ${label} failed: ${said(err)}.`, err);
    }
    journal.did(`set the value of ${label}`);
    return defined;
  }
  const existing = secret;
  let previous: Buffer | null = null;
  let isPrivate = false;
  let others: string[] = [];
  try {
    isPrivate = (await existing.describe()).private === true;
    if (!isPrivate) {
      previous = await existing.getValue().catch((err: unknown) => {
        if (codeOf(err) === ErrorNumber.VIR_ERR_NO_SECRET) return null; // defined, no value yet
        throw err;
      });
    }
    if (previous) journal.wipeLater(previous);
    if (previous && sameBytes(previous, spec.value)) {
      journal.did(`found ${label} (${existing.uuid}) with the right value already`);
      return existing;
    }
    others = await poolsUsingSecret(conn, existing, spec.pool);
  } catch (err) {
    throw await journal.fail('secret', 'failed', `reading ${label} failed: ${said(err)}.`, err);
  }
  if (others.length)
    throw await journal.fail(
      'secret',
      'conflict',
      `${label} (${existing.uuid}) is used by pool ${others.join(', pool ')}, and ${isPrivate ? 'it is private: its value can be neither compared nor restored' : 'it holds another value'}; ` +
        `it was left as it is. Give options.secretUsage an id of its own.`,
    );
  try {
    await existing.setValue(spec.value);
  } catch (err) {
    throw await journal.fail('secret', 'failed', `updating the value of ${label} failed: ${said(err)}.`, err);
  }
  const old = previous;
  journal.did(
    `found ${label} (${existing.uuid}) and set its value`,
    old ? { what: `gave ${label} its previous value back`, run: () => existing.setValue(old) } : undefined,
  );
  return existing;
}

// ---- the pool ----

export interface PoolSpec {
  definition: StoragePoolDefinition;
  /** Whether an existing pool of the same name is this one (same type and storage): it is
   * then updated; otherwise the name is taken and the call fails. */
  sameStorage: (existing: StoragePoolDefinition) => boolean;
  /** Sets the fields this helper manages on an existing definition (the rest is kept). */
  apply: (existing: StoragePoolDefinition) => void;
  /** The storage in words, for messages: `iscsi-direct pool on iqn… at 10.0.0.5:3260`. */
  describe: (def: StoragePoolDefinition) => string;
}

/** A pool of the wanted name that {@link checkPool} found to be the same storage. */
export interface FoundPool {
  pool: StoragePool;
  /** Its persistent definition, as found. */
  oldXml: string;
  existing: StoragePoolDefinition;
}

/**
 * Read-only: the pool of this name, if there is one, checked to be persistent and the same
 * storage; otherwise a `conflict` before anything is changed. Resolves to null when the name is
 * free.
 */
export async function checkPool(conn: Connection, journal: Journal, spec: PoolSpec): Promise<FoundPool | null> {
  const name = spec.definition.name;
  let pool: StoragePool | null = null;
  try {
    pool = await conn.lookupStoragePoolByName(name);
  } catch (err) {
    if (codeOf(err) !== ErrorNumber.VIR_ERR_NO_STORAGE_POOL) throw await journal.fail('pool', 'failed', `looking up pool ${name} failed: ${said(err)}.`, err);
  }
  if (pool === null) return null;
  const found = pool;
  let oldXml: string;
  let existing: StoragePoolDefinition;
  try {
    if (!(await found.isPersistent()))
      throw await journal.fail('pool', 'conflict', `a transient pool named ${name} exists (${spec.describe(parsePoolXml(await found.getXML()))}); nothing was changed for it. Choose another name or stop that pool.`);
    oldXml = await found.getXML(StorageXMLFlags.VIR_STORAGE_XML_INACTIVE);
    existing = parsePoolXml(oldXml);
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw await journal.fail('pool', 'failed', `reading the definition of pool ${name} failed: ${said(err)}.`, err);
  }
  if (!spec.sameStorage(existing))
    throw await journal.fail(
      'pool',
      'conflict',
      `a pool named ${name} already exists and is a different one (${spec.describe(existing)}, not ${spec.describe(spec.definition)}); it was left as it is. Choose another name or remove that pool.`,
    );
  return { pool: found, oldXml, existing };
}

/** The pool of this name: defined, or (`found` by {@link checkPool}) updated. */
export async function ensurePool(conn: Connection, journal: Journal, spec: PoolSpec, checked: FoundPool | null): Promise<StoragePool> {
  const name = spec.definition.name;
  if (checked === null) {
    let defined: StoragePool;
    try {
      defined = await conn.defineStoragePool(spec.definition);
    } catch (err) {
      const reason = poolDefineReason(err);
      throw await journal.fail('pool', reason, `defining pool ${name} failed: ${reason === 'conflict' ? 'another pool already uses this storage: ' : ''}${said(err)}.`, err);
    }
    journal.did(`defined pool ${name} (${defined.uuid})`, { what: `removed the definition of pool ${name}`, run: () => defined.undefine() });
    return defined;
  }
  const { pool: found, oldXml, existing } = checked;
  const before = buildPoolXml(existing);
  spec.apply(existing);
  if (buildPoolXml(existing) === before) {
    journal.did(`found pool ${name} (${found.uuid}) defined as wanted`);
    return found;
  }
  try {
    await conn.defineStoragePool(existing);
  } catch (err) {
    const reason = poolDefineReason(err);
    throw await journal.fail('pool', reason, `updating the definition of pool ${name} failed: ${reason === 'conflict' ? 'another pool already uses this storage: ' : ''}${said(err)}.`, err);
  }
  const active = await found.isActive().catch(() => false);
  journal.did(`updated the definition of pool ${name}${active ? ' (it is running: the new definition applies from its next start)' : ''}`, {
    what: `restored the previous definition of pool ${name}`,
    run: () => conn.defineStoragePool(oldXml),
  });
  if (active) {
    try {
      await found.refresh();
    } catch (err) {
      throw await journal.fail('pool', 'failed', `refreshing the running pool ${name} after its update failed: ${said(err)}.`, err);
    }
    journal.did(`refreshed pool ${name} (its volumes listed again)`);
  }
  return found;
}

/**
 * Starts the pool unless it runs. `recover(err)` may fix a failed start once: it resolves to
 * a description of what it did (then the start is retried) or null.
 */
export async function startPool(journal: Journal, pool: StoragePool, recover?: (err: unknown) => Promise<string | null>): Promise<void> {
  try {
    if (await pool.isActive()) {
      journal.did(`pool ${pool.name} is running already`);
      return;
    }
    try {
      await pool.start();
    } catch (err) {
      const fixed = recover ? await recover(err) : null;
      if (fixed === null) throw err;
      journal.did(fixed);
      await pool.start();
    }
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw await journal.fail('start', 'failed', `pool ${pool.name} did not start: ${said(err)}.`, err);
  }
  journal.did(`started pool ${pool.name}`, { what: `stopped pool ${pool.name}`, run: () => pool.destroy() });
}

/** Sets the pool's autostart flag, remembering the old one. */
export async function setPoolAutostart(journal: Journal, pool: StoragePool, want: boolean): Promise<void> {
  try {
    const was = await pool.autostart();
    if (was === want) return;
    await pool.setAutostart(want);
    journal.did(`set autostart ${want ? 'on' : 'off'} for pool ${pool.name}`, {
      what: `set autostart of pool ${pool.name} back ${was ? 'on' : 'off'}`,
      run: () => pool.setAutostart(was),
    });
  } catch (err) {
    throw await journal.fail('autostart', 'failed', `setting autostart of pool ${pool.name} failed: ${said(err)}.`, err);
  }
}

/** A volume of a provisioned pool. Sizes in bytes. */
export interface PoolVolume {
  volume: StorageVolume;
  name: string;
  key: string;
  path: string;
  /** `block`, `network`, … */
  type: string;
  capacity: number;
  allocation: number;
}

export async function poolVolumes(journal: Journal, pool: StoragePool): Promise<PoolVolume[]> {
  try {
    const rows = await pool.listVolumesWithInfo();
    return rows.map((r) => ({
      volume: r.volume,
      name: r.volume.name,
      key: r.volume.key,
      path: r.path,
      type: r.info.typeName,
      capacity: r.info.capacity,
      allocation: r.info.allocation,
    }));
  } catch (err) {
    throw await journal.fail('volumes', 'failed', `listing the volumes of pool ${pool.name} failed: ${said(err)}.`, err);
  }
}

// ---- the sequence every helper shares ----

/** What {@link provisionPool} sets up, after a helper's own preflight. */
export interface PoolPlan {
  pool: PoolSpec;
  /** The secret the pool authenticates with; none without. */
  secret?: Omit<SecretSpec, 'pool'>;
  autostart: boolean;
  /** Recorded in the actions just before the start (how libvirt will treat the pool). */
  note?: string;
  /** May fix a failed start once (see {@link startPool}). */
  recover?: (err: unknown) => Promise<string | null>;
}

/**
 * The pool of the plan's name checked (read-only: a conflict changes nothing), the secret found
 * or defined, the pool defined or updated, started, autostart set, its volumes listed; each step
 * in the journal.
 */
export async function provisionPool(conn: Connection, journal: Journal, plan: PoolPlan): Promise<{ pool: StoragePool; secret: Secret | null; volumes: PoolVolume[] }> {
  const found = await checkPool(conn, journal, plan.pool);
  const secret = plan.secret ? await ensureSecret(conn, journal, { ...plan.secret, pool: plan.pool.definition.name }) : null;
  const pool = await ensurePool(conn, journal, plan.pool, found);
  if (plan.note) journal.did(plan.note);
  await startPool(journal, pool, plan.recover);
  await setPoolAutostart(journal, pool, plan.autostart);
  return { pool, secret, volumes: await poolVolumes(journal, pool) };
}

/**
 * Runs one provisioning call for pool `name` with a journal of its own: a failure that is not a
 * ProvisionError yet is rolled back and becomes one; `wipe` (a key's bytes) is zeroed at the end
 * either way, as is what the journal was given to wipe.
 */
export async function provisionCall<T>(name: string, run: (journal: Journal) => Promise<T>, wipe?: Uint8Array): Promise<T> {
  const journal = new Journal();
  if (wipe) journal.wipeLater(wipe);
  try {
    return await run(journal);
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw await journal.fail('pool', 'failed', `provisioning pool ${name} failed: ${said(err)}.`, err);
  } finally {
    journal.finish();
  }
}
