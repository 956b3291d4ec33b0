/**
 * `provisionIscsiPool`: an iSCSI target, checked with libiscsi, turned into a running libvirt
 * pool (`iscsi` through the host's kernel initiator, or `iscsi-direct` through libvirt's own
 * libiscsi) with its CHAP password in a libvirt secret.
 *
 * @see https://libvirt.org/storage.html#iscsi-pool
 * @see https://libvirt.org/storage.html#iscsi-direct-pool
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import type { Connection } from '../connection';
import { LibvirtError } from '../errors';
import { chapArg, iscsiNameArg, parsePortal, type ChapCredentials, type Portal } from '../iscsi/args';
import { discover } from '../iscsi/discovery';
import { connect as iscsiConnect, type LunSummary } from '../iscsi/session';
import type { Secret } from '../secret';
import type { StoragePool } from '../storage-pool';
import type { IscsiDirectPool, IscsiPool, StoragePoolDefinition } from '../xml/pool';
import { iscsiReason, iscsiWords, type IscsiStep } from './errors';
import type { Journal } from './journal';
import { boolArg, connArg, nameArg, objectArg, pathArg, provisionCall, provisionPool, said, timeoutMsArg, type PoolVolume } from './steps';

/** Options of {@link provisionIscsiPool}. */
export interface IscsiPoolOptions {
  /** `iscsi-direct` (libvirt's own libiscsi, no kernel initiator; recommended) or `iscsi` (the
   * host's kernel initiator, `iscsiadm`).
   *
   * With CHAP, an `iscsi` pool puts the password on a command line: libvirt itself runs
   * `iscsiadm --mode node … --op update --name node.session.auth.password --value <password>`
   * when it starts (and refreshes) the pool, so for as long as that runs any local user can read
   * the password in `/proc/<pid>/cmdline` (`ps`). `iscsi-direct` hands it to libiscsi in memory
   * only. The call's `actions` say so when it provisions an `iscsi` pool with CHAP. */
  type: 'iscsi' | 'iscsi-direct';
  /** The pool's name. */
  name: string;
  /** `host` or `host:port` (3260 by default), `[ipv6]:port`. */
  portal: string;
  /** The target's IQN. */
  target: string;
  /** This host's initiator name; the target's ACLs and CHAP accounts see this one. */
  initiatorIqn: string;
  /** CHAP: the password goes into a libvirt secret, never onto a command line of virtkit's
   * (but see {@link IscsiPoolOptions.type}: libvirt's `iscsi` pools put it on iscsiadm's). */
  chap?: ChapCredentials;
  /** Start the pool with libvirtd (default true). */
  autostart?: boolean;
  /** `iscsi` pools only: where the LUNs appear on the host (default `/dev/disk/by-path`). */
  targetPath?: string;
  /** The secret's usage id (`<usage type='iscsi'><target>`); default `<name>-chap`. */
  secretUsage?: string;
  /** Bound for each preflight step (TCP connect, login, each SCSI command); default 15000 ms. */
  timeoutMs?: number;
}

/** A volume of the pool with the LUN behind it. */
export interface IscsiPoolVolume extends PoolVolume {
  /** The LUN number (from libvirt's `unit:B:T:L` volume name), or null. */
  lun: number | null;
  /** What the preflight found for that LUN: INQUIRY, VPD, capacity. */
  inquiry: LunSummary | null;
}

/** What {@link provisionIscsiPool} resolves to. */
export interface ProvisionedIscsiPool {
  pool: StoragePool;
  /** The CHAP secret, or null without CHAP. */
  secret: Secret | null;
  /** Every LUN the target offered in the preflight (including a controller LUN 0). */
  luns: LunSummary[];
  /** The pool's volumes, by LUN. */
  volumes: IscsiPoolVolume[];
  /** What the call did, in plain words, in order (`found …`, `defined …`, `started …`). */
  actions: string[];
}

export const DEFAULT_ISCSI_TARGET_PATH = '/dev/disk/by-path';
const DEFAULT_TIMEOUT_MS = 15_000;

interface Checked {
  type: 'iscsi' | 'iscsi-direct';
  name: string;
  portal: Portal;
  target: string;
  initiatorIqn: string;
  chap: ChapCredentials | undefined;
  autostart: boolean;
  targetPath: string;
  secretUsage: string;
  timeoutMs: number;
}

function check(options: unknown): Checked {
  const o = objectArg(options, 'options');
  if (o.type !== 'iscsi' && o.type !== 'iscsi-direct') throw new TypeError("options.type must be 'iscsi' or 'iscsi-direct'");
  const name = nameArg(o.name, 'options.name');
  if (typeof o.portal !== 'string') throw new TypeError('options.portal must be a string (host or host:port)');
  // Any case, any surrounding blanks: parsePortal would take such a URL and its credentials.
  if (/^\s*iscsi:\/\//iu.test(o.portal)) throw new TypeError('options.portal must be host or host:port, not an iscsi:// URL; give target and chap as their own options');
  const portal = parsePortal(o.portal, 'options.portal');
  const target = iscsiNameArg(o.target, 'options.target');
  const initiatorIqn = iscsiNameArg(o.initiatorIqn, 'options.initiatorIqn');
  const chap = chapArg(o.chap, 'options.chap');
  const autostart = boolArg(o.autostart, 'options.autostart') ?? true;
  if (o.targetPath !== undefined && o.type !== 'iscsi') throw new TypeError('options.targetPath is for iscsi pools only (iscsi-direct pools have no target path)');
  const targetPath = o.targetPath === undefined ? DEFAULT_ISCSI_TARGET_PATH : pathArg(o.targetPath, 'options.targetPath');
  const secretUsage = o.secretUsage === undefined ? `${name}-chap` : nameArg(o.secretUsage, 'options.secretUsage');
  if (o.secretUsage !== undefined && !chap) throw new TypeError('options.secretUsage needs options.chap');
  const timeoutMs = timeoutMsArg(o.timeoutMs, 'options.timeoutMs', DEFAULT_TIMEOUT_MS);
  return { type: o.type, name, portal, target, initiatorIqn, chap, autostart, targetPath, secretUsage, timeoutMs };
}

/**
 * The typed pool definition {@link provisionIscsiPool} defines: hosts, the target IQN as the
 * device, the initiator IQN, CHAP through the secret with `secretUsage`, and for `iscsi`
 * pools the target path.
 */
export function iscsiPoolDefinition(options: IscsiPoolOptions): IscsiPool | IscsiDirectPool {
  const c = check(options);
  return definition(c);
}

function definition(c: Checked): IscsiPool | IscsiDirectPool {
  const source: IscsiDirectPool['source'] = {
    hosts: [{ name: c.portal.host, port: c.portal.port }],
    devices: [{ path: c.target }],
    initiatorIqn: c.initiatorIqn,
  };
  if (c.chap) source.auth = { type: 'chap', username: c.chap.username, secret: { usage: c.secretUsage } };
  return c.type === 'iscsi'
    ? { type: 'iscsi', name: c.name, source, target: { path: c.targetPath } }
    : { type: 'iscsi-direct', name: c.name, source };
}

function describe(def: StoragePoolDefinition): string {
  const host = def.source?.hosts?.[0];
  const where = host ? ` at ${host.name}:${host.port ?? 3260}` : '';
  const dev = def.source?.devices?.[0]?.path ?? def.source?.name ?? def.target?.path;
  return `${def.type} pool${dev ? ` on ${dev}` : ''}${where}`;
}

/** The preflight: discovery lists the target, the login (CHAP) works, the target has LUNs. */
async function preflight(c: Checked, journal: Journal): Promise<LunSummary[]> {
  const addr = c.portal.address;
  const step: Omit<IscsiStep, 'stage'> = { portal: addr, target: c.target, initiatorIqn: c.initiatorIqn, chapUser: c.chap?.username, timeoutMs: c.timeoutMs };
  let offered: string[];
  try {
    offered = (await discover(addr, { initiatorIqn: c.initiatorIqn, chap: c.chap, timeoutMs: c.timeoutMs })).map((t) => t.iqn);
  } catch (err) {
    const reason = iscsiReason(err);
    throw await journal.fail('preflight', reason, `${iscsiWords(reason, err, { ...step, stage: 'discovery' })}. Nothing was changed in libvirt.`, err);
  }
  if (!offered.includes(c.target)) {
    const list = offered.length ? `it offers ${offered.join(', ')}` : 'it offers none to this initiator';
    throw await journal.fail('preflight', 'no-target', `the portal ${addr} does not offer target ${c.target} (${list}). Nothing was changed in libvirt.`);
  }
  let luns: LunSummary[];
  try {
    const session = await iscsiConnect({ portal: addr, target: c.target, initiatorIqn: c.initiatorIqn, chap: c.chap, timeoutMs: c.timeoutMs });
    try {
      luns = await session.luns();
    } finally {
      await session.close().catch(() => undefined);
    }
  } catch (err) {
    const reason = iscsiReason(err);
    throw await journal.fail('preflight', reason, `${iscsiWords(reason, err, { ...step, stage: 'login' })}. Nothing was changed in libvirt.`, err);
  }
  if (!luns.some((l) => l.capacity !== null))
    throw await journal.fail('preflight', 'no-luns', `target ${c.target} at ${addr} offers no LUN with blocks to this initiator. Nothing was changed in libvirt.`);
  return luns;
}

/** What {@link provisionIscsiPool} reports for an `iscsi` pool with CHAP (see IscsiPoolOptions.type). */
function iscsiadmPasswordNote(pool: string): string {
  return (
    `note: libvirt passes pool ${pool}'s CHAP password to iscsiadm on its command line (--name node.session.auth.password --value …) ` +
    `whenever it starts or refreshes the pool, where local users can read it (/proc/<pid>/cmdline); an iscsi-direct pool keeps it off command lines`
  );
}

// ---- an old kernel session blocking an `iscsi` pool's start ----

/**
 * Whether a pool start failed because the kernel initiator already has a session to the
 * target: libvirt runs `iscsiadm --mode node … --login`, which then exits with status 15
 * ("session exists", or "1 session requested, but 1 already present").
 */
export function isStaleSessionError(err: unknown): boolean {
  if (!(err instanceof LibvirtError)) return false;
  const m = err.message;
  if (!/iscsiadm/u.test(m)) return false;
  return /session exists|already present|exit status 15\b/iu.test(m);
}

/** Where open-iscsi's `iscsiadm` is looked for. */
export const ISCSIADM_PATHS = ['/usr/sbin/iscsiadm', '/sbin/iscsiadm', '/usr/bin/iscsiadm'];

/** The installed `iscsiadm` (the first of {@link ISCSIADM_PATHS} that can be run), or null. */
export async function findIscsiadm(): Promise<string | null> {
  for (const p of ISCSIADM_PATHS) {
    try {
      await fs.promises.access(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here (or not executable): the next one
    }
  }
  return null;
}

/** `iscsiadm`'s arguments to log out every session of this node record (no password: a
 * logout needs none). An array, never a shell string. */
export function iscsiadmLogoutArgs(target: string, portal: string): string[] {
  const p = parsePortal(portal, 'portal');
  return ['--mode', 'node', '--targetname', iscsiNameArg(target, 'target'), '--portal', p.address, '--logout'];
}

/** Whether a libvirt URI names this host (no host part: `qemu:///system`, `qemu+unix:///…`). */
export function isLocalUri(uri: string): boolean {
  if (typeof uri !== 'string') throw new TypeError('uri must be a string');
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/u.exec(uri);
  return m !== null && (m[1] === '' || m[1] === 'localhost');
}

function runIscsiadm(bin: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`iscsiadm ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/**
 * Logs out the kernel initiator's sessions to `target` at `portal` with `iscsiadm` (from an
 * argument array; a logout needs no password), for a libvirt on this host (`uri`). Resolves
 * to what it did; rejects with an Error in plain words when it cannot: the libvirt host is
 * another one, `iscsiadm` is not installed, or the logout failed. Each message names the
 * command to run by hand.
 */
export async function logoutStaleSession(uri: string, target: string, portal: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  const args = iscsiadmLogoutArgs(target, portal);
  const where = parsePortal(portal, 'portal').address;
  const by = `log it out with: iscsiadm ${args.join(' ')}`;
  if (!isLocalUri(uri)) throw new Error(`the session is on the libvirt host of ${uri}, not this one; ${by}, there`);
  const bin = await findIscsiadm();
  if (bin === null) throw new Error(`iscsiadm (Debian package open-iscsi) is not installed here to log it out; ${by}`);
  try {
    await runIscsiadm(bin, args, timeoutMs);
  } catch (err) {
    throw new Error(`logging it out failed (${said(err)}); ${by}`);
  }
  return `logged out an old kernel iSCSI session to ${target} at ${where} (iscsiadm ${args.join(' ')})`;
}

function staleSessionRecovery(conn: Connection, c: Checked, journal: Journal): (err: unknown) => Promise<string | null> {
  return async (err) => {
    if (c.type !== 'iscsi' || !isStaleSessionError(err)) return null;
    try {
      return `${await logoutStaleSession(conn.uri, c.target, c.portal.address, c.timeoutMs)} and started again`;
    } catch (why) {
      throw await journal.fail(
        'start',
        'stale-session',
        `pool ${c.name} did not start: an old kernel iSCSI session to ${c.target} at ${c.portal.address} blocks it, and ${said(why)}.`,
        err,
      );
    }
  };
}

/**
 * Provisions an iSCSI target as a libvirt pool, idempotently:
 *
 * 1. preflight with libiscsi: discovery shows the target, the login (with CHAP) works, the
 *    LUNs are listed; a wrong password, an unknown target or a dead portal fail here, before
 *    libvirt sees anything;
 * 2. a pool of that name is looked at (read-only): on other storage (type, portal, target) it
 *    is a `conflict`, before anything is changed;
 * 3. the CHAP secret (usage `iscsi`, id `secretUsage`): found and its value updated, or
 *    defined (private, not ephemeral) and its value set through `virSecretSetValue`; one that
 *    another pool uses is not changed (a `conflict` when it is private or its value differs);
 *    then the pool, from typed XML: defined, or updated in place;
 * 4. started (for `iscsi` pools, an old kernel session blocking the start is logged out with
 *    `iscsiadm` and the start retried once, reported in `actions`), autostart set;
 * 5. resolves to the pool and its volumes, each with its LUN's INQUIRY data.
 *
 * Run twice, the second run finds everything as wanted and changes nothing (it sets the
 * secret's value again). On failure it rejects with a {@link ProvisionError} after undoing
 * what this call did, newest first; what existed before is left as it was, except that an
 * existing *private* secret keeps the new value (libvirt never hands a private value out,
 * so the old one cannot be put back; the preflight checked the new one).
 * Wrong argument types reject with a TypeError before anything is touched.
 */
export async function provisionIscsiPool(conn: Connection, options: IscsiPoolOptions): Promise<ProvisionedIscsiPool> {
  connArg(conn);
  const c = check(options);
  return provisionCall(c.name, async (journal) => {
    const luns = await preflight(c, journal);
    journal.did(`checked ${c.target} at ${c.portal.address}: ${luns.filter((l) => l.capacity !== null).length} LUN(s) with blocks`);
    const def = definition(c);
    const { pool, secret, volumes } = await provisionPool(conn, journal, {
      pool: {
        definition: def,
        describe,
        sameStorage: (e) =>
          e.type === c.type &&
          e.source?.hosts?.[0]?.name === c.portal.host &&
          (e.source.hosts[0].port ?? 3260) === c.portal.port &&
          e.source?.devices?.[0]?.path === c.target,
        apply: (e) => {
          e.source = { ...e.source, ...def.source };
          if (!c.chap) delete e.source.auth;
          if (def.type === 'iscsi') e.target = { ...e.target, path: c.targetPath };
        },
      },
      secret: c.chap && {
        usage: { type: 'iscsi', target: c.secretUsage },
        value: c.chap.password,
        description: `CHAP password of ${c.chap.username} for ${c.target} (pool ${c.name})`,
      },
      autostart: c.autostart,
      note: c.type === 'iscsi' && c.chap ? iscsiadmPasswordNote(c.name) : undefined,
      recover: staleSessionRecovery(conn, c, journal),
    });
    const byLun = volumes
      .map((v) => {
        const m = /^unit:\d+:\d+:(\d+)$/u.exec(v.name);
        const lun = m ? Number(m[1]) : null;
        return { ...v, lun, inquiry: lun === null ? null : (luns.find((l) => l.lun === lun) ?? null) };
      })
      .sort((x, y) => (x.lun ?? Infinity) - (y.lun ?? Infinity) || x.name.localeCompare(y.name));
    return { pool, secret, luns, volumes: byLun, actions: [...journal.actions] };
  });
}

