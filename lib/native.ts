/**
 * The native addon, typed. Internal: users never touch these objects; lib/ wraps each one.
 * Method names mirror libvirt's C functions (`getHostname` calls `virConnectGetHostname`).
 */
import bindings = require('bindings');
import { LibvirtError } from './errors';

export interface NativeNodeInfo {
  model: string;
  memory: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** Methods every child-object handle has. */
export interface NativeHandle {
  free(): void;
  isFreed(): boolean;
}

export interface NativeStoragePool extends NativeHandle {
  getName(): string;
  getUUIDString(): string;
  getInfo(): Promise<{ state: number; capacity: number; allocation: number; available: number }>;
  getXMLDesc(flags: number): Promise<string>;
  isActive(): Promise<boolean>;
  isPersistent(): Promise<boolean>;
  getAutostart(): Promise<boolean>;
  listAllVolumes(flags: number): Promise<NativeStorageVol[]>;
  build(flags: number): Promise<void>;
  create(flags: number): Promise<void>;
  delete(flags: number): Promise<void>;
  destroy(): Promise<void>;
  undefine(): Promise<void>;
  refresh(flags: number): Promise<void>;
  setAutostart(autostart: boolean): Promise<void>;
  storageVolCreateXML(xml: string, flags: number): Promise<NativeStorageVol>;
  storageVolCreateXMLFrom(xml: string, clone: NativeStorageVol, flags: number): Promise<NativeStorageVol>;
  storageVolLookupByName(name: string): Promise<NativeStorageVol>;
  listAllVolumesWithInfo(flags: number): Promise<Array<{ handle: NativeStorageVol; info: { type: number; capacity: number; allocation: number }; path: string }>>;
}

export interface NativeStorageVol extends NativeHandle {
  getName(): string;
  getKey(): string;
  getPath(): Promise<string>;
  getInfo(): Promise<{ type: number; capacity: number; allocation: number }>;
  getXMLDesc(flags: number): Promise<string>;
  storagePoolLookupByVolume(): Promise<NativeStoragePool>;
  getInfoFlags(flags: number): Promise<{ type: number; capacity: number; allocation: number }>;
  delete(flags: number): Promise<void>;
  wipe(flags: number): Promise<void>;
  wipePattern(algorithm: number, flags: number): Promise<void>;
  resize(capacity: number, flags: number): Promise<void>;
  upload(offset: number, length: number, flags: number): Promise<NativeStream>;
  download(offset: number, length: number, flags: number): Promise<NativeStream>;
}

export interface NativeStream extends NativeHandle {
  send(data: Uint8Array): Promise<number>;
  recv(max: number): Promise<Buffer | null>;
  recvFlags(max: number, flags: number): Promise<Buffer | null>;
  recvHole(flags: number): Promise<number>;
  sendHole(length: number, flags: number): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

export interface NativeDomain extends NativeHandle {
  getName(): string;
  getUUIDString(): string;
  getID(): number;
  getState(flags: number): Promise<{ state: number; reason: number }>;
  getInfo(): Promise<{ state: number; maxMem: number; memory: number; nrVirtCpu: number; cpuTime: number }>;
  getXMLDesc(flags: number): Promise<string>;
  createWithFlags(flags: number): Promise<void>;
  destroyFlags(flags: number): Promise<void>;
  shutdownFlags(flags: number): Promise<void>;
  reboot(flags: number): Promise<void>;
  reset(flags: number): Promise<void>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  undefineFlags(flags: number): Promise<void>;
  isActive(): Promise<boolean>;
  isPersistent(): Promise<boolean>;
  isUpdated(): Promise<boolean>;
  getAutostart(): Promise<boolean>;
  setAutostart(autostart: boolean): Promise<void>;
  getOSType(): Promise<string>;
  getMaxMemory(): Promise<number>;
  getMaxVcpus(): Promise<number>;
  setMemoryFlags(kib: number, flags: number): Promise<void>;
  setVcpusFlags(vcpus: number, flags: number): Promise<void>;
  getVcpusFlags(flags: number): Promise<number>;
  managedSave(flags: number): Promise<void>;
  hasManagedSaveImage(flags: number): Promise<boolean>;
  managedSaveRemove(flags: number): Promise<void>;
  getHostname(flags: number): Promise<string>;
}

export interface NativeSecret extends NativeHandle {
  getUUIDString(): string;
  getUsageType(): number;
  getUsageID(): string;
  getXMLDesc(flags: number): Promise<string>;
  setValue(value: Uint8Array, flags: number): Promise<void>;
  getValue(flags: number): Promise<Buffer>;
  undefine(): Promise<void>;
}

export interface NativeConnect {
  close(): Promise<void>;
  isClosed(): boolean;
  isAlive(): Promise<boolean>;
  isSecure(): Promise<boolean>;
  isEncrypted(): Promise<boolean>;
  getURI(): Promise<string>;
  getHostname(): Promise<string>;
  getType(): Promise<string>;
  getVersion(): Promise<number>;
  getLibVersion(): Promise<number>;
  getCapabilities(): Promise<string>;
  getSysinfo(flags: number): Promise<string>;
  getMaxVcpus(type: string | null): Promise<number>;
  nodeGetInfo(): Promise<NativeNodeInfo>;
  setKeepAlive(interval: number, count: number): Promise<boolean>;
  listAllStoragePools(flags: number): Promise<NativeStoragePool[]>;
  listAllDomains(flags: number): Promise<NativeDomain[]>;
  storagePoolLookupByName(name: string): Promise<NativeStoragePool>;
  storagePoolLookupByUUIDString(uuid: string): Promise<NativeStoragePool>;
  domainLookupByName(name: string): Promise<NativeDomain>;
  domainLookupByUUIDString(uuid: string): Promise<NativeDomain>;
  domainLookupByID(id: number): Promise<NativeDomain>;
  domainDefineXMLFlags(xml: string, flags: number): Promise<NativeDomain>;
  domainCreateXML(xml: string, flags: number): Promise<NativeDomain>;
  listAllSecrets(flags: number): Promise<NativeSecret[]>;
  storagePoolDefineXML(xml: string, flags: number): Promise<NativeStoragePool>;
  storageVolLookupByKey(key: string): Promise<NativeStorageVol>;
  storageVolLookupByPath(path: string): Promise<NativeStorageVol>;
  storagePoolCreateXML(xml: string, flags: number): Promise<NativeStoragePool>;
  storagePoolLookupByTargetPath(path: string): Promise<NativeStoragePool>;
  findStoragePoolSources(type: string, srcSpec: string | null, flags: number): Promise<string>;
  getStoragePoolCapabilities(flags: number): Promise<string>;
  secretDefineXML(xml: string, flags: number): Promise<NativeSecret>;
  secretLookupByUUIDString(uuid: string): Promise<NativeSecret>;
  secretLookupByUsage(usageType: number, usageID: string): Promise<NativeSecret>;
  domainEventRegisterAny(eventId: number, domain: NativeHandle | null, subscription: number): Promise<number>;
  domainEventDeregisterAny(callbackId: number): Promise<void>;
  storagePoolEventRegisterAny(eventId: number, pool: NativeHandle | null, subscription: number): Promise<number>;
  storagePoolEventDeregisterAny(callbackId: number): Promise<void>;
  secretEventRegisterAny(eventId: number, secret: NativeHandle | null, subscription: number): Promise<number>;
  secretEventDeregisterAny(callbackId: number): Promise<void>;
  registerCloseCallback(subscription: number): Promise<void>;
  unregisterCloseCallback(): Promise<void>;
}

export interface NativeBinding {
  setErrorClass(cls: typeof LibvirtError): void;
  getVersion(): number;
  openConnect(
    uri: string | null,
    flags: number,
    username: string | null,
    password: string | null,
  ): Promise<NativeConnect>;
  startEventLoop(): void;
  eventLoopRunning(): boolean;
  holdEvents(hold: boolean): void;
  setEventDispatcher(dispatch: (subscription: number, event: Record<string, unknown>) => void): void;
}

export const native = bindings('virtkit') as NativeBinding;
native.setErrorClass(LibvirtError);
