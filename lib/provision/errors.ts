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
  /** Nothing answers at the address (refused, no route). */
  | 'unreachable'
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

/** The reason an IscsiError stands for. */
export function iscsiReason(err: unknown): ProvisionReason {
  if (!(err instanceof IscsiError)) return 'failed';
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
