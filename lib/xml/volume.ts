/**
 * Typed storage volume XML (`virStorageVolCreateXML` / `virStorageVolGetXMLDesc`), lossless:
 * a parsed document keeps everything the types do not model and builds back with only the
 * typed fields changed.
 *
 * @see https://libvirt.org/formatstorage.html#storage-volume-xml
 */
import { assign, buildPermissions, parsePermissions, wholeNumber, type Permissions } from './common';
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
import { toBytes } from './units';

export const VOLUME_TYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

/** `<timestamps>`: seconds since the epoch with nanoseconds, as libvirt prints them. */
export interface VolumeTimestamps {
  atime?: string;
  mtime?: string;
  ctime?: string;
  btime?: string;
}

/** `<encryption format=>` with the secrets holding its passphrase. */
export interface VolumeEncryption {
  /** `luks`, `qcow`, `default`. */
  format: string;
  secrets: Array<{ type: string; uuid?: string; usage?: string }>;
}

/** `<target>` of a volume (where and how it is stored). */
export interface VolumeTarget {
  path?: string;
  /** `<format type=>`: raw, qcow2, iso, vmdk… */
  format?: string;
  permissions?: Permissions;
  timestamps?: VolumeTimestamps;
  encryption?: VolumeEncryption;
  /** qcow2 `compat` level (`0.10`, `1.1`). */
  compat?: string;
  /** qcow2 cluster size in bytes. */
  clusterSize?: number;
  /** qcow2 features (`lazy_refcounts`, `extended_l2`). */
  features?: string[];
  nocow?: boolean;
}

/** `<backingStore>`: the image this one is a copy-on-write layer over. */
export interface VolumeBackingStore {
  path?: string;
  format?: string;
  permissions?: Permissions;
}

/** `<source><device path=><extent start= end=>` (logical and disk volumes). */
export interface VolumeSourceDevice {
  path: string;
  extents: Array<{ start: number; end: number }>;
}

/** `<volume>`. Sizes are bytes. */
export interface StorageVolumeDefinition {
  type?: VolumeType;
  name: string;
  /** Chosen by the pool (usually the path). */
  key?: string;
  capacity?: number;
  allocation?: number;
  physical?: number;
  sourceDevices?: VolumeSourceDevice[];
  target?: VolumeTarget;
  backingStore?: VolumeBackingStore;
}

/** The parsed document a definition came from (kept so that build is lossless). */
export const VOLUME_SOURCE: unique symbol = Symbol('virtkit.volume.source');

const W = 'storage volume XML';
const int = (v: string | undefined, what: string) => wholeNumber(v, what, W);
const SIZES = ['capacity', 'allocation', 'physical'] as const;

function size(el: XElement | undefined, what: string): number | undefined {
  return el ? toBytes(textOf(el) ?? '', el.attrs.unit, `${W}: <${what}>`) : undefined;
}

function parseTarget(el: XElement | undefined): VolumeTarget | undefined {
  if (!el) return undefined;
  const t: VolumeTarget = {};
  assign(t, 'path', textOf(firstChild(el, 'path')));
  assign(t, 'format', firstChild(el, 'format')?.attrs.type);
  assign(t, 'permissions', parsePermissions(firstChild(el, 'permissions'), W));
  const ts = firstChild(el, 'timestamps');
  if (ts) {
    const stamps: VolumeTimestamps = {};
    for (const k of ['atime', 'mtime', 'ctime', 'btime'] as const) assign(stamps, k, textOf(firstChild(ts, k)));
    t.timestamps = stamps;
  }
  const enc = firstChild(el, 'encryption');
  if (enc)
    t.encryption = {
      format: enc.attrs.format ?? '',
      secrets: childElements(enc, 'secret').map((s) => {
        const sec: VolumeEncryption['secrets'][number] = { type: s.attrs.type ?? '' };
        assign(sec, 'uuid', s.attrs.uuid);
        assign(sec, 'usage', s.attrs.usage);
        return sec;
      }),
    };
  assign(t, 'compat', textOf(firstChild(el, 'compat')));
  assign(t, 'clusterSize', size(firstChild(el, 'clusterSize'), 'clusterSize'));
  const features = firstChild(el, 'features');
  if (features) t.features = childElements(features).map((f) => f.name);
  if (firstChild(el, 'nocow')) t.nocow = true;
  return t;
}

/** Parses a `<volume>` document. Throws SyntaxError for malformed documents. */
export function parseVolumeXml(xml: string): StorageVolumeDefinition {
  const root = parseRoot(xml, 'volume', W);
  const def: StorageVolumeDefinition = { name: textOf(firstChild(root, 'name')) ?? '' };
  const type = root.attrs.type;
  if (type !== undefined) {
    if (!VOLUME_TYPES.includes(type as VolumeType)) throw new SyntaxError(`${W}: unknown volume type '${type}'`);
    def.type = type as VolumeType;
  }
  assign(def, 'key', textOf(firstChild(root, 'key')));
  for (const k of SIZES) assign(def, k, size(firstChild(root, k), k));
  const devices = childElements(firstChild(root, 'source'), 'device').map((d) => ({
    path: d.attrs.path ?? '',
    extents: childElements(d, 'extent').map((e) => ({ start: int(e.attrs.start, 'extent start') ?? 0, end: int(e.attrs.end, 'extent end') ?? 0 })),
  }));
  if (devices.length) def.sourceDevices = devices;
  assign(def, 'target', parseTarget(firstChild(root, 'target')));
  const bs = firstChild(root, 'backingStore');
  if (bs) {
    const b: VolumeBackingStore = {};
    assign(b, 'path', textOf(firstChild(bs, 'path')));
    assign(b, 'format', firstChild(bs, 'format')?.attrs.type);
    assign(b, 'permissions', parsePermissions(firstChild(bs, 'permissions'), W));
    def.backingStore = b;
  }
  Object.defineProperty(def, VOLUME_SOURCE, { value: root, enumerable: false });
  return def;
}

function checkDefinition(def: unknown): asserts def is StorageVolumeDefinition {
  if (typeof def !== 'object' || def === null) throw new TypeError('volume definition must be an object');
  const d = def as Record<string, unknown>;
  if (typeof d.name !== 'string') throw new TypeError('volume.name must be a string');
  if (d.type !== undefined && !VOLUME_TYPES.includes(d.type as VolumeType)) throw new TypeError(`volume.type must be one of ${VOLUME_TYPES.join(', ')}`);
  for (const k of SIZES)
    if (d[k] !== undefined && (typeof d[k] !== 'number' || !Number.isSafeInteger(d[k]) || (d[k] as number) < 0))
      throw new TypeError(`volume.${k} must be a non-negative safe integer (bytes)`);
  if (d.target !== undefined && (typeof d.target !== 'object' || d.target === null)) throw new TypeError('volume.target must be an object');
}

const typed = (name: string, type: string | undefined) => (type === undefined ? [] : [element(name, { type })]);

function buildTarget(el: XElement, t: VolumeTarget): void {
  setChildText(el, 'path', t.path);
  replaceChildren(el, 'format', typed('format', t.format));
  buildPermissions(el, t.permissions);
  if (t.timestamps) {
    const ts = ensureChild(el, 'timestamps');
    for (const k of ['atime', 'mtime', 'ctime', 'btime'] as const) setChildText(ts, k, t.timestamps[k]);
  } else removeChildren(el, 'timestamps');
  if (t.encryption) {
    const enc = ensureChild(el, 'encryption');
    setAttr(enc, 'format', t.encryption.format);
    replaceChildren(
      enc,
      'secret',
      t.encryption.secrets.map((s) => {
        const attrs: Record<string, string> = { type: s.type };
        if (s.uuid !== undefined) attrs.uuid = s.uuid;
        if (s.usage !== undefined) attrs.usage = s.usage;
        return element('secret', attrs);
      }),
    );
  } else removeChildren(el, 'encryption');
  setChildText(el, 'compat', t.compat);
  replaceChildren(el, 'clusterSize', t.clusterSize === undefined ? [] : [element('clusterSize', { unit: 'bytes' }, [{ text: String(t.clusterSize) }])]);
  if (t.features) {
    const f = ensureChild(el, 'features');
    const known = new Set(t.features);
    f.children = f.children.filter((c) => !('name' in c) || known.has(c.name));
    for (const name of t.features) if (!firstChild(f, name)) f.children.push(element(name));
  } else removeChildren(el, 'features');
  replaceChildren(el, 'nocow', t.nocow ? [element('nocow')] : []);
}

/**
 * Builds a `<volume>` document. A definition from {@link parseVolumeXml} keeps every element
 * and attribute the types do not model.
 */
export function buildVolumeXml(def: StorageVolumeDefinition): string {
  checkDefinition(def);
  const source = (def as StorageVolumeDefinition & { [VOLUME_SOURCE]?: XElement })[VOLUME_SOURCE];
  const root = source ? clone(source) : element('volume');
  setAttr(root, 'type', def.type);
  setChildText(root, 'name', def.name === '' ? undefined : def.name);
  setChildText(root, 'key', def.key);
  if (def.sourceDevices) {
    const src = ensureChild(root, 'source');
    replaceChildren(
      src,
      'device',
      def.sourceDevices.map((d) => element('device', { path: d.path }, d.extents.map((e) => element('extent', { start: String(e.start), end: String(e.end) })))),
    );
  } else {
    const src = firstChild(root, 'source');
    if (src) removeChildren(src, 'device');
  }
  for (const k of SIZES) {
    const v = def[k];
    replaceChildren(root, k, v === undefined ? [] : [element(k, { unit: 'bytes' }, [{ text: String(v) }])]);
  }
  if (def.target) buildTarget(ensureChild(root, 'target'), def.target);
  else removeChildren(root, 'target');
  if (def.backingStore) {
    const bs = ensureChild(root, 'backingStore');
    setChildText(bs, 'path', def.backingStore.path);
    replaceChildren(bs, 'format', typed('format', def.backingStore.format));
    buildPermissions(bs, def.backingStore.permissions);
  } else removeChildren(root, 'backingStore');
  return serialize(root) + '\n';
}
