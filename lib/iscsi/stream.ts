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
  /** READs in flight at once (default 4, at most 256): a copy goes at the target's pace. */
  queueDepth?: number;
  /** Stops the stream, which errors with an AbortError; the READ in progress finishes first. */
  signal?: AbortSignal;
}

const DEFAULT_CHUNK = 1024 * 1024;
const DEFAULT_QUEUE_DEPTH = 4;

/** Checks the options before any I/O: TypeError / RangeError. */
export function checkLunReadOptions(options: unknown): Required<Omit<LunReadOptions, 'signal'>> & Pick<LunReadOptions, 'signal'> {
  const o = optionsArg(options, 'options');
  const offset = o.offset === undefined ? 0 : integerArg(o.offset, 'options.offset', 0, Number.MAX_SAFE_INTEGER);
  const length = o.length === undefined ? 0 : integerArg(o.length, 'options.length', 0, Number.MAX_SAFE_INTEGER);
  const chunkSize = o.chunkSize === undefined ? DEFAULT_CHUNK : integerArg(o.chunkSize, 'options.chunkSize', 1, 2 ** 30);
  const queueDepth = o.queueDepth === undefined ? DEFAULT_QUEUE_DEPTH : integerArg(o.queueDepth, 'options.queueDepth', 1, 256);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  return { offset, length, chunkSize, queueDepth, ...(o.signal ? { signal: o.signal as AbortSignal } : {}) };
}

/**
 * The bytes of a LUN from `offset` for `length` ({@link IscsiSession.readStream}). Keeps up to
 * `queueDepth` READs in flight while the consumer keeps up, pushes them in LBA order; errors
 * with the `IscsiError` of a failed READ.
 */
export class LunReadable extends Readable {
  readonly #session: IscsiSession;
  readonly #lun: number;
  readonly #options: ReturnType<typeof checkLunReadOptions>;
  #next = 0;
  #end = 0;
  #chunk = 0;
  #blockSize = 0;
  /** READs in flight, in LBA order. */
  readonly #inflight: Array<Promise<Buffer>> = [];
  /** Waiting for the oldest READ. */
  #waiting = false;
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
    this.#fill();
  }

  /** Issues READs up to the queue depth, and hands the oldest one over when it is in. */
  #fill(): void {
    const { queueDepth } = this.#options;
    while (this.#inflight.length < queueDepth && this.#next < this.#end) {
      const bytes = Math.min(this.#chunk, this.#end - this.#next);
      const read = this.#session.read(this.#lun, this.#next / this.#blockSize, bytes / this.#blockSize);
      read.catch(() => undefined); // rejections are handled in order, below
      this.#inflight.push(read);
      this.#next += bytes;
    }
    if (this.#inflight.length === 0) {
      this.push(null);
      return;
    }
    if (this.#waiting) return;
    this.#waiting = true;
    this.#inflight[0]!.then(
      (buf) => {
        this.#waiting = false;
        this.#inflight.shift();
        if (this.destroyed) return;
        this.bytes += buf.length;
        if (this.push(buf)) this.#fill();
      },
      (err: Error) => {
        this.#waiting = false;
        this.destroy(err);
      },
    );
  }
}
