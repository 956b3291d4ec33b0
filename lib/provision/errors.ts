/**
 * {@link ProvisionError}: a provisioning step failed. It says which step, why in plain words,
 * what the call had done and what it undid; the underlying `IscsiError` or `LibvirtError` is
 * its `cause`. Never contains a CHAP password or a Ceph key.
 */
import { IscsiError } from '../iscsi/errors';

/** Where a provisioning call failed. */
export type ProvisionStep =
  /** Checking the storage before libvirt sees anything: iSCSI discovery, login, LUNs; Ceph monitors. */
  | 'preflight'
  /** Defining the libvirt secret or setting its value. */
  | 'secret'
  /** Defining (or updating) the storage pool. */
  | 'pool'
  /** Starting the pool or the guest. */
  | 'start'
  /** Setting the pool's autostart flag. */
  | 'autostart'
  /** Listing the started pool's volumes. */
  | 'volumes'
  /** Defining a guest. */
  | 'guest'
  /** Removing what a provision created. */
  | 'teardown';

/** Why, as a word a program can switch on. */
export type ProvisionReason =
  /** The storage refused the credentials: an iSCSI target the CHAP ones, Ceph the cephx key. */
  | 'auth'
  /** The portal does not offer the target. */
  | 'no-target'
  /** The target offers no LUN with blocks. */
  | 'no-luns'
  /** Nothing answers at the address (refused, no route, a name that does not resolve). */
  | 'unreachable'
  /** The target does not let this initiator in (login status 2/2: not in its ACL), whatever
   * the credentials. */
  | 'denied'
  /** Something answered too slowly, or not as expected. */
  | 'timeout'
  /** A pool, secret or guest of that name exists and is a different one. */
  | 'conflict'
  /** A volume a guest should use does not exist. */
  | 'no-volume'
  /** The pool still has guests on its volumes. */
  | 'in-use'
  /** An old kernel iSCSI session blocks the start and could not be logged out. */
  | 'stale-session'
  /** libvirt (or libiscsi) refused for another reason: see `cause`. */
  | 'failed';

/** What {@link ProvisionError} is built from. */
export interface ProvisionErrorInfo {
  step: ProvisionStep;
  reason: ProvisionReason;
  message: string;
  cause?: unknown;
  /** What the call had done before it failed, in plain words. */
  actions?: string[];
  /** What was undone afterwards, in plain words. */
  rolledBack?: string[];
  /** Undo steps that failed themselves (what they left behind is named in `message`). */
  rollbackErrors?: Error[];
}

/**
 * A provisioning call failed. Everything it had created in this call has been removed again
 * (`rolledBack` lists it); what existed before is as it was (see the helpers' docs for the one
 * exception: a private secret's value). If an undo step failed too, `rollbackErrors` has it and
 * the message says what is left.
 */
export class ProvisionError extends Error {
  readonly step: ProvisionStep;
  readonly reason: ProvisionReason;
  /** The IscsiError or LibvirtError underneath, if any. */
  override readonly cause: unknown;
  readonly actions: string[];
  readonly rolledBack: string[];
  readonly rollbackErrors: Error[];

  constructor(info: ProvisionErrorInfo) {
    if (typeof info !== 'object' || info === null) throw new TypeError('ProvisionError needs an object of error fields');
    super(String(info.message ?? ''));
    this.step = info.step;
    this.reason = info.reason;
    this.cause = info.cause;
    this.actions = info.actions ?? [];
    this.rolledBack = info.rolledBack ?? [];
    this.rollbackErrors = info.rollbackErrors ?? [];
  }

  override get name(): string {
    return 'ProvisionError';
  }
}

/**
 * The reason an IscsiError stands for. A refused login carries the target's login status
 * (RFC 7143 11.13.5): class 2 detail 1 is a failed authentication (CHAP), 2/2 a failed
 * authorization (the initiator is not in the target's ACL), 2/3 and 2/4 a target the portal
 * does not have (any more). Only a `connect` failure without a login status (no answer at
 * all) is `unreachable`.
 */
export function iscsiReason(err: unknown): ProvisionReason {
  if (!(err instanceof IscsiError)) return 'failed';
  const status = err.loginStatus;
  if (status !== null) {
    if (status.class !== 2) return 'failed';
    return status.detail === 1 ? 'auth' : status.detail === 2 ? 'denied' : status.detail === 3 || status.detail === 4 ? 'no-target' : 'failed';
  }
  switch (err.kind) {
    case 'auth':
      return 'auth';
    case 'timeout':
      return 'timeout';
    case 'connect':
      return 'unreachable';
    default:
      return 'failed';
  }
}

/** What {@link iscsiWords} needs to know about the failed step. */
export interface IscsiStep {
  /** `discovery` (SendTargets at the portal) or `login` (to the target). */
  stage: 'discovery' | 'login';
  portal: string;
  target: string;
  initiatorIqn: string;
  /** The CHAP user given, or undefined without CHAP. */
  chapUser: string | undefined;
  timeoutMs: number;
}

/** An iSCSI preflight failure in plain words (no password: only the user name is known here). */
export function iscsiWords(reason: ProvisionReason, err: unknown, step: IscsiStep): string {
  const what = step.stage === 'discovery' ? `the portal ${step.portal} refused the discovery login` : `the login to ${step.target} at ${step.portal} was refused`;
  const user = step.chapUser === undefined ? '' : ` (CHAP user ${step.chapUser})`;
  switch (reason) {
    case 'auth':
      return step.chapUser === undefined
        ? `${what}: ${step.stage === 'discovery' ? 'the portal' : 'the target'} wants CHAP (options.chap)`
        : `${what}${user}: wrong CHAP user name or password`;
    case 'denied':
      return `${what}: initiator ${step.initiatorIqn} is not allowed in (the target's ACL; not a CHAP problem)`;
    case 'no-target':
      return `the portal ${step.portal} answered, but has no target ${step.target}`;
    case 'timeout':
      return step.stage === 'discovery' ? `the iSCSI portal ${step.portal} did not answer within ${step.timeoutMs} ms` : `${step.target} at ${step.portal} did not answer within ${step.timeoutMs} ms`;
    case 'unreachable':
      return `cannot reach the iSCSI portal ${step.portal}: ${err instanceof Error ? err.message : String(err)}`;
    default:
      return `the ${step.stage === 'discovery' ? 'discovery at' : `login to ${step.target} at`} ${step.portal} failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Socket errors (Node's `code`) that mean nothing answers at the address. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EADDRNOTAVAIL']);

/** Whether a socket error code means the address cannot be reached (refused, no route, no such name). */
export function isUnreachableCode(code: string | undefined): boolean {
  return code !== undefined && UNREACHABLE_CODES.has(code);
}

/** The reason a LibvirtError of a pool definition stands for: `conflict` when another pool
 * already has this storage ("Storage source conflict with pool"), else `failed`. */
export function poolDefineReason(err: unknown): ProvisionReason {
  return err instanceof Error && /Storage source conflict with pool/u.test(err.message) ? 'conflict' : 'failed';
}
