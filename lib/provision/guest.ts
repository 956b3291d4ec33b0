/**
 * `defineGuest`: a guest whose disks are pool volumes (LUNs of an `iscsi-direct` pool become
 * network disks in libvirt's hands; images of an `rbd` pool become network disks here, since
 * libvirt 9.0 refuses them as `<disk type='volume'>`), and the teardown helpers that remove
 * what the provisioning helpers created, in the right order.
 */
import type { Connection } from '../connection';
import { DomainUndefineFlagsValues, DomainXMLFlags, ErrorNumber, StoragePoolState, StorageXMLFlags } from '../constants';
import type { Domain } from '../domain';
import type { Secret } from '../secret';
import type { StoragePool } from '../storage-pool';
import { buildDomainXml, parseDomainXml, type DiskSource, type DomainDefinition } from '../xml/domain';
import { domainDefinition, type GuestDisk, type GuestInterface, type GuestNetworkDisk } from '../xml/guest';
import { parsePoolXml, type StoragePoolDefinition } from '../xml/pool';
import { ProvisionError } from './errors';
import { Journal } from './journal';
import { boolArg, codeOf, connArg, createdByVirtkit, integerArg, nameArg, objectArg, pathArg, said, textArg } from './steps';

/** A disk of {@link defineGuest}: a pool volume, or a path on the libvirt host. */
export type GuestDiskOption = { pool: string; volume: string } | { path: string };

/** Options of {@link defineGuest}. */
export interface DefineGuestOptions {
  name: string;
  memoryMiB: number;
  vcpus: number;
  /** `bios` (default) or `uefi` (libvirt picks OVMF; the host needs it installed to start). */
  firmware?: 'bios' | 'uefi';
  /** In boot order; `vda`, `vdb`… on virtio. */
  disks: GuestDiskOption[];
  /** An ISO: a path on the libvirt host (a string or `{ path }`), or a pool volume. */
  cdrom?: string | GuestDiskOption;
  /** A libvirt network's name, or an interface (`{ bridge }`, `{ user: true }`, …). */
  network?: string | GuestInterface;
  /** `kvm` when the host offers it for x86_64, else `qemu` (TCG). */
  type?: 'kvm' | 'qemu';
  /** The guest CPU: `default` (QEMU's default model: runs on any host, nested ones
   * included, and migrates anywhere; the default here), or `host-passthrough` /
   * `host-model` / `maximum` for the host's features. */
  cpu?: 'default' | 'host-passthrough' | 'host-model' | 'maximum';
  /** Start it (default false). */
  start?: boolean;
  /** Start it with libvirtd (default: left as it is; off for a new guest). */
  autostart?: boolean;
}

/** The `<metadata>` element that marks guests defined by {@link defineGuest}: only those are
 * updated by a second call; any other guest of that name is a `conflict`. */
export const GUEST_METADATA_NS = 'urn:x-virtkit:guest:1';
const MARKER = `<metadata><virtkit:guest xmlns:virtkit="${GUEST_METADATA_NS}"/></metadata>`;

function diskArg(d: unknown, what: string): GuestDiskOption {
  const o = objectArg(d, what);
  if (o.path !== undefined) {
    if (o.pool !== undefined || o.volume !== undefined) throw new TypeError(`${what} must be { pool, volume } or { path }, not both`);
    return { path: pathArg(o.path, `${what}.path`) };
  }
  return { pool: nameArg(o.pool, `${what}.pool`), volume: textArg(o.volume, `${what}.volume`) };
}

/** Sanity bounds checked before libvirt is asked (which checks the host's own limits): 4 PiB
 * (a 52-bit physical address space) and libvirt's 4096 vCPUs. */
const MAX_MEMORY_MIB = 2 ** 32;
const MAX_VCPUS = 4096;
const DIRECT_MODES = ['vepa', 'bridge', 'private', 'passthrough'];

/** `options.network`: a libvirt network's name, or exactly one of `{ network }`, `{ bridge }`,
 * `{ direct, mode? }`, `{ user: true }`, with `mac?` and `model?`; anything else a TypeError. */
function networkArg(v: unknown): GuestInterface | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return { network: nameArg(v, 'options.network') };
  const o = objectArg(v, 'options.network');
  const kinds = ['network', 'bridge', 'direct', 'user'].filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) throw new TypeError("options.network must be a network's name or an object with exactly one of network, bridge, direct or user");
  const kind = kinds[0]!;
  const allowed = new Set([kind, 'mac', 'model', ...(kind === 'direct' ? ['mode'] : [])]);
  for (const k of Object.keys(o)) if (o[k] !== undefined && !allowed.has(k)) throw new TypeError(`options.network.${k} is not an option of a ${kind} interface (${[...allowed].join(', ')})`);
  let out: GuestInterface;
  if (kind === 'network') out = { network: nameArg(o.network, 'options.network.network') };
  else if (kind === 'bridge') out = { bridge: nameArg(o.bridge, 'options.network.bridge') };
  else if (kind === 'direct') {
    if (o.mode !== undefined && !DIRECT_MODES.includes(o.mode as string)) throw new TypeError(`options.network.mode must be one of ${DIRECT_MODES.join(', ')}`);
    out = { direct: nameArg(o.direct, 'options.network.direct'), ...(o.mode === undefined ? {} : { mode: o.mode as 'vepa' }) };
  } else {
    if (o.user !== true) throw new TypeError('options.network.user must be true');
    out = { user: true };
  }
  if (o.mac !== undefined) {
    if (typeof o.mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/iu.test(o.mac)) throw new TypeError('options.network.mac must be a MAC address (52:54:00:12:34:56)');
    out.mac = o.mac.toLowerCase();
  }
  if (o.model !== undefined) out.model = nameArg(o.model, 'options.network.model');
  return out;
}

function check(options: unknown) {
  const o = objectArg(options, 'options');
  const name = nameArg(o.name, 'options.name');
  const memoryMiB = integerArg(o.memoryMiB, 'options.memoryMiB', 1, MAX_MEMORY_MIB);
  const vcpus = integerArg(o.vcpus, 'options.vcpus', 1, MAX_VCPUS);
  if (o.firmware !== undefined && o.firmware !== 'bios' && o.firmware !== 'uefi') throw new TypeError("options.firmware must be 'bios' or 'uefi'");
  if (!Array.isArray(o.disks)) throw new TypeError('options.disks must be an array of { pool, volume } or { path }');
  const disks = o.disks.map((d, i) => diskArg(d, `options.disks[${i}]`));
  const cdrom = o.cdrom === undefined ? undefined : typeof o.cdrom === 'string' ? { path: pathArg(o.cdrom, 'options.cdrom') } : diskArg(o.cdrom, 'options.cdrom');
  const network = networkArg(o.network);
  if (o.type !== undefined && o.type !== 'kvm' && o.type !== 'qemu') throw new TypeError("options.type must be 'kvm' or 'qemu'");
  const cpus = ['default', 'host-passthrough', 'host-model', 'maximum'];
  if (o.cpu !== undefined && !cpus.includes(o.cpu as string)) throw new TypeError(`options.cpu must be one of ${cpus.join(', ')}`);
  return {
    cpu: (o.cpu ?? 'default') as 'default' | 'host-passthrough' | 'host-model' | 'maximum',
    name,
    memoryMiB,
    vcpus,
    firmware: (o.firmware ?? 'bios') as 'bios' | 'uefi',
    disks,
    cdrom,
    network,
    type: o.type as 'kvm' | 'qemu' | undefined,
    start: boolArg(o.start, 'options.start') ?? false,
    autostart: boolArg(o.autostart, 'options.autostart'),
  };
}

/** libvirt's (and librbd's) monitor port when a pool's `<host>` names none. */
const RBD_MON_PORT = 6789;

/**
 * An image of an `rbd` pool as a network disk: `<source protocol='rbd' name='CEPHPOOL/IMAGE'>`
 * with the pool's monitors as hosts and its cephx user and `ceph` secret as `<auth>`. libvirt
 * 9.0 refuses rbd-pool volumes as `<disk type='volume'>` ("using 'rbd' pools for backing
 * 'volume' disks isn't yet supported"); this is the disk it would have made of one.
 */
function rbdVolumeDisk(pool: string, def: StoragePoolDefinition, volume: string): GuestNetworkDisk {
  const cephPool = def.source?.name;
  const hosts = def.source?.hosts ?? [];
  if (def.type !== 'rbd' || !cephPool || hosts.length === 0) throw new TypeError(`pool ${pool} is not an rbd pool with a Ceph pool and monitors`);
  const disk: GuestNetworkDisk = { network: { protocol: 'rbd', name: `${cephPool}/${volume}`, hosts: hosts.map((h) => ({ name: h.name, port: h.port ?? RBD_MON_PORT })) } };
  const auth = def.source?.auth;
  if (auth) disk.network.auth = { username: auth.username, secret: { type: 'ceph', ...auth.secret } };
  return disk;
}

/**
 * The typed domain definition {@link defineGuest} defines (with `type` given or `kvm`).
 * `pools` are the definitions of the pools the disks name (what `pool.describe()` gives):
 * volumes of an `rbd` pool among them become network disks, as in defineGuest; other pools'
 * volumes stay `<disk type='volume'>`.
 */
export function guestDefinition(options: DefineGuestOptions, pools: Record<string, StoragePoolDefinition> = {}): DomainDefinition {
  if (typeof pools !== 'object' || pools === null) throw new TypeError('pools must be an object of pool definitions by name');
  return definition(check(options), options.type ?? 'kvm', new Map(Object.entries(pools)));
}

function definition(c: ReturnType<typeof check>, type: 'kvm' | 'qemu', pools: ReadonlyMap<string, StoragePoolDefinition>): DomainDefinition {
  const disk = (d: GuestDiskOption): GuestDisk => {
    const def = 'pool' in d ? pools.get(d.pool) : undefined;
    return 'pool' in d && def?.type === 'rbd' ? rbdVolumeDisk(d.pool, def, d.volume) : { ...d };
  };
  const disks: GuestDisk[] = c.disks.map(disk);
  if (c.cdrom) disks.push({ ...disk(c.cdrom), device: 'cdrom' });
  const def = domainDefinition({
    name: c.name,
    memory: c.memoryMiB * 1024 * 1024,
    vcpus: c.vcpus,
    type,
    firmware: c.firmware,
    disks,
    interfaces: c.network ? [c.network] : [],
    ...(c.cpu === 'default' ? {} : { cpuMode: c.cpu }),
  });
  if (c.cpu === 'default') delete def.cpu;
  def.metadata = MARKER;
  return def;
}

async function hostType(conn: Connection): Promise<'kvm' | 'qemu'> {
  const caps = await conn.capabilities();
  const x86 = caps.guests.find((g) => g.arch === 'x86_64' && g.osType === 'hvm');
  return x86?.domains.some((d) => d.type === 'kvm') ? 'kvm' : 'qemu';
}

/** What {@link provisionGuest} resolves to. */
export interface ProvisionedGuest {
  domain: Domain;
  /** What the call did, in plain words, in order (`defined …`, `found … defined as wanted`, `started …`). */
  actions: string[];
}

/** The parts of a definition {@link defineGuest} sets from its options, in one comparable form. */
function guestShape(def: DomainDefinition): string {
  const devices = def.devices ?? [];
  const cpu = def.cpu?.mode === undefined || def.cpu.mode === 'custom' ? 'default' : def.cpu.mode; // libvirt writes QEMU's default model as 'custom'
  return JSON.stringify({
    type: def.type,
    memory: def.memory,
    vcpus: def.vcpu?.count,
    os: [def.os?.type, def.os?.arch, def.os?.machine, def.os?.firmware ?? null],
    cpu,
    disks: devices.flatMap((d) =>
      d.kind === 'disk' ? [[d.type, d.device ?? 'disk', d.driver?.type ?? null, d.source ?? null, d.target.dev, d.target.bus ?? null, d.readonly === true]] : []),
    interfaces: devices.flatMap((d) => (d.kind === 'interface' ? [[d.type, d.source ?? null, d.mac ?? null, d.model ?? null]] : [])),
  });
}

/**
 * Keeps what libvirt chose for an existing guest where the options leave it open: each
 * interface's MAC address (by position, when the type is the same) and the versioned machine
 * type libvirt expanded `q35` / `pc` to (the guest's ABI).
 */
function keepChosen(def: DomainDefinition, old: DomainDefinition): void {
  const oldIfaces = (old.devices ?? []).filter((d) => d.kind === 'interface');
  const newIfaces = (def.devices ?? []).filter((d) => d.kind === 'interface');
  for (const [i, n] of newIfaces.entries()) {
    const o = oldIfaces[i];
    if (n.kind === 'interface' && o?.kind === 'interface' && n.mac === undefined && o.mac !== undefined && o.type === n.type) n.mac = o.mac;
  }
  const want = def.os?.machine;
  const had = old.os?.machine;
  if (def.os && want && had && ((want === 'q35' && had.startsWith('pc-q35-')) || (want === 'pc' && had.startsWith('pc-i440fx-')))) def.os.machine = had;
}

/**
 * Defines a guest whose disks are pool volumes (`<disk type='volume'>`: for an `iscsi-direct`
 * pool libvirt hands QEMU the LUN with the pool's portal, initiator and CHAP secret; an `rbd`
 * pool's image becomes a network disk with the pool's monitors, cephx user and secret) or host
 * paths, and starts it if asked. Every `{ pool, volume }` is looked up first: a missing one is
 * a `no-volume` error before anything is defined. A guest of that name defined by an earlier
 * `defineGuest` is updated (same UUID, its interfaces keep their MAC addresses), or left as it
 * is when its definition already says what the options say; any other guest of that name is a
 * `conflict`. On failure what this call did is undone (a new guest is removed, an updated one
 * gets its previous definition back). Resolves to the guest; {@link provisionGuest} also says
 * what was done.
 */
export async function defineGuest(conn: Connection, options: DefineGuestOptions): Promise<Domain> {
  return (await provisionGuest(conn, options)).domain;
}

/** {@link defineGuest}, resolving to the guest and what the call did (`actions`). */
export async function provisionGuest(conn: Connection, options: DefineGuestOptions): Promise<ProvisionedGuest> {
  connArg(conn);
  const c = check(options);
  const journal = new Journal();
  try {
    const pools = new Map<string, StoragePoolDefinition>();
    for (const d of [...c.disks, ...(c.cdrom ? [c.cdrom] : [])]) {
      if (!('pool' in d)) continue;
      let pool: StoragePool;
      try {
        pool = await conn.lookupStoragePoolByName(d.pool);
      } catch (err) {
        const missing = codeOf(err) === ErrorNumber.VIR_ERR_NO_STORAGE_POOL;
        throw await journal.fail('guest', missing ? 'no-volume' : 'failed', missing ? `guest ${c.name}: there is no pool ${d.pool}.` : `guest ${c.name}: looking up pool ${d.pool} failed: ${said(err)}.`, err);
      }
      try {
        await pool.lookupVolumeByName(d.volume);
      } catch (err) {
        const running = (await pool.info().catch(() => null))?.state === StoragePoolState.VIR_STORAGE_POOL_RUNNING;
        throw await journal.fail('guest', 'no-volume', `guest ${c.name}: pool ${d.pool} has no volume ${d.volume}${running ? '' : ' (the pool is not running)'}.`, err);
      }
      if (!pools.has(d.pool)) {
        try {
          pools.set(d.pool, await pool.describe());
        } catch (err) {
          throw await journal.fail('guest', 'failed', `guest ${c.name}: reading the definition of pool ${d.pool} failed: ${said(err)}.`, err);
        }
      }
    }
    const def = definition(c, c.type ?? (await hostType(conn)), pools);
    let existing: Domain | null = null;
    try {
      existing = await conn.lookupDomainByName(c.name);
    } catch (err) {
      if (codeOf(err) !== ErrorNumber.VIR_ERR_NO_DOMAIN) throw await journal.fail('guest', 'failed', `looking up guest ${c.name} failed: ${said(err)}.`, err);
    }
    let dom: Domain;
    if (existing === null) {
      try {
        dom = await conn.defineDomain(def);
      } catch (err) {
        throw await journal.fail('guest', 'failed', `defining guest ${c.name} failed: ${said(err)}.`, err);
      }
      const created = dom;
      journal.did(`defined guest ${c.name} (${created.uuid})`, { what: `removed guest ${c.name}`, run: () => created.undefine(DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_NVRAM) });
    } else {
      const found = existing;
      const persistent = await found.isPersistent();
      const oldXml = await found.getXML(persistent ? DomainXMLFlags.VIR_DOMAIN_XML_INACTIVE : 0);
      const old = parseDomainXml(oldXml);
      if (!persistent || !(old.metadata ?? '').includes(GUEST_METADATA_NS))
        throw await journal.fail('guest', 'conflict', `a guest named ${c.name} already exists and was not defined by defineGuest; it was left as it is. Choose another name or remove that guest.`);
      def.uuid = found.uuid;
      keepChosen(def, old);
      if (guestShape(parseDomainXml(buildDomainXml(def))) === guestShape(old)) {
        dom = found;
        journal.did(`found guest ${c.name} (${found.uuid}) defined as wanted`);
      } else {
        try {
          dom = await conn.defineDomain(def);
        } catch (err) {
          throw await journal.fail('guest', 'failed', `updating guest ${c.name} failed: ${said(err)}.`, err);
        }
        journal.did(`updated the definition of guest ${c.name}`, { what: `restored the previous definition of guest ${c.name}`, run: () => conn.defineDomain(oldXml) });
      }
    }
    if (c.start && !(await dom.isActive())) {
      try {
        await dom.start();
      } catch (err) {
        throw await journal.fail('start', 'failed', `guest ${c.name} did not start: ${said(err)}.`, err);
      }
      const started = dom;
      journal.did(`started guest ${c.name}`, { what: `stopped guest ${c.name}`, run: () => started.destroy() });
    }
    if (c.autostart !== undefined) {
      const was = await dom.autostart();
      if (was !== c.autostart) {
        try {
          await dom.setAutostart(c.autostart);
        } catch (err) {
          throw await journal.fail('autostart', 'failed', `setting autostart of guest ${c.name} failed: ${said(err)}.`, err);
        }
        const d = dom;
        journal.did(`set autostart of guest ${c.name}`, { what: `set autostart of guest ${c.name} back`, run: () => d.setAutostart(was) });
      }
    }
    // A running guest's handle with its id (the one defined had none yet).
    const domain = (await dom.isActive()) ? await conn.lookupDomainByName(c.name) : dom;
    return { domain, actions: [...journal.actions] };
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw await journal.fail('guest', 'failed', `defining guest ${c.name} failed: ${said(err)}.`, err);
  } finally {
    journal.finish();
  }
}

// ---- teardown ----

const UNDEFINE_ALL =
  DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
  DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
  DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA |
  DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_NVRAM;

/**
 * Removes a guest: stopped (forcibly) if it runs, then undefined with its managed save image,
 * snapshot and checkpoint metadata and NVRAM. Its disks' volumes stay. Resolves to what it
 * did; a guest that does not exist is nothing to do.
 */
export async function teardownGuest(conn: Connection, guest: string | Domain): Promise<string[]> {
  connArg(conn);
  const name = typeof guest === 'string' ? nameArg(guest, 'guest') : nameArg((guest as { name?: unknown })?.name, 'guest.name');
  const actions: string[] = [];
  let dom: Domain;
  try {
    dom = await conn.lookupDomainByName(name);
  } catch (err) {
    if (codeOf(err) === ErrorNumber.VIR_ERR_NO_DOMAIN) return actions;
    throw new ProvisionError({ step: 'teardown', reason: 'failed', message: `looking up guest ${name} failed: ${said(err)}.`, cause: err });
  }
  try {
    const persistent = await dom.isPersistent();
    if (await dom.isActive()) {
      await dom.destroy().catch((err: unknown) => {
        if (codeOf(err) !== ErrorNumber.VIR_ERR_OPERATION_INVALID) throw err; // stopped meanwhile
      });
      actions.push(`stopped guest ${name}`);
    }
    if (persistent) {
      await dom.undefine(UNDEFINE_ALL);
      actions.push(`removed guest ${name}`);
    }
  } catch (err) {
    throw new ProvisionError({ step: 'teardown', reason: 'failed', message: `removing guest ${name} failed: ${said(err)}.`, cause: err, actions });
  }
  return actions;
}

/** Options of {@link teardownPool}. */
export interface TeardownPoolOptions {
  /** Guests with disks on the pool's volumes: `'refuse'` (default: an `in-use` error, nothing
   * removed) or `'remove'` (each removed first with {@link teardownGuest}). */
  guests?: 'refuse' | 'remove';
  /** Remove the secret the pool authenticates with (default true) when a provisioning helper
   * created it (its description says so) and no other pool and no guest's disk (running or
   * persistent definition) refers to it. A secret that existed before is always kept. */
  secret?: boolean;
}

/** The disk sources that are on the pool `name`: `<disk type='volume'>` naming it, a file or
 * block device at one of its volumes' paths, or a network disk on its storage (an iSCSI pool's
 * target at its portal, an RBD pool's Ceph pool through one of its monitors). */
async function poolDiskMatcher(conn: Connection, name: string): Promise<(source: DiskSource | undefined) => boolean> {
  let def: StoragePoolDefinition | null = null;
  const paths = new Set<string>();
  try {
    const p = await conn.lookupStoragePoolByName(name);
    def = parsePoolXml(await p.getXML());
    if (await p.isActive()) for (const v of await p.listVolumesWithInfo()) if (v.path) paths.add(v.path);
  } catch {
    // no such pool, or not readable: only <disk type='volume'> naming it can match
  }
  const iscsi = def && (def.type === 'iscsi' || def.type === 'iscsi-direct') ? def.source?.devices?.[0]?.path : undefined;
  const rbd = def?.type === 'rbd' ? def.source?.name : undefined;
  const hosts = new Set((def?.source?.hosts ?? []).map((h) => `${h.name}:${h.port ?? (rbd ? RBD_MON_PORT : 3260)}`));
  return (s) => {
    if (!s) return false;
    if (s.pool === name) return true;
    if ((s.file !== undefined && paths.has(s.file)) || (s.dev !== undefined && paths.has(s.dev))) return true;
    const via = (port: number) => (s.hosts ?? []).some((h) => hosts.has(`${h.name}:${h.port ?? port}`));
    if (iscsi && s.protocol === 'iscsi' && s.name !== undefined && (s.name === iscsi || s.name.startsWith(`${iscsi}/`)) && via(3260)) return true;
    return rbd !== undefined && s.protocol === 'rbd' && (s.name ?? '').startsWith(`${rbd}/`) && via(RBD_MON_PORT);
  };
}

/**
 * The guests whose (live or persistent) definition has a disk on `pool`: a volume disk naming
 * it, a file or block disk at one of its volumes' paths (while the pool runs), or a network
 * disk on its storage (its iSCSI target at its portal, its Ceph pool through its monitors).
 */
export async function guestsUsingPool(conn: Connection, pool: string): Promise<string[]> {
  connArg(conn);
  nameArg(pool, 'pool');
  const onPool = await poolDiskMatcher(conn, pool);
  const users: string[] = [];
  for (const dom of await conn.listAllDomains()) {
    const xmls = [await dom.getXML().catch(() => '')];
    if (await dom.isPersistent().catch(() => false)) xmls.push(await dom.getXML(DomainXMLFlags.VIR_DOMAIN_XML_INACTIVE).catch(() => ''));
    const uses = xmls.some((x) => {
      if (x === '') return false;
      try {
        return (parseDomainXml(x).devices ?? []).some((d) => d.kind === 'disk' && onPool(d.source));
      } catch {
        return x.includes(`pool='${pool}'`); // a document the typed parser refuses: libvirt's own quoting
      }
    });
    if (uses) users.push(dom.name);
  }
  return users.sort();
}

/** A pool's or guest's live definition and, when it is persistent and running, its persistent one. */
async function definitions(
  o: { getXML: (flags?: number) => Promise<string>; isActive: () => Promise<boolean>; isPersistent: () => Promise<boolean> },
  inactive: number,
): Promise<string[]> {
  const xmls = [await o.getXML().catch(() => '')];
  if ((await o.isActive().catch(() => false)) && (await o.isPersistent().catch(() => false))) xmls.push(await o.getXML(inactive).catch(() => ''));
  return xmls.filter((x) => x !== '');
}

/** Whether a document refers to `secret`: `check()` on the typed document, or (when the typed
 * parser refuses it) its UUID or usage id in libvirt's own quoting. */
function mentions(xml: string, secret: Secret, check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return xml.includes(secret.uuid) || (secret.usageId !== '' && xml.includes(`usage='${secret.usageId}'`));
  }
}

/**
 * Removes a pool the provisioning helpers created, in order: its guests (see `guests`), the
 * pool (stopped, undefined; the storage behind it is not touched), then its secret (see
 * `secret`). Idempotent: a pool that does not exist is nothing to do. Resolves to what it did.
 */
export async function teardownPool(conn: Connection, pool: string | StoragePool, options: TeardownPoolOptions = {}): Promise<string[]> {
  connArg(conn);
  const name = typeof pool === 'string' ? nameArg(pool, 'pool') : nameArg((pool as { name?: unknown })?.name, 'pool.name');
  const o = objectArg(options, 'options');
  if (o.guests !== undefined && o.guests !== 'refuse' && o.guests !== 'remove') throw new TypeError("options.guests must be 'refuse' or 'remove'");
  const removeSecret = boolArg(o.secret, 'options.secret') ?? true;
  const actions: string[] = [];
  const fail = (message: string, cause?: unknown, reason: 'failed' | 'in-use' = 'failed') =>
    new ProvisionError({ step: 'teardown', reason, message, cause, actions: [...actions] });
  let p: StoragePool;
  try {
    p = await conn.lookupStoragePoolByName(name);
  } catch (err) {
    if (codeOf(err) === ErrorNumber.VIR_ERR_NO_STORAGE_POOL) return actions;
    throw fail(`looking up pool ${name} failed: ${said(err)}.`, err);
  }
  const users = await guestsUsingPool(conn, name);
  if (users.length && o.guests !== 'remove')
    throw fail(`pool ${name} still has guests on its volumes (${users.join(', ')}); nothing was removed. Remove them first, or pass { guests: 'remove' }.`, undefined, 'in-use');
  // Guests go first, all at once (a destroy waits for QEMU to exit); their actions in name order,
  // those of a guest that failed half-way too.
  const settled = await Promise.allSettled(users.map((g) => teardownGuest(conn, g)));
  const failed: Array<{ guest: string; err: unknown }> = [];
  for (const [i, r] of settled.entries()) {
    if (r.status === 'fulfilled') actions.push(...r.value);
    else {
      if (r.reason instanceof ProvisionError) actions.push(...r.reason.actions);
      failed.push({ guest: users[i]!, err: r.reason });
    }
  }
  if (failed.length)
    throw fail(`removing the guests of pool ${name} failed (${failed.map((f) => `${f.guest}: ${said(f.err)}`).join('; ')}); the pool and its secret were left.`, failed[0]!.err);
  let auth: { type: string; usage?: string; uuid?: string } | null = null;
  try {
    const def = parsePoolXml(await p.getXML());
    const a = def.source?.auth;
    if (a) auth = { type: a.type === 'ceph' ? 'ceph' : 'iscsi', ...a.secret };
    if (await p.isActive()) {
      await p.destroy();
      actions.push(`stopped pool ${name}`);
    }
    if (await p.isPersistent()) {
      await p.undefine();
      actions.push(`removed the definition of pool ${name}`);
    }
  } catch (err) {
    throw fail(`removing pool ${name} failed: ${said(err)}.`, err);
  }
  if (!removeSecret || !auth) return actions;
  try {
    const secret = auth.uuid ? await conn.lookupSecretByUUID(auth.uuid) : await conn.lookupSecretByUsage(auth.type as 'iscsi' | 'ceph', auth.usage!);
    if (!createdByVirtkit((await secret.describe()).description)) {
      actions.push(`kept secret ${secret.usageType}:${secret.usageId}: it existed before virtkit provisioned the pool`);
      return actions;
    }
    const refersTo = (s: { uuid?: string; usage?: string } | undefined) => s !== undefined && (s.uuid === secret.uuid || (s.usage !== undefined && s.usage === secret.usageId));
    const others: string[] = [];
    for (const other of await conn.listAllStoragePools()) {
      const xmls = await definitions(other, StorageXMLFlags.VIR_STORAGE_XML_INACTIVE);
      if (xmls.some((x) => mentions(x, secret, () => refersTo(parsePoolXml(x).source?.auth?.secret)))) others.push(`pool ${other.name}`);
    }
    for (const dom of await conn.listAllDomains()) {
      const xmls = await definitions(dom, DomainXMLFlags.VIR_DOMAIN_XML_INACTIVE);
      const disksUse = (x: string) => (parseDomainXml(x).devices ?? []).some((d) => d.kind === 'disk' && (refersTo(d.source?.auth?.secret) || refersTo(d.auth?.secret)));
      if (xmls.some((x) => mentions(x, secret, () => disksUse(x)))) others.push(`guest ${dom.name}`);
    }
    if (others.length) {
      actions.push(`kept secret ${secret.usageType}:${secret.usageId}: still used by ${others.join(', ')}`);
      return actions;
    }
    await secret.undefine();
    actions.push(`removed secret ${secret.usageType}:${secret.usageId}`);
  } catch (err) {
    if (codeOf(err) === ErrorNumber.VIR_ERR_NO_SECRET) return actions;
    throw fail(`removing the secret of pool ${name} failed: ${said(err)}.`, err);
  }
  return actions;
}
