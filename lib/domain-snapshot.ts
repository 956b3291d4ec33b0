/**
 * Domain snapshots (`virDomainSnapshot*`): saved states of a domain's disks (and memory), kept
 * in a tree. Made by `Domain.createSnapshot()`, listed by `Domain.listSnapshots()`.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html
 */
import { inspect } from 'node:util';
import { flagsArg } from './args';
import type { Domain } from './domain';
import { settle } from './errors';
import type { NativeDomainSnapshot } from './native';

export class DomainSnapshot {
  readonly #native: NativeDomainSnapshot;
  /** The snapshot's name, unique within its domain. */
  readonly name: string;
  /** The domain the snapshot belongs to. */
  readonly domain: Domain;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeDomainSnapshot, domain: Domain) {
    this.#native = handle;
    this.name = handle.getName();
    this.domain = domain;
  }

  /** `virDomainSnapshotGetXMLDesc`: the `<domainsnapshot>` document (`DomainSnapshotXMLFlags`: SECURE). */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'DomainSnapshot.getXML');
  }

  /** `virDomainSnapshotGetParent`: the snapshot this one was taken on top of; null for a root
   * (libvirt's `VIR_ERR_NO_DOMAIN_SNAPSHOT`). */
  async parent(): Promise<DomainSnapshot | null> {
    try {
      return new DomainSnapshot(await settle(this.#native.getParent(0), 'DomainSnapshot.parent'), this.domain);
    } catch (err) {
      if ((err as { codeName?: string }).codeName === 'VIR_ERR_NO_DOMAIN_SNAPSHOT') return null;
      throw err;
    }
  }

  /** `virDomainSnapshotListAllChildren` (`DomainSnapshotListFlags`: DESCENDANTS for all
   * levels, LEAVES, METADATA, …). */
  async children(flags?: number): Promise<DomainSnapshot[]> {
    const handles = await settle(this.#native.listAllChildren(flagsArg(flags)), 'DomainSnapshot.children');
    return handles.map((h) => new DomainSnapshot(h, this.domain));
  }

  /** `virDomainSnapshotIsCurrent`: the domain's current snapshot. */
  isCurrent(): Promise<boolean> {
    return settle(this.#native.isCurrent(0), 'DomainSnapshot.isCurrent');
  }

  /** `virDomainSnapshotHasMetadata`: libvirt keeps metadata for it (false for snapshots made
   * with `NO_METADATA` or redefined away). */
  hasMetadata(): Promise<boolean> {
    return settle(this.#native.hasMetadata(0), 'DomainSnapshot.hasMetadata');
  }

  /** `virDomainRevertToSnapshot`: returns the domain to this snapshot's state
   * (`DomainSnapshotRevertFlags`: RUNNING, PAUSED, FORCE, RESET_NVRAM). */
  async revert(flags?: number): Promise<void> {
    return settle(this.#native.revert(flagsArg(flags)), 'DomainSnapshot.revert');
  }

  /** `virDomainSnapshotDelete` (`DomainSnapshotDeleteFlags`: CHILDREN, CHILDREN_ONLY,
   * METADATA_ONLY). */
  async delete(flags?: number): Promise<void> {
    return settle(this.#native.delete(flagsArg(flags)), 'DomainSnapshot.delete');
  }

  /** Same snapshot of the same domain. */
  equals(other: unknown): boolean {
    return other instanceof DomainSnapshot && other.name === this.name && other.domain.equals(this.domain);
  }

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  [inspect.custom](): string {
    return `DomainSnapshot { name: ${inspect(this.name)}, domain: ${inspect(this.domain.name)} }`;
  }
}
