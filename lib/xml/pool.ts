/**
 * Typed storage pool XML (`virStoragePoolDefineXML` / `virStoragePoolGetXMLDesc`), lossless:
 * a parsed document keeps everything the types do not model, and builds back with only the
 * typed fields changed.
 *
 * @see https://libvirt.org/formatstorage.html
 */
import {
  childElements,
  clone,
  element,
  ensureChild,
  firstChild,
  parseRoot,
  removeChildren,
  replaceChildren,
  serialize,
  setAttr,
  setChildText,
  textOf,
  type XElement,
} from './ordered';
import { assign, buildPermissions, parsePermissions, wholeNumber, type Permissions } from './common';
import { toBytes } from './units';

/** Every pool type libvirt 9 knows. */
export const POOL_TYPES = ['dir', 'fs', 'netfs', 'logical', 'disk', 'iscsi', 'iscsi-direct', 'scsi', 'mpath', 'rbd', 'sheepdog', 'gluster', 'zfs', 'vstorage'] as const;
export type PoolType = (typeof POOL_TYPES)[number];

/** `<host name= port=>`. */
export interface PoolHost {
  name: string;
  port?: number;
}

/** `<freeExtent start= end=>` (disk pools, reported by libvirt). */
export interface PoolFreeExtent {
  start: number;
  end: number;
}

/** `<device path=>`: a block device, or the target IQN for iscsi pools. */
export interface PoolDevice {
  path: string;
  partSeparator?: boolean;
  freeExtents?: PoolFreeExtent[];
}

/** `<adapter>` of scsi pools. */
export interface PoolAdapter {
  type?: 'scsi_host' | 'fc_host';
  name?: string;
  parent?: string;
  managed?: boolean;
  wwnn?: string;
  wwpn?: string;
  parentWwnn?: string;
  parentWwpn?: string;
  parentFabricWwn?: string;
}

/** The libvirt secret holding the password or key: by usage id or by UUID. */
export type PoolAuthSecret = { usage: string; uuid?: never } | { uuid: string; usage?: never };

/** `<auth>`: CHAP (iscsi, iscsi-direct) or cephx (rbd). */
export interface PoolAuth {
  type: 'chap' | 'ceph';
  username: string;
  secret: PoolAuthSecret;
}

/** `<source>`; which fields a type takes is spelled out in the per-type interfaces below. */
export interface PoolSource {
  hosts?: PoolHost[];
  devices?: PoolDevice[];
  /** `<dir path=>`: the exported directory (netfs, gluster). */
  dir?: string;
  adapter?: PoolAdapter;
  /** `<name>`: volume group (logical), Ceph pool (rbd), gluster volume, ZFS pool. */
  name?: string;
  /** `<format type=>`: fs type, partition table, nfs/cifs/glusterfs, lvm2. */
  format?: string;
  /** `<initiator><iqn name=>` (iscsi, iscsi-direct). */
  initiatorIqn?: string;
  auth?: PoolAuth;
  vendor?: string;
  product?: string;
  /** `<protocol ver=>` (netfs NFS version). */
  protocolVersion?: string;
}

/** `<permissions>` of the target. */
export type PoolPermissions = Permissions;

/** `<target>`. */
export interface PoolTarget {
  path?: string;
  permissions?: PoolPermissions;
}

interface PoolBase<T extends PoolType> {
  type: T;
  /** Required by libvirt; '' when a parsed document had no `<name>`. */
  name: string;
  uuid?: string;
  /** Reported by libvirt, in bytes (ignored on define). */
  capacity?: number;
  allocation?: number;
  available?: number;
  source?: PoolSource;
  target?: PoolTarget;
}

export interface DirPool extends PoolBase<'dir'> {
  target: PoolTarget & { path: string };
}
export interface FsPool extends PoolBase<'fs'> {
  source: PoolSource & { devices: PoolDevice[] };
  target: PoolTarget & { path: string };
}
export interface NetfsPool extends PoolBase<'netfs'> {
  source: PoolSource & { hosts: PoolHost[]; dir: string };
  target: PoolTarget & { path: string };
  /** `<fs:mount_opts><fs:option name=>`: extra NFS mount options. */
  mountOptions?: string[];
}
export interface LogicalPool extends PoolBase<'logical'> {}
export interface DiskPool extends PoolBase<'disk'> {
  source: PoolSource & { devices: PoolDevice[] };
}
/** The kernel initiator's pool (`iscsiadm`): target path usually `/dev/disk/by-path`. */
export interface IscsiPool extends PoolBase<'iscsi'> {
  source: PoolSource & { hosts: PoolHost[]; devices: PoolDevice[] };
}
/** libiscsi in libvirtd, no kernel initiator: `devices[0].path` is the target IQN. */
export interface IscsiDirectPool extends PoolBase<'iscsi-direct'> {
  source: PoolSource & { hosts: PoolHost[]; devices: PoolDevice[]; initiatorIqn: string };
}
export interface ScsiPool extends PoolBase<'scsi'> {
  source: PoolSource & { adapter: PoolAdapter };
}
export interface MpathPool extends PoolBase<'mpath'> {}
export interface RbdPool extends PoolBase<'rbd'> {
  source: PoolSource & { name: string; hosts: PoolHost[] };
  /** `<rbd:config_opts><rbd:option name= value=>`: librados options. */
  rbdConfig?: Record<string, string>;
}
export interface SheepdogPool extends PoolBase<'sheepdog'> {}
export interface GlusterPool extends PoolBase<'gluster'> {
  source: PoolSource & { hosts: PoolHost[]; name: string };
}
export interface ZfsPool extends PoolBase<'zfs'> {}
export interface VstoragePool extends PoolBase<'vstorage'> {}

/** `<pool>`, discriminated by `type`. */
export type StoragePoolDefinition =
  | DirPool
  | FsPool
  | NetfsPool
  | LogicalPool
  | DiskPool
  | IscsiPool
  | IscsiDirectPool
  | ScsiPool
  | MpathPool
  | RbdPool
  | SheepdogPool
  | GlusterPool
  | ZfsPool
  | VstoragePool;

/** The parsed document a definition came from (kept so that build is lossless). */
export const POOL_SOURCE: unique symbol = Symbol('virtkit.pool.source');

const FS_NS = 'http://libvirt.org/schemas/storagepool/fs/1.0';
const RBD_NS = 'http://libvirt.org/schemas/storagepool/rbd/1.0';

const W = 'storage pool XML';

const int = (v: string | undefined, what: string) => wholeNumber(v, what, W);

function yesNo(v: string | undefined): boolean | undefined {
  return v === undefined ? undefined : v === 'yes';
}

/** The prefix a document binds to a namespace URI (`fs`, `rbd`…), if any. */
function prefixFor(root: XElement, uri: string): string | undefined {
  for (const [k, v] of Object.entries(root.attrs)) if (k.startsWith('xmlns:') && v === uri) return k.slice(6);
  return undefined;
}

function parseSource(el: XElement | undefined): PoolSource | undefined {
  if (!el) return undefined;
  const s: PoolSource = {};
  const hosts = childElements(el, 'host').map((h) => {
    const host: PoolHost = { name: h.attrs.name ?? '' };
    assign(host, 'port', int(h.attrs.port, 'host port'));
    return host;
  });
  if (hosts.length) s.hosts = hosts;
  const devices = childElements(el, 'device').map((d) => {
    const dev: PoolDevice = { path: d.attrs.path ?? '' };
    assign(dev, 'partSeparator', yesNo(d.attrs.part_separator));
    const extents = childElements(d, 'freeExtent').map((f) => ({ start: int(f.attrs.start, 'freeExtent start') ?? 0, end: int(f.attrs.end, 'freeExtent end') ?? 0 }));
    if (extents.length) dev.freeExtents = extents;
    return dev;
  });
  if (devices.length) s.devices = devices;
  assign(s, 'dir', firstChild(el, 'dir')?.attrs.path);
  const a = firstChild(el, 'adapter');
  if (a) {
    const ad: PoolAdapter = {};
    assign(ad, 'type', a.attrs.type);
    assign(ad, 'name', a.attrs.name);
    assign(ad, 'parent', a.attrs.parent);
    assign(ad, 'managed', yesNo(a.attrs.managed));
    assign(ad, 'wwnn', a.attrs.wwnn);
    assign(ad, 'wwpn', a.attrs.wwpn);
    assign(ad, 'parentWwnn', a.attrs.parent_wwnn);
    assign(ad, 'parentWwpn', a.attrs.parent_wwpn);
    assign(ad, 'parentFabricWwn', a.attrs.parent_fabric_wwn);
    s.adapter = ad;
  }
  assign(s, 'name', textOf(firstChild(el, 'name')));
  assign(s, 'format', firstChild(el, 'format')?.attrs.type);
  assign(s, 'initiatorIqn', firstChild(firstChild(el, 'initiator'), 'iqn')?.attrs.name);
  const auth = firstChild(el, 'auth');
  if (auth) {
    const sec = firstChild(auth, 'secret');
    const secret: PoolAuthSecret = sec?.attrs.uuid !== undefined ? { uuid: sec.attrs.uuid } : { usage: sec?.attrs.usage ?? '' };
    const type = auth.attrs.type;
    if (type !== 'chap' && type !== 'ceph') throw new SyntaxError(`${W}: auth type '${type ?? ''}' is not chap or ceph`);
    s.auth = { type, username: auth.attrs.username ?? '', secret };
  }
  assign(s, 'vendor', firstChild(el, 'vendor')?.attrs.name);
  assign(s, 'product', firstChild(el, 'product')?.attrs.name);
  assign(s, 'protocolVersion', firstChild(el, 'protocol')?.attrs.ver);
  return s;
}

function parseTarget(el: XElement | undefined): PoolTarget | undefined {
  if (!el) return undefined;
  const t: PoolTarget = {};
  assign(t, 'path', textOf(firstChild(el, 'path')));
  assign(t, 'permissions', parsePermissions(firstChild(el, 'permissions'), W));
  return t;
}

/**
 * A pool's capacity, allocation or available size in bytes. libvirt prints them unsigned; a
 * value of 2^63 bytes or more is a negative number printed so, and stands for 0: libvirt 9.0's
 * rbd backend subtracts a deleted volume's allocation from the pool's, which Ceph's lagging
 * statistics may have made smaller (seen: 18446744073675997309 after deleting a 32 MiB image
 * from a pool whose allocation was 125 bytes).
 */
function poolSize(value: string, unit: string | undefined, what: string): number {
  if ((unit === undefined || /^(b|bytes?)$/iu.test(unit)) && /^\s*\d{19,20}\s*$/u.test(value) && BigInt(value.trim()) >= 2n ** 63n && BigInt(value.trim()) < 2n ** 64n) return 0;
  return toBytes(value, unit, what);
}

/** Parses a `<pool>` document. Throws SyntaxError for malformed documents. */
export function parsePoolXml(xml: string): StoragePoolDefinition {
  const root = parseRoot(xml, 'pool', W);
  const type = root.attrs.type as PoolType;
  if (!POOL_TYPES.includes(type)) throw new SyntaxError(`${W}: unknown pool type '${root.attrs.type ?? ''}'`);
  const def = { type, name: textOf(firstChild(root, 'name')) ?? '' } as StoragePoolDefinition;
  assign(def, 'uuid', textOf(firstChild(root, 'uuid'))?.trim());
  for (const k of ['capacity', 'allocation', 'available'] as const) {
    const el = firstChild(root, k);
    if (el) assign(def, k, poolSize(textOf(el) ?? '', el.attrs.unit, `${W}: <${k}>`));
  }
  assign(def, 'source', parseSource(firstChild(root, 'source')));
  assign(def, 'target', parseTarget(firstChild(root, 'target')));
  const fs = prefixFor(root, FS_NS);
  if (fs && def.type === 'netfs') {
    const opts = childElements(firstChild(root, `${fs}:mount_opts`), `${fs}:option`).map((o) => o.attrs.name ?? '');
    if (opts.length) def.mountOptions = opts;
  }
  const rbd = prefixFor(root, RBD_NS);
  if (rbd && def.type === 'rbd') {
    const opts = childElements(firstChild(root, `${rbd}:config_opts`), `${rbd}:option`);
    if (opts.length) def.rbdConfig = Object.fromEntries(opts.map((o) => [o.attrs.name ?? '', o.attrs.value ?? '']));
  }
  Object.defineProperty(def, POOL_SOURCE, { value: root, enumerable: false });
  return def;
}

function checkDefinition(def: unknown): asserts def is StoragePoolDefinition {
  if (typeof def !== 'object' || def === null) throw new TypeError('pool definition must be an object');
  const d = def as Record<string, unknown>;
  if (!POOL_TYPES.includes(d.type as PoolType)) throw new TypeError(`pool.type must be one of ${POOL_TYPES.join(', ')}`);
  if (typeof d.name !== 'string') throw new TypeError('pool.name must be a string');
  if (d.uuid !== undefined && typeof d.uuid !== 'string') throw new TypeError('pool.uuid must be a string');
  if (d.source !== undefined && (typeof d.source !== 'object' || d.source === null)) throw new TypeError('pool.source must be an object');
  if (d.target !== undefined && (typeof d.target !== 'object' || d.target === null)) throw new TypeError('pool.target must be an object');
  const auth = (d.source as PoolSource | undefined)?.auth;
  if (auth !== undefined) {
    if (auth.type !== 'chap' && auth.type !== 'ceph') throw new TypeError("pool.source.auth.type must be 'chap' or 'ceph'");
    if (typeof auth.username !== 'string') throw new TypeError('pool.source.auth.username must be a string');
    const sec = auth.secret as { usage?: unknown; uuid?: unknown } | undefined;
    if (!sec || (typeof sec.usage !== 'string') === (typeof sec.uuid !== 'string'))
      throw new TypeError('pool.source.auth.secret must be { usage } or { uuid }');
  }
}

function buildSource(el: XElement, s: PoolSource): void {
  replaceChildren(el, 'host', (s.hosts ?? []).map((h) => element('host', h.port === undefined ? { name: h.name } : { name: h.name, port: String(h.port) })));
  replaceChildren(
    el,
    'device',
    (s.devices ?? []).map((d) => {
      const attrs: Record<string, string> = { path: d.path };
      if (d.partSeparator !== undefined) attrs.part_separator = d.partSeparator ? 'yes' : 'no';
      return element('device', attrs, (d.freeExtents ?? []).map((f) => element('freeExtent', { start: String(f.start), end: String(f.end) })));
    }),
  );
  replaceChildren(el, 'dir', s.dir === undefined ? [] : [element('dir', { path: s.dir })]);
  if (s.adapter) {
    const a = ensureChild(el, 'adapter');
    const ad = s.adapter;
    for (const [attr, v] of [
      ['type', ad.type],
      ['name', ad.name],
      ['parent', ad.parent],
      ['managed', ad.managed === undefined ? undefined : ad.managed ? 'yes' : 'no'],
      ['wwnn', ad.wwnn],
      ['wwpn', ad.wwpn],
      ['parent_wwnn', ad.parentWwnn],
      ['parent_wwpn', ad.parentWwpn],
      ['parent_fabric_wwn', ad.parentFabricWwn],
    ] as const)
      setAttr(a, attr, v);
  } else removeChildren(el, 'adapter');
  setChildText(el, 'name', s.name);
  replaceChildren(el, 'format', s.format === undefined ? [] : [element('format', { type: s.format })]);
  if (s.initiatorIqn !== undefined) {
    const init = ensureChild(el, 'initiator');
    replaceChildren(init, 'iqn', [element('iqn', { name: s.initiatorIqn })]);
  } else removeChildren(el, 'initiator');
  if (s.auth) {
    const auth = ensureChild(el, 'auth');
    setAttr(auth, 'type', s.auth.type);
    setAttr(auth, 'username', s.auth.username);
    const secretAttrs: Record<string, string> = s.auth.secret.uuid !== undefined ? { uuid: s.auth.secret.uuid } : { usage: s.auth.secret.usage! };
    replaceChildren(auth, 'secret', [element('secret', secretAttrs)]);
  } else removeChildren(el, 'auth');
  replaceChildren(el, 'vendor', s.vendor === undefined ? [] : [element('vendor', { name: s.vendor })]);
  replaceChildren(el, 'product', s.product === undefined ? [] : [element('product', { name: s.product })]);
  replaceChildren(el, 'protocol', s.protocolVersion === undefined ? [] : [element('protocol', { ver: s.protocolVersion })]);
}

function buildTarget(el: XElement, t: PoolTarget): void {
  setChildText(el, 'path', t.path);
  buildPermissions(el, t.permissions);
}

/** Sets a namespaced option list (`fs:mount_opts`, `rbd:config_opts`), declaring the namespace. */
function buildOptions(root: XElement, uri: string, preferred: string, list: string, options: Array<Record<string, string>> | undefined): void {
  const prefix = prefixFor(root, uri) ?? preferred;
  if (!options || options.length === 0) {
    removeChildren(root, `${prefix}:${list}`);
    return;
  }
  root.attrs[`xmlns:${prefix}`] = uri;
  replaceChildren(root, `${prefix}:${list}`, [element(`${prefix}:${list}`, {}, options.map((o) => element(`${prefix}:option`, o)))]);
}

/**
 * Builds a `<pool>` document. A definition from {@link parsePoolXml} keeps every element and
 * attribute the types do not model.
 */
export function buildPoolXml(def: StoragePoolDefinition): string {
  checkDefinition(def);
  const source = (def as StoragePoolDefinition & { [POOL_SOURCE]?: XElement })[POOL_SOURCE];
  const root = source ? clone(source) : element('pool');
  root.attrs.type = def.type;
  setChildText(root, 'name', def.name === '' ? undefined : def.name); // '' : the document had none
  setChildText(root, 'uuid', def.uuid);
  for (const k of ['capacity', 'allocation', 'available'] as const) {
    const v = def[k];
    replaceChildren(root, k, v === undefined ? [] : [element(k, { unit: 'bytes' }, [{ text: String(v) }])]);
  }
  if (def.source) buildSource(ensureChild(root, 'source'), def.source);
  else removeChildren(root, 'source');
  if (def.target) buildTarget(ensureChild(root, 'target'), def.target);
  else removeChildren(root, 'target');
  if (def.type === 'netfs') buildOptions(root, FS_NS, 'fs', 'mount_opts', def.mountOptions?.map((name) => ({ name })));
  if (def.type === 'rbd') buildOptions(root, RBD_NS, 'rbd', 'config_opts', def.rbdConfig && Object.entries(def.rbdConfig).map(([name, value]) => ({ name, value })));
  return serialize(root) + '\n';
}

/** Parses `virConnectFindStoragePoolSources` output (`<sources><source>…`). */
export function parsePoolSourcesXml(xml: string): PoolSource[] {
  const root = parseRoot(xml, 'sources', 'pool sources XML');
  return childElements(root, 'source').map((el) => parseSource(el) ?? {});
}

/** One pool type in `virConnectGetStoragePoolCapabilities`. */
export interface PoolTypeCapabilities {
  type: string;
  supported: boolean;
  /** `poolOptions`: the pool's source formats. */
  sourceFormats?: { default?: string; values: string[] };
  /** `volOptions`: the formats its volumes can take. */
  volumeFormats?: { default?: string; values: string[] };
}

function formatOptions(el: XElement | undefined, enumName: string): { default?: string; values: string[] } | undefined {
  if (!el) return undefined;
  const out: { default?: string; values: string[] } = {
    values: childElements(childElements(el, 'enum').find((e) => e.attrs.name === enumName), 'value').map((v) => textOf(v) ?? ''),
  };
  assign(out, 'default', firstChild(el, 'defaultFormat')?.attrs.type);
  return out;
}

/** Parses `virConnectGetStoragePoolCapabilities` output. */
export function parsePoolCapabilitiesXml(xml: string): PoolTypeCapabilities[] {
  const root = parseRoot(xml, 'storagepoolCapabilities', 'pool capabilities XML');
  return childElements(root, 'pool').map((p) => {
    const c: PoolTypeCapabilities = { type: p.attrs.type ?? '', supported: p.attrs.supported === 'yes' };
    assign(c, 'sourceFormats', formatOptions(firstChild(p, 'poolOptions'), 'sourceFormatType'));
    assign(c, 'volumeFormats', formatOptions(firstChild(p, 'volOptions'), 'targetFormatType'));
    return c;
  });
}
