import { Readable } from 'node:stream';
import type { BlobSource } from '../content-provider.js';
import type { Descriptor } from '../descriptor.js';
import { type Digest, parseDigest } from '../digest.js';
import { OciImageError } from '../errors.js';

/** A readable stream over any {@link BlobSource}; bytes become one chunk, not one chunk per byte. */
export function toReadable(source: BlobSource): Readable {
  if (source instanceof Readable) return source;
  if (source instanceof Uint8Array) return Readable.from([source], { objectMode: false });
  return Readable.from(source as AsyncIterable<Uint8Array>, { objectMode: false });
}

/** Releases a source that will not be read (destroys a stream; other sources need nothing). */
export function discardSource(source: BlobSource): void {
  if (source instanceof Readable) source.destroy();
}

/** Checks what `put` needs of a descriptor (a valid digest, a safe non-negative integer size). */
export function checkBlobDescriptor(descriptor: Pick<Descriptor, 'digest' | 'size'>): Digest {
  const digest = parseDigest(descriptor.digest, 'digest');
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    throw new OciImageError(
      'INVALID_DESCRIPTOR',
      `put ${digest}: size ${String(descriptor.size)} is not a byte count`,
      {
        path: 'size',
      },
    );
  }
  return digest;
}
