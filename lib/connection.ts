/**
 * Connections to a libvirt driver: `connect()` and the {@link Connection} object.
 *
 * @see https://libvirt.org/html/libvirt-libvirt-host.html
 */
import { inspect } from 'node:util';
import { flagsArg, stringArg, xmlArg } from './args';
import { ConnectCloseReason, ConnectFlags, ErrorDomain, ErrorLevel, ErrorNumber } from './constants';
import { Domain, type DomainStatsRecord } from './domain';
import { EventHub, LibvirtEmitter } from './emitter';
import { LibvirtError, settle } from './errors';
import { closedEvent, CONNECTION_EVENT_SPECS, type ConnectionEvents } from './events';
import { native, type NativeConnect, type NativeDomain, type NativeSecret, type NativeStoragePool } from './native';
import { decodeVersion, type Version } from './version';
import { Secret, SECRET_USAGE_TYPES } from './secret';
import { StoragePool } from './storage-pool';
import { StorageVolume } from './storage-volume';
import { parseCapabilitiesXml, type Capabilities } from './xml/capabilities';
import { buildPoolXml, parsePoolCapabilitiesXml, parsePoolSourcesXml, type PoolSource, type PoolTypeCapabilities, type StoragePoolDefinition } from './xml/pool';
import { buildSecretXml, type SecretDefinition, type SecretUsageName } from './xml/secret';
import { buildDomainXml, type DomainDefinition } from './xml/domain';
import { parseSysinfoXml, type Sysinfo } from './xml/sysinfo';
import { childElements, parseOrdered } from './xml/ordered';

/** Credentials answered when libvirt asks for them (SASL, the test driver's `<auth>`). */
export interface ConnectAuth {
  /** Answers `VIR_CRED_USERNAME`, `VIR_CRED_AUTHNAME` and `VIR_CRED_ECHOPROMPT`. */
  username?: string;
  /** Answers `VIR_CRED_PASSPHRASE` and `VIR_CRED_NOECHOPROMPT`. Never logged or shown. */
  password?: string;
}

/** libvirt keepalive: after `count` unanswered probes sent every `interval` seconds the
 * connection is closed. Meaningful for connections to a daemon. While it is on, the
 * connection's calls (its objects' included, streams excepted) run one at a time: libvirt
 * 9.0's client, after a keepalive timeout with several calls in flight, hangs them and then
 * crashes the process (see native/handle.h, CallGate). */
export interface KeepAlive {
  interval: number;
  count: number;
}

export interface ConnectOptions {
  /** Open with `VIR_CONNECT_RO`. */
  readOnly?: boolean;
  auth?: ConnectAuth;
  /** Turn keepalive on (starts libvirt's event loop first, see {@link startEventLoop}). */
  keepAlive?: KeepAlive;
  /** Start libvirt's event loop before opening, so that events from a daemon (and the
   * `closed` event) can be heard on this connection. Not needed for `test:///` URIs. */
  events?: boolean;
}

/** Host facts from `virNodeGetInfo`. */
export interface NodeInfo {
  /** CPU model (architecture) string, e.g. `x86_64`. */
  model: string;
  /** Memory size in KiB. */
  memoryKiB: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** The URI used when `connect()` is given none and `LIBVIRT_DEFAULT_URI` is unset. */
export const DEFAULT_URI = 'test:///default';

function checkOptions(options: unknown): ConnectOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw new TypeError('options must be an object');
  const o = options as Record<string, unknown>;
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new TypeError('options.readOnly must be a boolean');
  if (o.auth !== undefined) {
    if (typeof o.auth !== 'object' || o.auth === null) throw new TypeError('options.auth must be an object');
    const a = o.auth as Record<string, unknown>;
    for (const k of ['username', 'password'] as const) {
      if (a[k] !== undefined && typeof a[k] !== 'string') throw new TypeError(`options.auth.${k} must be a string`);
      if (typeof a[k] === 'string' && (a[k] as string).includes('\0'))
        throw new TypeError(`options.auth.${k} must not contain NUL characters`);
    }
  }
  if (o.keepAlive !== undefined) checkKeepAlive(o.keepAlive, 'options.keepAlive');
  if (o.events !== undefined && typeof o.events !== 'boolean') throw new TypeError('options.events must be a boolean');
  return o as ConnectOptions;
}

function checkKeepAlive(k: unknown, what: string): asserts k is KeepAlive {
  if (typeof k !== 'object' || k === null) throw new TypeError(`${what} must be { interval, count }`);
  const { interval, count } = k as Record<string, unknown>;
  if (typeof interval !== 'number' || typeof count !== 'number') throw new TypeError(`${what}.interval and .count must be numbers`);
  if (!Number.isInteger(interval) || interval < -1 || interval > 2 ** 31 - 1)
    throw new RangeError(`${what}.interval must be an integer from -1 to 2147483647 (seconds; <= 0 disables)`);
  if (!Number.isInteger(count) || count < 0 || count > 2 ** 32 - 1)
    throw new RangeError(`${what}.count must be an integer from 0 to 4294967295`);
}

/**
 * Starts libvirt's event loop (`virEventRegisterDefaultImpl`, run on one dedicated native
 * thread), once per process. Keepalive and events need it, and only connections opened
 * after it started can use them; `connect()` with `keepAlive` starts it by itself.
 * It is not started by default because, once registered, every reply from a daemon is
 * handed through the loop thread, which costs each remote call a thread switch.
 * The thread keeps no process alive.
 */
export function startEventLoop(): void {
  native.startEventLoop();
}

/** Whether {@link startEventLoop} has run in this process. */
export function eventLoopRunning(): boolean {
  return native.eventLoopRunning();
}

/**
 * Opens a connection (`virConnectOpenAuth`) off the main thread.
 *
 * @param uri libvirt URI; defaults to `$LIBVIRT_DEFAULT_URI`, then `test:///default`.
 * @see https://libvirt.org/uri.html
 */
export async function connect(uri?: string | null, options?: ConnectOptions): Promise<Connection> {
  if (uri !== undefined && uri !== null && typeof uri !== 'string') throw new TypeError('uri must be a string');
  if (typeof uri === 'string' && uri.includes('\0')) throw new TypeError('uri must not contain NUL characters');
  const opts = checkOptions(options);
  const target = uri ?? process.env.LIBVIRT_DEFAULT_URI ?? DEFAULT_URI;
  const flags = opts.readOnly ? ConnectFlags.VIR_CONNECT_RO : 0;
  if (opts.keepAlive || opts.events) startEventLoop();
  const eventLoop = eventLoopRunning();
  const handle = await settle(
    native.openConnect(target, flags, opts.auth?.username ?? null, opts.auth?.password ?? null),
    'connect',
  );
  const conn = new Connection(handle, target, opts.readOnly === true, eventLoop);
  if (opts.keepAlive) {
    try {
      await conn.setKeepAlive(opts.keepAlive);
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }
  return conn;
}

// A Connection dropped without close(): its handle's finalizer would close the libvirt
// connection, but an event registration (the anchor stays after the last listener) holds a
// libvirt reference that keeps it open. Give the registrations up, then close.
const dropped = new FinalizationRegistry<EventHub>((hub) => {
  if (!hub.idle) void hub.shutdown().then(() => hub.closeHandle()).catch(() => undefined);
});

/**
 * An open libvirt connection. Every method that talks to libvirt runs off the main thread
 * and returns a Promise; after {@link close} they reject with a `LibvirtError`
 * (`VIR_ERR_INVALID_CONN`).
 *
 * It is an EventEmitter of every object's events ({@link ConnectionEvents}:
 * `domain-lifecycle`, `pool-refresh`, `secret-lifecycle`, `closed`…), subscribed on demand.
 */
export class Connection extends LibvirtEmitter<ConnectionEvents> {
  readonly #native: NativeConnect;
  readonly #hub: EventHub;
  readonly #eventLoop: boolean;
  #keepAlive = false;
  /** The URI this connection was opened with (after applying the defaults). */
  readonly uri: string;
  /** Whether it was opened read-only. */
  readonly readOnly: boolean;

  /** @internal Use {@link connect}. */
  constructor(handle: NativeConnect, uri: string, readOnly: boolean, eventLoop: boolean) {
    const hub: EventHub = new EventHub(handle, uri, eventLoop, {
      domain: (h) => new Domain(h as NativeDomain, hub),
      pool: (h) => new StoragePool(h as NativeStoragePool, hub),
      secret: (h) => new Secret(h as NativeSecret, hub),
    });
    super(CONNECTION_EVENT_SPECS, hub, null);
    this.#hub = hub;
    dropped.register(this, hub, this);
    this.#native = handle;
    this.uri = uri;
    this.readOnly = readOnly;
    this.#eventLoop = eventLoop;
  }

  /** @internal The native handle, for other lib/ modules. */
  get _native(): NativeConnect {
    return this.#native;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.#native.isClosed();
  }

  /** Whether keepalive is active (set and supported by the other side). */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /**
   * Closes the connection (`virConnectClose`). Idempotent. Calls already running finish
   * first: each holds its own reference.
   */
  async close(): Promise<void> {
    if (this.#native.isClosed()) return;
    // A registered event callback holds a reference that would keep the connection open:
    // give them up first. Without any, the handle closes at once (later calls reject).
    if (!this.#hub.idle || this.#hub.iterators.size > 0) await this.#hub.shutdown();
    await settle(this.#native.close(), 'Connection.close');
    dropped.unregister(this);
    if (!this.#hub.closeReported) {
      this.#hub.closeReported = true;
      this.emit('closed', closedEvent(ConnectCloseReason.VIR_CONNECT_CLOSE_REASON_CLIENT));
    }
  }

  /** `virConnectGetURI`: the URI as the driver reports it (a daemon round trip for remote
   * connections). */
  getURI(): Promise<string> {
    return settle(this.#native.getURI(), 'Connection.getURI');
  }

  /** `virConnectIsAlive`: false when a remote connection has lost its daemon. */
  isAlive(): Promise<boolean> {
    return settle(this.#native.isAlive(), 'Connection.isAlive');
  }

  /** `virConnectIsSecure`: whether traffic cannot be observed by third parties. */
  isSecure(): Promise<boolean> {
    return settle(this.#native.isSecure(), 'Connection.isSecure');
  }

  /** `virConnectIsEncrypted`. */
  isEncrypted(): Promise<boolean> {
    return settle(this.#native.isEncrypted(), 'Connection.isEncrypted');
  }

  /** `virConnectGetHostname`: the host's name. */
  hostname(): Promise<string> {
    return settle(this.#native.getHostname(), 'Connection.hostname');
  }

  /** `virConnectGetType`: the hypervisor driver name (`QEMU`, `TEST`, …). */
  type(): Promise<string> {
    return settle(this.#native.getType(), 'Connection.type');
  }

  /** `virConnectGetVersion`: the hypervisor's version. */
  async version(): Promise<Version> {
    return decodeVersion(await settle(this.#native.getVersion(), 'Connection.version'));
  }

  /** `virConnectGetLibVersion`: libvirt's version on the other side of the connection. */
  async libVersion(): Promise<Version> {
    return decodeVersion(await settle(this.#native.getLibVersion(), 'Connection.libVersion'));
  }

  /** `virConnectGetCapabilities`, typed. */
  async capabilities(): Promise<Capabilities> {
    return parseCapabilitiesXml(await this.capabilitiesXml());
  }

  /** `virConnectGetCapabilities`: the raw XML. */
  capabilitiesXml(): Promise<string> {
    return settle(this.#native.getCapabilities(), 'Connection.capabilitiesXml');
  }

  /** `virNodeGetInfo`. */
  async nodeInfo(): Promise<NodeInfo> {
    const n = await settle(this.#native.nodeGetInfo(), 'Connection.nodeInfo');
    return {
      model: n.model,
      memoryKiB: n.memory,
      cpus: n.cpus,
      mhz: n.mhz,
      nodes: n.nodes,
      sockets: n.sockets,
      cores: n.cores,
      threads: n.threads,
    };
  }

  /**
   * `virConnectGetMaxVcpus`: the most vCPUs a guest of domain type `type` (e.g. `kvm`) may
   * have; with no type, the driver's default.
   */
  async maxVcpus(type?: string): Promise<number> {
    if (type !== undefined && typeof type !== 'string') throw new TypeError('type must be a string');
    return settle(this.#native.getMaxVcpus(type ?? null), 'Connection.maxVcpus');
  }

  /** `virConnectGetSysinfo`, typed (SMBIOS tables of the host). */
  async sysinfo(): Promise<Sysinfo> {
    return parseSysinfoXml(await this.sysinfoXml());
  }

  /** `virConnectGetSysinfo`: the raw XML. */
  sysinfoXml(): Promise<string> {
    return settle(this.#native.getSysinfo(0), 'Connection.sysinfoXml');
  }

  /**
   * `virConnectSetKeepAlive`. Resolves `true` when keepalive is active, `false` when the
   * driver has no use for it (a local driver such as `test:///`) or the daemon does not
   * support it. `interval <= 0` disables it. Needs a connection opened after the event loop
   * started (see {@link startEventLoop}); on others it rejects with
   * `VIR_ERR_OPERATION_INVALID`, since nothing would read the daemon's answers.
   */
  async setKeepAlive(keepAlive: KeepAlive): Promise<boolean> {
    checkKeepAlive(keepAlive, 'keepAlive');
    if (!this.#eventLoop && keepAlive.interval > 0)
      throw new LibvirtError({
        code: ErrorNumber.VIR_ERR_OPERATION_INVALID,
        domain: ErrorDomain.VIR_FROM_NONE,
        level: ErrorLevel.VIR_ERR_ERROR,
        message: 'keepalive needs the event loop: open the connection with { keepAlive } or call startEventLoop() before connect()',
      });
    try {
      this.#keepAlive = await settle(this.#native.setKeepAlive(keepAlive.interval, keepAlive.count), 'Connection.setKeepAlive');
    } catch (err) {
      if (!(err instanceof LibvirtError) || err.code !== ErrorNumber.VIR_ERR_NO_SUPPORT) throw err;
      this.#keepAlive = false;
    }
    if (keepAlive.interval <= 0) this.#keepAlive = false;
    return this.#keepAlive;
  }

  /**
   * `virConnectListAllStoragePools`: every pool, filtered by
   * `ConnectListAllStoragePoolsFlags` (active, inactive, persistent, autostart, by type…).
   */
  async listAllStoragePools(flags?: number): Promise<StoragePool[]> {
    const handles = await settle(this.#native.listAllStoragePools(flagsArg(flags)), 'Connection.listAllStoragePools');
    return handles.map((h) => new StoragePool(h, this.#hub));
  }

  /** `virConnectListAllDomains`: every domain, filtered by `ConnectListAllDomainsFlags`. */
  async listAllDomains(flags?: number): Promise<Domain[]> {
    const handles = await settle(this.#native.listAllDomains(flagsArg(flags)), 'Connection.listAllDomains');
    return handles.map((h) => new Domain(h, this.#hub));
  }

  /** `virStoragePoolLookupByName`; rejects with `VIR_ERR_NO_STORAGE_POOL` when absent. */
  async lookupStoragePoolByName(name: string): Promise<StoragePool> {
    const h = await settle(this.#native.storagePoolLookupByName(stringArg(name, 'name')), 'Connection.lookupStoragePoolByName');
    return new StoragePool(h, this.#hub);
  }

  /** `virStoragePoolLookupByTargetPath`: the pool whose target is `path`. */
  async lookupStoragePoolByTargetPath(path: string): Promise<StoragePool> {
    const h = await settle(this.#native.storagePoolLookupByTargetPath(stringArg(path, 'path')), 'Connection.lookupStoragePoolByTargetPath');
    return new StoragePool(h, this.#hub);
  }

  /** `virStorageVolLookupByKey`: a volume by its host-unique key. */
  async lookupStorageVolumeByKey(key: string): Promise<StorageVolume> {
    return new StorageVolume(await settle(this.#native.storageVolLookupByKey(stringArg(key, 'key')), 'Connection.lookupStorageVolumeByKey'), this.#hub);
  }

  /** `virStorageVolLookupByPath`: a volume by its path on the host. */
  async lookupStorageVolumeByPath(path: string): Promise<StorageVolume> {
    return new StorageVolume(await settle(this.#native.storageVolLookupByPath(stringArg(path, 'path')), 'Connection.lookupStorageVolumeByPath'), this.#hub);
  }

  /** `virStoragePoolDefineXML`: defines a persistent pool (inactive until started) from a
   * typed definition or an XML string. */
  async defineStoragePool(definition: StoragePoolDefinition | string, flags?: number): Promise<StoragePool> {
    const xml = typeof definition === 'string' ? definition : buildPoolXml(definition);
    const h = await settle(this.#native.storagePoolDefineXML(xmlArg(xml, 'definition'), flagsArg(flags)), 'Connection.defineStoragePool');
    return new StoragePool(h, this.#hub);
  }

  /** `virStoragePoolCreateXML`: creates and starts a transient pool (typed or XML). */
  async createStoragePool(definition: StoragePoolDefinition | string, flags?: number): Promise<StoragePool> {
    const xml = typeof definition === 'string' ? definition : buildPoolXml(definition);
    const h = await settle(this.#native.storagePoolCreateXML(xmlArg(xml, 'definition'), flagsArg(flags)), 'Connection.createStoragePool');
    return new StoragePool(h, this.#hub);
  }

  /** `virConnectFindStoragePoolSources`: probes for pool sources of `type` (e.g. `logical`,
   * `netfs`, `iscsi`), optionally narrowed by a `<source>` document; returns libvirt's
   * `<sources>` XML. */
  async findStoragePoolSourcesXml(type: string, sourceSpec?: string, flags?: number): Promise<string> {
    const spec = sourceSpec === undefined ? null : xmlArg(sourceSpec, 'sourceSpec');
    // libvirt 9.0's test driver reads the first <host> of a netfs spec without checking there
    // is one (a NULL dereference: the process dies); every driver needs exactly one.
    if (type === 'netfs' && spec !== null && !childElements(parseOrdered(spec, 'sourceSpec'), 'host').some((h) => h.attrs.name))
      throw new LibvirtError({
        code: ErrorNumber.VIR_ERR_INVALID_ARG,
        domain: ErrorDomain.VIR_FROM_STORAGE,
        level: ErrorLevel.VIR_ERR_ERROR,
        message: "invalid argument: hostname must be specified for netfs sources (<source><host name='…'/></source>)",
      });
    return settle(this.#native.findStoragePoolSources(stringArg(type, 'type'), spec, flagsArg(flags)), 'Connection.findStoragePoolSourcesXml');
  }

  /** `virConnectFindStoragePoolSources`, typed: the sources found (hosts, devices, names…). */
  async findStoragePoolSources(type: string, sourceSpec?: string, flags?: number): Promise<PoolSource[]> {
    return parsePoolSourcesXml(await this.findStoragePoolSourcesXml(type, sourceSpec, flags));
  }

  /** `virConnectGetStoragePoolCapabilities`, typed: per pool type, supported or not, and the
   * source and volume formats it takes. */
  async storagePoolCapabilities(): Promise<PoolTypeCapabilities[]> {
    return parsePoolCapabilitiesXml(await this.storagePoolCapabilitiesXml());
  }

  /** `virConnectGetStoragePoolCapabilities`: which pool types this host supports, as XML. */
  async storagePoolCapabilitiesXml(): Promise<string> {
    return settle(this.#native.getStoragePoolCapabilities(0), 'Connection.storagePoolCapabilitiesXml');
  }

  /** `virStoragePoolLookupByUUIDString`. */
  async lookupStoragePoolByUUID(uuid: string): Promise<StoragePool> {
    const h = await settle(this.#native.storagePoolLookupByUUIDString(stringArg(uuid, 'uuid')), 'Connection.lookupStoragePoolByUUID');
    return new StoragePool(h, this.#hub);
  }

  /** `virDomainLookupByName`; rejects with `VIR_ERR_NO_DOMAIN` when absent. */
  async lookupDomainByName(name: string): Promise<Domain> {
    return new Domain(await settle(this.#native.domainLookupByName(stringArg(name, 'name')), 'Connection.lookupDomainByName'), this.#hub);
  }

  /** `virDomainLookupByUUIDString`. */
  async lookupDomainByUUID(uuid: string): Promise<Domain> {
    return new Domain(await settle(this.#native.domainLookupByUUIDString(stringArg(uuid, 'uuid')), 'Connection.lookupDomainByUUID'), this.#hub);
  }

  /** `virDomainDefineXMLFlags`: defines (or updates) a persistent domain from `<domain>` XML or a typed definition
   * (`DomainDefineFlags`: VALIDATE against the schema). */
  async defineDomain(xml: DomainDefinition | string, flags?: number): Promise<Domain> {
    if (typeof xml === 'object' && xml !== null) xml = buildDomainXml(xml); // typed (parseDomainXml, domainDefinition)
    return new Domain(await settle(this.#native.domainDefineXMLFlags(xmlArg(xml, 'xml'), flagsArg(flags)), 'Connection.defineDomain'), this.#hub);
  }

  /** `virDomainCreateXML`: creates and starts a transient domain (`DomainCreateFlags`). */
  async createDomain(xml: DomainDefinition | string, flags?: number): Promise<Domain> {
    if (typeof xml === 'object' && xml !== null) xml = buildDomainXml(xml);
    return new Domain(await settle(this.#native.domainCreateXML(xmlArg(xml, 'xml'), flagsArg(flags)), 'Connection.createDomain'), this.#hub);
  }

  /** `virDomainLookupByID`: a running domain by its hypervisor id. */
  async lookupDomainById(id: number): Promise<Domain> {
    if (typeof id !== 'number') throw new TypeError('id must be a number');
    if (!Number.isInteger(id) || id < 0 || id > 2 ** 31 - 1) throw new RangeError('id must be an integer from 0 to 2147483647');
    return new Domain(await settle(this.#native.domainLookupByID(id), 'Connection.lookupDomainById'), this.#hub);
  }

  /** `virDomainRestoreFlags`: restores a domain from an image `Domain.save()` wrote (a path on
   * the daemon's host). `options.xml` replaces the domain XML in the image; `options.flags`:
   * `DomainSaveRestoreFlags` (BYPASS_CACHE, RUNNING, PAUSED, RESET_NVRAM). */
  async restoreDomain(path: string, options?: { xml?: string; flags?: number }): Promise<void> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('options must be an object');
    const xml = options?.xml === undefined ? null : xmlArg(options.xml, 'options.xml');
    return settle(this.#native.domainRestoreFlags(stringArg(path, 'path'), xml, flagsArg(options?.flags, 'options.flags')), 'Connection.restoreDomain');
  }

  /** `virDomainSaveImageGetXMLDesc`: the domain XML stored in a save image (`DomainSaveImageXMLFlags`: SECURE). */
  async saveImageXML(path: string, flags?: number): Promise<string> {
    return settle(this.#native.domainSaveImageGetXMLDesc(stringArg(path, 'path'), flagsArg(flags)), 'Connection.saveImageXML');
  }

  /** `virDomainSaveImageDefineXML`: replaces the domain XML stored in a save image (only
   * host-side details may change) (`DomainSaveRestoreFlags`: RUNNING, PAUSED). */
  async defineSaveImageXML(path: string, xml: string, flags?: number): Promise<void> {
    return settle(this.#native.domainSaveImageDefineXML(stringArg(path, 'path'), xmlArg(xml, 'xml'), flagsArg(flags)), 'Connection.defineSaveImageXML');
  }

  /**
   * `virConnectGetAllDomainStats`: statistics of every domain in one call, for monitoring.
   * `stats`: `DomainStatsTypes` bits (STATE, CPU_TOTAL, BALLOON, VCPU, INTERFACE, BLOCK, …;
   * 0 for all the driver has); `flags`: `ConnectGetAllDomainStatsFlags` (ACTIVE, RUNNING, …,
   * ENFORCE_STATS). Field names are libvirt's: `state.state`, `cpu.time`, `block.0.rd.bytes`.
   */
  async getAllDomainStats(stats?: number, flags?: number): Promise<DomainStatsRecord[]> {
    const records = await settle(this.#native.getAllDomainStats(flagsArg(stats, 'stats'), flagsArg(flags)), 'Connection.getAllDomainStats');
    return records.map((r) => ({ domain: new Domain(r.domain, this.#hub), stats: r.params }));
  }

  /** `virDomainListGetStats`: like `getAllDomainStats()`, for the given domains of this connection. */
  async domainStats(domains: Domain[], stats?: number, flags?: number): Promise<DomainStatsRecord[]> {
    if (!Array.isArray(domains) || !domains.every((d) => d instanceof Domain)) throw new TypeError('domains must be an array of Domain');
    const records = await settle(
      this.#native.domainListGetStats(domains.map((d) => d._native), flagsArg(stats, 'stats'), flagsArg(flags)),
      'Connection.domainStats',
    );
    return records.map((r) => ({ domain: new Domain(r.domain, this.#hub), stats: r.params }));
  }

  /** `virConnectGetDomainCapabilities`: the `<domainCapabilities>` document for an emulator,
   * architecture, machine type and virtualization type (each optional: the driver's defaults). */
  async domainCapabilitiesXml(options?: { emulator?: string; arch?: string; machine?: string; virtType?: string }, flags?: number): Promise<string> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('options must be an object');
    const opt = (v: unknown, what: string) => (v === undefined ? null : stringArg(v, what));
    return settle(
      this.#native.getDomainCapabilities(opt(options?.emulator, 'options.emulator'), opt(options?.arch, 'options.arch'), opt(options?.machine, 'options.machine'), opt(options?.virtType, 'options.virtType'), flagsArg(flags)),
      'Connection.domainCapabilitiesXml',
    );
  }

  /** `virConnectDomainXMLFromNative`: domain XML from a hypervisor's own configuration
   * (`nativeFormat`: e.g. `qemu-argv`). */
  async domainXmlFromNative(nativeFormat: string, nativeConfig: string): Promise<string> {
    return settle(this.#native.domainXMLFromNative(stringArg(nativeFormat, 'nativeFormat'), stringArg(nativeConfig, 'nativeConfig'), 0), 'Connection.domainXmlFromNative');
  }

  /** `virConnectDomainXMLToNative`: a hypervisor's own configuration (e.g. `qemu-argv`) from domain XML. */
  async domainXmlToNative(nativeFormat: string, domainXml: string): Promise<string> {
    return settle(this.#native.domainXMLToNative(stringArg(nativeFormat, 'nativeFormat'), xmlArg(domainXml, 'domainXml'), 0), 'Connection.domainXmlToNative');
  }

  /**
   * `virSecretDefineXML`: defines a secret (or redefines the one with the same UUID) from a
   * typed definition or an XML string. Set its value with {@link Secret.setValue}.
   */
  async defineSecret(definition: SecretDefinition | string, flags?: number): Promise<Secret> {
    const xml = typeof definition === 'string' ? definition : buildSecretXml(definition);
    const h = await settle(this.#native.secretDefineXML(xmlArg(xml, 'definition'), flagsArg(flags)), 'Connection.defineSecret');
    return new Secret(h, this.#hub);
  }

  /** `virSecretLookupByUUIDString`; rejects with `VIR_ERR_NO_SECRET` when absent. */
  async lookupSecretByUUID(uuid: string): Promise<Secret> {
    return new Secret(await settle(this.#native.secretLookupByUUIDString(stringArg(uuid, 'uuid')), 'Connection.lookupSecretByUUID'), this.#hub);
  }

  /** `virSecretLookupByUsage`: e.g. `('iscsi', 'my-target')`, `('ceph', 'client.admin')`. */
  async lookupSecretByUsage(usageType: SecretUsageName, usageId: string): Promise<Secret> {
    const type = typeof usageType === 'string' && Object.hasOwn(SECRET_USAGE_TYPES, usageType) ? SECRET_USAGE_TYPES[usageType] : undefined;
    if (type === undefined || usageType === ('none' as string))
      throw new TypeError(`usageType must be one of ${Object.keys(SECRET_USAGE_TYPES).filter((k) => k !== 'none').join(', ')}`);
    const h = await settle(this.#native.secretLookupByUsage(type, stringArg(usageId, 'usageId')), 'Connection.lookupSecretByUsage');
    return new Secret(h, this.#hub);
  }

  /** `virConnectListAllSecrets`, filtered by `ConnectListAllSecretsFlags`. */
  async listAllSecrets(flags?: number): Promise<Secret[]> {
    const handles = await settle(this.#native.listAllSecrets(flagsArg(flags)), 'Connection.listAllSecrets');
    return handles.map((h) => new Secret(h, this.#hub));
  }

  [inspect.custom](): string {
    return `Connection { uri: ${inspect(this.uri)}, readOnly: ${this.readOnly}, closed: ${this.closed} }`;
  }

  toJSON(): { uri: string; readOnly: boolean; closed: boolean } {
    return { uri: this.uri, readOnly: this.readOnly, closed: this.closed };
  }
}
