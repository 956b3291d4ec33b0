/**
 * SendTargets discovery: which targets a portal offers, and where.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7143#section-12.3 (SendTargets)
 */
import { settle } from '../errors';
import { native } from '../native';
import {
  chapArg, DEFAULT_ISCSI_PORT, headerDigestArg, iscsiNameArg, numericAddress, optionsArg, parsePortal, timeoutArg, type ChapCredentials, type HeaderDigest,
} from './args';

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /** This initiator's iSCSI name (`iqn.2026-01.com.example:host1`). */
  initiatorIqn: string;
  /** CHAP for the discovery session, if the portal wants it. */
  chap?: ChapCredentials;
  /** TCP connect + login, and the SendTargets answer, each within this (default 30000). */
  timeoutMs?: number;
  headerDigest?: HeaderDigest;
}

/** One portal of a discovered target. */
export interface TargetPortal {
  /** Host name or address, without brackets. */
  address: string;
  port: number;
  /** The target portal group tag (null when the target sent none). */
  portalGroup: number | null;
}

/** A target the portal offers. */
export interface DiscoveredTarget {
  iqn: string;
  portals: TargetPortal[];
}

/** `addr[:port][,tpgt]` or `[v6][:port][,tpgt]`, as targets answer SendTargets (RFC 7143 13.8). */
function parseTargetAddress(text: string): TargetPortal {
  const comma = text.lastIndexOf(',');
  const hostPort = comma < 0 ? text : text.slice(0, comma);
  const portalGroup = comma < 0 ? null : Number(text.slice(comma + 1));
  let address = hostPort;
  let port = DEFAULT_ISCSI_PORT;
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    address = hostPort.slice(1, end < 0 ? undefined : end);
    const rest = end < 0 ? '' : hostPort.slice(end + 1);
    if (rest.startsWith(':')) port = Number(rest.slice(1));
  } else if (hostPort.split(':').length === 2) {
    const colon = hostPort.indexOf(':');
    address = hostPort.slice(0, colon);
    port = Number(hostPort.slice(colon + 1));
  }
  return { address, port, portalGroup: Number.isInteger(portalGroup) ? portalGroup : null };
}

/**
 * Asks a portal which targets it offers (a discovery session: login, SendTargets=All, logout).
 * Rejects with `IscsiError` (`auth` for wrong CHAP, `connect`, `timeout`).
 */
export async function discover(portal: string, options: DiscoverOptions): Promise<DiscoveredTarget[]> {
  const p = parsePortal(portal);
  const o = optionsArg(options, 'options');
  const initiatorIqn = iscsiNameArg(o.initiatorIqn, 'options.initiatorIqn');
  const chap = chapArg(o.chap, 'options.chap') ?? p.chap;
  if (o.chap !== undefined && p.chap) throw new TypeError('give CHAP either in the iscsi:// URL or in options.chap, not both');
  const timeoutMs = timeoutArg(o.timeoutMs);
  const digest = headerDigestArg(o.headerDigest);
  const address = await numericAddress(p, 'discovery');
  const found = await settle(
    native.iscsiDiscover(address, initiatorIqn, chap?.username ?? null, chap?.password ?? null, timeoutMs, digest),
    'iscsi.discover',
  );
  return found.map((t) => ({ iqn: t.target, portals: t.portals.map(parseTargetAddress) }));
}
