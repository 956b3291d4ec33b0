/**
 * Typed domain XML (`virDomainDefineXML` / `virDomainGetXMLDesc`), lossless: a parsed
 * document keeps everything the types do not model, and building it again changes only the
 * parts whose typed fields changed. A part left as parsed is written back exactly as it was
 * read (same elements, attributes, units and order); a changed part is edited in place, so
 * its unknown attributes and children survive too. Devices the types do not model are kept
 * in order as raw XML ({@link RawDevice}).
 *
 * {@link domainDefinition} builds a definition for the common case (a KVM guest with BIOS or
 * UEFI, disks on pool volumes, files, block devices or network sources).
 *
 * @see https://libvirt.org/formatdomain.html
 */
import {
  childElements,
  clone,
  element,
  ensureChild,
  firstChild,
  isElement,
  parseOrdered,
  parseRoot,
  removeChildren,
  replaceChildren,
  serialize,
  setAttr,
  setChildText,
  textOf,
  type XElement,
  type XNode,
} from './ordered';
import { assign, wholeNumber } from './common';
import { toBytes } from './units';

/** An open set of names: the listed ones complete in editors, any other string is accepted
 * (libvirt grows new values; a parsed document keeps what it says). */
type Open<T extends string> = T | (string & {});

/** `<vcpu>`: the maximum count, how vCPUs are placed, and how many are online at boot. */
export interface DomainVcpu {
  count: number;
  placement?: Open<'static' | 'auto'>;
  /** `current=`: vCPUs online at boot (≤ count). */
  current?: number;
  /** `cpuset=`: host CPUs the vCPUs may run on (`1-4,^3`). */
  cpuset?: string;
}

/** `<cpu>`. */
export interface DomainCpu {
  mode?: Open<'custom' | 'host-model' | 'host-passthrough' | 'maximum'>;
  match?: Open<'minimum' | 'exact' | 'strict'>;
  check?: Open<'none' | 'partial' | 'full'>;
  /** `<model fallback=>name</model>`. */
  model?: { name: string; fallback?: Open<'allow' | 'forbid'> };
  vendor?: string;
  /** `<topology>`. */
  topology?: { sockets?: number; dies?: number; clusters?: number; cores?: number; threads?: number };
  /** `<feature policy= name=>`. */
  features?: Array<{ name: string; policy?: Open<'force' | 'require' | 'optional' | 'disable' | 'forbid'> }>;
}

/** `<loader>`: the firmware image. */
export interface DomainLoader {
  path?: string;
  readonly?: boolean;
  type?: Open<'rom' | 'pflash'>;
  /** `secure='yes'`: Secure Boot capable firmware (needs SMM). */
  secure?: boolean;
  stateless?: boolean;
  format?: string;
}

/** `<nvram>`: the guest's UEFI variable store. */
export interface DomainNvram {
  /** The per-guest variable store file. */
  path?: string;
  /** The file it is copied from on first start (`OVMF_VARS.fd`, `AAVMF_VARS.fd`). */
  template?: string;
  /** `type=`: `file`, `block` or `network` (a network store keeps its `<source>` as parsed). */
  type?: string;
  format?: string;
}

/** `<os>`. */
export interface DomainOs {
  /** `<type>`: `hvm` for full virtualisation, `linux` for Xen PV, `exe` for containers. */
  type: string;
  arch?: string;
  /** `machine=`: `q35`, `pc`, `virt`, `pc-q35-7.2`… */
  machine?: string;
  /** `<os firmware=>`: firmware autoselection by the hypervisor driver (`bios` or `efi`). */
  firmware?: Open<'bios' | 'efi'>;
  /** `<firmware><feature enabled= name=>`: what autoselection must (or must not) offer,
   * e.g. `secure-boot`, `enrolled-keys`. */
  firmwareFeatures?: Array<{ name: string; enabled: boolean }>;
  loader?: DomainLoader;
  nvram?: DomainNvram;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  dtb?: string;
  /** `<boot dev=>` in order: `hd`, `cdrom`, `network`, `fd`. */
  boot?: string[];
  /** `<bootmenu enable= timeout=>`; timeout in milliseconds. */
  bootMenu?: { enable: boolean; timeout?: number };
}

/** `<clock>`. */
export interface DomainClock {
  offset?: Open<'utc' | 'localtime' | 'timezone' | 'variable' | 'absolute'>;
  timers?: DomainTimer[];
}

/** `<timer>` of the clock. */
export interface DomainTimer {
  name: string;
  present?: boolean;
  tickpolicy?: Open<'delay' | 'catchup' | 'merge' | 'discard'>;
  track?: string;
}

/** A device's `<address>` attributes (`type='pci' domain= bus= slot= function=`…), kept as
 * written. */
export type DeviceAddress = Record<string, string>;

/** The secret a disk authenticates with: by usage id or by UUID, and its type
 * (`iscsi` for CHAP, `ceph` for cephx). */
export interface DiskAuthSecret {
  type?: Open<'iscsi' | 'ceph'>;
  usage?: string;
  uuid?: string;
}

/** `<auth username=><secret type= usage=|uuid=/></auth>`. */
export interface DiskAuth {
  username: string;
  secret: DiskAuthSecret;
}

/** `<host>` of a network disk source. */
export interface DiskHost {
  name?: string;
  port?: number;
  transport?: Open<'tcp' | 'unix' | 'rdma'>;
  socket?: string;
}

/** `<source>` of a disk; which attributes apply depends on the disk's `type`. */
export interface DiskSource {
  /** type='file'. */
  file?: string;
  /** type='block'. */
  dev?: string;
  /** type='dir'. */
  dir?: string;
  /** type='volume': the storage pool… */
  pool?: string;
  /** …and the volume in it. */
  volume?: string;
  /** type='volume' on an iscsi pool: `host` uses the host's kernel LUN, `direct` lets QEMU
   * reach the LUN itself. */
  mode?: Open<'host' | 'direct'>;
  /** type='network'. */
  protocol?: Open<'iscsi' | 'rbd' | 'nbd' | 'gluster' | 'http' | 'https' | 'ftp' | 'ftps' | 'tftp' | 'sheepdog' | 'vxhs' | 'nfs' | 'ssh'>;
  /** type='network': `iqn…/lun` for iscsi, `pool/image` for rbd, export for nbd, path for
   * http. */
  name?: string;
  hosts?: DiskHost[];
  /** `<auth>` inside `<source>` (the form libvirt prefers). */
  auth?: DiskAuth;
  /** `<initiator><iqn name=>` (iscsi). */
  initiatorIqn?: string;
}

/** `<driver>` of a disk. */
export interface DiskDriver {
  name?: string;
  /** Image format: `raw`, `qcow2`… */
  type?: string;
  cache?: Open<'default' | 'none' | 'writethrough' | 'writeback' | 'directsync' | 'unsafe'>;
  io?: Open<'threads' | 'native' | 'io_uring'>;
  discard?: Open<'ignore' | 'unmap'>;
}

/** Fields every typed device has. */
interface DeviceBase<K extends string> {
  kind: K;
  address?: DeviceAddress;
}

/** `<disk>`. */
export interface DomainDisk extends DeviceBase<'disk'> {
  type: Open<'file' | 'block' | 'dir' | 'network' | 'volume' | 'nvme' | 'vhostuser'>;
  device?: Open<'disk' | 'cdrom' | 'floppy' | 'lun'>;
  driver?: DiskDriver;
  source?: DiskSource;
  /** `<auth>` directly under `<disk>` (the older form). */
  auth?: DiskAuth;
  target: { dev: string; bus?: Open<'virtio' | 'scsi' | 'sata' | 'ide' | 'usb' | 'fdc' | 'sd'> };
  /** `<boot order=>`. */
  bootOrder?: number;
  readonly?: boolean;
  shareable?: boolean;
  serial?: string;
  wwn?: string;
}

/** `<controller>`. */
export interface DomainController extends DeviceBase<'controller'> {
  type: string;
  index?: number;
  model?: string;
}

/** `<interface>`. */
export interface DomainInterface extends DeviceBase<'interface'> {
  type: Open<'network' | 'bridge' | 'direct' | 'user' | 'ethernet' | 'vhostuser' | 'hostdev' | 'udp' | 'vdpa'>;
  mac?: string;
  /** `<model type=>`: `virtio`, `e1000e`, `rtl8139`… */
  model?: string;
  /** `<source>`: `network` (type network), `bridge` (type bridge), `dev` + `mode` (type
   * direct: `vepa`, `bridge`, `private`, `passthrough`). */
  source?: { network?: string; bridge?: string; dev?: string; mode?: string; portgroup?: string };
  /** `<target dev=>`: the host-side tap device name. */
  target?: string;
  bootOrder?: number;
}

/** `<graphics>`. */
export interface DomainGraphics extends DeviceBase<'graphics'> {
  type: Open<'vnc' | 'spice' | 'sdl' | 'rdp' | 'desktop' | 'egl-headless' | 'dbus'>;
  port?: number;
  autoport?: boolean;
  /** `listen=`: the address the server listens on. */
  listen?: string;
}

/** `<video>`. */
export interface DomainVideo extends DeviceBase<'video'> {
  model?: { type: string; vram?: number; heads?: number; primary?: boolean };
}

/** Character devices: `<console>`, `<serial>`, `<channel>`. */
interface CharDevice<K extends string> extends DeviceBase<K> {
  /** The host side: `pty`, `file`, `unix`, `tcp`, `spicevmc`, `qemu-vdagent`… */
  type: string;
  source?: { path?: string; mode?: string };
  /** The guest side: `type` (`serial`, `virtio`, `isa-serial`, `guestfwd`…), `port`, `name`
   * (`org.qemu.guest_agent.0`). */
  target?: { type?: string; port?: number; name?: string };
}
export type DomainConsole = CharDevice<'console'>;
export type DomainSerial = CharDevice<'serial'>;
export type DomainChannel = CharDevice<'channel'>;

/** `<input>`. */
export interface DomainInput extends DeviceBase<'input'> {
  type: Open<'mouse' | 'keyboard' | 'tablet' | 'passthrough' | 'evdev'>;
  bus?: Open<'ps2' | 'usb' | 'virtio' | 'xen'>;
}

/** `<rng>`. */
export interface DomainRng extends DeviceBase<'rng'> {
  model: string;
  /** `<backend model=>`; `path` is the text of a `random` backend (`/dev/urandom`). */
  backend?: { model: string; path?: string };
}

/** `<tpm>`. */
export interface DomainTpm extends DeviceBase<'tpm'> {
  model?: Open<'tpm-tis' | 'tpm-crb' | 'tpm-spapr' | 'spapr-tpm-proxy'>;
  backend?: { type: Open<'passthrough' | 'emulator' | 'external'>; version?: string };
}

/** `<watchdog>`. */
export interface DomainWatchdog extends DeviceBase<'watchdog'> {
  model: string;
  action?: Open<'reset' | 'shutdown' | 'poweroff' | 'pause' | 'none' | 'dump' | 'inject-nmi'>;
}

/** `<memballoon>`. */
export interface DomainMemballoon extends DeviceBase<'memballoon'> {
  model: Open<'virtio' | 'virtio-transitional' | 'virtio-non-transitional' | 'xen' | 'none'>;
  autodeflate?: boolean;
  /** `<stats period=>` in seconds. */
  statsPeriod?: number;
}

/** A device the types do not model (hostdev, sound, audio, filesystem, smartcard, …), kept
 * as its XML. Edit `xml` to change it; it must stay one `<name>` element. */
export interface RawDevice {
  kind: 'raw';
  /** The element name. */
  name: string;
  xml: string;
}

/** Everything under `<devices>` except `<emulator>`, discriminated by `kind`. */
export type DomainDevice =
  | DomainDisk
  | DomainController
  | DomainInterface
  | DomainGraphics
  | DomainVideo
  | DomainConsole
  | DomainSerial
  | DomainChannel
  | DomainInput
  | DomainRng
  | DomainTpm
  | DomainWatchdog
  | DomainMemballoon
  | RawDevice;

/** `<domain>`. Memory sizes are bytes. */
export interface DomainDefinition {
  /** The hypervisor: `kvm`, `qemu`, `test`, `xen`, `lxc`… */
  type: string;
  /** Required by libvirt; '' when a parsed document had no `<name>`. */
  name: string;
  uuid?: string;
  title?: string;
  description?: string;
  /** `<metadata>…</metadata>` as XML (applications' own namespaced elements). */
  metadata?: string;
  /** `<memory>`: the maximum memory at boot, in bytes. */
  memory?: number;
  /** `<currentMemory>`: the balloon's target, in bytes. */
  currentMemory?: number;
  vcpu?: DomainVcpu;
  os?: DomainOs;
  /** The names of the elements in `<features>` (`acpi`, `apic`, `pae`, `gic`, `hyperv`…).
   * Adding a name adds an empty element; removing one removes it. */
  features?: string[];
  /** `<features>…</features>` as XML, for the features' attributes and children (raw access;
   * when both change, this is applied first, then {@link features}). */
  featuresXml?: string;
  cpu?: DomainCpu;
  clock?: DomainClock;
  onPoweroff?: string;
  onReboot?: string;
  onCrash?: string;
  /** `<devices><emulator>`: the hypervisor binary. */
  emulator?: string;
  devices?: DomainDevice[];
}

/** The parsed document a definition came from (kept so that build is lossless). */
export const DOMAIN_SOURCE: unique symbol = Symbol('virtkit.domain.source');
/** The element a parsed device came from (kept so that build is lossless). */
export const DEVICE_SOURCE: unique symbol = Symbol('virtkit.domain.device.source');

interface DomainSource {
  root: XElement;
  /** The typed view as parsed, per top-level field (stable JSON). */
  fields: Record<string, string>;
}
interface DeviceSource {
  el: XElement;
  /** Comments and text that stood before the device. */
  leading: XNode[];
  snapshot: string;
}

const W = 'domain XML';
const int = (v: string | undefined, what: string) => wholeNumber(v, what, W);

/** A signed integer (graphics `port='-1'`). */
function signed(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\s*-?\d+\s*$/.test(v)) throw new SyntaxError(`${W}: ${what}='${v}' is not an integer`);
  return Number(v);
}

const yes = (v: string | undefined): boolean | undefined => (v === undefined ? undefined : v === 'yes' || v === 'on');
const yn = (b: boolean | undefined): string | undefined => (b === undefined ? undefined : b ? 'yes' : 'no');
const onOff = (b: boolean | undefined): string | undefined => (b === undefined ? undefined : b ? 'on' : 'off');
const str = (n: number | undefined): string | undefined => (n === undefined ? undefined : String(n));

/** JSON with sorted keys: compares typed views independently of key order. */
function stable(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.keys(val).sort().map((k) => [k, (val as Record<string, unknown>)[k]]))
      : val,
  ) ?? 'undefined';
}

/** Sets the listed attributes (undefined removes); other attributes stay. */
function setAttrs(el: XElement, attrs: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(attrs)) setAttr(el, k, v);
}

/** Child `name` with the listed attributes, or removed when `attrs` is undefined. */
function childAttrs(parent: XElement, name: string, attrs: Record<string, string | undefined> | undefined): void {
  if (attrs === undefined) removeChildren(parent, name);
  else setAttrs(ensureChild(parent, name), attrs);
}

/** Replaces the element's own text (its children elements stay). */
function setText(el: XElement, value: string | undefined): void {
  const rest = el.children.filter((c) => !('text' in c));
  el.children = value === undefined || value === '' ? rest : [{ text: value }, ...rest];
}

/** An empty flag element (`<readonly/>`), present or not. */
function flag(parent: XElement, name: string, on: boolean | undefined): void {
  if (!on) removeChildren(parent, name);
  else if (!firstChild(parent, name)) parent.children.push(element(name));
}

/** Child `name`'s text, trimmed of nothing (libvirt keeps it as written). */
const childText = (el: XElement | undefined, name: string) => textOf(firstChild(el, name));

/** Parses an XML fragment that must be one `<name>` element. */
function fragment(xml: unknown, name: string, what: string): XElement {
  if (typeof xml !== 'string') throw new TypeError(`${what} must be an XML string`);
  const el = parseOrdered(xml, what);
  if (el.name !== name) throw new TypeError(`${what} must be one <${name}> element, found <${el.name}>`);
  return el;
}

/** Memory size in bytes from `<memory unit=>`. */
function size(el: XElement | undefined, what: string): number | undefined {
  return el ? toBytes(textOf(el) ?? '', el.attrs.unit, `${W}: <${what}>`) : undefined;
}

function writeSize(root: XElement, name: string, bytes: number | undefined): void {
  if (bytes === undefined) return removeChildren(root, name);
  const el = ensureChild(root, name);
  const kib = bytes % 1024 === 0;
  el.attrs.unit = kib ? 'KiB' : 'bytes';
  setText(el, String(kib ? bytes / 1024 : bytes));
}

// ─── parsing ────────────────────────────────────────────────────────────────────────────

function parseVcpu(el: XElement | undefined): DomainVcpu | undefined {
  if (!el) return undefined;
  const v: DomainVcpu = { count: int(textOf(el)?.trim() || undefined, 'vcpu') ?? 0 };
  assign(v, 'placement', el.attrs.placement);
  assign(v, 'current', int(el.attrs.current, 'vcpu current'));
  assign(v, 'cpuset', el.attrs.cpuset);
  return v;
}

function parseCpu(el: XElement | undefined): DomainCpu | undefined {
  if (!el) return undefined;
  const c: DomainCpu = {};
  assign(c, 'mode', el.attrs.mode);
  assign(c, 'match', el.attrs.match);
  assign(c, 'check', el.attrs.check);
  const model = firstChild(el, 'model');
  if (model) c.model = assign<NonNullable<DomainCpu['model']>>({ name: textOf(model) ?? '' }, 'fallback', model.attrs.fallback);
  assign(c, 'vendor', childText(el, 'vendor'));
  const topo = firstChild(el, 'topology');
  if (topo) {
    const t: NonNullable<DomainCpu['topology']> = {};
    for (const k of ['sockets', 'dies', 'clusters', 'cores', 'threads'] as const) assign(t, k, int(topo.attrs[k], `topology ${k}`));
    c.topology = t;
  }
  const features = childElements(el, 'feature').map((f) => assign<{ name: string; policy?: string }>({ name: f.attrs.name ?? '' }, 'policy', f.attrs.policy));
  if (features.length) c.features = features;
  return c;
}

function parseOs(el: XElement | undefined): DomainOs | undefined {
  if (!el) return undefined;
  const type = firstChild(el, 'type');
  const os: DomainOs = { type: textOf(type) ?? '' };
  assign(os, 'arch', type?.attrs.arch);
  assign(os, 'machine', type?.attrs.machine);
  assign(os, 'firmware', el.attrs.firmware);
  const fw = firstChild(el, 'firmware');
  if (fw) os.firmwareFeatures = childElements(fw, 'feature').map((f) => ({ name: f.attrs.name ?? '', enabled: f.attrs.enabled === 'yes' }));
  const loader = firstChild(el, 'loader');
  if (loader) {
    const l: DomainLoader = {};
    assign(l, 'path', textOf(loader) || undefined);
    assign(l, 'readonly', yes(loader.attrs.readonly));
    assign(l, 'type', loader.attrs.type);
    assign(l, 'secure', yes(loader.attrs.secure));
    assign(l, 'stateless', yes(loader.attrs.stateless));
    assign(l, 'format', loader.attrs.format);
    os.loader = l;
  }
  const nvram = firstChild(el, 'nvram');
  if (nvram) {
    const n: DomainNvram = {};
    assign(n, 'path', textOf(nvram) || undefined);
    assign(n, 'template', nvram.attrs.template);
    assign(n, 'type', nvram.attrs.type);
    assign(n, 'format', nvram.attrs.format);
    os.nvram = n;
  }
  for (const k of ['kernel', 'initrd', 'cmdline', 'dtb'] as const) assign(os, k, childText(el, k));
  const boot = childElements(el, 'boot').map((b) => b.attrs.dev ?? '');
  if (boot.length) os.boot = boot;
  const menu = firstChild(el, 'bootmenu');
  if (menu) os.bootMenu = assign<NonNullable<DomainOs['bootMenu']>>({ enable: menu.attrs.enable === 'yes' }, 'timeout', int(menu.attrs.timeout, 'bootmenu timeout'));
  return os;
}

function parseClock(el: XElement | undefined): DomainClock | undefined {
  if (!el) return undefined;
  const c: DomainClock = {};
  assign(c, 'offset', el.attrs.offset);
  const timers = childElements(el, 'timer').map((t) => {
    const timer: DomainTimer = { name: t.attrs.name ?? '' };
    assign(timer, 'present', yes(t.attrs.present));
    assign(timer, 'tickpolicy', t.attrs.tickpolicy);
    assign(timer, 'track', t.attrs.track);
    return timer;
  });
  if (timers.length) c.timers = timers;
  return c;
}

function parseAuth(el: XElement | undefined): DiskAuth | undefined {
  if (!el) return undefined;
  const s = firstChild(el, 'secret');
  const secret: DiskAuthSecret = {};
  assign(secret, 'type', s?.attrs.type);
  assign(secret, 'usage', s?.attrs.usage);
  assign(secret, 'uuid', s?.attrs.uuid);
  return { username: el.attrs.username ?? '', secret };
}

function parseDiskSource(el: XElement | undefined): DiskSource | undefined {
  if (!el) return undefined;
  const s: DiskSource = {};
  for (const k of ['file', 'dev', 'dir', 'pool', 'volume', 'mode', 'protocol', 'name'] as const) assign(s, k, el.attrs[k]);
  const hosts = childElements(el, 'host').map((h) => {
    const host: DiskHost = {};
    assign(host, 'name', h.attrs.name);
    assign(host, 'port', int(h.attrs.port, 'host port'));
    assign(host, 'transport', h.attrs.transport);
    assign(host, 'socket', h.attrs.socket);
    return host;
  });
  if (hosts.length) s.hosts = hosts;
  assign(s, 'auth', parseAuth(firstChild(el, 'auth')));
  assign(s, 'initiatorIqn', firstChild(firstChild(el, 'initiator'), 'iqn')?.attrs.name);
  return s;
}

function parseAddress(el: XElement): DeviceAddress | undefined {
  const a = firstChild(el, 'address');
  return a ? { ...a.attrs } : undefined;
}

function parseBootOrder(el: XElement): number | undefined {
  return int(firstChild(el, 'boot')?.attrs.order, 'boot order');
}

function parseChar<K extends 'console' | 'serial' | 'channel'>(kind: K, el: XElement): CharDevice<K> {
  const d: CharDevice<K> = { kind, type: el.attrs.type ?? '' };
  const src = firstChild(el, 'source');
  if (src) {
    const s: NonNullable<CharDevice<K>['source']> = {};
    assign(s, 'path', src.attrs.path);
    assign(s, 'mode', src.attrs.mode);
    d.source = s;
  }
  const tgt = firstChild(el, 'target');
  if (tgt) {
    const t: NonNullable<CharDevice<K>['target']> = {};
    assign(t, 'type', tgt.attrs.type);
    assign(t, 'port', int(tgt.attrs.port, `${kind} target port`));
    assign(t, 'name', tgt.attrs.name);
    d.target = t;
  }
  return d;
}

const TYPED_DEVICES = ['disk', 'controller', 'interface', 'graphics', 'video', 'console', 'serial', 'channel', 'input', 'rng', 'tpm', 'watchdog', 'memballoon'] as const;
type TypedKind = (typeof TYPED_DEVICES)[number];

function parseDevice(el: XElement): DomainDevice {
  const a = el.attrs;
  let d: Exclude<DomainDevice, RawDevice>;
  switch (el.name as TypedKind) {
    case 'disk': {
      const tgt = firstChild(el, 'target');
      const disk: DomainDisk = { kind: 'disk', type: a.type ?? '', target: assign<DomainDisk['target']>({ dev: tgt?.attrs.dev ?? '' }, 'bus', tgt?.attrs.bus) };
      assign(disk, 'device', a.device);
      const drv = firstChild(el, 'driver');
      if (drv) {
        const driver: DiskDriver = {};
        for (const k of ['name', 'type', 'cache', 'io', 'discard'] as const) assign(driver, k, drv.attrs[k]);
        disk.driver = driver;
      }
      assign(disk, 'source', parseDiskSource(firstChild(el, 'source')));
      assign(disk, 'auth', parseAuth(firstChild(el, 'auth')));
      assign(disk, 'bootOrder', parseBootOrder(el));
      if (firstChild(el, 'readonly')) disk.readonly = true;
      if (firstChild(el, 'shareable')) disk.shareable = true;
      assign(disk, 'serial', childText(el, 'serial'));
      assign(disk, 'wwn', childText(el, 'wwn'));
      d = disk;
      break;
    }
    case 'controller': {
      const c: DomainController = { kind: 'controller', type: a.type ?? '' };
      assign(c, 'index', int(a.index, 'controller index'));
      assign(c, 'model', a.model);
      d = c;
      break;
    }
    case 'interface': {
      const i: DomainInterface = { kind: 'interface', type: a.type ?? '' };
      assign(i, 'mac', firstChild(el, 'mac')?.attrs.address);
      assign(i, 'model', firstChild(el, 'model')?.attrs.type);
      const src = firstChild(el, 'source');
      if (src) {
        const s: NonNullable<DomainInterface['source']> = {};
        for (const k of ['network', 'bridge', 'dev', 'mode', 'portgroup'] as const) assign(s, k, src.attrs[k]);
        i.source = s;
      }
      assign(i, 'target', firstChild(el, 'target')?.attrs.dev);
      assign(i, 'bootOrder', parseBootOrder(el));
      d = i;
      break;
    }
    case 'graphics': {
      const g: DomainGraphics = { kind: 'graphics', type: a.type ?? '' };
      assign(g, 'port', signed(a.port, 'graphics port'));
      assign(g, 'autoport', yes(a.autoport));
      assign(g, 'listen', a.listen);
      d = g;
      break;
    }
    case 'video': {
      const v: DomainVideo = { kind: 'video' };
      const m = firstChild(el, 'model');
      if (m) {
        const model: NonNullable<DomainVideo['model']> = { type: m.attrs.type ?? '' };
        assign(model, 'vram', int(m.attrs.vram, 'video vram'));
        assign(model, 'heads', int(m.attrs.heads, 'video heads'));
        assign(model, 'primary', yes(m.attrs.primary));
        v.model = model;
      }
      d = v;
      break;
    }
    case 'console':
    case 'serial':
    case 'channel':
      d = parseChar(el.name as 'console' | 'serial' | 'channel', el);
      break;
    case 'input':
      d = assign({ kind: 'input', type: a.type ?? '' } as DomainInput, 'bus', a.bus);
      break;
    case 'rng': {
      const r: DomainRng = { kind: 'rng', model: a.model ?? '' };
      const b = firstChild(el, 'backend');
      if (b) r.backend = assign<NonNullable<DomainRng['backend']>>({ model: b.attrs.model ?? '' }, 'path', textOf(b) || undefined);
      d = r;
      break;
    }
    case 'tpm': {
      const t: DomainTpm = { kind: 'tpm' };
      assign(t, 'model', a.model);
      const b = firstChild(el, 'backend');
      if (b) t.backend = assign<NonNullable<DomainTpm['backend']>>({ type: b.attrs.type ?? '' }, 'version', b.attrs.version);
      d = t;
      break;
    }
    case 'watchdog':
      d = assign({ kind: 'watchdog', model: a.model ?? '' } as DomainWatchdog, 'action', a.action);
      break;
    case 'memballoon': {
      const m: DomainMemballoon = { kind: 'memballoon', model: a.model ?? '' };
      assign(m, 'autodeflate', yes(a.autodeflate));
      assign(m, 'statsPeriod', int(firstChild(el, 'stats')?.attrs.period, 'memballoon stats period'));
      d = m;
      break;
    }
    default:
      return { kind: 'raw', name: el.name, xml: serialize(el) };
  }
  const address = parseAddress(el);
  if (address) d.address = address;
  return d;
}

/** The typed view of `root` without hidden sources (what {@link buildDomainXml} compares). */
function parseFields(root: XElement): DomainDefinition {
  const def: DomainDefinition = { type: root.attrs.type ?? '', name: childText(root, 'name') ?? '' };
  assign(def, 'uuid', childText(root, 'uuid')?.trim());
  assign(def, 'title', childText(root, 'title'));
  assign(def, 'description', childText(root, 'description'));
  const metadata = firstChild(root, 'metadata');
  if (metadata) def.metadata = serialize(metadata);
  assign(def, 'memory', size(firstChild(root, 'memory'), 'memory'));
  assign(def, 'currentMemory', size(firstChild(root, 'currentMemory'), 'currentMemory'));
  assign(def, 'vcpu', parseVcpu(firstChild(root, 'vcpu')));
  assign(def, 'os', parseOs(firstChild(root, 'os')));
  const features = firstChild(root, 'features');
  if (features) {
    def.features = childElements(features).map((f) => f.name);
    def.featuresXml = serialize(features);
  }
  assign(def, 'cpu', parseCpu(firstChild(root, 'cpu')));
  assign(def, 'clock', parseClock(firstChild(root, 'clock')));
  assign(def, 'onPoweroff', childText(root, 'on_poweroff'));
  assign(def, 'onReboot', childText(root, 'on_reboot'));
  assign(def, 'onCrash', childText(root, 'on_crash'));
  const devices = firstChild(root, 'devices');
  if (devices) {
    assign(def, 'emulator', childText(devices, 'emulator'));
    def.devices = childElements(devices)
      .filter((c) => c.name !== 'emulator')
      .map(parseDevice);
  }
  return def;
}

/** Top-level fields compared one by one when building. */
const FIELDS = ['type', 'name', 'uuid', 'title', 'description', 'metadata', 'memory', 'currentMemory', 'vcpu', 'os', 'featuresXml', 'features', 'cpu', 'clock', 'onPoweroff', 'onReboot', 'onCrash', 'emulator'] as const;

/**
 * Parses a `<domain>` document. Throws TypeError when `xml` is not a string, SyntaxError for
 * malformed documents (DOCTYPE and entity declarations are refused), RangeError for sizes
 * beyond 2^53 - 1 bytes.
 */
export function parseDomainXml(xml: string): DomainDefinition {
  const root = parseRoot(xml, 'domain', W);
  const def = parseFields(root);
  const fields: Record<string, string> = {};
  for (const f of FIELDS) fields[f] = stable(def[f]);
  Object.defineProperty(def, DOMAIN_SOURCE, { value: { root, fields } satisfies DomainSource, enumerable: false });
  // Hidden per-device sources: each device's element, what stood before it, its typed view.
  const devicesEl = firstChild(root, 'devices');
  if (devicesEl && def.devices) {
    let leading: XNode[] = [];
    let i = 0;
    for (const c of devicesEl.children) {
      if (!isElement(c)) {
        leading.push(c);
        continue;
      }
      if (c.name === 'emulator') {
        leading = []; // written back before the emulator
        continue;
      }
      const dev = def.devices[i++]!;
      Object.defineProperty(dev, DEVICE_SOURCE, { value: { el: c, leading, snapshot: stable(dev) } satisfies DeviceSource, enumerable: false });
      leading = [];
    }
  }
  return def;
}

// ─── building ───────────────────────────────────────────────────────────────────────────

function checkDefinition(def: unknown): asserts def is DomainDefinition {
  if (typeof def !== 'object' || def === null) throw new TypeError('domain definition must be an object');
  const d = def as Record<string, unknown>;
  if (typeof d.type !== 'string' || d.type === '') throw new TypeError("domain.type must be a non-empty string ('kvm', 'qemu', 'test'…)");
  if (typeof d.name !== 'string') throw new TypeError('domain.name must be a string');
  for (const k of ['uuid', 'title', 'description', 'metadata', 'featuresXml', 'onPoweroff', 'onReboot', 'onCrash', 'emulator'] as const)
    if (d[k] !== undefined && typeof d[k] !== 'string') throw new TypeError(`domain.${k} must be a string`);
  for (const k of ['memory', 'currentMemory'] as const)
    if (d[k] !== undefined && (typeof d[k] !== 'number' || !Number.isSafeInteger(d[k]) || (d[k] as number) < 0))
      throw new TypeError(`domain.${k} must be a non-negative safe integer (bytes)`);
  for (const k of ['vcpu', 'os', 'cpu', 'clock'] as const)
    if (d[k] !== undefined && (typeof d[k] !== 'object' || d[k] === null)) throw new TypeError(`domain.${k} must be an object`);
  const vcpu = d.vcpu as DomainVcpu | undefined;
  if (vcpu && (!Number.isSafeInteger(vcpu.count) || vcpu.count < 0)) throw new TypeError('domain.vcpu.count must be a non-negative integer');
  if (d.features !== undefined && (!Array.isArray(d.features) || d.features.some((f) => typeof f !== 'string' || !/^[A-Za-z_][\w.-]*$/.test(f))))
    throw new TypeError('domain.features must be an array of element names');
  if (d.devices !== undefined) {
    if (!Array.isArray(d.devices)) throw new TypeError('domain.devices must be an array');
    for (const [i, dev] of (d.devices as unknown[]).entries()) {
      const kind = (dev as { kind?: unknown } | null)?.kind;
      if (typeof dev !== 'object' || dev === null || (kind !== 'raw' && !TYPED_DEVICES.includes(kind as TypedKind)))
        throw new TypeError(`domain.devices[${i}].kind must be 'raw' or one of ${TYPED_DEVICES.join(', ')}`);
      if (kind === 'disk') {
        const disk = dev as DomainDisk;
        if (typeof disk.type !== 'string' || typeof disk.target?.dev !== 'string') throw new TypeError(`domain.devices[${i}]: a disk needs type and target.dev`);
        for (const auth of [disk.auth, disk.source?.auth])
          if (auth && (typeof auth.username !== 'string' || !auth.secret || (typeof auth.secret.usage === 'string') === (typeof auth.secret.uuid === 'string')))
            throw new TypeError(`domain.devices[${i}].auth needs a username and a secret { usage } or { uuid }`);
      }
    }
  }
}

function buildVcpu(root: XElement, v: DomainVcpu | undefined): void {
  if (!v) return removeChildren(root, 'vcpu');
  const el = ensureChild(root, 'vcpu');
  setAttrs(el, { placement: v.placement, current: str(v.current), cpuset: v.cpuset });
  setText(el, String(v.count));
}

function buildCpu(root: XElement, c: DomainCpu | undefined): void {
  if (!c) return removeChildren(root, 'cpu');
  const el = ensureChild(root, 'cpu');
  setAttrs(el, { mode: c.mode, match: c.match, check: c.check });
  if (c.model) {
    const m = ensureChild(el, 'model');
    setAttr(m, 'fallback', c.model.fallback);
    setText(m, c.model.name);
  } else removeChildren(el, 'model');
  setChildText(el, 'vendor', c.vendor);
  const t = c.topology;
  childAttrs(el, 'topology', t && { sockets: str(t.sockets), dies: str(t.dies), clusters: str(t.clusters), cores: str(t.cores), threads: str(t.threads) });
  replaceChildren(el, 'feature', (c.features ?? []).map((f) => element('feature', f.policy === undefined ? { name: f.name } : { policy: f.policy, name: f.name })));
}

/** A text-and-attributes child (`<loader readonly=>path</loader>`). */
function textAttrsChild(parent: XElement, name: string, attrs: Record<string, string | undefined> | undefined, text: string | undefined): void {
  if (!attrs) return removeChildren(parent, name);
  const el = ensureChild(parent, name);
  setAttrs(el, attrs);
  setText(el, text);
}

function buildOs(root: XElement, os: DomainOs | undefined): void {
  if (!os) return removeChildren(root, 'os');
  const el = ensureChild(root, 'os');
  setAttr(el, 'firmware', os.firmware);
  const type = ensureChild(el, 'type');
  setAttrs(type, { arch: os.arch, machine: os.machine });
  setText(type, os.type);
  if (os.firmwareFeatures) {
    const fw = ensureChild(el, 'firmware');
    replaceChildren(fw, 'feature', os.firmwareFeatures.map((f) => element('feature', { enabled: f.enabled ? 'yes' : 'no', name: f.name })));
  } else removeChildren(el, 'firmware');
  const l = os.loader;
  textAttrsChild(el, 'loader', l && { readonly: yn(l.readonly), type: l.type, secure: yn(l.secure), stateless: yn(l.stateless), format: l.format }, l?.path);
  const n = os.nvram;
  textAttrsChild(el, 'nvram', n && { template: n.template, type: n.type, format: n.format }, n?.path);
  for (const k of ['kernel', 'initrd', 'cmdline', 'dtb'] as const) setChildText(el, k, os[k]);
  replaceChildren(el, 'boot', (os.boot ?? []).map((dev) => element('boot', { dev })));
  const m = os.bootMenu;
  childAttrs(el, 'bootmenu', m && { enable: m.enable ? 'yes' : 'no', timeout: str(m.timeout) });
}

function buildFeatures(root: XElement, names: string[] | undefined): void {
  if (!names) return removeChildren(root, 'features');
  const el = ensureChild(root, 'features');
  const wanted = new Set(names);
  el.children = el.children.filter((c) => !isElement(c) || wanted.has(c.name));
  for (const n of names) if (!firstChild(el, n)) el.children.push(element(n));
}

function buildClock(root: XElement, c: DomainClock | undefined): void {
  if (!c) return removeChildren(root, 'clock');
  const el = ensureChild(root, 'clock');
  setAttr(el, 'offset', c.offset);
  const old = childElements(el, 'timer');
  replaceChildren(
    el,
    'timer',
    (c.timers ?? []).map((t) => {
      const timer = clone(old.find((o) => o.attrs.name === t.name) ?? element('timer'));
      setAttrs(timer, { name: t.name, present: yn(t.present), tickpolicy: t.tickpolicy, track: t.track });
      return timer;
    }),
  );
}

function buildAuth(parent: XElement, auth: DiskAuth | undefined): void {
  if (!auth) return removeChildren(parent, 'auth');
  const el = ensureChild(parent, 'auth');
  setAttr(el, 'username', auth.username);
  const s = auth.secret;
  const attrs: Record<string, string> = {};
  if (s.type !== undefined) attrs.type = s.type;
  if (s.usage !== undefined) attrs.usage = s.usage;
  if (s.uuid !== undefined) attrs.uuid = s.uuid;
  replaceChildren(el, 'secret', [element('secret', attrs)]);
}

function buildDiskSource(disk: XElement, s: DiskSource | undefined): void {
  if (!s) return removeChildren(disk, 'source');
  const el = ensureChild(disk, 'source');
  setAttrs(el, { protocol: s.protocol, name: s.name, file: s.file, dev: s.dev, dir: s.dir, pool: s.pool, volume: s.volume, mode: s.mode });
  replaceChildren(
    el,
    'host',
    (s.hosts ?? []).map((h) => {
      const host = element('host');
      setAttrs(host, { name: h.name, port: str(h.port), transport: h.transport, socket: h.socket });
      return host;
    }),
  );
  buildAuth(el, s.auth);
  if (s.initiatorIqn !== undefined) replaceChildren(ensureChild(el, 'initiator'), 'iqn', [element('iqn', { name: s.initiatorIqn })]);
  else removeChildren(el, 'initiator');
}

function buildAddress(el: XElement, a: DeviceAddress | undefined): void {
  if (!a) return removeChildren(el, 'address');
  ensureChild(el, 'address').attrs = { ...a };
}

function buildBootOrder(el: XElement, order: number | undefined): void {
  childAttrs(el, 'boot', order === undefined ? undefined : { order: String(order) });
}

function buildChar(el: XElement, d: CharDevice<string>): void {
  setAttr(el, 'type', d.type);
  childAttrs(el, 'source', d.source && { path: d.source.path, mode: d.source.mode });
  childAttrs(el, 'target', d.target && { type: d.target.type, port: str(d.target.port), name: d.target.name });
}

/** Writes a typed device onto `el` (its parsed element, or a new one). */
function buildDevice(el: XElement, d: Exclude<DomainDevice, RawDevice>): void {
  switch (d.kind) {
    case 'disk': {
      setAttrs(el, { type: d.type, device: d.device });
      const drv = d.driver;
      childAttrs(el, 'driver', drv && { name: drv.name, type: drv.type, cache: drv.cache, io: drv.io, discard: drv.discard });
      buildAuth(el, d.auth);
      buildDiskSource(el, d.source);
      childAttrs(el, 'target', { dev: d.target.dev, bus: d.target.bus });
      buildBootOrder(el, d.bootOrder);
      flag(el, 'readonly', d.readonly);
      flag(el, 'shareable', d.shareable);
      setChildText(el, 'serial', d.serial);
      setChildText(el, 'wwn', d.wwn);
      break;
    }
    case 'controller':
      setAttrs(el, { type: d.type, index: str(d.index), model: d.model });
      break;
    case 'interface': {
      setAttr(el, 'type', d.type);
      childAttrs(el, 'mac', d.mac === undefined ? undefined : { address: d.mac });
      const s = d.source;
      childAttrs(el, 'source', s && { network: s.network, portgroup: s.portgroup, bridge: s.bridge, dev: s.dev, mode: s.mode });
      childAttrs(el, 'target', d.target === undefined ? undefined : { dev: d.target });
      childAttrs(el, 'model', d.model === undefined ? undefined : { type: d.model });
      buildBootOrder(el, d.bootOrder);
      break;
    }
    case 'graphics':
      setAttrs(el, { type: d.type, port: str(d.port), autoport: yn(d.autoport), listen: d.listen });
      break;
    case 'video': {
      const m = d.model;
      childAttrs(el, 'model', m && { type: m.type, vram: str(m.vram), heads: str(m.heads), primary: yn(m.primary) });
      break;
    }
    case 'console':
    case 'serial':
    case 'channel':
      buildChar(el, d);
      break;
    case 'input':
      setAttrs(el, { type: d.type, bus: d.bus });
      break;
    case 'rng':
      setAttr(el, 'model', d.model);
      textAttrsChild(el, 'backend', d.backend && { model: d.backend.model }, d.backend?.path);
      break;
    case 'tpm':
      setAttr(el, 'model', d.model);
      childAttrs(el, 'backend', d.backend && { type: d.backend.type, version: d.backend.version });
      break;
    case 'watchdog':
      setAttrs(el, { model: d.model, action: d.action });
      break;
    case 'memballoon':
      setAttrs(el, { model: d.model, autodeflate: onOff(d.autodeflate) });
      childAttrs(el, 'stats', d.statsPeriod === undefined ? undefined : { period: String(d.statsPeriod) });
      break;
  }
  buildAddress(el, d.address);
}

function deviceElement(d: DomainDevice, i: number): { el: XElement; leading: XNode[] } {
  const src = (d as DomainDevice & { [DEVICE_SOURCE]?: DeviceSource })[DEVICE_SOURCE];
  const unchanged = src !== undefined && stable(d) === src.snapshot;
  if (d.kind === 'raw') {
    if (unchanged) return { el: clone(src.el), leading: src.leading };
    return { el: fragment(d.xml, d.name, `domain.devices[${i}].xml`), leading: src?.leading ?? [] };
  }
  if (src && src.el.name !== d.kind) throw new TypeError(`domain.devices[${i}]: a <${src.el.name}> cannot become a ${d.kind}`);
  const el = src ? clone(src.el) : element(d.kind);
  if (!unchanged) buildDevice(el, d);
  return { el, leading: src?.leading ?? [] };
}

function buildDevices(root: XElement, def: DomainDefinition): void {
  const old = firstChild(root, 'devices');
  if (def.devices === undefined && def.emulator === undefined) return removeChildren(root, 'devices');
  const el = old ?? ensureChild(root, 'devices');
  const children: XNode[] = [];
  const oldEmu = firstChild(el, 'emulator');
  if (def.emulator !== undefined) {
    const emu = oldEmu ?? element('emulator');
    setText(emu, def.emulator);
    const at = el.children.indexOf(oldEmu as XNode);
    // Comments that stood before the emulator stay before it.
    if (at > 0) for (const c of el.children.slice(0, at)) if (!isElement(c)) children.push(c);
    children.push(emu);
  }
  (def.devices ?? []).forEach((d, i) => {
    const { el: dev, leading } = deviceElement(d, i);
    children.push(...leading, dev);
  });
  // Comments after the last element stay at the end.
  const lastEl = el.children.map((c) => isElement(c)).lastIndexOf(true);
  children.push(...el.children.slice(lastEl + 1));
  el.children = children;
}

/**
 * Builds a `<domain>` document. A definition from {@link parseDomainXml} keeps every element,
 * attribute and comment the types do not model; parts whose typed fields did not change are
 * written back exactly as they were read.
 */
export function buildDomainXml(def: DomainDefinition): string {
  checkDefinition(def);
  const source = (def as DomainDefinition & { [DOMAIN_SOURCE]?: DomainSource })[DOMAIN_SOURCE];
  const root = source ? clone(source.root) : element('domain');
  const changed = (f: (typeof FIELDS)[number]) => !source || stable(def[f]) !== source.fields[f];
  if (changed('type')) root.attrs.type = def.type;
  if (changed('name')) setChildText(root, 'name', def.name === '' ? undefined : def.name);
  if (changed('uuid')) setChildText(root, 'uuid', def.uuid);
  if (changed('title')) setChildText(root, 'title', def.title);
  if (changed('description')) setChildText(root, 'description', def.description);
  if (changed('metadata')) replaceChildren(root, 'metadata', def.metadata === undefined ? [] : [fragment(def.metadata, 'metadata', 'domain.metadata')]);
  if (changed('memory')) writeSize(root, 'memory', def.memory);
  if (changed('currentMemory')) writeSize(root, 'currentMemory', def.currentMemory);
  if (changed('vcpu')) buildVcpu(root, def.vcpu);
  if (changed('os')) buildOs(root, def.os);
  if (changed('featuresXml') && def.featuresXml !== undefined) replaceChildren(root, 'features', [fragment(def.featuresXml, 'features', 'domain.featuresXml')]);
  if (changed('features')) buildFeatures(root, def.features);
  if (changed('cpu')) buildCpu(root, def.cpu);
  if (changed('clock')) buildClock(root, def.clock);
  if (changed('onPoweroff')) setChildText(root, 'on_poweroff', def.onPoweroff);
  if (changed('onReboot')) setChildText(root, 'on_reboot', def.onReboot);
  if (changed('onCrash')) setChildText(root, 'on_crash', def.onCrash);
  buildDevices(root, def);
  return serialize(root) + '\n';
}
