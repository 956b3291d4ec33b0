/**
 * libvirt's scaled sizes: `<capacity unit='GiB'>10</capacity>` and friends, in bytes as exact
 * integers.
 *
 * @see https://libvirt.org/formatstorage.html#storage-volume-general-metadata
 */
const UNITS: Record<string, bigint> = {};
for (const [names, factor] of [
  [['', 'b', 'byte', 'bytes'], 1n],
  [['kb'], 1000n],
  [['k', 'kib'], 1024n],
  [['mb'], 1000n ** 2n],
  [['m', 'mib'], 1024n ** 2n],
  [['gb'], 1000n ** 3n],
  [['g', 'gib'], 1024n ** 3n],
  [['tb'], 1000n ** 4n],
  [['t', 'tib'], 1024n ** 4n],
  [['pb'], 1000n ** 5n],
  [['p', 'pib'], 1024n ** 5n],
  [['eb'], 1000n ** 6n],
  [['e', 'eib'], 1024n ** 6n],
] as const)
  for (const n of names) UNITS[n] = factor;

/** Bytes for `value` in `unit` (libvirt's unit names, case-insensitive; default bytes). */
export function toBytes(value: string, unit: string | undefined, what: string): number {
  const factor = UNITS[(unit ?? '').toLowerCase()];
  if (factor === undefined) throw new SyntaxError(`${what}: unknown unit '${unit}'`);
  if (!/^\s*\d+\s*$/.test(value)) throw new SyntaxError(`${what}: '${value}' is not a whole number`);
  const bytes = BigInt(value.trim()) * factor;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what}: ${bytes} bytes is beyond 2^53 - 1`);
  return Number(bytes);
}
