import { createHash, type Hash } from 'node:crypto';
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
