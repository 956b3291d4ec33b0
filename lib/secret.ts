/**
 * Secrets (`virSecret*`): CHAP passwords, Ceph keys, volume passphrases. Values go in and out
 * as Buffers; virtkit keeps its own copies only in native memory that is wiped after use, and
 * never shows a value in errors, `inspect` or JSON.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-secret.html
 */
import { inspect } from 'node:util';
import { flagsArg } from './args';
import { SecretUsageType } from './constants';
import { LibvirtEmitter, type EventHub } from './emitter';
import { settle } from './errors';
import { SECRET_EVENT_SPECS, type SecretEvents } from './events';
import type { NativeSecret } from './native';
import { parseSecretXml, type SecretDefinition, type SecretUsageName } from './xml/secret';

/** libvirt's `virSecretUsageType` numbers for the usage names. */
export const SECRET_USAGE_TYPES: Record<SecretUsageName | 'none', number> = {
  none: SecretUsageType.VIR_SECRET_USAGE_TYPE_NONE,
  volume: SecretUsageType.VIR_SECRET_USAGE_TYPE_VOLUME,
  ceph: SecretUsageType.VIR_SECRET_USAGE_TYPE_CEPH,
  iscsi: SecretUsageType.VIR_SECRET_USAGE_TYPE_ISCSI,
  tls: SecretUsageType.VIR_SECRET_USAGE_TYPE_TLS,
  vtpm: SecretUsageType.VIR_SECRET_USAGE_TYPE_VTPM,
};

const USAGE_NAMES = new Map<number, SecretUsageName | 'none'>(
  Object.entries(SECRET_USAGE_TYPES).map(([name, n]) => [n, name as SecretUsageName | 'none']),
);

/** A secret. Events: `lifecycle`, `value-changed` ({@link SecretEvents}). */
export class Secret extends LibvirtEmitter<SecretEvents> {
  readonly #native: NativeSecret;
  readonly uuid: string;
  /** `iscsi`, `ceph`, `volume`, `tls`, `vtpm` (or `none`). */
  readonly usageType: SecretUsageName | 'none';
  /** The usage id: the iSCSI target name, the Ceph name, the volume path… */
  readonly usageId: string;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeSecret, hub: EventHub | null = null) {
    super(SECRET_EVENT_SPECS, hub, handle);
    this.#native = handle;
    this.uuid = handle.getUUIDString();
    this.usageType = USAGE_NAMES.get(handle.getUsageType()) ?? 'none';
    this.usageId = this.usageType === 'none' ? '' : handle.getUsageID();
  }

  /** `virSecretGetXMLDesc`. */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'Secret.getXML');
  }

  /** The definition, typed (`virSecretGetXMLDesc` parsed). */
  async describe(): Promise<SecretDefinition> {
    return parseSecretXml(await this.getXML());
  }

  /**
   * `virSecretSetValue`. A string is sent as its UTF-8 bytes. The bytes are copied into native
   * memory that is wiped after the call; a Buffer passed in stays the caller's to wipe.
   */
  async setValue(value: Buffer | Uint8Array | string, flags?: number): Promise<void> {
    let bytes: Uint8Array;
    let temporary = false;
    if (typeof value === 'string') {
      bytes = Buffer.from(value, 'utf8');
      temporary = true;
    } else if (value instanceof Uint8Array) {
      bytes = value;
    } else {
      throw new TypeError('value must be a Buffer, Uint8Array or string');
    }
    let call: Promise<void>;
    try {
      call = this.#native.setValue(bytes, flagsArg(flags));
    } finally {
      if (temporary) bytes.fill(0); // native code has its own copy by now
    }
    return settle(call, 'Secret.setValue');
  }

  /** `virSecretGetValue`: a Buffer the caller owns (and may `fill(0)` when done). Private
   * secrets reject with `VIR_ERR_INVALID_SECRET`. */
  async getValue(flags?: number): Promise<Buffer> {
    return settle(this.#native.getValue(flagsArg(flags)), 'Secret.getValue');
  }

  /** `virSecretUndefine`: deletes the secret and its value. */
  undefine(): Promise<void> {
    return settle(this.#native.undefine(), 'Secret.undefine');
  }

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  /** Same libvirt secret (UUIDs are unique on a host). */
  equals(other: unknown): boolean {
    return other instanceof Secret && other.uuid === this.uuid;
  }

  [inspect.custom](): string {
    return `Secret { uuid: ${inspect(this.uuid)}, usage: ${inspect(`${this.usageType}:${this.usageId}`)} }`;
  }

  toJSON(): { uuid: string; usageType: string; usageId: string } {
    return { uuid: this.uuid, usageType: this.usageType, usageId: this.usageId };
  }
}
