/**
 * Domains (guests), `virDomain*`.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-domain.html
 */
import { inspect } from 'node:util';
import { flagsArg, shortName } from './args';
import { DomainState } from './constants';
import { LibvirtEmitter, type EventHub } from './emitter';
import { settle } from './errors';
import { DOMAIN_EVENT_SPECS, type DomainEvents } from './events';
import type { NativeDomain } from './native';

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

const stateName = (s: number) => shortName(DomainState, s, 'VIR_DOMAIN_');

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
