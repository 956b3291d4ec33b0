/** A libvirt or hypervisor version, decoded from libvirt's packed integer. */
export interface Version {
  major: number;
  minor: number;
  release: number;
}

/** Decodes libvirt's packed `major * 1,000,000 + minor * 1,000 + release`. */
export function decodeVersion(packed: number): Version {
  return {
    major: Math.floor(packed / 1_000_000),
    minor: Math.floor(packed / 1_000) % 1_000,
    release: packed % 1_000,
  };
}

/** `'9.0.0'` for `{ major: 9, minor: 0, release: 0 }`. */
export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.release}`;
}
