import type { Descriptor } from './descriptor.js';
import { type Digest, type DigestAlgorithm, digestOf } from './digest.js';

/**
 * A JSON blob kept as its exact bytes beside the parsed value. `digest` and `size` are of `raw`,
 * never of a re-serialisation; `descriptor` points at those bytes with `mediaType`.
 */
export interface ParsedBlob<T> {
  readonly raw: Uint8Array;
  readonly value: T;
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly descriptor: Descriptor;
}

/** Builds a {@link ParsedBlob} over `raw` (computes the digest of the exact bytes). */
export function toParsedBlob<T>(
  raw: Uint8Array,
  value: T,
  mediaType: string,
  algorithm: DigestAlgorithm = 'sha256',
): ParsedBlob<T> {
  const digest = digestOf(raw, algorithm);
  return {
    raw,
    value,
    digest,
    size: raw.byteLength,
    mediaType,
    descriptor: { mediaType, digest, size: raw.byteLength },
  };
}
