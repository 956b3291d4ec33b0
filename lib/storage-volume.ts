/**
 * Storage volumes (`virStorageVol*`).
 *
 * @see https://libvirt.org/html/libvirt-libvirt-storage.html
 */
import { inspect } from 'node:util';
import { flagsArg, shortName } from './args';
import { StorageVolDownloadFlags, StorageVolInfoFlags, StorageVolType, StorageVolUploadFlags, StorageVolWipeAlgorithm } from './constants';
import { settle } from './errors';
import type { EventHub } from './emitter';
import type { NativeStorageVol } from './native';
import { StoragePool } from './storage-pool';
import { parseVolumeXml, type StorageVolumeDefinition } from './xml/volume';
import { checkTransferOptions, downloadToFile, uploadFromFile, VolumeReadable, VolumeWritable, type TransferOptions } from './stream';

/** `virStorageVolGetInfo`. Sizes in bytes. */
export interface StorageVolumeInfo {
  type: StorageVolType;
  /** `file`, `block`, `dir`, `network`, `netdir`, `ploop`. */
  typeName: string;
  capacity: number;
  allocation: number;
}

function sparseArg(v: unknown): boolean {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError('options.sparse must be a boolean');
  return v === true;
}

/** @internal Decodes native volume info. */
export function volumeInfo(i: { type: number; capacity: number; allocation: number }): StorageVolumeInfo {
  return { type: i.type, typeName: shortName(StorageVolType, i.type, 'VIR_STORAGE_VOL_'), capacity: i.capacity, allocation: i.allocation };
}

/** A volume listed together with its info and path (`StoragePool.listVolumesWithInfo`). */
export interface StorageVolumeListing {
  volume: StorageVolume;
  path: string;
  info: StorageVolumeInfo;
}

export class StorageVolume {
  readonly #native: NativeStorageVol;
  readonly #hub: EventHub | null;
  /** The volume's name within its pool. */
  readonly name: string;
  /** The volume's key: unique on the host (often its path). */
  readonly key: string;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeStorageVol, hub: EventHub | null = null) {
    this.#hub = hub;
    this.#native = handle;
    this.name = handle.getName();
    this.key = handle.getKey();
  }

  /** `virStorageVolGetPath`: where the volume lives on the host. */
  path(): Promise<string> {
    return settle(this.#native.getPath(), 'StorageVolume.path');
  }

  /** @internal The native handle, for other lib/ modules. */
  get _native(): NativeStorageVol {
    return this.#native;
  }

  /**
   * `virStorageVolGetInfo`; with `{ physical: true }`, `virStorageVolGetInfoFlags` with
   * `VIR_STORAGE_VOL_GET_PHYSICAL` (allocation is then the host's physical size).
   */
  async info(options?: { physical?: boolean }): Promise<StorageVolumeInfo> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('options must be an object');
    const i = options?.physical
      ? await settle(this.#native.getInfoFlags(StorageVolInfoFlags.VIR_STORAGE_VOL_GET_PHYSICAL), 'StorageVolume.info')
      : await settle(this.#native.getInfo(), 'StorageVolume.info');
    return volumeInfo(i);
  }

  /** `virStorageVolGetXMLDesc`. */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'StorageVolume.getXML');
  }

  /** The definition, typed (`virStorageVolGetXMLDesc` parsed). */
  async describe(): Promise<StorageVolumeDefinition> {
    return parseVolumeXml(await this.getXML());
  }

  /** `virStorageVolDelete`: removes the volume and its data (`StorageVolDeleteFlags`). */
  async delete(flags?: number): Promise<void> {
    return settle(this.#native.delete(flagsArg(flags)), 'StorageVolume.delete');
  }

  /**
   * `virStorageVolWipe` (zeroes), or `virStorageVolWipePattern` with a
   * `StorageVolWipeAlgorithm` (NNSA, DoD, Gutmann, random…).
   */
  async wipe(algorithm?: StorageVolWipeAlgorithm): Promise<void> {
    if (algorithm === undefined || algorithm === StorageVolWipeAlgorithm.VIR_STORAGE_VOL_WIPE_ALG_ZERO)
      return settle(this.#native.wipe(0), 'StorageVolume.wipe');
    if (typeof algorithm !== 'number' || !(algorithm in StorageVolWipeAlgorithm)) throw new TypeError('algorithm must be a StorageVolWipeAlgorithm');
    return settle(this.#native.wipePattern(algorithm, 0), 'StorageVolume.wipe');
  }

  /** `virStorageVolResize`: new capacity in bytes (`StorageVolResizeFlags`: DELTA, SHRINK,
   * ALLOCATE). */
  async resize(capacity: number, flags?: number): Promise<void> {
    if (typeof capacity !== 'number' || !Number.isSafeInteger(capacity) || capacity < 0)
      throw new TypeError('capacity must be a non-negative safe integer (bytes)');
    return settle(this.#native.resize(capacity, flagsArg(flags)), 'StorageVolume.resize');
  }

  /**
   * `virStorageVolDownload`: the volume's content as a Readable (backpressure: one libvirt
   * call per chunk read). Emits `progress` `{ bytes }`; `signal` aborts it.
   *
   * For the fastest transfer of a whole volume to disk use {@link downloadToFile}.
   */
  download(options?: TransferOptions & { sparse?: boolean; flags?: number }): VolumeReadable {
    const opts = checkTransferOptions(options);
    const sparse = sparseArg(options?.sparse);
    const flags = flagsArg(options?.flags) | (sparse ? StorageVolDownloadFlags.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM : 0);
    return new VolumeReadable(() => settle(this.#native.download(opts.offset, opts.length, flags), 'StorageVolume.download'), opts, sparse);
  }

  /**
   * Downloads the volume into `file` (created or truncated). With `sparse`, the volume's holes
   * are not sent over the connection and stay holes in the file. Resolves to the size written.
   *
   * Over a daemon connection, start libvirt's event loop before connecting
   * (`startEventLoop()`, as virsh does) so that libvirt reads the stream in the background:
   * 1 GiB here went from 630–806 MB/s to 913–1474 MB/s, on a par with `virsh vol-download`.
   */
  async downloadToFile(file: string, options?: TransferOptions & { sparse?: boolean }): Promise<number> {
    if (typeof file !== 'string') throw new TypeError('file must be a path');
    const opts = checkTransferOptions(options);
    const sparse = sparseArg(options?.sparse);
    const flags = sparse ? StorageVolDownloadFlags.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM : 0;
    return downloadToFile(() => settle(this.#native.download(opts.offset, opts.length, flags), 'StorageVolume.downloadToFile'), file, opts, sparse);
  }

  /**
   * `virStorageVolUpload`: a Writable into the volume; `finish` means libvirt has all of it
   * (`virStreamFinish`). Emits `progress` `{ bytes }`; `signal` aborts it. With `sparse`,
   * all-zero chunks are sent as holes and the volume stays sparse.
   */
  upload(options?: TransferOptions & { sparse?: boolean; flags?: number }): VolumeWritable {
    const opts = checkTransferOptions(options);
    const sparse = sparseArg(options?.sparse);
    const flags = flagsArg(options?.flags) | (sparse ? StorageVolUploadFlags.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM : 0);
    return new VolumeWritable(() => settle(this.#native.upload(opts.offset, opts.length, flags), 'StorageVolume.upload'), opts, sparse);
  }

  /**
   * Uploads a file into the volume (`length` defaults to the file's size), reading
   * `chunkSize` (default 1 MiB here) at a time; with `sparse`, all-zero chunks are sent as
   * holes. Resolves to the bytes sent.
   */
  async uploadFromFile(file: string, options?: TransferOptions & { sparse?: boolean }): Promise<number> {
    if (typeof file !== 'string') throw new TypeError('file must be a path');
    const opts = checkTransferOptions({ chunkSize: 1024 * 1024, ...options });
    const sparse = sparseArg(options?.sparse);
    const flags = sparse ? StorageVolUploadFlags.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM : 0;
    return uploadFromFile(
      () => settle(this.#native.upload(opts.offset, opts.length, flags), 'StorageVolume.uploadFromFile'),
      file,
      opts,
      sparse,
    );
  }

  /** `virStoragePoolLookupByVolume`: the pool this volume belongs to. */
  async pool(): Promise<StoragePool> {
    return new StoragePool(await settle(this.#native.storagePoolLookupByVolume(), 'StorageVolume.pool'), this.#hub);
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
