/**
 * A Node `Readable` over a LUN: READ(16) in chunks, in order, for copying an image out.
 */
import { Readable } from 'node:stream';
import { integerArg, optionsArg } from './args';
import type { IscsiSession, LunCapacity } from './session';

/** Options of {@link IscsiSession.readStream}. */
export interface LunReadOptions {
  /** Byte offset in the LUN (default 0); a whole number of blocks. */
  offset?: number;
  /** Bytes to read; 0 or absent: to the end of the LUN. A whole number of blocks. */
  length?: number;
  /** Bytes per READ(16) (default 1 MiB; rounded down to whole blocks, at least one). */
  chunkSize?: number;
  /** Stops the stream, which errors with an AbortError; the READ in progress finishes first. */
  signal?: AbortSignal;
}

const DEFAULT_CHUNK = 1024 * 1024;

/** Checks the options before any I/O: TypeError / RangeError. */
export function checkLunReadOptions(options: unknown): Required<Omit<LunReadOptions, 'signal'>> & Pick<LunReadOptions, 'signal'> {
  const o = optionsArg(options, 'options');
  const offset = o.offset === undefined ? 0 : integerArg(o.offset, 'options.offset', 0, Number.MAX_SAFE_INTEGER);
  const length = o.length === undefined ? 0 : integerArg(o.length, 'options.length', 0, Number.MAX_SAFE_INTEGER);
  const chunkSize = o.chunkSize === undefined ? DEFAULT_CHUNK : integerArg(o.chunkSize, 'options.chunkSize', 1, 2 ** 30);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  return { offset, length, chunkSize, ...(o.signal ? { signal: o.signal as AbortSignal } : {}) };
}

/**
 * The bytes of a LUN from `offset` for `length` ({@link IscsiSession.readStream}). Reads one
 * chunk ahead of the consumer at most; errors with the `IscsiError` of a failed READ.
 */
export class LunReadable extends Readable {
  readonly #session: IscsiSession;
  readonly #lun: number;
  readonly #options: ReturnType<typeof checkLunReadOptions>;
  #next = 0;
  #end = 0;
  #chunk = 0;
  #blockSize = 0;
  #reading = false;
  /** Bytes read so far. */
  bytes = 0;
  /** The LUN's capacity, once the stream has started. */
  capacity: LunCapacity | null = null;

  /** @internal Created by {@link IscsiSession.readStream}. */
  constructor(session: IscsiSession, lun: number, options: ReturnType<typeof checkLunReadOptions>) {
    super({ highWaterMark: options.chunkSize, ...(options.signal ? { signal: options.signal } : {}) });
    this.#session = session;
    this.#lun = lun;
    this.#options = options;
  }

  override _construct(callback: (err?: Error | null) => void): void {
    this.#session.readCapacity(this.#lun).then((cap) => {
      const { offset, length, chunkSize } = this.#options;
      const bs = cap.blockSize;
      if (offset % bs !== 0 || length % bs !== 0) throw new RangeError(`offset and length must be whole ${bs}-byte blocks`);
      const end = length === 0 ? cap.bytes : offset + length;
      if (offset > cap.bytes || end > cap.bytes) throw new RangeError(`offset + length is past the end of the LUN (${cap.bytes} bytes)`);
      this.capacity = cap;
      this.#blockSize = bs;
      this.#next = offset;
      this.#end = end;
      this.#chunk = Math.max(bs, chunkSize - (chunkSize % bs));
      callback();
    }).catch((err: Error) => callback(err));
  }

  override _read(): void {
    if (this.#reading) return;
    const left = this.#end - this.#next;
    if (left <= 0) {
      this.push(null);
      return;
    }
    const bytes = Math.min(this.#chunk, left);
    const lba = this.#next / this.#blockSize;
    this.#reading = true;
    this.#session.read(this.#lun, lba, bytes / this.#blockSize).then(
      (buf) => {
        this.#reading = false;
        if (this.destroyed) return;
        this.#next += bytes;
        this.bytes += bytes;
        this.push(buf);
      },
      (err: Error) => {
        this.#reading = false;
        this.destroy(err);
      },
    );
  }
}
