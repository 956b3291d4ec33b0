/**
 * Typed libvirt events: what each event carries, and which libvirt callback it comes from.
 *
 * Listen on a {@link Connection} for every object (`conn.on('domain-lifecycle', …)`), or on
 * one object (`domain.on('lifecycle', …)`, `pool.on('refresh', …)`, `secret.on(…)`); or
 * iterate: `for await (const e of domain.events('lifecycle')) …`.
 *
 * Not delivered, with the reason: `graphics` (remote-display sessions, outside virtkit's
 * storage and guest-lifecycle scope).
 *
 * @see https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventRegisterAny
 */
import { shortName } from './args';
import {
  ConnectCloseReason,
  ConnectDomainEventAgentLifecycleReason,
  ConnectDomainEventAgentLifecycleState,
  ConnectDomainEventBlockJobStatus,
  ConnectDomainEventDiskChangeReason,
  DomainBlockJobType,
  DomainEventCrashedDetailType,
  DomainEventDefinedDetailType,
  DomainEventID,
  DomainEventIOErrorAction,
  DomainEventPMSuspendedDetailType,
  DomainEventResumedDetailType,
  DomainEventShutdownDetailType,
  DomainEventStartedDetailType,
  DomainEventStoppedDetailType,
  DomainEventSuspendedDetailType,
  DomainEventTrayChangeReason,
  DomainEventType,
  DomainEventUndefinedDetailType,
  DomainEventWatchdogAction,
  DomainMemoryFailureActionType,
  DomainMemoryFailureRecipientType,
  DomainMetadataType,
  SecretEventID,
  SecretEventLifecycleType,
  StoragePoolEventID,
  StoragePoolEventLifecycleType,
} from './constants';
import type { Domain } from './domain';
import type { EventHub, EventSpec, RawEvent } from './emitter';
import type { Secret } from './secret';
import type { StoragePool } from './storage-pool';

/** Every domain event names the domain it is about. */
export interface DomainEvent {
  domain: Domain;
}

/** `lifecycle`: the domain was defined, started, stopped… (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`). */
export interface DomainLifecycleEvent extends DomainEvent {
  event: DomainEventType;
  /** `defined`, `undefined`, `started`, `suspended`, `resumed`, `stopped`, `shutdown`,
   * `pmsuspended`, `crashed`. */
  eventName: string;
  /** A value of the event's detail enum (e.g. `DomainEventStoppedDetailType`). */
  detail: number;
  /** The detail's short name, e.g. `booted`, `destroyed`, `added`, `removed`. */
  detailName: string;
}

/** `rtc-change`: the guest changed its real-time clock. */
export interface DomainRtcChangeEvent extends DomainEvent {
  /** New offset from UTC, in seconds. */
  utcOffset: number;
}

/** `watchdog`: the guest's watchdog fired. */
export interface DomainWatchdogEvent extends DomainEvent {
  action: DomainEventWatchdogAction;
  /** `none`, `pause`, `reset`, `poweroff`, `shutdown`, `debug`, `inject-nmi`. */
  actionName: string;
}

/** `io-error` and `io-error-reason`: a disk I/O error (on an iSCSI LUN that went away…). */
export interface DomainIOErrorEvent extends DomainEvent {
  /** The host path or network source of the disk. */
  srcPath: string | null;
  /** The device alias, e.g. `virtio-disk0`. */
  devAlias: string | null;
  action: DomainEventIOErrorAction;
  /** `none`, `pause`, `report`. */
  actionName: string;
  /** `io-error-reason` only: e.g. `enospc`, or empty. */
  reason?: string | null;
}

/** `block-job` (disk named by path) and `block-job-2` (named by target, e.g. `vda`). */
export interface DomainBlockJobEvent extends DomainEvent {
  disk: string | null;
  type: DomainBlockJobType;
  /** `pull`, `copy`, `commit`, `active_commit`, `backup`, `unknown`. */
  typeName: string;
  status: ConnectDomainEventBlockJobStatus;
  /** `completed`, `failed`, `canceled`, `ready`. */
  statusName: string;
}

/** `disk-change`: a disk's source was dropped (startup policy). */
export interface DomainDiskChangeEvent extends DomainEvent {
  oldSrcPath: string | null;
  newSrcPath: string | null;
  devAlias: string | null;
  reason: ConnectDomainEventDiskChangeReason;
  reasonName: string;
}

/** `tray-change`: a removable drive's tray opened or closed. */
export interface DomainTrayChangeEvent extends DomainEvent {
  devAlias: string | null;
  reason: DomainEventTrayChangeReason;
  /** `open` or `close`. */
  reasonName: string;
}

/** `pm-wakeup`, `pm-suspend`, `pm-suspend-disk`. */
export interface DomainPMEvent extends DomainEvent {
  reason: number;
}

/** `balloon-change`: the balloon's current size. */
export interface DomainBalloonChangeEvent extends DomainEvent {
  actualKiB: number;
}

/** `device-added`, `device-removed`, `device-removal-failed`. */
export interface DomainDeviceEvent extends DomainEvent {
  /** The device alias, e.g. `virtio-disk1`, `ua-lun2`. */
  devAlias: string | null;
}

/** `agent-lifecycle`: the guest agent connected or disconnected. */
export interface DomainAgentLifecycleEvent extends DomainEvent {
  state: ConnectDomainEventAgentLifecycleState;
  /** `connected` or `disconnected`. */
  stateName: string;
  reason: ConnectDomainEventAgentLifecycleReason;
  /** `unknown`, `domain_started`, `channel`. */
  reasonName: string;
}

/** `migration-iteration`. */
export interface DomainMigrationIterationEvent extends DomainEvent {
  iteration: number;
}

/** `metadata-change`. */
export interface DomainMetadataChangeEvent extends DomainEvent {
  type: DomainMetadataType;
  /** `description`, `title`, `element`. */
  typeName: string;
  /** For `element`: the namespace URI. */
  nsuri: string | null;
}

/** `block-threshold`: a disk's write threshold was crossed (thin provisioning). */
export interface DomainBlockThresholdEvent extends DomainEvent {
  dev: string | null;
  path: string | null;
  threshold: number;
  excess: number;
}

/** `memory-failure`. */
export interface DomainMemoryFailureEvent extends DomainEvent {
  recipient: DomainMemoryFailureRecipientType;
  recipientName: string;
  action: DomainMemoryFailureActionType;
  actionName: string;
  /** `DomainMemoryFailureFlags`. */
  flags: number;
}

/** `memory-device-size-change`. */
export interface DomainMemoryDeviceSizeChangeEvent extends DomainEvent {
  alias: string | null;
  sizeKiB: number;
}

/** `tunable` (a tuning parameter changed: vCPU pinning, block I/O tuning…) and
 * `job-completed` (a job's final statistics): libvirt's typed parameters as an object. */
export interface DomainParamsEvent extends DomainEvent {
  params: Record<string, number | string | boolean>;
}

/** The events of a {@link Domain} (and, prefixed `domain-`, of a {@link Connection}). */
export interface DomainEvents {
  lifecycle: [DomainLifecycleEvent];
  reboot: [DomainEvent];
  'rtc-change': [DomainRtcChangeEvent];
  watchdog: [DomainWatchdogEvent];
  'io-error': [DomainIOErrorEvent];
  'io-error-reason': [DomainIOErrorEvent];
  'control-error': [DomainEvent];
  'block-job': [DomainBlockJobEvent];
  'block-job-2': [DomainBlockJobEvent];
  'disk-change': [DomainDiskChangeEvent];
  'tray-change': [DomainTrayChangeEvent];
  'pm-wakeup': [DomainPMEvent];
  'pm-suspend': [DomainPMEvent];
  'pm-suspend-disk': [DomainPMEvent];
  'balloon-change': [DomainBalloonChangeEvent];
  'device-added': [DomainDeviceEvent];
  'device-removed': [DomainDeviceEvent];
  'device-removal-failed': [DomainDeviceEvent];
  'agent-lifecycle': [DomainAgentLifecycleEvent];
  'migration-iteration': [DomainMigrationIterationEvent];
  'metadata-change': [DomainMetadataChangeEvent];
  'block-threshold': [DomainBlockThresholdEvent];
  'memory-failure': [DomainMemoryFailureEvent];
  'memory-device-size-change': [DomainMemoryDeviceSizeChangeEvent];
  tunable: [DomainParamsEvent];
  'job-completed': [DomainParamsEvent];
  /** A subscription failed (see `eventsReady()`). */
  error: [Error];
}

/** `lifecycle` of a storage pool. */
export interface StoragePoolLifecycleEvent {
  pool: StoragePool;
  event: StoragePoolEventLifecycleType;
  /** `defined`, `undefined`, `started`, `stopped`, `created`, `deleted`. */
  eventName: string;
  detail: number;
}

/** `refresh` of a storage pool (its volumes were re-read). */
export interface StoragePoolRefreshEvent {
  pool: StoragePool;
}

/** The events of a {@link StoragePool} (and, prefixed `pool-`, of a {@link Connection}). */
export interface StoragePoolEvents {
  lifecycle: [StoragePoolLifecycleEvent];
  refresh: [StoragePoolRefreshEvent];
  error: [Error];
}

/** `lifecycle` of a secret. */
export interface SecretLifecycleEvent {
  secret: Secret;
  event: SecretEventLifecycleType;
  /** `defined` or `undefined`. */
  eventName: string;
  detail: number;
}

/** `value-changed` of a secret (the value itself is never carried). */
export interface SecretValueChangedEvent {
  secret: Secret;
}

/** The events of a {@link Secret} (and, prefixed `secret-`, of a {@link Connection}). */
export interface SecretEvents {
  lifecycle: [SecretLifecycleEvent];
  'value-changed': [SecretValueChangedEvent];
  error: [Error];
}

/** `closed`: the connection went away (`virConnectRegisterCloseCallback`), or `close()`
 * was called (`client`). */
export interface ConnectionClosedEvent {
  reason: ConnectCloseReason;
  /** `error`, `eof`, `keepalive`, `client`. */
  reasonName: string;
}

type Prefixed<P extends string, M> = { [K in keyof M as K extends 'error' ? never : `${P}-${K & string}`]: M[K] };

/** The events of a {@link Connection}: every object's, prefixed, plus `closed`. */
export type ConnectionEvents = Prefixed<'domain', DomainEvents> &
  Prefixed<'pool', StoragePoolEvents> &
  Prefixed<'secret', SecretEvents> & { closed: [ConnectionClosedEvent]; error: [Error] };

// ---- specs: libvirt event id and conversion, per event name ----

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const dom = (raw: RawEvent, hub: EventHub): DomainEvent => ({ domain: hub.wrap.domain(raw.domain) as Domain });

const LIFECYCLE_DETAILS: Record<number, [Record<number, string>, string]> = {
  [DomainEventType.VIR_DOMAIN_EVENT_DEFINED]: [DomainEventDefinedDetailType, 'VIR_DOMAIN_EVENT_DEFINED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_UNDEFINED]: [DomainEventUndefinedDetailType, 'VIR_DOMAIN_EVENT_UNDEFINED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_STARTED]: [DomainEventStartedDetailType, 'VIR_DOMAIN_EVENT_STARTED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_SUSPENDED]: [DomainEventSuspendedDetailType, 'VIR_DOMAIN_EVENT_SUSPENDED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_RESUMED]: [DomainEventResumedDetailType, 'VIR_DOMAIN_EVENT_RESUMED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_STOPPED]: [DomainEventStoppedDetailType, 'VIR_DOMAIN_EVENT_STOPPED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_SHUTDOWN]: [DomainEventShutdownDetailType, 'VIR_DOMAIN_EVENT_SHUTDOWN_'],
  [DomainEventType.VIR_DOMAIN_EVENT_PMSUSPENDED]: [DomainEventPMSuspendedDetailType, 'VIR_DOMAIN_EVENT_PMSUSPENDED_'],
  [DomainEventType.VIR_DOMAIN_EVENT_CRASHED]: [DomainEventCrashedDetailType, 'VIR_DOMAIN_EVENT_CRASHED_'],
};

function lifecycle(raw: RawEvent, hub: EventHub): DomainLifecycleEvent {
  const event = num(raw.event);
  const detail = num(raw.detail);
  const names = LIFECYCLE_DETAILS[event];
  return {
    ...dom(raw, hub),
    event,
    eventName: shortName(DomainEventType, event, 'VIR_DOMAIN_EVENT_'),
    detail,
    detailName: names ? shortName(names[0], detail, names[1]) : `unknown(${detail})`,
  };
}

function ioError(raw: RawEvent, hub: EventHub): DomainIOErrorEvent {
  const action = num(raw.action);
  const ev: DomainIOErrorEvent = {
    ...dom(raw, hub),
    srcPath: str(raw.srcPath),
    devAlias: str(raw.devAlias),
    action,
    actionName: shortName(DomainEventIOErrorAction, action, 'VIR_DOMAIN_EVENT_IO_ERROR_'),
  };
  if ('reason' in raw) ev.reason = str(raw.reason);
  return ev;
}

function blockJob(raw: RawEvent, hub: EventHub): DomainBlockJobEvent {
  const type = num(raw.type);
  const status = num(raw.status);
  return {
    ...dom(raw, hub),
    disk: str(raw.disk),
    type,
    typeName: shortName(DomainBlockJobType, type, 'VIR_DOMAIN_BLOCK_JOB_TYPE_'),
    status,
    statusName: shortName(ConnectDomainEventBlockJobStatus, status, 'VIR_DOMAIN_BLOCK_JOB_'),
  };
}

const params = (raw: RawEvent, hub: EventHub): DomainParamsEvent => ({
  ...dom(raw, hub),
  params: (raw.params ?? {}) as Record<string, number | string | boolean>,
});
const pm = (raw: RawEvent, hub: EventHub): DomainPMEvent => ({ ...dom(raw, hub), reason: num(raw.reason) });
const device = (raw: RawEvent, hub: EventHub): DomainDeviceEvent => ({ ...dom(raw, hub), devAlias: str(raw.devAlias) });

const E = DomainEventID;
const d = (id: DomainEventID, convert: EventSpec['convert']): EventSpec => ({ family: 'domain', id, convert });

/** @internal */
export const DOMAIN_EVENT_SPECS: Record<Exclude<keyof DomainEvents, 'error'>, EventSpec> = {
  lifecycle: d(E.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle),
  reboot: d(E.VIR_DOMAIN_EVENT_ID_REBOOT, dom),
  'rtc-change': d(E.VIR_DOMAIN_EVENT_ID_RTC_CHANGE, (raw, hub) => ({ ...dom(raw, hub), utcOffset: num(raw.utcOffset) })),
  watchdog: d(E.VIR_DOMAIN_EVENT_ID_WATCHDOG, (raw, hub) => ({
    ...dom(raw, hub),
    action: num(raw.action),
    actionName: shortName(DomainEventWatchdogAction, num(raw.action), 'VIR_DOMAIN_EVENT_WATCHDOG_'),
  })),
  'io-error': d(E.VIR_DOMAIN_EVENT_ID_IO_ERROR, ioError),
  'io-error-reason': d(E.VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON, ioError),
  'control-error': d(E.VIR_DOMAIN_EVENT_ID_CONTROL_ERROR, dom),
  'block-job': d(E.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, blockJob),
  'block-job-2': d(E.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, blockJob),
  'disk-change': d(E.VIR_DOMAIN_EVENT_ID_DISK_CHANGE, (raw, hub) => ({
    ...dom(raw, hub),
    oldSrcPath: str(raw.oldSrcPath),
    newSrcPath: str(raw.newSrcPath),
    devAlias: str(raw.devAlias),
    reason: num(raw.reason),
    reasonName: shortName(ConnectDomainEventDiskChangeReason, num(raw.reason), 'VIR_DOMAIN_EVENT_DISK_'),
  })),
  'tray-change': d(E.VIR_DOMAIN_EVENT_ID_TRAY_CHANGE, (raw, hub) => ({
    ...dom(raw, hub),
    devAlias: str(raw.devAlias),
    reason: num(raw.reason),
    reasonName: shortName(DomainEventTrayChangeReason, num(raw.reason), 'VIR_DOMAIN_EVENT_TRAY_CHANGE_'),
  })),
  'pm-wakeup': d(E.VIR_DOMAIN_EVENT_ID_PMWAKEUP, pm),
  'pm-suspend': d(E.VIR_DOMAIN_EVENT_ID_PMSUSPEND, pm),
  'pm-suspend-disk': d(E.VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK, pm),
  'balloon-change': d(E.VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, (raw, hub) => ({ ...dom(raw, hub), actualKiB: num(raw.actualKiB) })),
  'device-added': d(E.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, device),
  'device-removed': d(E.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, device),
  'device-removal-failed': d(E.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, device),
  'agent-lifecycle': d(E.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, (raw, hub) => ({
    ...dom(raw, hub),
    state: num(raw.state),
    stateName: shortName(ConnectDomainEventAgentLifecycleState, num(raw.state), 'VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_'),
    reason: num(raw.reason),
    reasonName: shortName(ConnectDomainEventAgentLifecycleReason, num(raw.reason), 'VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_'),
  })),
  'migration-iteration': d(E.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, (raw, hub) => ({ ...dom(raw, hub), iteration: num(raw.iteration) })),
  'metadata-change': d(E.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, (raw, hub) => ({
    ...dom(raw, hub),
    type: num(raw.type),
    typeName: shortName(DomainMetadataType, num(raw.type), 'VIR_DOMAIN_METADATA_'),
    nsuri: str(raw.nsuri),
  })),
  'block-threshold': d(E.VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD, (raw, hub) => ({
    ...dom(raw, hub),
    dev: str(raw.dev),
    path: str(raw.path),
    threshold: num(raw.threshold),
    excess: num(raw.excess),
  })),
  'memory-failure': d(E.VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE, (raw, hub) => ({
    ...dom(raw, hub),
    recipient: num(raw.recipient),
    recipientName: shortName(DomainMemoryFailureRecipientType, num(raw.recipient), 'VIR_DOMAIN_EVENT_MEMORY_FAILURE_RECIPIENT_'),
    action: num(raw.action),
    actionName: shortName(DomainMemoryFailureActionType, num(raw.action), 'VIR_DOMAIN_EVENT_MEMORY_FAILURE_ACTION_'),
    flags: num(raw.flags),
  })),
  tunable: d(E.VIR_DOMAIN_EVENT_ID_TUNABLE, params),
  'job-completed': d(E.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, params),
  'memory-device-size-change': d(E.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE, (raw, hub) => ({
    ...dom(raw, hub),
    alias: str(raw.alias),
    sizeKiB: num(raw.sizeKiB),
  })),
};

/** The `lifecycle` spec of a pool or secret: its object, and the event named from `names`. */
function objectLifecycle<K extends 'pool' | 'secret'>(family: K, id: number, names: Record<number, string>, prefix: string): EventSpec {
  return {
    family,
    id,
    convert: (raw, hub) => ({
      [family]: hub.wrap[family](raw[family]),
      event: num(raw.event),
      eventName: shortName(names, num(raw.event), prefix),
      detail: num(raw.detail),
    }),
  };
}

/** @internal */
export const POOL_EVENT_SPECS: Record<Exclude<keyof StoragePoolEvents, 'error'>, EventSpec> = {
  lifecycle: objectLifecycle('pool', StoragePoolEventID.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, StoragePoolEventLifecycleType, 'VIR_STORAGE_POOL_EVENT_'),
  refresh: {
    family: 'pool',
    id: StoragePoolEventID.VIR_STORAGE_POOL_EVENT_ID_REFRESH,
    convert: (raw, hub): StoragePoolRefreshEvent => ({ pool: hub.wrap.pool(raw.pool) as StoragePool }),
  },
};

/** @internal */
export const SECRET_EVENT_SPECS: Record<Exclude<keyof SecretEvents, 'error'>, EventSpec> = {
  lifecycle: objectLifecycle('secret', SecretEventID.VIR_SECRET_EVENT_ID_LIFECYCLE, SecretEventLifecycleType, 'VIR_SECRET_EVENT_'),
  'value-changed': {
    family: 'secret',
    id: SecretEventID.VIR_SECRET_EVENT_ID_VALUE_CHANGED,
    convert: (raw, hub): SecretValueChangedEvent => ({ secret: hub.wrap.secret(raw.secret) as Secret }),
  },
};

/** The close event from a reason code. @internal */
export function closedEvent(reason: number): ConnectionClosedEvent {
  return { reason, reasonName: shortName(ConnectCloseReason, reason, 'VIR_CONNECT_CLOSE_REASON_') };
}

const prefixed = (prefix: string, specs: Record<string, EventSpec>) =>
  Object.fromEntries(Object.entries(specs).map(([k, v]) => [`${prefix}-${k}`, v]));

/** @internal */
export const CONNECTION_EVENT_SPECS: Record<string, EventSpec> = {
  ...prefixed('domain', DOMAIN_EVENT_SPECS),
  ...prefixed('pool', POOL_EVENT_SPECS),
  ...prefixed('secret', SECRET_EVENT_SPECS),
  closed: {
    family: 'close',
    id: 0,
    convert: (raw, hub) => {
      hub.closeReported = true;
      // The connection is dead: no event can follow. Iterators end once they have read
      // what is queued (this event included).
      queueMicrotask(() => hub.endIterators());
      return closedEvent(num(raw.reason));
    },
  },
};
