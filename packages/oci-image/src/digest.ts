import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { OciImageError } from './errors.js';

/** A validated content digest, `algorithm:hex` (image-spec "Digests"). */
export type Digest = string & { readonly __digest: unique symbol };

/** The digest algorithms this package computes and verifies. */
export type DigestAlgorithm = 'sha256' | 'sha512';

const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// image-spec grammar: algorithm-component (separator component)* ":" encoded
const grammar = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Parses and validates a digest string. Throws `INVALID_DIGEST` for a malformed one and
 * `UNSUPPORTED_ALGORITHM` for a well-formed digest of an algorithm other than sha256 or sha512.
 */
export function parseDigest(value: string, path?: string): Digest {
  if (typeof value !== 'string' || !grammar.test(value)) {
    throw new OciImageError('INVALID_DIGEST', `parse digest: ${JSON.stringify(value)} is not algorithm:hex`, {
      path,
    });
  }
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new OciImageError(
      'UNSUPPORTED_ALGORITHM',
      `parse digest: algorithm "${algorithm}" is not supported`,
      {
        path,
      },
    );
  }
  if (hex.length !== hexLength[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new OciImageError(
      'INVALID_DIGEST',
      `parse digest: ${algorithm} wants ${hexLength[algorithm]} lower-case hex characters in ${JSON.stringify(value)}`,
      { path },
    );
  }
  return value as Digest;
}

/** True when `value` is a valid sha256 or sha512 digest. */
export function isDigest(value: unknown): value is Digest {
  try {
    parseDigest(value as string);
    return true;
  } catch {
    return false;
  }
}

/** The algorithm part of a valid digest. */
export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** The hex part of a valid digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** The digest of bytes already in memory. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** An incremental digester: feed bytes with `update`, read `digest()` once at the end. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  #hash: Hash;
  #size = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  /** Adds bytes. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
  }

  /** How many bytes were added. */
  get size(): number {
    return this.#size;
  }

  /** The digest of all bytes added; call once. */
  digest(): Digest {
    return `${this.algorithm}:${this.#hash.digest('hex')}` as Digest;
  }
}

/** What a {@link VerifyStream} checks: a digest and, when known, an exact size. */
export interface VerifyOptions {
  digest: Digest;
  /** Exact expected size; more bytes fail at once with `SIZE_EXCEEDED`, fewer at the end. */
  size?: number | undefined;
}

/**
 * A pass-through stream that digests what flows through it and fails the stream at the end
 * (`DIGEST_MISMATCH`, `SIZE_MISMATCH`) or as soon as too many bytes arrive (`SIZE_EXCEEDED`).
 * Downstream consumers see the bytes before they are verified: commit only after the stream ends.
 */
export class VerifyStream extends Transform {
  readonly expected: VerifyOptions;
  #digester: Digester;

  constructor(expected: VerifyOptions) {
    super();
    this.expected = expected;
    this.#digester = new Digester(digestAlgorithm(expected.digest));
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#digester.size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#digester.update(chunk);
    const { size } = this.expected;
    if (size !== undefined && this.#digester.size > size) {
      callback(
        new OciImageError(
          'SIZE_EXCEEDED',
          `verify ${this.expected.digest}: more than the ${size} bytes expected`,
          {
            path: this.expected.digest,
          },
        ),
      );
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { size, digest } = this.expected;
    if (size !== undefined && this.#digester.size !== size) {
      callback(
        new OciImageError(
          'SIZE_MISMATCH',
          `verify ${digest}: got ${this.#digester.size} bytes, expected ${size}`,
          {
            path: digest,
          },
        ),
      );
      return;
    }
    const actual = this.#digester.digest();
    if (actual !== digest) {
      callback(
        new OciImageError('DIGEST_MISMATCH', `verify ${digest}: content has digest ${actual}`, {
          path: digest,
        }),
      );
      return;
    }
    callback();
  }
}

/** Options of {@link digestFile} and {@link verifyFile}. */
export interface DigestFileOptions {
  signal?: AbortSignal | undefined;
}

/** What {@link digestFile} computed. */
export interface FileDigest {
  digest: Digest;
  /** Bytes read. */
  size: number;
}

// Large reads let the hash run at its full speed; two buffers let the next read proceed (on libuv's
// thread pool) while this thread hashes the previous one. Reusing them avoids a fresh allocation, its
// page faults and its garbage per chunk, which is what a read stream costs.
const FILE_READ_SIZE = 1 << 20;

function abortedWhile(action: string, signal: AbortSignal): OciImageError {
  return new OciImageError('ABORTED', `${action}: aborted`, { cause: signal.reason });
}

/**
 * Reads a whole file (from its start) through `visit`, chunk by chunk, with two reused 1 MiB buffers:
 * `visit` must not keep the chunk it is given. An open `FileHandle` is read from position 0 and left
 * open; a path is opened read-only and closed again.
 */
async function readFileChunks(
  file: string | FileHandle,
  action: string,
  signal: AbortSignal | undefined,
  visit: (chunk: Buffer) => void,
): Promise<void> {
  if (signal?.aborted) {
    throw abortedWhile(action, signal);
  }
  const handle = typeof file === 'string' ? await open(file, 'r') : file;
  let current = Buffer.allocUnsafe(FILE_READ_SIZE);
  let spare = Buffer.allocUnsafe(FILE_READ_SIZE);
  let position = 0;
  let reading: Promise<{ bytesRead: number }> | undefined = handle.read(current, 0, FILE_READ_SIZE, position);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      reading = undefined;
      if (bytesRead === 0) {
        return;
      }
      if (signal?.aborted) {
        throw abortedWhile(action, signal);
      }
      const filled = current;
      current = spare;
      spare = filled;
      position += bytesRead;
      reading = handle.read(current, 0, FILE_READ_SIZE, position);
      visit(bytesRead === FILE_READ_SIZE ? filled : filled.subarray(0, bytesRead));
    }
  } finally {
    // A read still in flight writes into our buffer: let it land before the handle closes.
    await reading?.catch(() => undefined);
    if (typeof file === 'string') {
      await handle.close();
    }
  }
}

/**
 * Digests a file (a path, or an open `FileHandle` read from its start and left open) without a stream:
 * two reused 1 MiB buffers, the next read overlapping the hashing of the last. For verifying blobs at
 * rest this is the fastest way Node offers. Throws the file system's errors (`ENOENT`, ...) and
 * `ABORTED`.
 */
export async function digestFile(
  file: string | FileHandle,
  algorithm: DigestAlgorithm = 'sha256',
  options: DigestFileOptions = {},
): Promise<FileDigest> {
  const digester = new Digester(algorithm);
  await readFileChunks(file, `digest ${typeof file === 'string' ? file : 'file'}`, options.signal, (chunk) =>
    digester.update(chunk),
  );
  return { digest: digester.digest(), size: digester.size };
}

/**
 * Checks that a file (a path, or an open `FileHandle` read from its start and left open) holds exactly
 * the expected content, reading it like {@link digestFile}. Throws `SIZE_EXCEEDED` as soon as more bytes
 * than `expected.size` were read, `SIZE_MISMATCH` when fewer, `DIGEST_MISMATCH`, `ABORTED`, or the file
 * system's errors.
 */
export async function verifyFile(
  file: string | FileHandle,
  expected: VerifyOptions,
  options: DigestFileOptions = {},
): Promise<void> {
  const { digest, size } = expected;
  const digester = new Digester(digestAlgorithm(digest));
  await readFileChunks(file, `verify ${digest}`, options.signal, (chunk) => {
    digester.update(chunk);
    if (size !== undefined && digester.size > size) {
      throw new OciImageError('SIZE_EXCEEDED', `verify ${digest}: more than the ${size} bytes expected`, {
        path: digest,
      });
    }
  });
  if (size !== undefined && digester.size !== size) {
    throw new OciImageError(
      'SIZE_MISMATCH',
      `verify ${digest}: got ${digester.size} bytes, expected ${size}`,
      {
        path: digest,
      },
    );
  }
  const actual = digester.digest();
  if (actual !== digest) {
    throw new OciImageError('DIGEST_MISMATCH', `verify ${digest}: content has digest ${actual}`, {
      path: digest,
    });
  }
}
