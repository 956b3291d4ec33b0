/**
 * {@link IscsiError}: an iSCSI failure, classified.
 *
 * @see https://github.com/sahlberg/libiscsi (the messages are libiscsi's)
 */

/**
 * What kind of failure:
 * - `auth`: the target refused the CHAP credentials (login status class 2, detail 1 or 2), or
 *   the target's own answer to mutual CHAP did not verify.
 * - `connect`: no TCP connection, the target refused the login for another reason (target not
 *   found, …), or the connection was lost; the session is unusable after it.
 * - `timeout`: no answer within `timeoutMs` (TCP connect, login or a command).
 * - `scsi`: the target answered a command with a SCSI error: see `status`, `senseKey`, `asc`,
 *   `ascq` and their names.
 * - `protocol`: anything else libiscsi reported.
 * - `closed`: the session was closed before the call.
 */
export type IscsiErrorKind = 'auth' | 'connect' | 'timeout' | 'scsi' | 'protocol' | 'closed';

/** What native code hands over for an iSCSI failure. */
export interface IscsiErrorInfo {
  kind: IscsiErrorKind;
  /** What was being done: `connect`, `login`, `discovery`, `logout`, or a SCSI command (`READ(16)`). */
  op: string;
  message: string;
  status?: number;
  senseKey?: number;
  senseKeyName?: string;
  asc?: number;
  ascq?: number;
  ascqName?: string;
  loginStatus?: number;
}

/** SAM-5 status codes, by number. */
const SCSI_STATUS_NAMES: Record<number, string> = {
  0x00: 'GOOD',
  0x02: 'CHECK_CONDITION',
  0x04: 'CONDITION_MET',
  0x08: 'BUSY',
  0x18: 'RESERVATION_CONFLICT',
  0x28: 'TASK_SET_FULL',
  0x30: 'ACA_ACTIVE',
  0x40: 'TASK_ABORTED',
};

/**
 * An iSCSI failure. Never contains a CHAP password: native code reads passwords into buffers
 * it wipes, and scrubs them from every message it builds.
 */
export class IscsiError extends Error {
  readonly kind: IscsiErrorKind;
  /** What was being done: `connect`, `login`, `discovery`, `logout`, or the SCSI command (`READ(16)`). */
  readonly op: string;
  /** The SCSI status of a failed command (2: CHECK CONDITION), or null. */
  readonly status: number | null;
  /** Its name (`'CHECK_CONDITION'`), or null. */
  readonly statusName: string | null;
  /** The sense key of a CHECK CONDITION (5: ILLEGAL REQUEST), or null. */
  readonly senseKey: number | null;
  /** Its name as libiscsi gives it (`'ILLEGAL_REQUEST'`), or null. */
  readonly senseKeyName: string | null;
  /** Additional sense code (0x21 for an LBA out of range), or null. */
  readonly asc: number | null;
  /** Additional sense code qualifier, or null. */
  readonly ascq: number | null;
  /** The name of ASC/ASCQ as libiscsi gives it (`'LBA_OUT_OF_RANGE'`), or null. */
  readonly ascqName: string | null;
  /** The target's login status (RFC 7143 10.13.5) when it refused a login, or null. */
  readonly loginStatus: { class: number; detail: number } | null;

  constructor(info: IscsiErrorInfo) {
    if (typeof info !== 'object' || info === null) throw new TypeError('IscsiError needs an object of error fields');
    super(String(info.message ?? ''));
    this.kind = info.kind;
    this.op = info.op;
    this.status = info.status ?? null;
    this.statusName = this.status === null ? null : (SCSI_STATUS_NAMES[this.status] ?? `STATUS_0x${this.status.toString(16)}`);
    this.senseKey = info.senseKey ?? null;
    this.senseKeyName = info.senseKeyName ?? null;
    this.asc = info.asc ?? null;
    this.ascq = info.ascq ?? null;
    this.ascqName = info.ascqName ?? null;
    this.loginStatus = info.loginStatus === undefined ? null : { class: info.loginStatus >> 8, detail: info.loginStatus & 0xff };
  }

  override get name(): string {
    return 'IscsiError';
  }
}

/** The error of a call on a closed session. */
export function closedError(op: string): IscsiError {
  return new IscsiError({ kind: 'closed', op, message: 'the iSCSI session is closed' });
}
