/**
 * An ordered, lossless XML element tree: what the typed XML modules keep of a parsed document
 * so that building it again changes only what the typed fields changed. Elements, attributes,
 * text and comments survive in their order, text exactly as written (libvirt keeps a
 * `<description>`'s line breaks); whitespace between elements does not (libvirt
 * formats its documents itself). DOCTYPE and entity declarations are refused, as in tree.ts.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XElement {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
}
export type XNode = XElement | { text: string } | { comment: string };

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  commentPropName: '#comment',
  processEntities: false, // decoded below, in one pass, numeric references included
  htmlEntities: false,
});

type Raw = Record<string, unknown>;

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** Decodes XML's five predefined entities and numeric character references in one pass (so
 * `&amp;#10;` stays the text `&#10;`); any other entity reference is refused. */
function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]*);?/g, (m, ref: string) => {
    if (!m.endsWith(';')) throw new SyntaxError("a bare '&' (write &amp;)");
    if (Object.hasOwn(PREDEFINED, ref)) return PREDEFINED[ref]!;
    const num = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref);
    const cp = num ? parseInt(num[1] ?? num[2]!, num[1] ? 16 : 10) : NaN;
    if (!Number.isFinite(cp) || cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      throw new SyntaxError(`unknown or invalid entity reference ${m}`);
    return String.fromCodePoint(cp);
  });
}

function convert(raw: Raw[]): XNode[] {
  const out: XNode[] = [];
  // Whitespace-only text beside elements or comments is indentation, not content.
  const mixed = raw.some((n) => !('#text' in n));
  for (const node of raw) {
    if ('#text' in node) {
      const text = decodeEntities(String(node['#text']));
      if (!(mixed && text.trim() === '')) out.push({ text });
      continue;
    }
    if ('#comment' in node) {
      const inner = (node['#comment'] as Raw[]).map((c) => String(c['#text'] ?? '')).join('');
      out.push({ comment: inner });
      continue;
    }
    const name = Object.keys(node).find((k) => k !== ':@');
    if (!name || name.startsWith('?')) continue; // the XML declaration
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries((node[':@'] as Record<string, string> | undefined) ?? {})) attrs[k] = decodeEntities(String(v));
    out.push({ name, attrs, children: convert(node[name] as Raw[]) });
  }
  return out;
}

/** Parses a document into its root element; `what` names the document in errors. */
export function parseOrdered(xml: string, what: string): XElement {
  if (typeof xml !== 'string') throw new TypeError(`${what} must be an XML string`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SyntaxError(`${what}: DOCTYPE and entity declarations are not accepted`);
  // The parser itself recovers from unclosed or mismatched tags; a document that is not
  // well-formed is refused instead.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new SyntaxError(`${what}: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  let nodes: XNode[];
  try {
    nodes = convert(parser.parse(xml) as Raw[]);
  } catch (err) {
    throw new SyntaxError(`${what}: ${(err as Error).message}`);
  }
  const roots = nodes.filter(isElement);
  if (roots.length !== 1) throw new SyntaxError(`${what}: expected one root element, found ${roots.length}`);
  return roots[0]!;
}

/** Parses a document whose root must be `<name>`; SyntaxError otherwise. */
export function parseRoot(xml: string, name: string, what: string): XElement {
  const root = parseOrdered(xml, what);
  if (root.name !== name) throw new SyntaxError(`${what}: expected <${name}>, found <${root.name}>`);
  return root;
}

export function isElement(n: XNode): n is XElement {
  return (n as XElement).name !== undefined;
}

export function element(name: string, attrs: Record<string, string> = {}, children: XNode[] = []): XElement {
  return { name, attrs, children };
}

/** A deep copy, so that building from a parsed document never changes it. */
export function clone(el: XElement): XElement {
  return {
    name: el.name,
    attrs: { ...el.attrs },
    children: el.children.map((c) => (isElement(c) ? clone(c) : { ...c })),
  };
}

export function childElements(el: XElement | undefined, name?: string): XElement[] {
  if (!el) return [];
  return el.children.filter((c): c is XElement => isElement(c) && (name === undefined || c.name === name));
}

export function firstChild(el: XElement | undefined, name: string): XElement | undefined {
  return childElements(el, name)[0];
}

/** The element's text content (its direct text nodes joined). */
export function textOf(el: XElement | undefined): string | undefined {
  if (!el) return undefined;
  return el.children
    .filter((c): c is { text: string } => 'text' in c)
    .map((c) => c.text)
    .join('');
}

/** Sets the text of child `name` (created at the end when missing), or removes every such
 * child when `value` is undefined. */
export function setChildText(el: XElement, name: string, value: string | undefined): void {
  const existing = firstChild(el, name);
  if (value === undefined) {
    removeChildren(el, name);
    return;
  }
  if (existing) existing.children = [{ text: value }, ...existing.children.filter((c) => !('text' in c))];
  else el.children.push(element(name, {}, [{ text: value }]));
}

/** The child `name`, created at the end when missing. */
export function ensureChild(el: XElement, name: string): XElement {
  const existing = firstChild(el, name);
  if (existing) return existing;
  const created = element(name);
  el.children.push(created);
  return created;
}

export function removeChildren(el: XElement, name: string): void {
  el.children = el.children.filter((c) => !(isElement(c) && c.name === name));
}

/** Sets attribute `name`, or removes it when `value` is undefined. */
export function setAttr(el: XElement, name: string, value: string | undefined): void {
  if (value === undefined) delete el.attrs[name];
  else el.attrs[name] = value;
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// Line breaks and tabs in attribute values as references: a parser turns literal ones into spaces.
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');

/** A comment's text made legal: no `--` inside, no `-` at the end. */
function commentText(c: string): string {
  let t = c;
  while (t.includes('--')) t = t.replace(/--/g, '- -');
  return t.endsWith('-') ? `${t} ` : t;
}

const XML_NAME = /^[A-Za-z_][\w.:-]*$/;

/** ` name="value"…` of an element; a name that is not an XML name is a TypeError (it would
 * change the document's structure). */
function attrText(el: XElement): string {
  if (!XML_NAME.test(el.name)) throw new TypeError(`not an XML element name: ${JSON.stringify(el.name)}`);
  return Object.entries(el.attrs)
    .map(([k, v]) => {
      if (!XML_NAME.test(k)) throw new TypeError(`not an XML attribute name: ${JSON.stringify(k)}`);
      return ` ${k}="${escapeAttr(String(v))}"`;
    })
    .join('');
}

function serializeInline(el: XElement): string {
  const attrs = attrText(el);
  if (el.children.length === 0) return `<${el.name}${attrs}/>`;
  const inner = el.children.map((c) => (isElement(c) ? serializeInline(c) : 'text' in c ? escapeText(c.text) : `<!--${commentText(c.comment)}-->`));
  return `<${el.name}${attrs}>${inner.join('')}</${el.name}>`;
}

/** Serialises an element tree, two spaces per level, text-only elements on one line. */
export function serialize(el: XElement, depth = 0): string {
  const pad = '  '.repeat(depth);
  const attrs = attrText(el);
  if (el.children.length === 0) return `${pad}<${el.name}${attrs}/>`;
  if (el.children.every((c) => 'text' in c))
    return `${pad}<${el.name}${attrs}>${escapeText(el.children.map((c) => (c as { text: string }).text).join(''))}</${el.name}>`;
  // Mixed content (text beside elements): written inline, so the text stays exactly as read.
  if (el.children.some((c) => 'text' in c)) return pad + serializeInline(el);
  const inner = el.children.map((c) => {
    if (isElement(c)) return serialize(c, depth + 1);
    if ('text' in c) return `${pad}  ${escapeText(c.text)}`;
    return `${pad}  <!--${commentText(c.comment)}-->`;
  });
  return [`${pad}<${el.name}${attrs}>`, ...inner, `${pad}</${el.name}>`].join('\n');
}

/**
 * Replaces every child `name` with `replacements`, put where the first old one stood (or at
 * the end): unknown siblings keep their places.
 */
export function replaceChildren(el: XElement, name: string, replacements: XElement[]): void {
  const at = el.children.findIndex((c) => isElement(c) && c.name === name);
  const kept = el.children.filter((c) => !(isElement(c) && c.name === name));
  const index = at < 0 ? kept.length : el.children.slice(0, at).filter((c) => !(isElement(c) && c.name === name)).length;
  kept.splice(index, 0, ...replacements);
  el.children = kept;
}
