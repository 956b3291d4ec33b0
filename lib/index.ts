/**
 * virtkit: typed, non-blocking libvirt and iSCSI (`iscsi`) for Node.js.
 * Everything public is exported from here.
 */
export { connect, Connection, DEFAULT_URI, eventLoopRunning, startEventLoop } from './connection';
export type { ConnectAuth, ConnectOptions, KeepAlive, NodeInfo } from './connection';
export { StoragePool } from './storage-pool';
export type { StoragePoolInfo } from './storage-pool';
export { StorageVolume } from './storage-volume';
export { VolumeReadable, VolumeWritable } from './stream';
export type { TransferHole, TransferOptions, TransferProgress } from './stream';
export type { StorageVolumeInfo, StorageVolumeListing } from './storage-volume';
export { Domain, MEMORY_PARAM_UNLIMITED } from './domain';
export type { DomainInfo, DomainStateInfo } from './domain';
export type * from './events';
export type { EventIteratorOptions } from './emitter';
export type {
  BlockInfo, BlockStats, ControlInfo, CpuStats, DiskError, DomainStatsRecord, FileSystemInfo, InterfaceAddresses, InterfaceStats, JobInfo,
  JobStats, MemoryStats, TypedParams, VcpuInfo,
} from './domain';
export { DomainSnapshot } from './domain-snapshot';
export { DomainCheckpoint } from './domain-checkpoint';
export { Secret, SECRET_USAGE_TYPES } from './secret';
export { buildSecretXml, parseSecretXml, SECRET_SOURCE } from './xml/secret';
export { buildPoolXml, parsePoolCapabilitiesXml, parsePoolSourcesXml, parsePoolXml, POOL_SOURCE, POOL_TYPES } from './xml/pool';
export type * from './xml/pool';
export { buildVolumeXml, parseVolumeXml, VOLUME_SOURCE, VOLUME_TYPES } from './xml/volume';
export type * from './xml/volume';
export { buildDomainXml, DEVICE_SOURCE, DOMAIN_SOURCE, parseDomainXml } from './xml/domain';
export type * from './xml/domain';
export { domainDefinition } from './xml/guest';
export type * from './xml/guest';
export type { Permissions } from './xml/common';
export type { SecretDefinition, SecretUsage, SecretUsageName } from './xml/secret';
export { LibvirtError } from './errors';
export type { LibvirtErrorInfo } from './errors';
export { decodeVersion, formatVersion } from './version';
export * as iscsi from './iscsi';
export * as diagnostics from './diagnostics';
export type { LiveObjects } from './diagnostics';
export { IscsiError } from './iscsi/errors';
export type { IscsiErrorInfo, IscsiErrorKind } from './iscsi/errors';
export * from './provision';
export type { Version } from './version';
export { parseCapabilitiesXml } from './xml/capabilities';
export type * from './xml/capabilities';
export { parseSysinfoXml } from './xml/sysinfo';
export type { Sysinfo, SysinfoEntries } from './xml/sysinfo';
export * from './constants';

import { native } from './native';
import { decodeVersion, type Version } from './version';

/** The version of the libvirt library virtkit is running with (`virGetVersion`). */
export function libvirtVersion(): Version {
  return decodeVersion(native.getVersion());
}
