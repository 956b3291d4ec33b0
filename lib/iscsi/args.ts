/**
 * Argument checks for lib/iscsi: portals in every form libiscsi users write them, CHAP
 * credentials, IQNs, LUNs. Wrong types are TypeErrors, out-of-range numbers RangeErrors, all
 * raised before native code runs. Messages never quote a password.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { stringArg } from '../args';
import { IscsiError } from './errors';

/** The iSCSI port a portal without one uses (RFC 7143). */
export const DEFAULT_ISCSI_PORT = 3260;

/** CHAP credentials: the user name and the secret (12 to 16 characters for most targets). */
export interface ChapCredentials {
  username: string;
  password: string;
}

/** A portal, parsed. */
export interface Portal {
  /** Host name or address, without brackets. */
  host: string;
  port: number;
  /** `host:port`, or `[v6]:port`: the form libiscsi connects to and messages show. */
  address: string;
  /** From an `iscsi://host/target[/lun]` URL. */
  target?: string;
  /** From an `iscsi://host/target/lun` URL. */
  lun?: number;
  /** From an `iscsi://user%password@host` URL. */
  chap?: ChapCredentials;
}

const HOST_RE = /^[A-Za-z0-9._-]+$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?$/;

function portArg(text: string, portal: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new TypeError(`portal ${JSON.stringify(portal)} has a malformed port`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new RangeError(`portal port ${port} is out of range`);
  return port;
}

function hostPort(text: string, shown: string): { host: string; port: number; address: string } {
  let host: string;
  let port = DEFAULT_ISCSI_PORT;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw new TypeError(`portal ${JSON.stringify(shown)} has an unclosed [`);
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new TypeError(`portal ${JSON.stringify(shown)} is malformed after ]`);
      port = portArg(rest.slice(1), shown);
    }
    if (!IPV6_RE.test(host) || !host.includes(':')) throw new TypeError(`portal ${JSON.stringify(shown)} has a malformed IPv6 address`);
  } else if ((text.match(/:/g) ?? []).length > 1) {
    host = text; // a bare IPv6 address: no port possible
    if (!IPV6_RE.test(host)) throw new TypeError(`portal ${JSON.stringify(shown)} has a malformed IPv6 address`);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    if (colon >= 0) port = portArg(text.slice(colon + 1), shown);
    if (!HOST_RE.test(host)) throw new TypeError(`portal ${JSON.stringify(shown)} has a malformed host`);
  }
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, address };
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new TypeError(`the iscsi:// URL has a malformed ${what}`);
  }
}

/**
 * Parses a portal: `host`, `host:port`, `[ipv6]:port`, a bare IPv6 address, or an `iscsi://`
 * URL as libiscsi writes them: `iscsi://[user[%password]@]host[:port][/target-iqn[/lun]]`
 * (the target URL-encoded, `%3A` for `:`). Credentials in a URL are taken as CHAP; they never
 * appear in messages (which show {@link Portal.address}).
 */
export function parsePortal(portal: unknown, what = 'portal'): Portal {
  if (typeof what !== 'string') what = 'portal'; // a label for messages only
  stringArg(portal, what);
  const text = (portal as string).trim();
  if (!/^iscsi:\/\//i.test(text)) {
    if (text === '' || /[\s/@]/.test(text)) throw new TypeError(`${what} must be host, host:port, [ipv6]:port or an iscsi:// URL`);
    return hostPort(text, text);
  }
  let rest = text.slice('iscsi://'.length);
  let chap: ChapCredentials | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userInfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pct = userInfo.indexOf('%');
    const username = pct < 0 ? userInfo : userInfo.slice(0, pct);
    const password = pct < 0 ? '' : userInfo.slice(pct + 1);
    if (username === '' || password === '') throw new TypeError(`the iscsi:// URL in ${what} must give both CHAP user and password (user%password@)`);
    chap = { username, password };
  }
  const slash = rest.indexOf('/');
  const hostPart = slash < 0 ? rest : rest.slice(0, slash);
  const shown = `iscsi://${hostPart}`;
  if (hostPart === '') throw new TypeError(`the iscsi:// URL in ${what} has no host`);
  const parsed: Portal = hostPort(hostPart, shown);
  if (slash >= 0) {
    const [target, lun, ...extra] = rest.slice(slash + 1).split('/');
    if (extra.length) throw new TypeError(`the iscsi:// URL ${shown}/… has too many path parts`);
    if (target) parsed.target = decode(target, 'target');
    if (lun !== undefined && lun !== '') {
      if (!/^\d{1,5}$/.test(lun) || Number(lun) > 65535) throw new TypeError(`the iscsi:// URL ${shown}/… has a malformed LUN`);
      parsed.lun = Number(lun);
    }
  }
  if (chap) parsed.chap = chap;
  return parsed;
}

/** An iSCSI name (RFC 3720 3.2.6): `iqn.…`, `eui.…` or `naa.…`, at most 223 bytes. */
export function iscsiNameArg(value: unknown, what: string): string {
  stringArg(value, what);
  const name = value as string;
  if (!/^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(name)) {
    throw new TypeError(`${what} must be an iSCSI name (iqn.YYYY-MM.…, eui.… or naa.…)`);
  }
  if (Buffer.byteLength(name) > 223) throw new RangeError(`${what} is longer than 223 bytes`);
  return name;
}

/** CHAP credentials, or undefined. libiscsi keeps at most 255 bytes of each. */
export function chapArg(value: unknown, what: string): ChapCredentials | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') throw new TypeError(`${what} must be an object { username, password }`);
  const { username, password } = value as Partial<ChapCredentials>;
  if (typeof username !== 'string' || username === '' || username.includes('\0')) {
    throw new TypeError(`${what}.username must be a non-empty string`);
  }
  if (typeof password !== 'string' || password === '' || password.includes('\0')) {
    throw new TypeError(`${what}.password must be a non-empty string`); // never quoted
  }
  if (Buffer.byteLength(username) > 255) throw new RangeError(`${what}.username is longer than 255 bytes`);
  if (Buffer.byteLength(password) > 255) throw new RangeError(`${what}.password is longer than 255 bytes`);
  return { username, password };
}

/** A LUN number as libiscsi addresses it: 0 to 65535 (the plain number below 256). */
export function lunArg(value: unknown, what = 'lun'): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${what} must be an integer`);
  if (value < 0 || value > 65535) throw new RangeError(`${what} is out of range (0 to 65535)`);
  return value;
}

/** A whole number in [min, max]. */
export function integerArg(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${what} must be an integer`);
  if (value < min || value > max) throw new RangeError(`${what} is out of range (${min} to ${max})`);
  return value;
}

/** Header digest negotiation, in libiscsi's order (`enum iscsi_header_digest`). */
export const HEADER_DIGESTS = {
  none: 0,
  'prefer-none': 1,
  'prefer-crc32c': 2,
  crc32c: 3,
} as const;

/** `none`, `crc32c`, `prefer-none` (offer both, prefer none: libiscsi's default) or `prefer-crc32c`. */
export type HeaderDigest = keyof typeof HEADER_DIGESTS;

export function headerDigestArg(value: unknown): number {
  if (value === undefined) return HEADER_DIGESTS['prefer-none'];
  if (typeof value !== 'string' || !Object.hasOwn(HEADER_DIGESTS, value)) {
    throw new TypeError(`headerDigest must be one of ${Object.keys(HEADER_DIGESTS).join(', ')}`);
  }
  return HEADER_DIGESTS[value as HeaderDigest];
}

/** The default for `timeoutMs`: TCP connect + login, and each command. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export function timeoutArg(value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  return integerArg(value, 'timeoutMs', 1, 2 ** 31 - 1);
}

/** An options object (or undefined → {}). */
export function optionsArg(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw new TypeError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

/**
 * The numeric `addr:port` (or `[v6]:port`) native code connects to: a host name is resolved
 * here, with Node's resolver off the event loop (libiscsi would call getaddrinfo on the loop).
 * An unknown host rejects with an `IscsiError` of kind `connect`.
 */
export async function numericAddress(p: Portal, op: string): Promise<string> {
  const bare = p.host.replace(/%.*$/u, '');
  if (isIP(bare) !== 0) return p.address;
  let all: Array<{ address: string; family: number }>;
  try {
    all = await lookup(p.host, { all: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'lookup failed';
    throw new IscsiError({ kind: 'connect', op, message: `cannot resolve the portal host ${p.host}: ${code}` });
  }
  // IPv4 first, as portals are mostly given (a name like localhost often has both).
  const found = all.find((a) => a.family === 4) ?? all[0];
  if (!found) throw new IscsiError({ kind: 'connect', op, message: `cannot resolve the portal host ${p.host}: no address` });
  return found.family === 6 ? `[${found.address}]:${p.port}` : `${found.address}:${p.port}`;
}
