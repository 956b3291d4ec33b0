/**
 * The native addon, typed. Internal: users never touch these objects; lib/ wraps each one.
 * Method names mirror libvirt's C functions (`getHostname` calls `virConnectGetHostname`).
 */
import bindings = require('bindings');
import type { LiveObjects } from './diagnostics';
import { LibvirtError } from './errors';
import { IscsiError } from './iscsi/errors';

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
  attachDeviceFlags(xml: string, flags: number): Promise<void>;
  detachDeviceFlags(xml: string, flags: number): Promise<void>;
  detachDeviceAlias(alias: string, flags: number): Promise<void>;
  updateDeviceFlags(xml: string, flags: number): Promise<void>;
  getBlockInfo(disk: string, flags: number): Promise<{ capacity: number; allocation: number; physical: number }>;
  blockStats(disk: string): Promise<Record<'rd_req' | 'rd_bytes' | 'wr_req' | 'wr_bytes' | 'errs', number | null>>;
  blockStatsFlags(disk: string, flags: number): Promise<NativeTypedParams>;
  blockResize(disk: string, size: number, flags: number): Promise<void>;
  interfaceStats(device: string): Promise<Record<'rx_bytes' | 'rx_packets' | 'rx_errs' | 'rx_drop' | 'tx_bytes' | 'tx_packets' | 'tx_errs' | 'tx_drop', number | null>>;
  memoryStats(flags: number): Promise<Array<[number, number]>>;
  getCPUStats(startCpu: number, ncpus: number, flags: number): Promise<NativeTypedParams[]>;
  getDiskErrors(flags: number): Promise<Array<{ disk: string; error: number }>>;
  getGuestInfo(types: number, flags: number): Promise<NativeTypedParams>;
  getFSInfo(flags: number): Promise<Array<{ mountpoint: string; name: string; fstype: string; devAlias: string[] }>>;
  interfaceAddresses(source: number, flags: number): Promise<Array<{ name: string; hwaddr: string | null; addrs: Array<{ type: number; addr: string; prefix: number }> }>>;
  getMessages(flags: number): Promise<string[]>;
  saveFlags(to: string, dxml: string | null, flags: number): Promise<void>;
  managedSaveGetXMLDesc(flags: number): Promise<string>;
  managedSaveDefineXML(dxml: string | null, flags: number): Promise<void>;
  snapshotCreateXML(xml: string, flags: number): Promise<NativeDomainSnapshot>;
  listAllSnapshots(flags: number): Promise<NativeDomainSnapshot[]>;
  snapshotLookupByName(name: string, flags: number): Promise<NativeDomainSnapshot>;
  snapshotCurrent(flags: number): Promise<NativeDomainSnapshot>;
  hasCurrentSnapshot(flags: number): Promise<boolean>;
  checkpointCreateXML(xml: string, flags: number): Promise<NativeDomainCheckpoint>;
  listAllCheckpoints(flags: number): Promise<NativeDomainCheckpoint[]>;
  checkpointLookupByName(name: string, flags: number): Promise<NativeDomainCheckpoint>;
  getMetadata(type: number, uri: string | null, flags: number): Promise<string>;
  setMetadata(type: number, metadata: string | null, key: string | null, uri: string | null, flags: number): Promise<void>;
  getTime(flags: number): Promise<{ seconds: number; nseconds: number }>;
  setTime(seconds: number, nseconds: number, flags: number): Promise<void>;
  getVcpus(): Promise<Array<{ number: number; state: number; cpuTime: number; cpu: number; affinity: number[] }>>;
  getVcpuPinInfo(flags: number): Promise<number[][]>;
  getEmulatorPinInfo(flags: number): Promise<number[]>;
  getJobInfo(): Promise<NativeJobInfo>;
  getJobStats(flags: number): Promise<{ type: number; params: NativeTypedParams }>;
  abortJobFlags(flags: number): Promise<void>;
  getSchedulerType(): Promise<{ type: string; nparams: number }>;
  getControlInfo(flags: number): Promise<{ state: number; details: number; stateTime: number }>;
  getMemoryParameters(flags: number): Promise<NativeTypedParams>;
  getBlkioParameters(flags: number): Promise<NativeTypedParams>;
  getSchedulerParametersFlags(flags: number): Promise<NativeTypedParams>;
  getNumaParameters(flags: number): Promise<NativeTypedParams>;
  getBlockIoTune(disk: string, flags: number): Promise<NativeTypedParams>;
  getInterfaceParameters(device: string, flags: number): Promise<NativeTypedParams>;
  getGuestVcpus(flags: number): Promise<NativeTypedParams>;
  getIOThreadInfo(flags: number): Promise<Array<{ id: number; cpus: number[] }>>;
  getSecurityLabel(): Promise<{ label: string; enforcing: boolean }>;
  setMaxMemory(kib: number): Promise<void>;
  setMemoryStatsPeriod(period: number, flags: number): Promise<void>;
  rename(name: string, flags: number): Promise<void>;
  injectNMI(flags: number): Promise<void>;
  sendKey(codeset: number, holdtime: number, keycodes: number[], flags: number): Promise<void>;
  coreDumpWithFormat(to: string, format: number, flags: number): Promise<void>;
  pmSuspendForDuration(target: number, duration: number, flags: number): Promise<void>;
  pmWakeup(flags: number): Promise<void>;
  fsTrim(mountPoint: string | null, minimum: number, flags: number): Promise<void>;
}

/** A virTypedParameter array as libvirt returned it: field → value. */
export type NativeTypedParams = Record<string, number | string | boolean>;

export interface NativeJobInfo {
  type: number;
  timeElapsed: number;
  timeRemaining: number;
  dataTotal: number;
  dataProcessed: number;
  dataRemaining: number;
  memTotal: number;
  memProcessed: number;
  memRemaining: number;
  fileTotal: number;
  fileProcessed: number;
  fileRemaining: number;
}

export interface NativeDomainSnapshot extends NativeHandle {
  getName(): string;
  getXMLDesc(flags: number): Promise<string>;
  getParent(flags: number): Promise<NativeDomainSnapshot>;
  listAllChildren(flags: number): Promise<NativeDomainSnapshot[]>;
  delete(flags: number): Promise<void>;
  isCurrent(flags: number): Promise<boolean>;
  hasMetadata(flags: number): Promise<boolean>;
  revert(flags: number): Promise<void>;
}

export interface NativeDomainCheckpoint extends NativeHandle {
  getName(): string;
  getXMLDesc(flags: number): Promise<string>;
  getParent(flags: number): Promise<NativeDomainCheckpoint>;
  listAllChildren(flags: number): Promise<NativeDomainCheckpoint[]>;
  delete(flags: number): Promise<void>;
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
  domainRestoreFlags(from: string, dxml: string | null, flags: number): Promise<void>;
  domainSaveImageGetXMLDesc(file: string, flags: number): Promise<string>;
  domainSaveImageDefineXML(file: string, dxml: string, flags: number): Promise<void>;
  getAllDomainStats(stats: number, flags: number): Promise<Array<{ domain: NativeDomain; params: NativeTypedParams }>>;
  domainListGetStats(domains: NativeDomain[], stats: number, flags: number): Promise<Array<{ domain: NativeDomain; params: NativeTypedParams }>>;
  getDomainCapabilities(emulatorbin: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Promise<string>;
  domainXMLFromNative(nativeFormat: string, nativeConfig: string, flags: number): Promise<string>;
  domainXMLToNative(nativeFormat: string, domainXml: string, flags: number): Promise<string>;
}

/** A logged-in libiscsi session (native/iscsi.cc). LUNs are libiscsi's 16-bit LUN numbers. */
export interface NativeIscsiSession {
  reportLuns(): Promise<number[]>;
  inquiry(lun: number): Promise<NativeIscsiInquiry>;
  inquirySerial(lun: number): Promise<string>;
  inquiryDeviceId(lun: number): Promise<NativeIscsiDesignator[]>;
  readCapacity16(lun: number): Promise<NativeIscsiCapacity>;
  readCapacity10(lun: number): Promise<NativeIscsiCapacity>;
  testUnitReady(lun: number): Promise<void>;
  read16(lun: number, lba: number, blocks: number, blockSize: number): Promise<Buffer>;
  read16Into(lun: number, lba: number, target: Uint8Array, blockSize: number): Promise<void>;
  write16(lun: number, lba: number, data: Uint8Array, blockSize: number): Promise<void>;
  logout(): Promise<void>;
  isClosed(): boolean;
}

export interface NativeIscsiInquiry {
  qualifier: number;
  deviceType: number;
  deviceTypeName: string;
  removable: boolean;
  version: number;
  vendor: string;
  product: string;
  revision: string;
}

export interface NativeIscsiDesignator {
  type: number;
  typeName: string;
  codeSet: number;
  association: number;
  associationName: string;
  protocolIdentifier: number;
  piv: boolean;
  value: Buffer;
}

export interface NativeIscsiCapacity {
  returnedLba: number;
  blockLength: number;
  lbpme?: boolean;
  lbprz?: boolean;
  lbppbe?: number;
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
  liveObjects(): LiveObjects;
  holdEvents(hold: boolean): void;
  setEventDispatcher(dispatch: (subscription: number, event: Record<string, unknown>) => void, isWorker: boolean): void;
  iscsiSetErrorClass(cls: typeof IscsiError): void;
  iscsiDiscover(
    portal: string,
    initiatorIqn: string,
    chapUser: string | null,
    chapPassword: string | null,
    timeoutMs: number,
    headerDigest: number,
  ): Promise<Array<{ target: string; portals: string[] }>>;
  iscsiConnect(
    portal: string,
    target: string,
    initiatorIqn: string,
    chapUser: string | null,
    chapPassword: string | null,
    mutualUser: string | null,
    mutualPassword: string | null,
    timeoutMs: number,
    headerDigest: number,
  ): Promise<NativeIscsiSession>;
}

// VIRTKIT_NATIVE_ADDON names another build of the addon (an absolute path): the sanitizer runs
// (scripts/test-asan.sh) load their instrumented build with it and leave build/Release alone.
const addonPath = process.env.VIRTKIT_NATIVE_ADDON;
export const native = (addonPath ? require(addonPath) : bindings('virtkit')) as NativeBinding;
native.setErrorClass(LibvirtError);
native.iscsiSetErrorClass(IscsiError);
