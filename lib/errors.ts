/**
 * Errors raised by virtkit.
 *
 * - {@link LibvirtError}: libvirt said no. Carries libvirt's error fields, decoded.
 * - `TypeError` / `RangeError`: a wrong argument, thrown before any native code runs.
 *
 * @see https://libvirt.org/html/libvirt-virterror.html
 */
import { errorCodeName, errorDomainName, errorLevelName } from './constants';

/** The fields native code copies out of libvirt's `virError` on the failing thread. */
export interface LibvirtErrorInfo {
  code: number;
  domain: number;
  level: number;
  message: string;
  str1?: string | null;
  str2?: string | null;
  str3?: string | null;
  int1?: number;
  int2?: number;
}

/**
 * A failure reported by libvirt (or by virtkit in libvirt's terms, such as a call on a
 * closed connection: `VIR_ERR_INVALID_CONN`).
 */
export class LibvirtError extends Error {
  /** libvirt's `virErrorNumber`, e.g. 49. */
  readonly code: number;
  /** The symbolic name of {@link code}, e.g. `'VIR_ERR_NO_STORAGE_POOL'`. */
  readonly codeName: string;
  /** libvirt's `virErrorDomain`: which part of libvirt raised it. */
  readonly domain: number;
  /** The symbolic name of {@link domain}, e.g. `'VIR_FROM_STORAGE'`. */
  readonly domainName: string;
  /** `virErrorLevel`: 1 warning, 2 error. */
  readonly level: number;
  readonly levelName: string;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;

  constructor(info: LibvirtErrorInfo) {
    if (typeof info !== 'object' || info === null) throw new TypeError('LibvirtError needs an object of error fields');
    super(String(info.message ?? ''));
    this.code = info.code;
    this.codeName = errorCodeName(info.code) ?? `VIR_ERR_${info.code}`;
    this.domain = info.domain;
    this.domainName = errorDomainName(info.domain) ?? `VIR_FROM_${info.domain}`;
    this.level = info.level;
    this.levelName = errorLevelName(info.level) ?? String(info.level);
    this.str1 = info.str1 ?? null;
    this.str2 = info.str2 ?? null;
    this.str3 = info.str3 ?? null;
    this.int1 = info.int1 ?? 0;
    this.int2 = info.int2 ?? 0;
  }

  override get name(): string {
    return 'LibvirtError';
  }
}

/**
 * Awaits a native promise and, when it rejects, gives the error the caller's stack (native
 * errors are born on the main thread with no JS frames). Costs nothing on success beyond one
 * await: the stack is captured only on failure, from V8's async stack trace.
 */
export async function settle<T>(promise: Promise<T>, where: string): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof Error) {
      Error.captureStackTrace(err, settle);
      const frames = err.stack?.split('\n').slice(1) ?? [];
      err.stack = [`${err.name}: ${err.message}`, `    at ${where} (virtkit)`, ...frames].join('\n');
    }
    throw err;
  }
}
