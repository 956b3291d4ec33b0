/** Pieces shared by the storage XML modules (pool and volume documents). */
import { ensureChild, firstChild, removeChildren, setChildText, textOf, type XElement } from './ordered';

/** `<permissions>` of a pool target, volume target or backing store. */
export interface Permissions {
  /** Octal, as libvirt writes it (`0644`). */
  mode?: string;
  owner?: number;
  group?: number;
  /** SELinux label. */
  label?: string;
}

/** A whole number attribute or text, or a SyntaxError naming `what`. */
export function wholeNumber(v: string | undefined, what: string, doc: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(v)) throw new SyntaxError(`${doc}: ${what}='${v}' is not a whole number`);
  return Number(v);
}

/** A number from reported data, or `fallback` when absent or not a number (read-only
 * documents such as capabilities, where libvirt's output is taken as it comes). */
export function numberOr<T>(s: string | undefined, fallback: T): number | T {
  if (s === undefined || s.trim() === '') return fallback;
  const n = Number(s);
  return Number.isFinite(n) ? n : fallback;
}

/** Sets o[key] = v unless v is undefined (optional properties stay absent, not undefined);
 * returns o. */
export function assign<T extends object>(o: T, key: keyof T, v: unknown): T {
  if (v !== undefined) (o as Record<string, unknown>)[key as string] = v;
  return o;
}

export function parsePermissions(el: XElement | undefined, doc: string): Permissions | undefined {
  if (!el) return undefined;
  const p: Permissions = {};
  assign(p, 'mode', textOf(firstChild(el, 'mode')));
  assign(p, 'owner', wholeNumber(textOf(firstChild(el, 'owner')), 'owner', doc));
  assign(p, 'group', wholeNumber(textOf(firstChild(el, 'group')), 'group', doc));
  assign(p, 'label', textOf(firstChild(el, 'label')));
  return p;
}

/** Writes `<permissions>` under `parent` (or removes it when `p` is undefined). */
export function buildPermissions(parent: XElement, p: Permissions | undefined): void {
  if (!p) {
    removeChildren(parent, 'permissions');
    return;
  }
  const el = ensureChild(parent, 'permissions');
  setChildText(el, 'mode', p.mode);
  setChildText(el, 'owner', p.owner?.toString());
  setChildText(el, 'group', p.group?.toString());
  setChildText(el, 'label', p.label);
}
