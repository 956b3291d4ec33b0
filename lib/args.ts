/** Argument checks shared by lib/: wrong types are TypeErrors, raised before native code. */

/** libvirt `unsigned int flags`: undefined → 0; combined flags may carry bit 31. */
export function flagsArg(flags: unknown, what = 'flags'): number {
  if (flags === undefined) return 0;
  if (typeof flags !== 'number' || !Number.isInteger(flags)) throw new TypeError(`${what} must be an integer`);
  // `a | b` turns bit 31 into a negative number; take it back as unsigned.
  if (flags < -(2 ** 31) || flags > 2 ** 32 - 1) throw new RangeError(`${what} is out of range for unsigned int`);
  return flags >>> 0;
}

/** The lowercase short name of a libvirt enum value: `VIR_DOMAIN_RUNNING` → `running`. */
export function shortName(names: Record<number, string>, value: number, prefix: string): string {
  const full = names[value];
  if (typeof full !== 'string') return `unknown(${value})`;
  return (full.startsWith(prefix) ? full.slice(prefix.length) : full).toLowerCase();
}

/** A string argument without NUL characters (libvirt takes C strings). */
export function stringArg(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  if (value.includes('\0')) throw new TypeError(`${what} must not contain NUL characters`);
  return value;
}

/**
 * An XML document handed to libvirt: a string without NULs (TypeError) and without DOCTYPE or
 * entity declarations (SyntaxError). libvirt's parser substitutes internal entities (a 100 KB
 * entity used 1000 times became a 100 MB snapshot name on the test driver), and libvirt never
 * needs a DTD: such documents are refused before native code, as lib/'s own parsers refuse them.
 */
export function xmlArg(value: unknown, what: string): string {
  const xml = stringArg(value, what);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SyntaxError(`${what}: DOCTYPE and entity declarations are not accepted`);
  return xml;
}
