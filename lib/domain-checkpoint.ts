/**
 * Domain checkpoints (`virDomainCheckpoint*`): points from which incremental backups track
 * changed disk blocks. Made by `Domain.createCheckpoint()`, listed by `Domain.listCheckpoints()`.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html
 */
import { inspect } from 'node:util';
import { flagsArg } from './args';
import type { Domain } from './domain';
import { settle } from './errors';
import type { NativeDomainCheckpoint } from './native';

export class DomainCheckpoint {
  readonly #native: NativeDomainCheckpoint;
  /** The checkpoint's name, unique within its domain. */
  readonly name: string;
  /** The domain the checkpoint belongs to. */
  readonly domain: Domain;

  /** @internal Created by virtkit only. */
  constructor(handle: NativeDomainCheckpoint, domain: Domain) {
    this.#native = handle;
    this.name = handle.getName();
    this.domain = domain;
  }

  /** `virDomainCheckpointGetXMLDesc`: the `<domaincheckpoint>` document
   * (`DomainCheckpointXMLFlags`: SECURE, NO_DOMAIN, SIZE). */
  async getXML(flags?: number): Promise<string> {
    return settle(this.#native.getXMLDesc(flagsArg(flags)), 'DomainCheckpoint.getXML');
  }

  /** `virDomainCheckpointGetParent`; null for a root (libvirt's `VIR_ERR_NO_DOMAIN_CHECKPOINT`). */
  async parent(): Promise<DomainCheckpoint | null> {
    try {
      return new DomainCheckpoint(await settle(this.#native.getParent(0), 'DomainCheckpoint.parent'), this.domain);
    } catch (err) {
      if ((err as { codeName?: string }).codeName === 'VIR_ERR_NO_DOMAIN_CHECKPOINT') return null;
      throw err;
    }
  }

  /** `virDomainCheckpointListAllChildren` (`DomainCheckpointListFlags`: DESCENDANTS, LEAVES, …). */
  async children(flags?: number): Promise<DomainCheckpoint[]> {
    const handles = await settle(this.#native.listAllChildren(flagsArg(flags)), 'DomainCheckpoint.children');
    return handles.map((h) => new DomainCheckpoint(h, this.domain));
  }

  /** `virDomainCheckpointDelete` (`DomainCheckpointDeleteFlags`: CHILDREN, METADATA_ONLY, CHILDREN_ONLY). */
  async delete(flags?: number): Promise<void> {
    return settle(this.#native.delete(flagsArg(flags)), 'DomainCheckpoint.delete');
  }

  /** Same checkpoint of the same domain. */
  equals(other: unknown): boolean {
    return other instanceof DomainCheckpoint && other.name === this.name && other.domain.equals(this.domain);
  }

  /** Releases the handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }

  [inspect.custom](): string {
    return `DomainCheckpoint { name: ${inspect(this.name)}, domain: ${inspect(this.domain.name)} }`;
  }
}
