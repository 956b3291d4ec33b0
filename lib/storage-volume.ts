/**
 * Storage volumes (`virStorageVol*`).
 *
 * @see https://libvirt.org/html/libvirt-libvirt-storage.html
 */
import { inspect } from 'node:util';
import { flagsArg, shortName } from './args';
import { StorageVolType } from './constants';
import { settle } from './errors';
import type { NativeStorageVol } from './native';
import { StoragePool } from './storage-pool';

/** `virStorageVolGetInfo`. Sizes in bytes. */
export interface StorageVolumeInfo {
  type: StorageVolType;
  /** `file`, `block`, `dir`, `network`, `netdir`, `ploop`. */
  typeName: string;
  capacity: number;
  allocation: number;
}

export class StorageVolume {
  readonly #native: NativeStorageVol;
  /** The volume's name within its pool. */
  readonly name: string;
  /** The volume's key: unique on the host (often its path). */
  readonly key: string;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeStorageVol) {
    this.#native = handle;
    this.name = handle.getName();
    this.key = handle.getKey();
  }

  /** `virStorageVolGetPath`: where the volume lives on the host. */
  path(): Promise<string> {
    return settle(this.#native.getPath(), 'StorageVolume.path');
  }

  /** `virStorageVolGetInfo`. */
  async info(): Promise<StorageVolumeInfo> {
    const i = await settle(this.#native.getInfo(), 'StorageVolume.info');
    return { type: i.type, typeName: shortName(StorageVolType, i.type, 'VIR_STORAGE_VOL_'), capacity: i.capacity, allocation: i.allocation };
  }

  /** `virStorageVolGetXMLDesc`. */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'StorageVolume.getXML');
  }

  /** `virStoragePoolLookupByVolume`: the pool this volume belongs to. */
  async pool(): Promise<StoragePool> {
    return new StoragePool(await settle(this.#native.storagePoolLookupByVolume(), 'StorageVolume.pool'));
  }

  /** Same libvirt volume (keys are unique on a host). */
  equals(other: unknown): boolean {
    return other instanceof StorageVolume && other.key === this.key;
  }

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  [inspect.custom](): string {
    return `StorageVolume { name: ${inspect(this.name)}, key: ${inspect(this.key)} }`;
  }
}
