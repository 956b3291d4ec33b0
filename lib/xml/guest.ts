/**
 * A {@link DomainDefinition} for the common case: a KVM (or plain QEMU) guest with a name,
 * memory, vCPUs, BIOS or UEFI firmware, disks on pool volumes, files, block devices or
 * network sources (iSCSI, RBD, NBD…), and network interfaces, with the defaults a KVM user
 * expects. Build it with `buildDomainXml` or pass it to `Connection.defineDomain`; edit the
 * definition first for anything the options do not cover.
 *
 * @see https://libvirt.org/formatdomain.html
 */
import type { DiskAuth, DiskHost, DiskSource, DomainDefinition, DomainDevice, DomainDisk, DomainInterface } from './domain';

/** What every disk option takes besides its source. */
export interface GuestDiskCommon {
  /** `disk` (default) or `cdrom` (read-only, on SATA for q35 and IDE for pc). */
  device?: 'disk' | 'cdrom';
  /** Image format for `<driver type=>`; default `raw`. */
  format?: string;
  /** Default `virtio` for disks. */
  bus?: 'virtio' | 'scsi' | 'sata' | 'ide' | 'usb';
  /** `<driver cache=>`; libvirt's default when absent. */
  cache?: 'default' | 'none' | 'writethrough' | 'writeback' | 'directsync' | 'unsafe';
  readonly?: boolean;
  shareable?: boolean;
  serial?: string;
  bootOrder?: number;
}

/**
 * A disk on a storage pool volume: `<disk type='volume'><source pool= volume=>`. This is
 * the form for volumes of an `iscsi-direct` pool (libvirt gives QEMU the LUN with the pool's
 * host, initiator IQN and CHAP secret), and for `iscsi` pools (`mode: 'host'` uses the
 * host's kernel session, `'direct'` lets QEMU log in itself), `dir`, `logical`… Not for
 * `rbd` pools: libvirt 9.0 refuses them here ("isn't yet supported"); give an RBD image as a
 * network disk (`protocol: 'rbd'`, name `pool/image`, the mons as hosts, auth by `ceph` secret).
 */
export interface GuestPoolDisk extends GuestDiskCommon {
  pool: string;
  volume: string;
  mode?: 'host' | 'direct';
}

/** A disk on a host path: a file (`type='file'`), or a block device when under `/dev/`. */
export interface GuestPathDisk extends GuestDiskCommon {
  path: string;
}

/** A network disk: `<disk type='network'><source protocol= name=><host/>…`. */
export interface GuestNetworkDisk extends GuestDiskCommon {
  network: {
    protocol: 'iscsi' | 'rbd' | 'nbd' | 'gluster' | 'http' | 'https' | (string & {});
    /** iscsi: `iqn…:target/lun`; rbd: `pool/image`. */
    name: string;
    hosts: DiskHost[];
    /** CHAP (secret type `iscsi`) or cephx (secret type `ceph`), by secret usage or UUID. */
    auth?: DiskAuth;
    initiatorIqn?: string;
  };
}

export type GuestDisk = GuestPoolDisk | GuestPathDisk | GuestNetworkDisk;

/** A network interface: on a libvirt network, a host bridge, macvtap on a host NIC
 * (`direct`), or user-mode networking. `model` defaults to `virtio`. */
export type GuestInterface = ({ network: string } | { bridge: string } | { direct: string; mode?: 'vepa' | 'bridge' | 'private' | 'passthrough' } | { user: true }) & {
  mac?: string;
  model?: string;
};

/** Options of {@link domainDefinition}. */
export interface GuestOptions {
  name: string;
  /** Memory in bytes (a whole number of KiB). */
  memory: number;
  vcpus: number;
  /** `kvm` (default) or `qemu` (TCG, no hardware acceleration). */
  type?: 'kvm' | 'qemu';
  /** Default `x86_64`. */
  arch?: string;
  /** Default `q35` on x86, `virt` on aarch64 / riscv64 / armv7l. */
  machine?: 'q35' | 'pc' | 'virt' | (string & {});
  /** `bios` (default on x86) or `uefi` (firmware autoselection, `<os firmware='efi'>`: OVMF
   * on x86, AAVMF on ARM; the default on aarch64). */
  firmware?: 'bios' | 'uefi';
  /** With UEFI: require Secure Boot with Microsoft keys enrolled. */
  secureBoot?: boolean;
  uuid?: string;
  title?: string;
  description?: string;
  disks?: GuestDisk[];
  interfaces?: GuestInterface[];
  /** The hypervisor binary; libvirt picks one for the arch when absent. */
  emulator?: string;
  /** `<cpu mode=>`; default `host-passthrough` for kvm, none for qemu. */
  cpuMode?: 'host-passthrough' | 'host-model' | 'maximum';
  /** Add a serial console on a pty (default true). */
  serialConsole?: boolean;
}

const X86 = new Set(['x86_64', 'i686']);
const PREFIX: Record<string, string> = { virtio: 'vd', scsi: 'sd', sata: 'sd', usb: 'sd', ide: 'hd' };

/** `vda`, …, `vdz`, `vdaa`, … as libvirt counts disk names. */
function diskName(prefix: string, index: number): string {
  let name = '';
  for (let i = index; i >= 0; i = Math.floor(i / 26) - 1) name = String.fromCharCode(97 + (i % 26)) + name;
  return prefix + name;
}

function check(opts: unknown): asserts opts is GuestOptions {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('guest options must be an object');
  const o = opts as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw new TypeError('guest.name must be a non-empty string');
  if (typeof o.memory !== 'number' || !Number.isSafeInteger(o.memory) || o.memory <= 0 || o.memory % 1024 !== 0)
    throw new TypeError('guest.memory must be a positive whole number of KiB, in bytes');
  if (typeof o.vcpus !== 'number' || !Number.isSafeInteger(o.vcpus) || o.vcpus < 1) throw new TypeError('guest.vcpus must be a positive integer');
  if (o.type !== undefined && o.type !== 'kvm' && o.type !== 'qemu') throw new TypeError("guest.type must be 'kvm' or 'qemu'");
  if (o.firmware !== undefined && o.firmware !== 'bios' && o.firmware !== 'uefi') throw new TypeError("guest.firmware must be 'bios' or 'uefi'");
  if (o.disks !== undefined && !Array.isArray(o.disks)) throw new TypeError('guest.disks must be an array');
  for (const [i, d] of ((o.disks as unknown[]) ?? []).entries()) {
    const disk = d as Record<string, unknown> | null;
    const kinds = disk ? ['path', 'network', 'pool'].filter((k) => disk[k] !== undefined) : [];
    if (kinds.length !== 1) throw new TypeError(`guest.disks[${i}] must have exactly one of path, { pool, volume } or network`);
    if (kinds[0] === 'pool' && (typeof disk!.pool !== 'string' || typeof disk!.volume !== 'string')) throw new TypeError(`guest.disks[${i}].pool and .volume must be strings`);
    if (kinds[0] === 'path' && (typeof disk!.path !== 'string' || disk!.path === '')) throw new TypeError(`guest.disks[${i}].path must be a non-empty string`);
    if (kinds[0] === 'network') {
      const n = disk!.network as Record<string, unknown> | null;
      if (typeof n !== 'object' || n === null || typeof n.protocol !== 'string' || typeof n.name !== 'string')
        throw new TypeError(`guest.disks[${i}].network must be { protocol, name, hosts }`);
      if (!Array.isArray(n.hosts) || n.hosts.some((h) => typeof h !== 'object' || h === null || typeof (h as { name?: unknown }).name !== 'string'))
        throw new TypeError(`guest.disks[${i}].network.hosts must be an array of { name, port? }`);
    }
  }
  if (o.interfaces !== undefined && !Array.isArray(o.interfaces)) throw new TypeError('guest.interfaces must be an array');
}

function diskSource(d: GuestDisk): { type: string; source: DiskSource } {
  if ('pool' in d) {
    const source: DiskSource = { pool: d.pool, volume: d.volume };
    if (d.mode !== undefined) source.mode = d.mode;
    return { type: 'volume', source };
  }
  if ('path' in d) return d.path.startsWith('/dev/') ? { type: 'block', source: { dev: d.path } } : { type: 'file', source: { file: d.path } };
  const n = d.network;
  const source: DiskSource = { protocol: n.protocol, name: n.name, hosts: n.hosts.map((h) => ({ ...h })) };
  if (n.auth) source.auth = { username: n.auth.username, secret: { ...n.auth.secret } };
  if (n.initiatorIqn !== undefined) source.initiatorIqn = n.initiatorIqn;
  return { type: 'network', source };
}

function iface(i: GuestInterface): DomainInterface {
  const out: DomainInterface =
    'network' in i
      ? { kind: 'interface', type: 'network', source: { network: i.network } }
      : 'bridge' in i
        ? { kind: 'interface', type: 'bridge', source: { bridge: i.bridge } }
        : 'direct' in i
          ? { kind: 'interface', type: 'direct', source: { dev: i.direct, mode: i.mode ?? 'vepa' } }
          : { kind: 'interface', type: 'user' };
  if (i.mac !== undefined) out.mac = i.mac;
  out.model = i.model ?? 'virtio';
  return out;
}

/**
 * A definition for a typical guest. Defaults: domain type `kvm`, arch `x86_64`, machine
 * `q35`, BIOS firmware, CPU `host-passthrough` (kvm), ACPI and APIC (x86), clock UTC,
 * `destroy` / `restart` / `destroy` on poweroff / reboot / crash, disks on the `virtio` bus
 * named `vda`, `vdb`… with driver `qemu` and format `raw`, interfaces with model `virtio`, a
 * serial console on a pty, and a `virtio` memory balloon.
 *
 * ```ts
 * const def = domainDefinition({
 *   name: 'web1', memory: 2 * 1024 ** 3, vcpus: 2, firmware: 'uefi',
 *   disks: [{ pool: 'gw1', volume: 'unit:0:0:1' }],   // a LUN of an iscsi-direct pool
 *   interfaces: [{ network: 'default' }],
 * });
 * const dom = await conn.defineDomain(def);
 * ```
 */
export function domainDefinition(opts: GuestOptions): DomainDefinition {
  check(opts);
  const type = opts.type ?? 'kvm';
  const arch = opts.arch ?? 'x86_64';
  const x86 = X86.has(arch);
  const machine = opts.machine ?? (x86 ? 'q35' : 'virt');
  const firmware = opts.firmware ?? (x86 ? 'bios' : 'uefi');
  const def: DomainDefinition = { type, name: opts.name };
  if (opts.uuid !== undefined) def.uuid = opts.uuid;
  if (opts.title !== undefined) def.title = opts.title;
  if (opts.description !== undefined) def.description = opts.description;
  def.memory = opts.memory;
  def.currentMemory = opts.memory;
  def.vcpu = { count: opts.vcpus, placement: 'static' };
  def.os = { type: 'hvm', arch, machine };
  if (firmware === 'uefi') {
    def.os.firmware = 'efi';
    if (opts.secureBoot !== undefined)
      def.os.firmwareFeatures = [
        { name: 'enrolled-keys', enabled: opts.secureBoot },
        { name: 'secure-boot', enabled: opts.secureBoot },
      ];
  }
  def.os.boot = ['hd'];
  def.features = x86 ? ['acpi', 'apic'] : ['acpi'];
  if (firmware === 'uefi' && opts.secureBoot && x86) def.features.push('smm');
  const cpuMode = opts.cpuMode ?? (type === 'kvm' ? 'host-passthrough' : undefined);
  if (cpuMode) def.cpu = { mode: cpuMode };
  def.clock = { offset: 'utc' };
  def.onPoweroff = 'destroy';
  def.onReboot = 'restart';
  def.onCrash = 'destroy';
  if (opts.emulator !== undefined) def.emulator = opts.emulator;

  const devices: DomainDevice[] = [];
  const used: Record<string, number> = {};
  for (const d of opts.disks ?? []) {
    const cdrom = d.device === 'cdrom';
    const bus = d.bus ?? (cdrom ? (machine === 'pc' ? 'ide' : 'sata') : 'virtio');
    const prefix = PREFIX[bus] ?? 'sd';
    const index = used[prefix] ?? 0;
    used[prefix] = index + 1;
    const { type: diskType, source } = diskSource(d);
    const disk: DomainDisk = {
      kind: 'disk',
      type: diskType,
      device: cdrom ? 'cdrom' : 'disk',
      driver: { name: 'qemu', type: d.format ?? 'raw' },
      source,
      target: { dev: diskName(prefix, index), bus },
    };
    if (d.cache !== undefined) disk.driver!.cache = d.cache;
    if (d.bootOrder !== undefined) disk.bootOrder = d.bootOrder;
    if (d.readonly || cdrom) disk.readonly = true;
    if (d.shareable) disk.shareable = true;
    if (d.serial !== undefined) disk.serial = d.serial;
    devices.push(disk);
  }
  // A per-device boot order and <os><boot> cannot be mixed.
  if (devices.some((d) => d.kind === 'disk' && d.bootOrder !== undefined)) delete def.os.boot;
  for (const i of opts.interfaces ?? []) devices.push(iface(i));
  if (opts.serialConsole !== false) {
    devices.push({ kind: 'serial', type: 'pty', target: { port: 0 } });
    devices.push({ kind: 'console', type: 'pty', target: { type: 'serial', port: 0 } });
  }
  devices.push({ kind: 'memballoon', model: 'virtio' });
  def.devices = devices;
  return def;
}
