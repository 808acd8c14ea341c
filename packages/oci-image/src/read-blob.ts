import type { ContentProvider, ProviderCallOptions } from './content-provider.js';
import { type Descriptor, descriptorData } from './descriptor.js';
import { VerifyStream } from './digest.js';
import { OciImageError } from './errors.js';
import { type ParsedImageConfig, parseImageConfig } from './image-config.js';
import { type ImageDocument, parseImageDocument } from './image-document.js';
import type { ParsedImageIndex } from './image-index.js';
import { mapAbort } from './internal/abort.js';
import type { ParsedManifest } from './manifest.js';

/** Options of {@link readBlob}. */
export interface ReadBlobOptions extends ProviderCallOptions {
  /** Refuse descriptors larger than this (`SIZE_EXCEEDED`); default 16 MiB (manifests and configs are small). */
  maxSize?: number | undefined;
}

const defaultMaxSize = 16 * 1024 * 1024;

/**
 * Reads a whole (small) blob into memory, verifying digest and size against `descriptor`. Uses the
 * descriptor's embedded `data` when present. Throws `BLOB_NOT_FOUND`, `SIZE_EXCEEDED`, `SIZE_MISMATCH`,
 * `DIGEST_MISMATCH`, `ABORTED`.
 */
export async function readBlob(
  provider: ContentProvider,
  descriptor: Descriptor,
  options: ReadBlobOptions = {},
): Promise<Uint8Array> {
  const maxSize = options.maxSize ?? defaultMaxSize;
  if (descriptor.size > maxSize) {
    throw new OciImageError(
      'SIZE_EXCEEDED',
      `read blob ${descriptor.digest}: ${descriptor.size} bytes is more than the ${maxSize} allowed`,
      { path: descriptor.digest },
    );
  }
  const embedded = descriptorData(descriptor);
  if (embedded !== undefined) return embedded;
  const stream = await provider.get(descriptor.digest, { signal: options.signal });
  const verify = new VerifyStream({ digest: descriptor.digest, size: descriptor.size });
  const chunks: Buffer[] = [];
  try {
    stream.on('error', (error) => verify.destroy(error));
    for await (const chunk of stream.pipe(verify)) chunks.push(chunk as Buffer);
  } catch (error) {
    stream.destroy();
    throw mapAbort(error, options.signal, `read blob ${descriptor.digest}`);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads and parses the manifest or index `descriptor` points at. The document's own `mediaType`,
 * when present, must equal the descriptor's (`UNSUPPORTED_MEDIA_TYPE` otherwise).
 */
export async function readImageDocument(
  provider: ContentProvider,
  descriptor: Descriptor,
  options: ReadBlobOptions = {},
): Promise<ImageDocument> {
  const raw = await readBlob(provider, descriptor, options);
  const document = parseImageDocument(raw, descriptor.mediaType);
  const declared = (document.parsed.value as { mediaType?: string }).mediaType;
  if (declared !== undefined && declared !== descriptor.mediaType) {
    throw new OciImageError(
      'UNSUPPORTED_MEDIA_TYPE',
      `read ${descriptor.digest}: document says ${declared}, descriptor says ${descriptor.mediaType}`,
      { path: 'mediaType' },
    );
  }
  return document;
}

/** Reads and parses a manifest; throws `INVALID_MANIFEST` when `descriptor` points at an index. */
export async function readManifest(
  provider: ContentProvider,
  descriptor: Descriptor,
  options: ReadBlobOptions = {},
): Promise<ParsedManifest> {
  const document = await readImageDocument(provider, descriptor, options);
  if (document.kind !== 'manifest') {
    throw new OciImageError('INVALID_MANIFEST', `read manifest ${descriptor.digest}: it is an index`, {
      path: descriptor.digest,
    });
  }
  return document.parsed;
}

/** Reads and parses an index; throws `INVALID_INDEX` when `descriptor` points at a manifest. */
export async function readIndex(
  provider: ContentProvider,
  descriptor: Descriptor,
  options: ReadBlobOptions = {},
): Promise<ParsedImageIndex> {
  const document = await readImageDocument(provider, descriptor, options);
  if (document.kind !== 'index') {
    throw new OciImageError('INVALID_INDEX', `read index ${descriptor.digest}: it is a manifest`, {
      path: descriptor.digest,
    });
  }
  return document.parsed;
}

/** Reads and parses the image config a manifest's `config` descriptor points at. */
export async function readImageConfig(
  provider: ContentProvider,
  descriptor: Descriptor,
  options: ReadBlobOptions = {},
): Promise<ParsedImageConfig> {
  return parseImageConfig(await readBlob(provider, descriptor, options), descriptor.mediaType);
}
