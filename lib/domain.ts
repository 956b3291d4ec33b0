/**
 * Domains (guests), `virDomain*`.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-domain.html
 */
import { inspect } from 'node:util';
import { flagsArg, shortName, stringArg, xmlArg } from './args';
import {
  DomainBlockResizeFlags, DomainControlState, DomainDiskErrorCode, DomainJobType, DomainMemoryStatTags, DomainMetadataType, DomainState,
  IPAddrType, TypedParameterFlags, VcpuState,
} from './constants';
import { DomainCheckpoint } from './domain-checkpoint';
import { DomainSnapshot } from './domain-snapshot';
import { LibvirtEmitter, type EventHub } from './emitter';
import { settle } from './errors';
import { DOMAIN_EVENT_SPECS, type DomainEvents } from './events';
import type { NativeDomain } from './native';

/** `VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`: the memory parameter value (KiB) meaning no limit. */
export const MEMORY_PARAM_UNLIMITED = 2 ** 53 - 1;

/** `virDomainGetState`. */
export interface DomainStateInfo {
  state: DomainState;
  /** `running`, `blocked`, `paused`, `shutdown`, `shutoff`, `crashed`, `pmsuspended`, `nostate`. */
  stateName: string;
  /** A `virDomain<State>Reason` value for the state. */
  reason: number;
}

/** `virDomainGetInfo`. */
export interface DomainInfo {
  state: DomainState;
  stateName: string;
  /** Maximum memory in KiB. */
  maxMemoryKiB: number;
  /** Current memory in KiB. */
  memoryKiB: number;
  vcpus: number;
  /** CPU time used, in nanoseconds. */
  cpuTimeNs: number;
}

/** Typed parameters as libvirt returned them (`virTypedParameter` arrays): field name → value.
 * Integers of every width are Numbers (exact below 2^53), booleans Booleans. */
export type TypedParams = Record<string, number | string | boolean>;

/** `virDomainGetBlockInfo`, in bytes. */
export interface BlockInfo {
  /** Logical size: what the guest sees. */
  capacity: number;
  /** Host storage in use by the image (highest allocated extent, like `du`). */
  allocation: number;
  /** Host size of the image container (like `ls`; the device size for block devices). */
  physical: number;
}

/** `virDomainBlockStats`. A field the hypervisor does not report is null. */
export interface BlockStats {
  readRequests: number | null;
  readBytes: number | null;
  writeRequests: number | null;
  writeBytes: number | null;
  errors: number | null;
}

/** `virDomainInterfaceStats`. A field the hypervisor does not report is null. */
export interface InterfaceStats {
  rxBytes: number | null;
  rxPackets: number | null;
  rxErrors: number | null;
  rxDrops: number | null;
  txBytes: number | null;
  txPackets: number | null;
  txErrors: number | null;
  txDrops: number | null;
}

/** `virDomainMemoryStats`, by `VIR_DOMAIN_MEMORY_STAT_*` tag. Only what the hypervisor (and
 * the guest's balloon driver) reports is present. */
export interface MemoryStats {
  /** SWAP_IN: memory swapped in, KiB. */
  swapInKiB?: number;
  /** SWAP_OUT: memory swapped out, KiB. */
  swapOutKiB?: number;
  /** MAJOR_FAULT: page faults that needed disk I/O. */
  majorFaults?: number;
  /** MINOR_FAULT: page faults served from memory. */
  minorFaults?: number;
  /** UNUSED: memory the guest leaves unused, KiB. */
  unusedKiB?: number;
  /** AVAILABLE: memory the guest sees, KiB. */
  availableKiB?: number;
  /** ACTUAL_BALLOON: current balloon size, KiB. */
  actualBalloonKiB?: number;
  /** RSS: resident set size of the hypervisor process, KiB. */
  rssKiB?: number;
  /** USABLE: memory the guest could use without swapping, KiB. */
  usableKiB?: number;
  /** LAST_UPDATE: when the guest last updated these, seconds since the epoch. */
  lastUpdateSeconds?: number;
  /** DISK_CACHES: memory the guest can reclaim from caches, KiB. */
  diskCachesKiB?: number;
  /** HUGETLB_PGALLOC: huge page allocations in the guest. */
  hugetlbPageAllocations?: number;
  /** HUGETLB_PGFAIL: failed huge page allocations in the guest. */
  hugetlbPageFailures?: number;
}

/** `virDomainGetCPUStats`, in nanoseconds. Only what the hypervisor reports is present
 * (per host CPU, usually just `cpuTimeNs`, and `vcpuTimeNs` on QEMU). */
export interface CpuStats {
  /** `cpu_time`: CPU time used by the domain (all its threads). */
  cpuTimeNs?: number;
  /** `user_time`. */
  userTimeNs?: number;
  /** `system_time`. */
  systemTimeNs?: number;
  /** `vcpu_time`: time spent running vCPUs. */
  vcpuTimeNs?: number;
  /** Every parameter libvirt returned, by its own name. */
  params: TypedParams;
}

/** `virDomainGetDiskErrors`: one disk with an I/O error. */
export interface DiskError {
  /** The disk's target, e.g. `vda`. */
  disk: string;
  error: DomainDiskErrorCode;
  /** `none`, `unspec`, `no_space`. */
  errorName: string;
}

/** `virDomainGetFSInfo`: a mounted guest file system (guest agent). */
export interface FileSystemInfo {
  mountpoint: string;
  /** Device name in the guest, e.g. `sda1`. */
  name: string;
  fstype: string;
  /** Aliases of the disks the file system is on, e.g. `['virtio-disk0']`. */
  devAliases: string[];
}

/** `virDomainInterfaceAddresses`. */
export interface InterfaceAddresses {
  name: string;
  /** MAC address, if known. */
  hwaddr: string | null;
  addresses: Array<{ type: IPAddrType; typeName: 'ipv4' | 'ipv6' | string; address: string; prefix: number }>;
}

/** `virDomainGetVcpus`: one vCPU. */
export interface VcpuInfo {
  number: number;
  state: VcpuState;
  /** `offline`, `running`, `blocked`. */
  stateName: string;
  cpuTimeNs: number;
  /** The host CPU it runs on now (-1 when offline). */
  cpu: number;
  /** Host CPUs it may run on. */
  affinity: number[];
}

/** `virDomainGetJobInfo`. Times in milliseconds, data in bytes. */
export interface JobInfo {
  type: DomainJobType;
  /** `none`, `bounded`, `unbounded`, `completed`, `failed`, `cancelled`. */
  typeName: string;
  timeElapsedMs: number;
  timeRemainingMs: number;
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

/** `virDomainGetJobStats`. */
export interface JobStats {
  type: DomainJobType;
  typeName: string;
  /** `time_elapsed`, `data_total`, … (`VIR_DOMAIN_JOB_*` field names). */
  params: TypedParams;
}

/** `virDomainGetControlInfo`. */
export interface ControlInfo {
  state: DomainControlState;
  /** `ok`, `job`, `occupied`, `error`. */
  stateName: string;
  /** A `DomainControlErrorReason` when the state is `error`. */
  details: number;
  /** How long the monitor has been in this state, ms (0 for `ok` and `error`). */
  stateTimeMs: number;
}

/** One record of `Connection.getAllDomainStats()` / `domainStats()`. */
export interface DomainStatsRecord {
  domain: Domain;
  /** `state.state`, `cpu.time`, `balloon.current`, `block.0.rd.bytes`, … */
  stats: TypedParams;
}

const stateName = (s: number) => shortName(DomainState, s, 'VIR_DOMAIN_');

/** A non-negative whole number (bytes, KiB, seconds) exact in a double. */
function sizeArg(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`${what} must be a non-negative integer`);
  return v;
}

/** An integer in [min, max] (default: unsigned int). */
function intArg(v: unknown, what: string, min: number, max = 2 ** 32 - 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer`);
  if (v < min || v > max) throw new RangeError(`${what} is out of range`);
  return v;
}

function optionsArg<T extends object>(options: T | undefined): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  return options;
}

/** Flags for a typed-parameter getter: strings allowed (blkio device weights, NUMA node sets). */
const stringOkay = (flags: unknown) => (flagsArg(flags) | TypedParameterFlags.VIR_TYPED_PARAM_STRING_OKAY) >>> 0;

const MEMORY_STAT_NAMES: Record<number, keyof MemoryStats> = {
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_SWAP_IN]: 'swapInKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_SWAP_OUT]: 'swapOutKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT]: 'majorFaults',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT]: 'minorFaults',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_UNUSED]: 'unusedKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_AVAILABLE]: 'availableKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON]: 'actualBalloonKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_RSS]: 'rssKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_USABLE]: 'usableKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE]: 'lastUpdateSeconds',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_DISK_CACHES]: 'diskCachesKiB',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC]: 'hugetlbPageAllocations',
  [DomainMemoryStatTags.VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL]: 'hugetlbPageFailures',
};

function cpuStats(p: TypedParams): CpuStats {
  const out: CpuStats = { params: p };
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : undefined);
  if (num('cpu_time') !== undefined) out.cpuTimeNs = num('cpu_time');
  if (num('user_time') !== undefined) out.userTimeNs = num('user_time');
  if (num('system_time') !== undefined) out.systemTimeNs = num('system_time');
  if (num('vcpu_time') !== undefined) out.vcpuTimeNs = num('vcpu_time');
  return out;
}

/**
 * A domain (guest). Its events (`lifecycle`, `device-added`, `io-error`… see
 * {@link DomainEvents}) are subscribed on demand: `dom.on('lifecycle', …)`,
 * `for await (const e of dom.events('lifecycle'))`.
 */
export class Domain extends LibvirtEmitter<DomainEvents> {
  readonly #native: NativeDomain;
  readonly name: string;
  readonly uuid: string;
  /** The hypervisor's id while it runs; null when it was inactive when looked up. */
  readonly id: number | null;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeDomain, hub: EventHub | null = null) {
    super(DOMAIN_EVENT_SPECS, hub, handle);
    this.#native = handle;
    this.name = handle.getName();
    this.uuid = handle.getUUIDString();
    const id = handle.getID();
    this.id = id < 0 ? null : id;
  }

  /** `virDomainGetState`. */
  async state(): Promise<DomainStateInfo> {
    const s = await settle(this.#native.getState(0), 'Domain.state');
    return { state: s.state, stateName: stateName(s.state), reason: s.reason };
  }

  /** `virDomainGetInfo`. */
  async info(): Promise<DomainInfo> {
    const i = await settle(this.#native.getInfo(), 'Domain.info');
    return {
      state: i.state,
      stateName: stateName(i.state),
      maxMemoryKiB: i.maxMem,
      memoryKiB: i.memory,
      vcpus: i.nrVirtCpu,
      cpuTimeNs: i.cpuTime,
    };
  }

  /** `virDomainGetXMLDesc`. */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'Domain.getXML');
  }

  /** `virDomainCreateWithFlags`: starts a defined domain (`DomainCreateFlags`: PAUSED,
   * AUTODESTROY, BYPASS_CACHE, FORCE_BOOT…). A managed-save image is restored. */
  async start(flags?: number): Promise<void> {
    return settle(this.#native.createWithFlags(flagsArg(flags)), 'Domain.start');
  }

  /** `virDomainShutdownFlags`: asks the guest to shut down (`DomainShutdownFlagValues`). */
  async shutdown(flags?: number): Promise<void> {
    return settle(this.#native.shutdownFlags(flagsArg(flags)), 'Domain.shutdown');
  }

  /** `virDomainDestroyFlags`: stops the domain at once, like pulling the plug
   * (`DomainDestroyFlagsValues`: GRACEFUL). A transient domain disappears. */
  async destroy(flags?: number): Promise<void> {
    return settle(this.#native.destroyFlags(flagsArg(flags)), 'Domain.destroy');
  }

  /** `virDomainReboot` (`DomainRebootFlagValues`). */
  async reboot(flags?: number): Promise<void> {
    return settle(this.#native.reboot(flagsArg(flags)), 'Domain.reboot');
  }

  /** `virDomainReset`: a hard reset, no guest involvement. */
  reset(): Promise<void> {
    return settle(this.#native.reset(0), 'Domain.reset');
  }

  /** `virDomainSuspend`: pauses the vCPUs. */
  suspend(): Promise<void> {
    return settle(this.#native.suspend(), 'Domain.suspend');
  }

  /** `virDomainResume`. */
  resume(): Promise<void> {
    return settle(this.#native.resume(), 'Domain.resume');
  }

  /** `virDomainUndefineFlags` (`DomainUndefineFlagsValues`: MANAGED_SAVE,
   * SNAPSHOTS_METADATA, NVRAM, KEEP_NVRAM, CHECKPOINTS_METADATA). */
  async undefine(flags?: number): Promise<void> {
    return settle(this.#native.undefineFlags(flagsArg(flags)), 'Domain.undefine');
  }

  /** `virDomainIsActive`. */
  isActive(): Promise<boolean> {
    return settle(this.#native.isActive(), 'Domain.isActive');
  }

  /** `virDomainIsPersistent`. */
  isPersistent(): Promise<boolean> {
    return settle(this.#native.isPersistent(), 'Domain.isPersistent');
  }

  /** `virDomainIsUpdated`: the running config differs from the persistent one. */
  isUpdated(): Promise<boolean> {
    return settle(this.#native.isUpdated(), 'Domain.isUpdated');
  }

  /** `virDomainGetAutostart`. */
  autostart(): Promise<boolean> {
    return settle(this.#native.getAutostart(), 'Domain.autostart');
  }

  /** `virDomainSetAutostart`. */
  async setAutostart(autostart: boolean): Promise<void> {
    if (typeof autostart !== 'boolean') throw new TypeError('autostart must be a boolean');
    return settle(this.#native.setAutostart(autostart), 'Domain.setAutostart');
  }

  /** `virDomainGetOSType`: `hvm`, `xen`, `exe`… */
  osType(): Promise<string> {
    return settle(this.#native.getOSType(), 'Domain.osType');
  }

  /** `virDomainGetMaxMemory`, in KiB. */
  maxMemoryKiB(): Promise<number> {
    return settle(this.#native.getMaxMemory(), 'Domain.maxMemoryKiB');
  }

  /** `virDomainGetMaxVcpus`. */
  maxVcpus(): Promise<number> {
    return settle(this.#native.getMaxVcpus(), 'Domain.maxVcpus');
  }

  /** `virDomainSetMemoryFlags`: memory in KiB (`DomainMemoryModFlags`: LIVE, CONFIG,
   * MAXIMUM). */
  async setMemory(kib: number, flags?: number): Promise<void> {
    if (typeof kib !== 'number' || !Number.isSafeInteger(kib) || kib < 0) throw new TypeError('memory must be a non-negative integer (KiB)');
    return settle(this.#native.setMemoryFlags(kib, flagsArg(flags)), 'Domain.setMemory');
  }

  /** `virDomainSetVcpusFlags` (`DomainVcpuFlags`: LIVE, CONFIG, MAXIMUM, GUEST…). */
  async setVcpus(vcpus: number, flags?: number): Promise<void> {
    if (typeof vcpus !== 'number' || !Number.isInteger(vcpus) || vcpus < 1 || vcpus > 2 ** 32 - 1) throw new TypeError('vcpus must be a positive integer');
    return settle(this.#native.setVcpusFlags(vcpus, flagsArg(flags)), 'Domain.setVcpus');
  }

  /** `virDomainGetVcpusFlags`: the vCPU count for `DomainVcpuFlags`. */
  async vcpus(flags?: number): Promise<number> {
    return settle(this.#native.getVcpusFlags(flagsArg(flags)), 'Domain.vcpus');
  }

  /** `virDomainManagedSave`: saves the running guest's state to libvirt's own file and stops
   * it; the next `start()` restores it. */
  async managedSave(flags?: number): Promise<void> {
    return settle(this.#native.managedSave(flagsArg(flags)), 'Domain.managedSave');
  }

  /** `virDomainHasManagedSaveImage`. */
  hasManagedSaveImage(): Promise<boolean> {
    return settle(this.#native.hasManagedSaveImage(0), 'Domain.hasManagedSaveImage');
  }

  /** `virDomainManagedSaveRemove`. */
  removeManagedSave(): Promise<void> {
    return settle(this.#native.managedSaveRemove(0), 'Domain.removeManagedSave');
  }

  /** `virDomainGetHostname` (`DomainGetHostnameFlags`: AGENT, LEASE). Without a guest agent,
   * a typed error. */
  async hostname(flags?: number): Promise<string> {
    return settle(this.#native.getHostname(flagsArg(flags)), 'Domain.hostname');
  }

  // ---- Devices ------------------------------------------------------------------------------

  /** `virDomainAttachDeviceFlags`: adds a device from its XML (`<disk>`, `<interface>`, …)
   * (`DomainDeviceModifyFlags`: LIVE, CONFIG, CURRENT; 0 means CURRENT). */
  async attachDevice(xml: string, flags?: number): Promise<void> {
    return settle(this.#native.attachDeviceFlags(xmlArg(xml, 'xml'), flagsArg(flags)), 'Domain.attachDevice');
  }

  /** `virDomainDetachDeviceFlags`: removes the device the XML describes (`DomainDeviceModifyFlags`).
   * A live detach asks the guest; it may finish after this resolves. */
  async detachDevice(xml: string, flags?: number): Promise<void> {
    return settle(this.#native.detachDeviceFlags(xmlArg(xml, 'xml'), flagsArg(flags)), 'Domain.detachDevice');
  }

  /** `virDomainDetachDeviceAlias`: removes the device with this alias (`ua-…` user aliases or
   * libvirt's own, e.g. `virtio-disk1`). */
  async detachDeviceAlias(alias: string, flags?: number): Promise<void> {
    return settle(this.#native.detachDeviceAlias(stringArg(alias, 'alias'), flagsArg(flags)), 'Domain.detachDeviceAlias');
  }

  /** `virDomainUpdateDeviceFlags`: changes a device in place, e.g. a CD-ROM's media
   * (`DomainDeviceModifyFlags`: LIVE, CONFIG, FORCE). */
  async updateDevice(xml: string, flags?: number): Promise<void> {
    return settle(this.#native.updateDeviceFlags(xmlArg(xml, 'xml'), flagsArg(flags)), 'Domain.updateDevice');
  }

  // ---- Block devices, interfaces, memory and CPU statistics ---------------------------------

  /** `virDomainGetBlockInfo`: sizes of a disk (its target, e.g. `vda`, or its source path), in bytes. */
  async blockInfo(disk: string): Promise<BlockInfo> {
    return settle(this.#native.getBlockInfo(stringArg(disk, 'disk'), 0), 'Domain.blockInfo');
  }

  /** `virDomainBlockStats`: I/O counters of a disk (target or source path) of a running domain. */
  async blockStats(disk: string): Promise<BlockStats> {
    const s = await settle(this.#native.blockStats(stringArg(disk, 'disk')), 'Domain.blockStats');
    return { readRequests: s.rd_req, readBytes: s.rd_bytes, writeRequests: s.wr_req, writeBytes: s.wr_bytes, errors: s.errs };
  }

  /** `virDomainBlockStatsFlags`: every counter the hypervisor has for the disk, by libvirt's
   * field name (`rd_operations`, `rd_bytes`, `rd_total_times`, `flush_operations`, …). */
  async blockStatsParameters(disk: string): Promise<TypedParams> {
    return settle(this.#native.blockStatsFlags(stringArg(disk, 'disk'), TypedParameterFlags.VIR_TYPED_PARAM_STRING_OKAY), 'Domain.blockStatsParameters');
  }

  /** `virDomainBlockResize` with `VIR_DOMAIN_BLOCK_RESIZE_BYTES`: grows (or shrinks) a disk of
   * a running domain to `sizeBytes`. */
  async blockResize(disk: string, sizeBytes: number): Promise<void> {
    return settle(
      this.#native.blockResize(stringArg(disk, 'disk'), sizeArg(sizeBytes, 'sizeBytes'), DomainBlockResizeFlags.VIR_DOMAIN_BLOCK_RESIZE_BYTES),
      'Domain.blockResize',
    );
  }

  /** `virDomainInterfaceStats`: counters of a guest NIC (its target device, e.g. `vnet0`, or its MAC). */
  async interfaceStats(device: string): Promise<InterfaceStats> {
    const s = await settle(this.#native.interfaceStats(stringArg(device, 'device')), 'Domain.interfaceStats');
    return {
      rxBytes: s.rx_bytes, rxPackets: s.rx_packets, rxErrors: s.rx_errs, rxDrops: s.rx_drop,
      txBytes: s.tx_bytes, txPackets: s.tx_packets, txErrors: s.tx_errs, txDrops: s.tx_drop,
    };
  }

  /** `virDomainMemoryStats`: memory statistics by name (see `MemoryStats`). */
  async memoryStats(): Promise<MemoryStats> {
    const pairs = await settle(this.#native.memoryStats(0), 'Domain.memoryStats');
    const out: MemoryStats = {};
    for (const [tag, value] of pairs) {
      const key = MEMORY_STAT_NAMES[tag];
      if (key) out[key] = value;
    }
    return out;
  }

  /** `virDomainGetCPUStats` for the whole domain (start_cpu -1). */
  async cpuStats(): Promise<CpuStats> {
    const [total] = await settle(this.#native.getCPUStats(-1, 1, 0), 'Domain.cpuStats');
    return cpuStats(total ?? {});
  }

  /** `virDomainGetCPUStats` per host CPU: one entry per CPU from `startCpu` (default 0),
   * `count` of them (default: all). Index i is host CPU `startCpu + i`. */
  async perCpuStats(startCpu = 0, count = 0): Promise<CpuStats[]> {
    const list = await settle(this.#native.getCPUStats(intArg(startCpu, 'startCpu', 0), intArg(count, 'count', 0), 0), 'Domain.perCpuStats');
    return list.map(cpuStats);
  }

  /** `virDomainGetDiskErrors`: disks that hit an I/O error (empty when none). */
  async diskErrors(): Promise<DiskError[]> {
    const list = await settle(this.#native.getDiskErrors(0), 'Domain.diskErrors');
    return list.map((e) => ({ disk: e.disk, error: e.error, errorName: shortName(DomainDiskErrorCode, e.error, 'VIR_DOMAIN_DISK_ERROR_') }));
  }

  /** `virDomainGetGuestInfo`: what the guest agent reports (`DomainGuestInfoTypes`: USERS, OS,
   * TIMEZONE, HOSTNAME, FILESYSTEM, DISKS, INTERFACES; 0 for all), flat as libvirt names it
   * (`os.id`, `user.count`, `fs.0.mountpoint`, …). Without an agent, a `LibvirtError`
   * (`VIR_ERR_ARGUMENT_UNSUPPORTED` when no agent channel is configured, `VIR_ERR_AGENT_UNRESPONSIVE`
   * when it does not answer). */
  async guestInfo(types?: number): Promise<TypedParams> {
    return settle(this.#native.getGuestInfo(flagsArg(types, 'types'), 0), 'Domain.guestInfo');
  }

  /** `virDomainGetFSInfo`: the guest's mounted file systems (guest agent). */
  async fsInfo(): Promise<FileSystemInfo[]> {
    const list = await settle(this.#native.getFSInfo(0), 'Domain.fsInfo');
    return list.map((f) => ({ mountpoint: f.mountpoint, name: f.name, fstype: f.fstype, devAliases: f.devAlias }));
  }

  /** `virDomainInterfaceAddresses`: the guest's IP addresses, from `source`
   * (`DomainInterfaceAddressesSource`: LEASE (default: libvirt's DHCP leases), AGENT, ARP). */
  async interfaceAddresses(source?: number): Promise<InterfaceAddresses[]> {
    const list = await settle(this.#native.interfaceAddresses(flagsArg(source, 'source'), 0), 'Domain.interfaceAddresses');
    return list.map((i) => ({
      name: i.name,
      hwaddr: i.hwaddr,
      addresses: i.addrs.map((a) => ({ type: a.type, typeName: shortName(IPAddrType, a.type, 'VIR_IP_ADDR_TYPE_'), address: a.addr, prefix: a.prefix })),
    }));
  }

  /** `virDomainGetMessages`: deprecation and tainting messages the hypervisor recorded
   * (`DomainMessageType`: DEPRECATION, TAINTING; 0 for all). */
  async messages(types?: number): Promise<string[]> {
    return settle(this.#native.getMessages(flagsArg(types, 'types')), 'Domain.messages');
  }

  // ---- Save images --------------------------------------------------------------------------

  /** `virDomainSaveFlags`: saves the running domain's memory to `path` (on the daemon's host)
   * and stops it; `Connection.restoreDomain(path)` brings it back. `options.xml` replaces the
   * domain XML stored in the image (only host-side details may differ);
   * `options.flags`: `DomainSaveRestoreFlags` (BYPASS_CACHE, RUNNING, PAUSED). */
  async save(path: string, options?: { xml?: string; flags?: number }): Promise<void> {
    const o = optionsArg(options);
    const xml = o.xml === undefined ? null : xmlArg(o.xml, 'options.xml');
    return settle(this.#native.saveFlags(stringArg(path, 'path'), xml, flagsArg(o.flags, 'options.flags')), 'Domain.save');
  }

  /** `virDomainManagedSaveGetXMLDesc`: the domain XML stored in the managed-save image
   * (`DomainSaveImageXMLFlags`: SECURE). */
  async managedSaveXML(flags?: number): Promise<string> {
    return settle(this.#native.managedSaveGetXMLDesc(flagsArg(flags)), 'Domain.managedSaveXML');
  }

  /** `virDomainManagedSaveDefineXML`: replaces the domain XML in the managed-save image
   * (`DomainSaveRestoreFlags`: RUNNING, PAUSED to change how it restores). */
  async defineManagedSaveXML(xml: string, flags?: number): Promise<void> {
    return settle(this.#native.managedSaveDefineXML(xmlArg(xml, 'xml'), flagsArg(flags)), 'Domain.defineManagedSaveXML');
  }

  // ---- Snapshots and checkpoints ------------------------------------------------------------

  /** `virDomainSnapshotCreateXML`: takes a snapshot described by `<domainsnapshot>` XML
   * (default: an unnamed one, libvirt picks the name and what to save)
   * (`DomainSnapshotCreateFlags`: DISK_ONLY, ATOMIC, QUIESCE, LIVE, REDEFINE, …). */
  async createSnapshot(xml = '<domainsnapshot/>', flags?: number): Promise<DomainSnapshot> {
    const h = await settle(this.#native.snapshotCreateXML(xmlArg(xml, 'xml'), flagsArg(flags)), 'Domain.createSnapshot');
    return new DomainSnapshot(h, this);
  }

  /** `virDomainListAllSnapshots` (`DomainSnapshotListFlags`: ROOTS, LEAVES, ACTIVE, INACTIVE,
   * DISK_ONLY, INTERNAL, EXTERNAL, …). */
  async listSnapshots(flags?: number): Promise<DomainSnapshot[]> {
    const handles = await settle(this.#native.listAllSnapshots(flagsArg(flags)), 'Domain.listSnapshots');
    return handles.map((h) => new DomainSnapshot(h, this));
  }

  /** `virDomainSnapshotLookupByName`; `VIR_ERR_NO_DOMAIN_SNAPSHOT` when absent. */
  async lookupSnapshot(name: string): Promise<DomainSnapshot> {
    return new DomainSnapshot(await settle(this.#native.snapshotLookupByName(stringArg(name, 'name'), 0), 'Domain.lookupSnapshot'), this);
  }

  /** `virDomainSnapshotCurrent`: the current snapshot, or null when there is none. */
  async currentSnapshot(): Promise<DomainSnapshot | null> {
    try {
      return new DomainSnapshot(await settle(this.#native.snapshotCurrent(0), 'Domain.currentSnapshot'), this);
    } catch (err) {
      if ((err as { codeName?: string }).codeName === 'VIR_ERR_NO_DOMAIN_SNAPSHOT') return null;
      throw err;
    }
  }

  /** `virDomainHasCurrentSnapshot`. */
  hasCurrentSnapshot(): Promise<boolean> {
    return settle(this.#native.hasCurrentSnapshot(0), 'Domain.hasCurrentSnapshot');
  }

  /** `virDomainCheckpointCreateXML`: a checkpoint described by `<domaincheckpoint>` XML
   * (default: unnamed, all disks that support it) (`DomainCheckpointCreateFlags`: REDEFINE,
   * QUIESCE, REDEFINE_VALIDATE). */
  async createCheckpoint(xml = '<domaincheckpoint/>', flags?: number): Promise<DomainCheckpoint> {
    const h = await settle(this.#native.checkpointCreateXML(xmlArg(xml, 'xml'), flagsArg(flags)), 'Domain.createCheckpoint');
    return new DomainCheckpoint(h, this);
  }

  /** `virDomainListAllCheckpoints` (`DomainCheckpointListFlags`: ROOTS, LEAVES, TOPOLOGICAL, …). */
  async listCheckpoints(flags?: number): Promise<DomainCheckpoint[]> {
    const handles = await settle(this.#native.listAllCheckpoints(flagsArg(flags)), 'Domain.listCheckpoints');
    return handles.map((h) => new DomainCheckpoint(h, this));
  }

  /** `virDomainCheckpointLookupByName`; `VIR_ERR_NO_DOMAIN_CHECKPOINT` when absent. */
  async lookupCheckpoint(name: string): Promise<DomainCheckpoint> {
    return new DomainCheckpoint(await settle(this.#native.checkpointLookupByName(stringArg(name, 'name'), 0), 'Domain.lookupCheckpoint'), this);
  }

  // ---- Metadata, time, vCPUs, jobs ----------------------------------------------------------

  /** `virDomainGetMetadata`: the `<title>` or `<description>`, or (type ELEMENT) the custom
   * element in namespace `uri` (`DomainMetadataType`; flags `DomainModificationImpact`).
   * `VIR_ERR_NO_DOMAIN_METADATA` when it is not set. */
  async metadata(type: DomainMetadataType, uri?: string, flags?: number): Promise<string> {
    return settle(this.#native.getMetadata(intArg(type, 'type', 0), uri === undefined ? null : stringArg(uri, 'uri'), flagsArg(flags)), 'Domain.metadata');
  }

  /** `virDomainSetMetadata`: sets (or, with null, removes) the title, description, or a custom
   * element (ELEMENT: `metadata` is the XML element, `key` its namespace prefix, `uri` its namespace). */
  async setMetadata(type: DomainMetadataType, metadata: string | null, options?: { key?: string; uri?: string; flags?: number }): Promise<void> {
    const o = optionsArg(options);
    return settle(
      this.#native.setMetadata(
        intArg(type, 'type', 0),
        metadata === null ? null : type === DomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT ? xmlArg(metadata, 'metadata') : stringArg(metadata, 'metadata'),
        o.key === undefined ? null : stringArg(o.key, 'options.key'),
        o.uri === undefined ? null : stringArg(o.uri, 'options.uri'),
        flagsArg(o.flags, 'options.flags'),
      ),
      'Domain.setMetadata',
    );
  }

  /** `virDomainGetTime`: the guest's clock (guest agent). */
  async time(): Promise<{ seconds: number; nanoseconds: number }> {
    const t = await settle(this.#native.getTime(0), 'Domain.time');
    return { seconds: t.seconds, nanoseconds: t.nseconds };
  }

  /** `virDomainSetTime`: sets the guest's clock (guest agent) (`DomainSetTimeFlags`: SYNC takes
   * the time from the guest's RTC and ignores the values). */
  async setTime(seconds: number, nanoseconds = 0, flags?: number): Promise<void> {
    if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds)) throw new TypeError('seconds must be an integer');
    return settle(this.#native.setTime(seconds, intArg(nanoseconds, 'nanoseconds', 0, 999_999_999), flagsArg(flags)), 'Domain.setTime');
  }

  /** `virDomainGetVcpus`: the running domain's vCPUs with their host CPU and affinity. */
  async vcpuInfo(): Promise<VcpuInfo[]> {
    const list = await settle(this.#native.getVcpus(), 'Domain.vcpuInfo');
    return list.map((v) => ({ number: v.number, state: v.state, stateName: shortName(VcpuState, v.state, 'VIR_VCPU_'), cpuTimeNs: v.cpuTime, cpu: v.cpu, affinity: v.affinity }));
  }

  /** `virDomainGetVcpuPinInfo`: host CPUs each vCPU may run on (index = vCPU)
   * (`DomainModificationImpact`: LIVE, CONFIG). */
  async vcpuPinInfo(flags?: number): Promise<number[][]> {
    return settle(this.#native.getVcpuPinInfo(flagsArg(flags)), 'Domain.vcpuPinInfo');
  }

  /** `virDomainGetEmulatorPinInfo`: host CPUs the emulator threads may run on. */
  async emulatorPinInfo(flags?: number): Promise<number[]> {
    return settle(this.#native.getEmulatorPinInfo(flagsArg(flags)), 'Domain.emulatorPinInfo');
  }

  /** `virDomainGetJobInfo`: progress of the domain's current job (save, dump, migration…). */
  async jobInfo(): Promise<JobInfo> {
    const j = await settle(this.#native.getJobInfo(), 'Domain.jobInfo');
    return {
      type: j.type, typeName: shortName(DomainJobType, j.type, 'VIR_DOMAIN_JOB_'), timeElapsedMs: j.timeElapsed, timeRemainingMs: j.timeRemaining,
      dataTotal: j.dataTotal, dataProcessed: j.dataProcessed, dataRemaining: j.dataRemaining,
      memTotal: j.memTotal, memProcessed: j.memProcessed, memRemaining: j.memRemaining,
      fileTotal: j.fileTotal, fileProcessed: j.fileProcessed, fileRemaining: j.fileRemaining,
    };
  }

  /** `virDomainGetJobStats` (`DomainGetJobStatsFlags`: COMPLETED for the last finished job,
   * KEEP_COMPLETED). */
  async jobStats(flags?: number): Promise<JobStats> {
    const j = await settle(this.#native.getJobStats(flagsArg(flags)), 'Domain.jobStats');
    return { type: j.type, typeName: shortName(DomainJobType, j.type, 'VIR_DOMAIN_JOB_'), params: j.params };
  }

  /** `virDomainAbortJobFlags`: cancels the current job (`DomainAbortJobFlagsValues`: POSTCOPY). */
  async abortJob(flags?: number): Promise<void> {
    return settle(this.#native.abortJobFlags(flagsArg(flags)), 'Domain.abortJob');
  }

  /** `virDomainGetControlInfo`: whether libvirt can talk to the hypervisor for this domain now. */
  async controlInfo(): Promise<ControlInfo> {
    const c = await settle(this.#native.getControlInfo(0), 'Domain.controlInfo');
    return { state: c.state, stateName: shortName(DomainControlState, c.state, 'VIR_DOMAIN_CONTROL_'), details: c.details, stateTimeMs: c.stateTime };
  }

  // ---- Tuning parameters (read) -------------------------------------------------------------

  /** `virDomainGetSchedulerType`: the scheduler (`posix`, `credit`, …) and how many parameters it has. */
  async schedulerType(): Promise<{ type: string; parameterCount: number }> {
    const t = await settle(this.#native.getSchedulerType(), 'Domain.schedulerType');
    return { type: t.type, parameterCount: t.nparams };
  }

  /** `virDomainGetSchedulerParametersFlags`: `cpu_shares`, `vcpu_period`, … (`DomainModificationImpact`). */
  async schedulerParameters(flags?: number): Promise<TypedParams> {
    return settle(this.#native.getSchedulerParametersFlags(flagsArg(flags)), 'Domain.schedulerParameters');
  }

  /** `virDomainGetMemoryParameters`: `hard_limit`, `soft_limit`, `swap_hard_limit` (KiB;
   * {@link MEMORY_PARAM_UNLIMITED}, 2^53 - 1, means unlimited) (`DomainModificationImpact`). */
  async memoryParameters(flags?: number): Promise<TypedParams> {
    return settle(this.#native.getMemoryParameters(stringOkay(flags)), 'Domain.memoryParameters');
  }

  /** `virDomainGetBlkioParameters`: `weight`, `device_weight`, … (`DomainModificationImpact`). */
  async blkioParameters(flags?: number): Promise<TypedParams> {
    return settle(this.#native.getBlkioParameters(stringOkay(flags)), 'Domain.blkioParameters');
  }

  /** `virDomainGetNumaParameters`: `numa_mode`, `numa_nodeset` (`DomainModificationImpact`). */
  async numaParameters(flags?: number): Promise<TypedParams> {
    return settle(this.#native.getNumaParameters(stringOkay(flags)), 'Domain.numaParameters');
  }

  /** `virDomainGetBlockIoTune`: I/O limits of a disk (`total_bytes_sec`, …) (`DomainModificationImpact`). */
  async blockIoTune(disk: string, flags?: number): Promise<TypedParams> {
    return settle(this.#native.getBlockIoTune(stringArg(disk, 'disk'), stringOkay(flags)), 'Domain.blockIoTune');
  }

  /** `virDomainGetInterfaceParameters`: bandwidth limits of a NIC (`inbound.average`, …). */
  async interfaceParameters(device: string, flags?: number): Promise<TypedParams> {
    return settle(this.#native.getInterfaceParameters(stringArg(device, 'device'), stringOkay(flags)), 'Domain.interfaceParameters');
  }

  /** `virDomainGetGuestVcpus`: vCPUs as the guest sees them (guest agent): `vcpus`, `online`, `offlinable`. */
  async guestVcpus(): Promise<TypedParams> {
    return settle(this.#native.getGuestVcpus(0), 'Domain.guestVcpus');
  }

  /** `virDomainGetIOThreadInfo`: I/O threads and the host CPUs each may run on. */
  async ioThreadInfo(flags?: number): Promise<Array<{ id: number; cpus: number[] }>> {
    return settle(this.#native.getIOThreadInfo(flagsArg(flags)), 'Domain.ioThreadInfo');
  }

  /** `virDomainGetSecurityLabel`: the domain's security label (empty without a security driver). */
  securityLabel(): Promise<{ label: string; enforcing: boolean }> {
    return settle(this.#native.getSecurityLabel(), 'Domain.securityLabel');
  }

  // ---- Other controls -----------------------------------------------------------------------

  /** `virDomainSetMaxMemory`: the maximum memory, in KiB. */
  async setMaxMemory(kib: number): Promise<void> {
    return settle(this.#native.setMaxMemory(sizeArg(kib, 'memory (KiB)')), 'Domain.setMaxMemory');
  }

  /** `virDomainSetMemoryStatsPeriod`: how often the balloon driver refreshes `memoryStats()`,
   * seconds (0 stops it) (`DomainMemoryModFlags`). */
  async setMemoryStatsPeriod(seconds: number, flags?: number): Promise<void> {
    return settle(this.#native.setMemoryStatsPeriod(intArg(seconds, 'seconds', 0), flagsArg(flags)), 'Domain.setMemoryStatsPeriod');
  }

  /** `virDomainRename`: renames an inactive domain. This object keeps the old name; look the
   * domain up again. */
  async rename(newName: string): Promise<void> {
    return settle(this.#native.rename(stringArg(newName, 'newName'), 0), 'Domain.rename');
  }

  /** `virDomainInjectNMI`: sends a non-maskable interrupt to the guest. */
  injectNMI(): Promise<void> {
    return settle(this.#native.injectNMI(0), 'Domain.injectNMI');
  }

  /** `virDomainSendKey`: presses keys (`keycodes` in `codeset`, `KeycodeSet`) for `holdMs` ms. */
  async sendKey(codeset: number, holdMs: number, keycodes: number[]): Promise<void> {
    if (!Array.isArray(keycodes) || keycodes.some((k) => typeof k !== 'number' || !Number.isInteger(k) || k < 0)) {
      throw new TypeError('keycodes must be an array of non-negative integers');
    }
    return settle(this.#native.sendKey(intArg(codeset, 'codeset', 0), intArg(holdMs, 'holdMs', 0), keycodes, 0), 'Domain.sendKey');
  }

  /** `virDomainCoreDumpWithFormat`: dumps the guest's memory to `path` on the daemon's host
   * (`DomainCoreDumpFormat`: RAW, KDUMP_*, WIN_DMP; `DomainCoreDumpFlags`: LIVE, CRASH, RESET,
   * MEMORY_ONLY — non-RAW formats need MEMORY_ONLY). */
  async coreDump(path: string, format: number, flags?: number): Promise<void> {
    return settle(this.#native.coreDumpWithFormat(stringArg(path, 'path'), intArg(format, 'format', 0), flagsArg(flags)), 'Domain.coreDump');
  }

  /** `virDomainPMSuspendForDuration`: suspends the guest to memory or disk (`NodeSuspendTarget`)
   * through the guest agent; `durationSeconds` 0 means until woken. */
  async pmSuspend(target: number, durationSeconds = 0): Promise<void> {
    return settle(this.#native.pmSuspendForDuration(intArg(target, 'target', 0), sizeArg(durationSeconds, 'durationSeconds'), 0), 'Domain.pmSuspend');
  }

  /** `virDomainPMWakeup`: wakes a guest suspended with `pmSuspend()`. */
  pmWakeup(): Promise<void> {
    return settle(this.#native.pmWakeup(0), 'Domain.pmWakeup');
  }

  /** `virDomainFSTrim`: discards unused blocks in the guest's file systems (guest agent);
   * `mountPoint` limits it to one, `minimumBytes` skips free ranges shorter than that. */
  async fsTrim(mountPoint?: string, minimumBytes = 0): Promise<void> {
    return settle(this.#native.fsTrim(mountPoint === undefined ? null : stringArg(mountPoint, 'mountPoint'), sizeArg(minimumBytes, 'minimumBytes'), 0), 'Domain.fsTrim');
  }

  /** @internal The native handle, for other lib/ modules. */
  get _native(): NativeDomain {
    return this.#native;
  }

  /** Same libvirt domain (UUIDs are unique on a host). */
  equals(other: unknown): boolean {
    return other instanceof Domain && other.uuid === this.uuid;
  }

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  [inspect.custom](): string {
    return `Domain { name: ${inspect(this.name)}, uuid: ${inspect(this.uuid)}, id: ${this.id} }`;
  }
}
