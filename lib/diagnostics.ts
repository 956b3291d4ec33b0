/**
 * Diagnostics: what virtkit holds in native memory right now. For leak hunting and soak
 * runs (bench/soak.ts); cheap (counters, no libvirt call), safe to call often.
 */
import { native } from './native';

/**
 * Live native objects by kind: wrap objects created and not yet finalized (each holds at most
 * one libvirt reference or one iSCSI session), counted process-wide, so workers' objects are
 * included. An object you dropped stays counted until the garbage collector finalizes it; one
 * you `free()`d or `close()`d gives up its libvirt reference at once but is counted until then
 * too. `pendingCalls` is this thread's calls queued and not yet settled.
 */
export interface LiveObjects {
  connections: number;
  domains: number;
  storagePools: number;
  storageVolumes: number;
  secrets: number;
  streams: number;
  domainSnapshots: number;
  domainCheckpoints: number;
  iscsiSessions: number;
  pendingCalls: number;
  /** Connections (process-wide) whose calls run one at a time because keepalive is on: each
   * has a gate from `setKeepAlive()` (or `connect({ keepAlive })`) until libvirt frees the
   * connection (which its domains, pools and volumes keep open after `close()`). libvirt 9.0's
   * client mishandles a keepalive timeout with several calls in flight on one connection. */
  keepaliveGates: number;
}

/** The counts of live native objects now (see `LiveObjects`). */
export function liveObjects(): LiveObjects {
  return native.liveObjects();
}

const KINDS = ['connections', 'domains', 'storagePools', 'storageVolumes', 'secrets', 'streams', 'domainSnapshots', 'domainCheckpoints', 'iscsiSessions'] as const;

/** The sum of the object counts (all kinds, without `pendingCalls` and `keepaliveGates`). */
export function totalLiveObjects(counts: LiveObjects = liveObjects()): number {
  if (typeof counts !== 'object' || counts === null) throw new TypeError('counts must be a LiveObjects object (diagnostics.liveObjects())');
  let n = 0;
  for (const kind of KINDS) {
    const v: unknown = counts[kind];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`counts.${kind} must be a non-negative integer`);
    n += v;
  }
  return n;
}
