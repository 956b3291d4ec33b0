/**
 * A small, safe reading layer over fast-xml-parser shared by the typed XML modules.
 * Every element is parsed to arrays of children, attributes under `$`, text under `#text`,
 * so the typed modules read documents uniformly. Documents with a DOCTYPE or entity
 * declarations are refused: libvirt never writes them, and expanding them is how
 * billion-laughs and external-entity attacks work.
 */
import { XMLParser } from 'fast-xml-parser';

export interface XmlElement {
  $?: Record<string, string>;
  '#text'?: string;
  [child: string]: XmlElement[] | Record<string, string> | string | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '$',
  textNodeName: '#text',
  alwaysCreateTextNode: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (_name, _jpath, _isLeaf, isAttribute) => !isAttribute,
});

/** Parses an XML document; throws `TypeError` for non-strings and `SyntaxError` for bad XML. */
export function parseTree(xml: string, what: string): XmlElement {
  if (typeof xml !== 'string') throw new TypeError(`${what} must be an XML string`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SyntaxError(`${what}: DOCTYPE and entity declarations are not accepted`);
  let doc: XmlElement;
  try {
    doc = parser.parse(xml, true) as XmlElement;
  } catch (err) {
    throw new SyntaxError(`${what}: ${(err as Error).message}`);
  }
  return doc;
}

/** The root element named `name`, or a SyntaxError. */
export function root(doc: XmlElement, name: string, what: string): XmlElement {
  const el = children(doc, name)[0];
  if (!el) throw new SyntaxError(`${what}: expected a <${name}> document`);
  return el;
}

export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  const v = el?.[name];
  return Array.isArray(v) ? v : [];
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return children(el, name)[0];
}

export function attr(el: XmlElement | undefined, name: string): string | undefined {
  return el?.$?.[name];
}

export function text(el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  const t = el['#text'];
  return typeof t === 'string' ? t : '';
}

export function childText(el: XmlElement | undefined, name: string): string | undefined {
  return text(child(el, name));
}

export function intOr<T>(s: string | undefined, fallback: T): number | T {
  if (s === undefined || s.trim() === '') return fallback;
  const n = Number(s);
  return Number.isFinite(n) ? n : fallback;
}
