/**
 * An iSCSI session: login with CHAP (and mutual CHAP), the target's LUNs, what they are, how
 * big, and block I/O.
 *
 * A session is driven by the event loop itself (no thread): every call made and not yet answered
 * is a command in flight, so the queue depth is the number of calls awaited at once. Commands
 * in flight together may complete in any order (SCSI SIMPLE tasks): await a write before
 * reading the same blocks.
 *
 * @see https://github.com/sahlberg/libiscsi
 */
import { settle } from '../errors';
import { native, type NativeIscsiCapacity, type NativeIscsiDesignator, type NativeIscsiSession } from '../native';
import {
  chapArg, headerDigestArg, integerArg, iscsiNameArg, lunArg, numericAddress, optionsArg, parsePortal, timeoutArg,
  type ChapCredentials,
  type HeaderDigest,
} from './args';
import { closedError, IscsiError } from './errors';
import { checkLunReadOptions, LunReadable, type LunReadOptions } from './stream';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** `host`, `host:port`, `[ipv6]:port` or `iscsi://[user%password@]host[:port][/target[/lun]]`. */
  portal: string;
  /** The target's IQN (may come from an `iscsi://` portal URL instead). */
  target?: string;
  /** This initiator's iSCSI name (`iqn.2026-01.com.example:host1`). */
  initiatorIqn: string;
  /** CHAP: the credentials the target checks. */
  chap?: ChapCredentials;
  /** Mutual CHAP: the credentials the target must answer with (needs `chap`). */
  mutualChap?: ChapCredentials;
  /** A LUN to check (TEST UNIT READY) before `connect` resolves; may come from the URL. */
  lun?: number;
  /** TCP connect + login, and each command later, within this many ms (default 30000). */
  timeoutMs?: number;
  /** Header digest negotiation (default `prefer-none`, as libiscsi). */
  headerDigest?: HeaderDigest;
}

/** Standard INQUIRY data of a LUN. */
export interface LunInquiry {
  /** 0: a device is connected to this LUN. */
  peripheralQualifier: number;
  /** SCSI peripheral device type: 0 disk (direct access), 5 CD/DVD, 0x0c storage array controller… */
  deviceType: number;
  /** Its name as libiscsi gives it: `'DIRECT_ACCESS'`, `'STORAGE_ARRAY_CONTROLLER'`… */
  deviceTypeName: string;
  /** T10 vendor identification, trailing spaces removed. */
  vendor: string;
  product: string;
  revision: string;
  removable: boolean;
  /** The SPC version the device claims (5: SPC-3, 6: SPC-4). */
  scsiVersion: number;
}

/** SPC designator types (VPD page 0x83). */
export type DesignatorType =
  | 'vendor-specific' | 't10-vendor-id' | 'eui-64' | 'naa' | 'relative-target-port' | 'target-port-group'
  | 'logical-unit-group' | 'md5-logical-unit-identifier' | 'scsi-name-string' | `type-${number}`;

const DESIGNATOR_TYPES: DesignatorType[] = [
  'vendor-specific', 't10-vendor-id', 'eui-64', 'naa', 'relative-target-port', 'target-port-group',
  'logical-unit-group', 'md5-logical-unit-identifier', 'scsi-name-string',
];
const ASSOCIATIONS = ['logical-unit', 'target-port', 'target-device'] as const;
const CODE_SETS: Record<number, 'binary' | 'ascii' | 'utf-8'> = { 1: 'binary', 2: 'ascii', 3: 'utf-8' };

/** One designator of VPD page 0x83 (device identification). */
export interface DeviceIdentifier {
  type: DesignatorType;
  /** What it identifies: the LUN itself, the target port or the target device. */
  association: (typeof ASSOCIATIONS)[number] | `association-${number}`;
  codeSet: 'binary' | 'ascii' | 'utf-8' | `code-set-${number}`;
  /** Binary designators as lowercase hex; text ones as text, trailing NULs and spaces removed. */
  value: string;
  raw: Buffer;
}

/** Vital product data of a LUN. */
export interface LunVpd {
  /** Unit serial number (VPD page 0x80), trimmed; null when the LUN has none. */
  serial: string | null;
  /** Device identification (VPD page 0x83); empty when the LUN has none. */
  identifiers: DeviceIdentifier[];
  /** The LUN's first NAA designator, hex (`6000…`), or null. */
  naa: string | null;
  /** The LUN's first EUI-64 designator, hex, or null. */
  eui64: string | null;
  /** The WWN as Linux names disks by it (`0x` + the NAA or EUI-64), or null. */
  wwn: string | null;
}

/** The size of a LUN. */
export interface LunCapacity {
  /** Bytes per logical block. */
  blockSize: number;
  /** Number of logical blocks. */
  blocks: number;
  /** blocks × blockSize (exact below 8 PiB). */
  bytes: number;
  /** Bytes per physical block (READ CAPACITY 16 only), or null. */
  physicalBlockSize: number | null;
  /** Logical block provisioning management enabled (READ CAPACITY 16 only), or null. */
  thinProvisioned: boolean | null;
  /** Which command answered: `16`, or `10` when the LUN does not know READ CAPACITY 16. */
  command: 16 | 10;
}

/** One LUN, described: {@link IscsiSession.luns}. */
export interface LunSummary extends LunInquiry, LunVpd {
  lun: number;
  /** Null for LUNs without blocks (a storage array controller) or whose capacity cannot be read. */
  capacity: LunCapacity | null;
  /** TEST UNIT READY passed. */
  ready: boolean;
}

/** The largest single `read`/`write`. */
export const MAX_TRANSFER_BYTES = 2 ** 30;

/** Device types that address logical blocks: disk, CD/DVD, optical memory, RBC. */
const BLOCK_DEVICE_TYPES = new Set([0x00, 0x05, 0x07, 0x0e]);

function trimText(s: string): string {
  return s.replace(/[\s\0]+$/u, '').replace(/^\s+/u, '');
}

function identifier(d: NativeIscsiDesignator): DeviceIdentifier {
  const codeSet = CODE_SETS[d.codeSet] ?? (`code-set-${d.codeSet}` as const);
  const text = codeSet === 'ascii' || codeSet === 'utf-8';
  return {
    type: DESIGNATOR_TYPES[d.type] ?? `type-${d.type}`,
    association: ASSOCIATIONS[d.association] ?? `association-${d.association}`,
    codeSet,
    value: text ? trimText(d.value.toString(codeSet === 'ascii' ? 'latin1' : 'utf8')) : d.value.toString('hex'),
    raw: d.value,
  };
}

function capacity(c: NativeIscsiCapacity, command: 16 | 10): LunCapacity {
  const blocks = c.returnedLba + 1;
  return {
    blockSize: c.blockLength,
    blocks,
    bytes: blocks * c.blockLength,
    physicalBlockSize: c.lbppbe === undefined ? null : c.blockLength * 2 ** c.lbppbe,
    thinProvisioned: c.lbpme ?? null,
    command,
  };
}

/** An `IscsiError` of kind `scsi` for an ILLEGAL REQUEST: a command or page the LUN does not know. */
function isIllegalRequest(err: unknown): boolean {
  return err instanceof IscsiError && err.kind === 'scsi' && err.senseKey === 5;
}

/**
 * A logged-in iSCSI session ({@link connect}). Close it with {@link close}; one dropped
 * without closing is logged out when garbage-collected. CHAP credentials are not kept here.
 */
export class IscsiSession {
  readonly #native: NativeIscsiSession;
  #closing: Promise<void> | null = null;
  readonly #blockSizes = new Map<number, number>();
  /** `host:port` (or `[v6]:port`) of the portal. */
  readonly portal: string;
  /** The target's IQN. */
  readonly target: string;
  /** This initiator's iSCSI name. */
  readonly initiatorIqn: string;

  /** @internal Created by {@link connect} only. */
  constructor(handle: NativeIscsiSession, portal: string, target: string, initiatorIqn: string) {
    this.#native = handle;
    this.portal = portal;
    this.target = target;
    this.initiatorIqn = initiatorIqn;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /** One native command on this session. */
  #run<T>(where: string, call: (n: NativeIscsiSession) => Promise<T>): Promise<T> {
    if (this.#closing) return settle(Promise.reject(closedError(where)), where);
    return settle(call(this.#native), where);
  }

  /** REPORT LUNS: the LUN numbers the target offers this initiator, ascending. */
  async reportLuns(): Promise<number[]> {
    const luns = await this.#run('IscsiSession.reportLuns', (n) => n.reportLuns());
    return luns.sort((a, b) => a - b);
  }

  /** Standard INQUIRY: device type, vendor, product, revision. */
  async inquiry(lun: number): Promise<LunInquiry> {
    lunArg(lun);
    const q = await this.#run('IscsiSession.inquiry', (n) => n.inquiry(lun));
    return {
      peripheralQualifier: q.qualifier,
      deviceType: q.deviceType,
      deviceTypeName: q.deviceTypeName,
      vendor: trimText(q.vendor),
      product: trimText(q.product),
      revision: trimText(q.revision),
      removable: q.removable,
      scsiVersion: q.version,
    };
  }

  /** Vital product data: unit serial number (page 0x80) and device identifiers (page 0x83). */
  async vpd(lun: number): Promise<LunVpd> {
    lunArg(lun);
    const serial = await this.#run('IscsiSession.vpd', (n) => n.inquirySerial(lun)).then(
      (s) => trimText(s),
      (err: unknown) => {
        if (isIllegalRequest(err)) return null;
        throw err;
      },
    );
    const designators = await this.#run('IscsiSession.vpd', (n) => n.inquiryDeviceId(lun)).catch((err: unknown) => {
      if (isIllegalRequest(err)) return [];
      throw err;
    });
    const identifiers = designators.map(identifier);
    const ofLun = identifiers.filter((i) => i.association === 'logical-unit' && i.codeSet === 'binary');
    const naa = ofLun.find((i) => i.type === 'naa')?.value ?? null;
    const eui64 = ofLun.find((i) => i.type === 'eui-64')?.value ?? null;
    const wwnHex = naa ?? eui64;
    return { serial: serial === '' ? null : serial, identifiers, naa, eui64, wwn: wwnHex === null ? null : `0x${wwnHex}` };
  }

  /** READ CAPACITY 16, or 10 when the LUN does not know 16. */
  async readCapacity(lun: number): Promise<LunCapacity> {
    lunArg(lun);
    let result: LunCapacity;
    try {
      result = capacity(await this.#run('IscsiSession.readCapacity', (n) => n.readCapacity16(lun)), 16);
    } catch (err) {
      if (!isIllegalRequest(err)) throw err;
      result = capacity(await this.#run('IscsiSession.readCapacity', (n) => n.readCapacity10(lun)), 10);
    }
    this.#blockSizes.set(lun, result.blockSize);
    return result;
  }

  /** TEST UNIT READY: resolves when the LUN is ready, rejects (`scsi`, with the sense) when not. */
  async testUnitReady(lun: number): Promise<void> {
    lunArg(lun);
    return this.#run('IscsiSession.testUnitReady', (n) => n.testUnitReady(lun));
  }

  /**
   * Every LUN with its INQUIRY data, VPD, capacity (for block devices) and readiness: the
   * one-call answer to "what does this target give me?".
   */
  async luns(): Promise<LunSummary[]> {
    const out: LunSummary[] = [];
    for (const lun of await this.reportLuns()) {
      const inquiry = await this.inquiry(lun);
      const vpd = await this.vpd(lun);
      const ready = await this.testUnitReady(lun).then(
        () => true,
        (err: unknown) => {
          if (err instanceof IscsiError && err.kind === 'scsi') return false;
          throw err;
        },
      );
      let cap: LunCapacity | null = null;
      if (inquiry.peripheralQualifier === 0 && BLOCK_DEVICE_TYPES.has(inquiry.deviceType)) {
        cap = await this.readCapacity(lun).catch((err: unknown) => {
          if (err instanceof IscsiError && err.kind === 'scsi') return null;
          throw err;
        });
      }
      out.push({ lun, ...inquiry, ...vpd, capacity: cap, ready });
    }
    return out;
  }

  async #blockSize(lun: number): Promise<number> {
    return this.#blockSizes.get(lun) ?? (await this.readCapacity(lun)).blockSize;
  }

  /**
   * READ(16): `blocks` logical blocks from `lba`. The block size is the LUN's (READ CAPACITY,
   * asked once per session). Reading past the end rejects with kind `scsi`
   * (ILLEGAL_REQUEST, LBA_OUT_OF_RANGE).
   */
  async read(lun: number, lba: number, blocks: number): Promise<Buffer> {
    lunArg(lun);
    integerArg(lba, 'lba', 0, Number.MAX_SAFE_INTEGER);
    integerArg(blocks, 'blocks', 1, 2 ** 32 - 1);
    if (this.#closing) throw closedError('IscsiSession.read');
    const blockSize = await this.#blockSize(lun);
    if (blocks * blockSize > MAX_TRANSFER_BYTES) throw new RangeError(`a read is at most ${MAX_TRANSFER_BYTES} bytes`);
    return this.#run('IscsiSession.read', (n) => n.read16(lun, lba, blocks, blockSize));
  }

  /**
   * READ(16) into `target` (a whole number of the LUN's blocks, from `lba`): no allocation per
   * read, for copying at full speed with a few buffers of your own. `target` is referenced
   * until the read is over; do not transfer or detach its ArrayBuffer meanwhile (as with
   * `fs.read`). Rejects like {@link read}.
   */
  async readInto(lun: number, lba: number, target: Uint8Array): Promise<void> {
    const blockSize = await this.#bufferArgs('IscsiSession.readInto', lun, lba, target, 'target');
    return this.#run('IscsiSession.readInto', (n) => n.read16Into(lun, lba, target, blockSize));
  }

  /** WRITE(16): `data` (a whole number of the LUN's blocks) at `lba`. */
  async write(lun: number, lba: number, data: Uint8Array): Promise<void> {
    const blockSize = await this.#bufferArgs('IscsiSession.write', lun, lba, data, 'data');
    return this.#run('IscsiSession.write', (n) => n.write16(lun, lba, data, blockSize));
  }

  /** Checks the arguments of a transfer from or into a caller's buffer; the LUN's block size. */
  async #bufferArgs(op: string, lun: number, lba: number, buf: unknown, what: 'data' | 'target'): Promise<number> {
    lunArg(lun);
    integerArg(lba, 'lba', 0, Number.MAX_SAFE_INTEGER);
    if (!(buf instanceof Uint8Array)) throw new TypeError(`${what} must be a Buffer or Uint8Array`);
    if (buf.byteLength === 0) throw new RangeError(`${what} is empty`);
    if (buf.byteLength > MAX_TRANSFER_BYTES) throw new RangeError(`a transfer is at most ${MAX_TRANSFER_BYTES} bytes`);
    if (this.#closing) throw closedError(op);
    const blockSize = await this.#blockSize(lun);
    if (buf.byteLength % blockSize !== 0) {
      throw new RangeError(`${what} must be a whole number of ${blockSize}-byte blocks (got ${buf.byteLength} bytes)`);
    }
    return blockSize;
  }

  /**
   * A Node `Readable` over the LUN's bytes (READ(16) in `chunkSize` pieces, default 1 MiB), for
   * copying an image out: `pipeline(session.readStream(1), fs.createWriteStream('lun1.img'))`.
   * Options are checked here (TypeError/RangeError); offset and length against the LUN's
   * capacity when the stream starts (the stream errors with a RangeError).
   */
  readStream(lun: number, options?: LunReadOptions): LunReadable {
    // Like every other method, refuses another object as `this` at the call (they do through
    // their private fields), not with a stream that fails later.
    if (!(typeof this === 'object' && this !== null && #native in this)) throw new TypeError('IscsiSession.readStream called on an object that is not an IscsiSession');
    lunArg(lun);
    return new LunReadable(this, lun, checkLunReadOptions(options));
  }

  /**
   * Logs out and frees the session. Commands already in flight finish first (or time out);
   * calls after it reject with kind `closed`. Never rejects. Idempotent: every call returns the
   * same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = settle(this.#native.logout(), 'IscsiSession.close');
    return this.#closing;
  }
}

/**
 * Logs in to a target. Rejects with `IscsiError`: `auth` (wrong CHAP, or mutual CHAP the target
 * did not answer correctly), `connect` (refused, unknown target), `timeout` (nothing within
 * `timeoutMs`: a portal that accepts TCP and never answers rejects in time).
 */
export async function connect(options: ConnectOptions): Promise<IscsiSession> {
  if (options === undefined) throw new TypeError('options must be an object { portal, target, initiatorIqn }');
  const o = optionsArg(options, 'options');
  const p = parsePortal(o.portal, 'options.portal');
  if (o.target !== undefined && p.target !== undefined && o.target !== p.target) {
    throw new TypeError('options.target differs from the target in the iscsi:// URL');
  }
  if (o.target === undefined && p.target === undefined) throw new TypeError('options.target is required (or give it in an iscsi:// portal URL)');
  const target = iscsiNameArg(o.target ?? p.target, 'options.target');
  const initiatorIqn = iscsiNameArg(o.initiatorIqn, 'options.initiatorIqn');
  if (o.chap !== undefined && p.chap) throw new TypeError('give CHAP either in the iscsi:// URL or in options.chap, not both');
  const chap = chapArg(o.chap, 'options.chap') ?? p.chap;
  const mutual = chapArg(o.mutualChap, 'options.mutualChap');
  if (mutual && !chap) throw new TypeError('options.mutualChap needs options.chap (mutual CHAP is CHAP both ways)');
  const lun = o.lun === undefined ? p.lun : lunArg(o.lun, 'options.lun');
  const timeoutMs = timeoutArg(o.timeoutMs);
  const digest = headerDigestArg(o.headerDigest);
  const address = await numericAddress(p, 'connect');
  const handle = await settle(
    native.iscsiConnect(address, target, initiatorIqn, chap?.username ?? null, chap?.password ?? null,
      mutual?.username ?? null, mutual?.password ?? null, timeoutMs, digest),
    'iscsi.connect',
  );
  const session = new IscsiSession(handle, p.address, target, initiatorIqn);
  if (lun !== undefined) {
    try {
      await session.testUnitReady(lun);
    } catch (err) {
      await session.close().catch(() => undefined);
      throw err;
    }
  }
  return session;
}
