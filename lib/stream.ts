/**
 * Volume transfers as Node streams over libvirt's `virStream*` (blocking streams driven on
 * the call pool, one call at a time per stream, so Node's backpressure is libvirt's).
 *
 * @see https://libvirt.org/html/libvirt-libvirt-stream.html
 */
import * as fs from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { StreamRecvFlagsValues } from './constants';
import type { NativeStream } from './native';

/** Where in the volume, and how much. */
export interface TransferOptions {
  /** Byte offset in the volume (default 0). */
  offset?: number;
  /** Bytes to transfer; 0 or absent: to the end of the volume. */
  length?: number;
  /** Aborts the transfer (libvirt's `virStreamAbort`); the stream errors with an AbortError. */
  signal?: AbortSignal;
  /** Bytes per libvirt call (default 256 KiB). */
  chunkSize?: number;
}

/** `hole` event payload (sparse downloads): a run of zeroes the volume does not store. */
export interface TransferHole {
  offset: number;
  length: number;
}

/** `progress` event payload: bytes moved so far. */
export interface TransferProgress {
  bytes: number;
}

const DEFAULT_CHUNK = 256 * 1024;

export function checkTransferOptions(o: unknown): Required<Pick<TransferOptions, 'offset' | 'length' | 'chunkSize'>> & TransferOptions {
  if (o === undefined) return { offset: 0, length: 0, chunkSize: DEFAULT_CHUNK };
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  const opts = o as TransferOptions;
  for (const k of ['offset', 'length'] as const) {
    const v = opts[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0))
      throw new TypeError(`options.${k} must be a non-negative safe integer`);
  }
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
  if (typeof chunk !== 'number' || !Number.isInteger(chunk) || chunk < 1 || chunk > 64 * 1024 * 1024)
    throw new TypeError('options.chunkSize must be an integer from 1 to 67108864');
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  return { ...opts, offset: opts.offset ?? 0, length: opts.length ?? 0, chunkSize: chunk };
}

/** Shared teardown: wait for the call in flight, then abort (if unfinished) and free. */
async function close(stream: NativeStream | undefined, pending: Promise<unknown> | undefined, finished: boolean): Promise<void> {
  if (!stream) return;
  await pending?.catch(() => undefined);
  if (!finished) await stream.abort().catch(() => undefined);
  stream.free();
}

/**
 * A volume's content as a Readable (`StorageVolume.download()`); emits `progress`. In sparse
 * mode the byte stream is the same, but holes arrive as `hole` events and are filled with
 * zeroes here rather than sent over the connection.
 */
export class VolumeReadable extends Readable {
  readonly #open: () => Promise<NativeStream>;
  readonly #chunk: number;
  readonly #sparse: boolean;
  #stream: NativeStream | undefined;
  #pending: Promise<unknown> | undefined;
  #finished = false;
  #holeLeft = 0;
  /** Bytes received so far (hole bytes included). */
  bytes = 0;

  /** @internal */
  constructor(open: () => Promise<NativeStream>, opts: ReturnType<typeof checkTransferOptions>, sparse = false) {
    super({ highWaterMark: opts.chunkSize, ...(opts.signal ? { signal: opts.signal } : {}) });
    this.#open = open;
    this.#chunk = opts.chunkSize;
    this.#sparse = sparse;
  }

  override _construct(callback: (err?: Error | null) => void): void {
    this.#open().then((s) => {
      this.#stream = s;
      callback();
    }, callback);
  }

  override _read(): void {
    if (this.#holeLeft > 0) {
      const n = Math.min(this.#holeLeft, this.#chunk);
      this.#holeLeft -= n;
      this.bytes += n;
      this.emit('progress', { bytes: this.bytes } satisfies TransferProgress);
      this.push(Buffer.alloc(n));
      return;
    }
    const stream = this.#stream!;
    const recv = this.#sparse ? stream.recvFlags(this.#chunk, StreamRecvFlagsValues.VIR_STREAM_RECV_STOP_AT_HOLE) : stream.recv(this.#chunk);
    const p = recv.then(async (buf) => {
      if (buf !== null && buf.length === 0 && this.#sparse) {
        const length = await stream.recvHole(0);
        this.emit('hole', { offset: this.bytes, length } satisfies TransferHole);
        this.#holeLeft = length;
        this._read();
        return;
      }
      if (buf === null) {
        await stream.finish();
        this.#finished = true;
        this.push(null);
        return;
      }
      this.bytes += buf.length;
      this.emit('progress', { bytes: this.bytes } satisfies TransferProgress);
      this.push(buf);
    });
    this.#pending = p;
    p.catch((err: Error) => this.destroy(err));
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    close(this.#stream, this.#pending, this.#finished).then(() => callback(err), () => callback(err));
  }
}

/**
 * Writes into a volume (`StorageVolume.upload()`); emits `progress`. In sparse mode, chunks that
 * are all zeroes are sent as holes (`virStreamSendHole`), so the volume stays sparse.
 */
export class VolumeWritable extends Writable {
  readonly #open: () => Promise<NativeStream>;
  readonly #sparse: boolean;
  #zeroes = Buffer.alloc(0);
  #stream: NativeStream | undefined;
  #pending: Promise<unknown> | undefined;
  #finished = false;
  /** Bytes sent so far (holes included). */
  bytes = 0;

  /** @internal */
  constructor(open: () => Promise<NativeStream>, opts: ReturnType<typeof checkTransferOptions>, sparse = false) {
    super({ highWaterMark: opts.chunkSize, ...(opts.signal ? { signal: opts.signal } : {}) });
    this.#open = open;
    this.#sparse = sparse;
  }

  #isZero(chunk: Buffer): boolean {
    if (this.#zeroes.length < chunk.length) this.#zeroes = Buffer.alloc(chunk.length);
    return chunk.equals(this.#zeroes.subarray(0, chunk.length));
  }

  override _construct(callback: (err?: Error | null) => void): void {
    this.#open().then((s) => {
      this.#stream = s;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#send(chunk, callback);
  }

  #send(chunk: Buffer, callback: (err?: Error | null) => void): void {
    const stream = this.#stream!;
    const send = this.#sparse && chunk.length > 0 && this.#isZero(chunk) ? stream.sendHole(chunk.length, 0).then(() => chunk.length) : stream.send(chunk);
    const p = send.then((n) => {
      this.bytes += n;
      this.emit('progress', { bytes: this.bytes } satisfies TransferProgress);
    });
    this.#pending = p;
    p.then(() => callback(), callback);
  }

  // Chunks buffered while a send was in flight go out together, up to about chunkSize per
  // libvirt call: fewer, larger calls (a file read stream yields 64 KiB at a time).
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    if (this.#sparse) {
      // Keep chunk boundaries so that zero chunks can still go as holes.
      let i = 0;
      const next = (err?: Error | null): void => {
        if (err || i >= buffers.length) return callback(err);
        this.#send(buffers[i++]!, next);
      };
      return next();
    }
    this.#send(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    const p = this.#stream!.finish().then(() => {
      this.#finished = true;
    });
    this.#pending = p;
    p.then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    close(this.#stream, this.#pending, this.#finished).then(() => callback(err), () => callback(err));
  }
}

/**
 * Downloads into a file; with `sparse`, holes are skipped (the file gets holes too) instead of
 * written as zeroes. Resolves to the byte count. Used by `StorageVolume.downloadToFile()`.
 */
export async function downloadToFile(open: () => Promise<NativeStream>, file: string, opts: ReturnType<typeof checkTransferOptions>, sparse: boolean): Promise<number> {
  const handle = await fs.open(file, 'w');
  let stream: NativeStream | undefined;
  let finished = false;
  let position = 0;
  try {
    stream = await open();
    // The write of one chunk overlaps the receipt of the next.
    let writing: Promise<unknown> = Promise.resolve();
    for (;;) {
      opts.signal?.throwIfAborted();
      const buf = sparse ? await stream.recvFlags(opts.chunkSize, StreamRecvFlagsValues.VIR_STREAM_RECV_STOP_AT_HOLE) : await stream.recv(opts.chunkSize);
      if (buf === null) break;
      if (buf.length === 0 && sparse) {
        position += await stream.recvHole(0);
        continue;
      }
      await writing;
      writing = handle.write(buf, 0, buf.length, position);
      writing.catch(() => undefined); // observed at the next await; never an unhandled rejection
      position += buf.length;
    }
    await writing;
    await stream.finish();
    finished = true;
    await handle.truncate(position); // a trailing hole still counts towards the size
    return position;
  } finally {
    await handle.close();
    await close(stream, undefined, finished);
  }
}

/**
 * Uploads a file's content (`StorageVolume.uploadFromFile()`): reads `chunkSize` at a time and
 * sends each; with `sparse`, all-zero chunks go as holes. Resolves to the byte count.
 */
export async function uploadFromFile(open: () => Promise<NativeStream>, file: string, opts: ReturnType<typeof checkTransferOptions>, sparse: boolean): Promise<number> {
  const handle = await fs.open(file, 'r');
  let stream: NativeStream | undefined;
  let finished = false;
  let sent = 0;
  try {
    const total = opts.length || (await handle.stat()).size;
    stream = await open();
    const zeroes = sparse ? Buffer.alloc(opts.chunkSize) : undefined;
    const buf = Buffer.allocUnsafe(opts.chunkSize);
    while (sent < total) {
      opts.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buf, 0, Math.min(opts.chunkSize, total - sent), sent);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (zeroes && chunk.equals(zeroes.subarray(0, bytesRead))) await stream.sendHole(bytesRead, 0);
      else await stream.send(chunk);
      sent += bytesRead;
    }
    await stream.finish();
    finished = true;
    return sent;
  } finally {
    await handle.close();
    await close(stream, undefined, finished);
  }
}
