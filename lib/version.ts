/** A libvirt or hypervisor version, decoded from libvirt's packed integer. */
export interface Version {
  major: number;
  minor: number;
  release: number;
}

/** Decodes libvirt's packed `major * 1,000,000 + minor * 1,000 + release`. */
export function decodeVersion(packed: number): Version {
  if (typeof packed !== 'number' || !Number.isSafeInteger(packed) || packed < 0) throw new TypeError('packed must be a non-negative integer');
  return {
    major: Math.floor(packed / 1_000_000),
    minor: Math.floor(packed / 1_000) % 1_000,
    release: packed % 1_000,
  };
}

/** `'9.0.0'` for `{ major: 9, minor: 0, release: 0 }`. */
export function formatVersion(v: Version): string {
  if (typeof v !== 'object' || v === null) throw new TypeError('version must be { major, minor, release }');
  const { major, minor, release } = v;
  if (![major, minor, release].every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0))
    throw new TypeError('version must be { major, minor, release } of non-negative integers');
  return `${v.major}.${v.minor}.${v.release}`;
}
