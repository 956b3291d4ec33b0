/**
 * Storage pools (`virStoragePool*`).
 *
 * @see https://libvirt.org/html/libvirt-libvirt-storage.html
 */
import { inspect } from 'node:util';
import { flagsArg, shortName, xmlArg } from './args';
import { StoragePoolState } from './constants';
import { LibvirtEmitter, type EventHub } from './emitter';
import { settle } from './errors';
import { POOL_EVENT_SPECS, type StoragePoolEvents } from './events';
import type { NativeStoragePool } from './native';
import { parsePoolXml, type StoragePoolDefinition } from './xml/pool';
import { buildVolumeXml, type StorageVolumeDefinition } from './xml/volume';
import { StorageVolume, volumeInfo, type StorageVolumeListing } from './storage-volume';

/** `virStoragePoolGetInfo`. Sizes in bytes. */
export interface StoragePoolInfo {
  state: StoragePoolState;
  /** `inactive`, `building`, `running`, `degraded`, `inaccessible`. */
  stateName: string;
  capacity: number;
  allocation: number;
  available: number;
}

function volumeXml(definition: StorageVolumeDefinition | string): string {
  if (typeof definition === 'string') return xmlArg(definition, 'definition');
  if (typeof definition !== 'object' || definition === null) throw new TypeError('definition must be a volume definition or an XML string');
  return buildVolumeXml(definition);
}

/** A storage pool. Events: `lifecycle`, `refresh` ({@link StoragePoolEvents}). */
export class StoragePool extends LibvirtEmitter<StoragePoolEvents> {
  readonly #native: NativeStoragePool;
  readonly name: string;
  readonly uuid: string;

  readonly #hub: EventHub | null;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeStoragePool, hub: EventHub | null = null) {
    super(POOL_EVENT_SPECS, hub, handle);
    this.#hub = hub;
    this.#native = handle;
    this.name = handle.getName();
    this.uuid = handle.getUUIDString();
  }

  /** `virStoragePoolGetInfo`. */
  async info(): Promise<StoragePoolInfo> {
    const i = await settle(this.#native.getInfo(), 'StoragePool.info');
    return {
      state: i.state,
      stateName: shortName(StoragePoolState, i.state, 'VIR_STORAGE_POOL_'),
      capacity: i.capacity,
      allocation: i.allocation,
      available: i.available,
    };
  }

  /** `virStoragePoolGetXMLDesc`. */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'StoragePool.getXML');
  }

  /** The definition, typed (`virStoragePoolGetXMLDesc` parsed; `StorageXMLFlags` e.g.
   * INACTIVE for the persistent definition of a running pool). Edit it and pass it to
   * `Connection.defineStoragePool` to update the pool: what the types do not model is kept. */
  async describe(flags?: number): Promise<StoragePoolDefinition> {
    return parsePoolXml(await this.getXML(flags));
  }

  /** `virStoragePoolIsActive`. */
  isActive(): Promise<boolean> {
    return settle(this.#native.isActive(), 'StoragePool.isActive');
  }

  /** `virStoragePoolIsPersistent`. */
  isPersistent(): Promise<boolean> {
    return settle(this.#native.isPersistent(), 'StoragePool.isPersistent');
  }

  /** `virStoragePoolGetAutostart`. */
  autostart(): Promise<boolean> {
    return settle(this.#native.getAutostart(), 'StoragePool.autostart');
  }

  /** `virStoragePoolListAllVolumes`: the pool's volumes (the pool must be active). */
  async listVolumes(flags?: number): Promise<StorageVolume[]> {
    const handles = await settle(this.#native.listAllVolumes(flagsArg(flags)), 'StoragePool.listVolumes');
    return handles.map((h) => new StorageVolume(h, this.#hub));
  }

  /** `virStoragePoolBuild`: prepares the pool's target (creates the directory, formats the
   * device…), with `StoragePoolBuildFlags`. */
  async build(flags?: number): Promise<void> {
    return settle(this.#native.build(flagsArg(flags)), 'StoragePool.build');
  }

  /** `virStoragePoolCreate`: starts an inactive pool (`virsh pool-start`), with
   * `StoragePoolCreateFlags` (e.g. build first). */
  async start(flags?: number): Promise<void> {
    return settle(this.#native.create(flagsArg(flags)), 'StoragePool.start');
  }

  /** `virStoragePoolDestroy`: stops the pool (`virsh pool-destroy`); its data is untouched.
   * A transient pool disappears. */
  destroy(): Promise<void> {
    return settle(this.#native.destroy(), 'StoragePool.destroy');
  }

  /** `virStoragePoolDelete`: deletes the pool's underlying storage (the inverse of build). */
  async delete(flags?: number): Promise<void> {
    return settle(this.#native.delete(flagsArg(flags)), 'StoragePool.delete');
  }

  /** `virStoragePoolUndefine`: removes an inactive pool's definition. */
  undefine(): Promise<void> {
    return settle(this.#native.undefine(), 'StoragePool.undefine');
  }

  /** `virStoragePoolRefresh`: rescans the pool's volumes. */
  async refresh(): Promise<void> {
    return settle(this.#native.refresh(0), 'StoragePool.refresh');
  }

  /** `virStoragePoolSetAutostart`: start the pool when libvirtd starts. */
  async setAutostart(autostart: boolean): Promise<void> {
    if (typeof autostart !== 'boolean') throw new TypeError('autostart must be a boolean');
    return settle(this.#native.setAutostart(autostart), 'StoragePool.setAutostart');
  }

  /**
   * The pool's volumes with their info and path, fetched in one native call (one thread hop
   * for the whole list instead of two per volume). A volume deleted meanwhile is left out.
   */
  async listVolumesWithInfo(flags?: number): Promise<StorageVolumeListing[]> {
    const rows = await settle(this.#native.listAllVolumesWithInfo(flagsArg(flags)), 'StoragePool.listVolumesWithInfo');
    return rows.map((r) => ({ volume: new StorageVolume(r.handle, this.#hub), path: r.path, info: volumeInfo(r.info) }));
  }

  /** `virStorageVolCreateXML`: creates a volume from a typed definition or a `<volume>`
   * document (`StorageVolCreateFlags`: PREALLOC_METADATA, REFLINK). */
  async createVolume(definition: StorageVolumeDefinition | string, flags?: number): Promise<StorageVolume> {
    const xml = volumeXml(definition);
    return new StorageVolume(await settle(this.#native.storageVolCreateXML(xml, flagsArg(flags)), 'StoragePool.createVolume'), this.#hub);
  }

  /** `virStorageVolCreateXMLFrom`: creates a volume as a copy of `source` (any pool). */
  async cloneVolume(definition: StorageVolumeDefinition | string, source: StorageVolume, flags?: number): Promise<StorageVolume> {
    const xml = volumeXml(definition);
    if (!(source instanceof StorageVolume)) throw new TypeError('source must be a StorageVolume');
    const h = await settle(this.#native.storageVolCreateXMLFrom(xml, source._native, flagsArg(flags)), 'StoragePool.cloneVolume');
    return new StorageVolume(h, this.#hub);
  }

  /** `virStorageVolLookupByName`; rejects with `VIR_ERR_NO_STORAGE_VOL` when absent. */
  async lookupVolumeByName(name: string): Promise<StorageVolume> {
    if (typeof name !== 'string') throw new TypeError('name must be a string');
    return new StorageVolume(await settle(this.#native.storageVolLookupByName(name), 'StoragePool.lookupVolumeByName'), this.#hub);
  }

  /** Same libvirt pool (UUIDs are unique on a host). */
  equals(other: unknown): boolean {
    return other instanceof StoragePool && other.uuid === this.uuid;
  }

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  [inspect.custom](): string {
    return `StoragePool { name: ${inspect(this.name)}, uuid: ${inspect(this.uuid)} }`;
  }
}
