import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { CompressStream, DecompressStream } from 'zstd-napi';
import { OciImageError } from '../errors.js';
import type { Compression } from '../media-types.js';

/** Options for {@link compress}. */
export interface CompressOptions {
  /** gzip: 0-9 (default 6, like `gzip`); zstd: 1-22 (default 3). */
  level?: number | undefined;
}

// Large output chunks mean fewer pushes and fewer writes downstream.
const CHUNK_SIZE = 128 * 1024;
const GZIP_MAGIC = [0x1f, 0x8b] as const;
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;

function unsupported(compression: unknown): OciImageError {
  return new OciImageError(
    'LAYER_UNSUPPORTED_COMPRESSION',
    `layer compression: ${JSON.stringify(compression)} is not one of none, gzip, zstd`,
  );
}

/**
 * A transform that compresses a tar stream with `compression` ('none' passes bytes through).
 * Throws `LAYER_UNSUPPORTED_COMPRESSION` at once for an unknown compression. Single use.
 */
export function compress(compression: Compression, options: CompressOptions = {}): Transform {
  switch (compression) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      return zlib.createGzip({
        level: options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
        chunkSize: CHUNK_SIZE,
      });
    case 'zstd':
      return new CompressStream(options.level === undefined ? {} : { compressionLevel: options.level });
    default:
      throw unsupported(compression);
  }
}

/**
 * The compression that `head` (the first bytes of a layer blob, at least 4 when there are that many)
 * starts with: gzip (`1f 8b`), zstd (`28 b5 2f fd`), otherwise 'none' (a plain tar).
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) {
    return 'gzip';
  }
  if (head.length >= 4 && ZSTD_MAGIC.every((byte, index) => head[index] === byte)) {
    return 'zstd';
  }
  return 'none';
}

function decoderFor(compression: Compression): Transform | undefined {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlib.createGunzip({ chunkSize: CHUNK_SIZE });
    case 'zstd':
      return new DecompressStream();
    default:
      throw unsupported(compression);
  }
}

function decodeError(compression: Compression, error: unknown): OciImageError {
  if (error instanceof OciImageError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  // zlib reports a stream cut short as Z_BUF_ERROR "unexpected end of file"; zstd-napi as a frame left open.
  const truncated = code === 'Z_BUF_ERROR' || /unexpected end|ended in (the )?middle/i.test(message);
  return new OciImageError(
    truncated ? 'LAYER_TRUNCATED' : 'LAYER_CORRUPT',
    `decompress ${compression} layer: ${truncated ? 'stream ends early' : message}`,
    { cause: error },
  );
}

/**
 * Decodes a layer blob. With 'auto' the first four bytes choose gzip, zstd or a plain tar. The inner
 * decoder's output is pushed with backpressure; its errors become `LAYER_TRUNCATED` (input cut short)
 * or `LAYER_CORRUPT` (bad compressed data).
 */
class LayerDecoder extends Transform {
  readonly #requested: Compression | 'auto';
  #inner: Transform | undefined;
  #decided = false;
  #head: Buffer[] = [];
  #headLength = 0;
  #compression: Compression = 'none';

  constructor(requested: Compression | 'auto') {
    // The default 16 KiB buffer would pause the inner decoder after every one of its 128 KiB chunks.
    super({ highWaterMark: 1 << 20 });
    this.#requested = requested;
    if (requested !== 'auto') {
      this.#decide(requested);
    }
  }

  /** The compression in use, once known ('auto' decides on the first four bytes). */
  get compression(): Compression | undefined {
    return this.#decided ? this.#compression : undefined;
  }

  #decide(compression: Compression): void {
    this.#decided = true;
    this.#compression = compression;
    const inner = decoderFor(compression);
    if (inner === undefined) {
      return;
    }
    this.#inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) {
        inner.pause();
      }
    });
    inner.on('error', (error) => {
      this.destroy(decodeError(compression, error));
    });
  }

  #feed(chunk: Buffer, callback: TransformCallback): void {
    const inner = this.#inner;
    if (inner === undefined) {
      this.push(chunk);
      callback();
      return;
    }
    if (inner.write(chunk)) {
      callback();
    } else {
      inner.once('drain', () => callback());
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#decided) {
      this.#feed(chunk, callback);
      return;
    }
    this.#head.push(chunk);
    this.#headLength += chunk.length;
    if (this.#headLength < ZSTD_MAGIC.length) {
      callback();
      return;
    }
    const head = Buffer.concat(this.#head);
    this.#head = [];
    this.#decide(detectCompression(head));
    this.#feed(head, callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#decided) {
      const head = Buffer.concat(this.#head);
      this.#head = [];
      this.#decide(this.#requested === 'auto' ? detectCompression(head) : this.#requested);
      if (head.length > 0) {
        this.#feed(head, () => this.#finish(callback));
        return;
      }
    }
    this.#finish(callback);
  }

  #finish(callback: TransformCallback): void {
    const inner = this.#inner;
    if (inner === undefined) {
      callback();
      return;
    }
    inner.once('end', () => callback());
    inner.resume();
    inner.end();
  }

  override _read(size: number): void {
    this.#inner?.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner?.destroy();
    callback(error);
  }
}

/**
 * A transform that decompresses a layer blob into its tar stream. 'auto' sniffs the magic bytes (gzip
 * `1f8b`, zstd `28b52ffd`, else a plain tar). Throws `LAYER_UNSUPPORTED_COMPRESSION` at once for an
 * unknown compression; the stream fails with `LAYER_TRUNCATED` when the compressed data ends early and
 * `LAYER_CORRUPT` when it cannot be decoded. Single use.
 */
export function decompress(compression: Compression | 'auto' = 'auto'): Transform {
  if (compression !== 'auto' && compression !== 'none' && compression !== 'gzip' && compression !== 'zstd') {
    throw unsupported(compression);
  }
  return new LayerDecoder(compression);
}
