/**
 * Typed secret XML (`virSecretDefineXML` / `virSecretGetXMLDesc`), lossless: a parsed
 * document keeps everything the types do not model and builds back with only the typed
 * fields changed.
 *
 * @see https://libvirt.org/formatsecret.html
 */
import {
  clone,
  element,
  ensureChild,
  firstChild,
  parseRoot,
  removeChildren,
  serialize,
  setAttr,
  setChildText,
  textOf,
  type XElement,
} from './ordered';

/** What a secret is for; `type` is libvirt's `<usage type=…>`. */
export type SecretUsage =
  /** A volume's encryption passphrase: the volume's path. */
  | { type: 'volume'; volume: string }
  /** A Ceph (cephx) key: a name the rbd pool or disk refers to. */
  | { type: 'ceph'; name: string }
  /** An iSCSI CHAP password: a name (`<target>`) the pool or disk refers to. */
  | { type: 'iscsi'; target: string }
  /** A TLS key passphrase. */
  | { type: 'tls'; name: string }
  /** A vTPM state encryption key. */
  | { type: 'vtpm'; name: string };

export type SecretUsageName = SecretUsage['type'];

/** `<secret>`. */
export interface SecretDefinition {
  /** `ephemeral='yes'`: kept only in memory, never on disk. */
  ephemeral?: boolean;
  /** `private='yes'`: the value can never be read back through libvirt. */
  private?: boolean;
  /** Chosen by libvirt when absent. */
  uuid?: string;
  description?: string;
  usage?: SecretUsage;
}

/** The element under `<usage>` that carries the usage id, per usage type. */
const USAGE_ID_ELEMENT: Record<SecretUsageName, string> = {
  volume: 'volume',
  ceph: 'name',
  iscsi: 'target',
  tls: 'name',
  vtpm: 'name',
};

/** The parsed document a definition came from (kept so that build is lossless). */
export const SECRET_SOURCE: unique symbol = Symbol('virtkit.secret.source');
type WithSource = SecretDefinition & { [SECRET_SOURCE]?: XElement };

function yesNo(v: string | undefined, what: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new SyntaxError(`secret XML: ${what}='${v}' must be 'yes' or 'no'`);
}

export function usageId(usage: SecretUsage): string {
  switch (usage.type) {
    case 'volume':
      return usage.volume;
    case 'iscsi':
      return usage.target;
    default:
      return usage.name;
  }
}

/** Parses a `<secret>` document. Throws SyntaxError for malformed documents. */
export function parseSecretXml(xml: string): SecretDefinition {
  const root = parseRoot(xml, 'secret', 'secret XML');
  const def: WithSource = {};
  const ephemeral = yesNo(root.attrs.ephemeral, 'ephemeral');
  if (ephemeral !== undefined) def.ephemeral = ephemeral;
  const priv = yesNo(root.attrs.private, 'private');
  if (priv !== undefined) def.private = priv;
  const uuid = textOf(firstChild(root, 'uuid'));
  if (uuid !== undefined) def.uuid = uuid.trim();
  const description = textOf(firstChild(root, 'description'));
  if (description !== undefined) def.description = description;
  const usageEl = firstChild(root, 'usage');
  if (usageEl) {
    const type = usageEl.attrs.type as SecretUsageName | undefined;
    if (!type || !Object.hasOwn(USAGE_ID_ELEMENT, type)) throw new SyntaxError(`secret XML: unknown usage type '${type ?? ''}'`);
    const id = textOf(firstChild(usageEl, USAGE_ID_ELEMENT[type])) ?? '';
    def.usage = (type === 'volume' ? { type, volume: id } : type === 'iscsi' ? { type, target: id } : { type, name: id }) as SecretUsage;
  }
  Object.defineProperty(def, SECRET_SOURCE, { value: root, enumerable: false });
  return def;
}

function checkDefinition(def: unknown): asserts def is SecretDefinition {
  if (typeof def !== 'object' || def === null) throw new TypeError('secret definition must be an object');
  const d = def as Record<string, unknown>;
  for (const k of ['ephemeral', 'private'] as const)
    if (d[k] !== undefined && typeof d[k] !== 'boolean') throw new TypeError(`secret.${k} must be a boolean`);
  for (const k of ['uuid', 'description'] as const)
    if (d[k] !== undefined && typeof d[k] !== 'string') throw new TypeError(`secret.${k} must be a string`);
  if (d.usage !== undefined) {
    const u = d.usage as Record<string, unknown>;
    if (typeof u !== 'object' || u === null || typeof u.type !== 'string' || !Object.hasOwn(USAGE_ID_ELEMENT, u.type))
      throw new TypeError(`secret.usage.type must be one of ${Object.keys(USAGE_ID_ELEMENT).join(', ')}`);
    const idKey = u.type === 'volume' ? 'volume' : u.type === 'iscsi' ? 'target' : 'name';
    if (typeof u[idKey] !== 'string') throw new TypeError(`secret.usage.${idKey} must be a string`);
  }
}

/**
 * Builds a `<secret>` document. A definition from {@link parseSecretXml} keeps every element
 * and attribute the types do not model.
 */
export function buildSecretXml(def: SecretDefinition): string {
  checkDefinition(def);
  const source = (def as WithSource)[SECRET_SOURCE];
  const root = source ? clone(source) : element('secret');
  const yn = (b: boolean | undefined) => (b === undefined ? undefined : b ? 'yes' : 'no');
  setAttr(root, 'ephemeral', yn(def.ephemeral));
  setAttr(root, 'private', yn(def.private));
  setChildText(root, 'uuid', def.uuid);
  setChildText(root, 'description', def.description);
  if (!def.usage) {
    removeChildren(root, 'usage');
  } else {
    const usage = ensureChild(root, 'usage');
    setAttr(usage, 'type', def.usage.type);
    for (const known of new Set(Object.values(USAGE_ID_ELEMENT))) removeChildren(usage, known);
    setChildText(usage, USAGE_ID_ELEMENT[def.usage.type], usageId(def.usage));
  }
  return serialize(root) + '\n';
}
