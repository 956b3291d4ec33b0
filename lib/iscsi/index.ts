/**
 * The iSCSI initiator, over libiscsi: `import { iscsi } from 'virtkit'`.
 *
 * - {@link discover}: which targets a portal offers (SendTargets), with or without CHAP.
 * - {@link connect}: a logged-in {@link IscsiSession}: LUNs, INQUIRY, VPD, capacity, block I/O.
 * - Failures are {@link IscsiError}s with a `kind`.
 *
 * Every call runs off the main thread, on virtkit's call pool.
 */
export { discover } from './discovery';
export type { DiscoveredTarget, DiscoverOptions, TargetPortal } from './discovery';
export { connect, IscsiSession, MAX_TRANSFER_BYTES } from './session';
export type { ConnectOptions, DesignatorType, DeviceIdentifier, LunCapacity, LunInquiry, LunSummary, LunVpd } from './session';
export { LunReadable } from './stream';
export type { LunReadOptions } from './stream';
export { IscsiError } from './errors';
export type { IscsiErrorInfo, IscsiErrorKind } from './errors';
export { DEFAULT_ISCSI_PORT, DEFAULT_TIMEOUT_MS, HEADER_DIGESTS, parsePortal } from './args';
export type { ChapCredentials, HeaderDigest, Portal } from './args';
