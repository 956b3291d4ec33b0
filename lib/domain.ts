/**
 * Domains (guests), `virDomain*`.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-domain.html
 */
import { inspect } from 'node:util';
import { flagsArg, shortName } from './args';
import { DomainState } from './constants';
import { settle } from './errors';
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

export class Domain {
  readonly #native: NativeDomain;
  readonly name: string;
  readonly uuid: string;
  /** The hypervisor's id while it runs; null when it was inactive when looked up. */
  readonly id: number | null;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeDomain) {
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

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  [inspect.custom](): string {
    return `Domain { name: ${inspect(this.name)}, uuid: ${inspect(this.uuid)}, id: ${this.id} }`;
  }
}
