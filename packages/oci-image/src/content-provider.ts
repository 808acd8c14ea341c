import type { Readable } from 'node:stream';
import type { Descriptor } from './descriptor.js';
import type { Digest } from './digest.js';

/** Options every provider call accepts. */
export interface ProviderCallOptions {
  signal?: AbortSignal | undefined;
}

/** Options of {@link ContentProvider.get}. */
export interface GetOptions extends ProviderCallOptions {
  /**
   * Verify the digest (and size) while streaming: the returned stream then fails with `DIGEST_MISMATCH`
   * or `SIZE_MISMATCH` at its end instead of ending cleanly. Default false.
   */
  verify?: boolean | undefined;
}

/** Options of {@link ContentProvider.put}. */
export interface PutOptions extends ProviderCallOptions {}

/** Options of {@link ContentProvider.ingest}. */
export interface IngestOptions extends ProviderCallOptions {
  /** The media type of the descriptor returned. */
  mediaType: string;
  /** Digest algorithm (default sha256). */
  algorithm?: 'sha256' | 'sha512' | undefined;
  /** Annotations of the descriptor returned. */
  annotations?: Record<string, string> | undefined;
}

/** What a blob source may be: a stream, any (async) iterable of byte chunks, or bytes. */
export type BlobSource = Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

/** What {@link ContentProvider.stat} reports. */
export interface BlobStat {
  size: number;
}

/**
 * A content-addressed blob store. Implementations: the OCI layout directory, memory, a registry.
 * Blobs are re-openable: each `get` opens a new stream.
 */
export interface ContentProvider {
  /** Opens a new stream over the blob. Throws `BLOB_NOT_FOUND` when it is absent. */
  get(digest: Digest, options?: GetOptions): Promise<Readable>;
  /** True when the blob is present. */
  has(digest: Digest, options?: ProviderCallOptions): Promise<boolean>;
  /** The blob's size. Throws `BLOB_NOT_FOUND`. */
  stat(digest: Digest, options?: ProviderCallOptions): Promise<BlobStat>;
  /**
   * Stores `source` as the blob `descriptor` names, verifying digest and size while streaming and
   * committing only when both match (`DIGEST_MISMATCH`, `SIZE_MISMATCH`, `SIZE_EXCEEDED` otherwise;
   * nothing is left behind). Safe for concurrent writers of the same blob.
   */
  put(descriptor: Descriptor, source: BlobSource, options?: PutOptions): Promise<void>;
  /**
   * Stores a blob whose digest is not known in advance (a layer being made, a spool): digests it while
   * streaming and commits it under that digest once the source ends. Returns its descriptor. A failed
   * or aborted source commits nothing.
   */
  ingest(source: BlobSource, options: IngestOptions): Promise<Descriptor>;
  /** Removes the blob; false when it was absent. */
  delete(digest: Digest, options?: ProviderCallOptions): Promise<boolean>;
  /** Every blob digest present, in no particular order. */
  list(options?: ProviderCallOptions): AsyncIterable<Digest>;
}

/** A named ref and the descriptor it points to. */
export interface RefEntry {
  name: string;
  descriptor: Descriptor;
}

/** Ref (tag) operations of a provider that keeps names, e.g. an OCI layout's index.json. */
export interface RefStore {
  /** The descriptor `ref` names. Throws `REF_NOT_FOUND`. */
  resolve(ref: string, options?: ProviderCallOptions): Promise<Descriptor>;
  /** Points `ref` at `descriptor`, replacing what it named before. */
  tag(ref: string, descriptor: Descriptor, options?: ProviderCallOptions): Promise<void>;
  /** Removes `ref`; false when it did not exist. */
  untag(ref: string, options?: ProviderCallOptions): Promise<boolean>;
  /** Every named ref. */
  listRefs(options?: ProviderCallOptions): AsyncIterable<RefEntry>;
}

/** A content provider that also keeps refs. */
export type TaggableContentProvider = ContentProvider & RefStore;

/** True when `provider` implements {@link RefStore}. */
export function hasRefStore(provider: ContentProvider): provider is TaggableContentProvider {
  const candidate = provider as Partial<RefStore>;
  return (
    typeof candidate.resolve === 'function' &&
    typeof candidate.tag === 'function' &&
    typeof candidate.untag === 'function' &&
    typeof candidate.listRefs === 'function'
  );
}
