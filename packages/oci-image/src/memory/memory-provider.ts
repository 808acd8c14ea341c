import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  BlobSource,
  BlobStat,
  GetOptions,
  IngestOptions,
  ProviderCallOptions,
  PutOptions,
  RefEntry,
  TaggableContentProvider,
} from '../content-provider.js';
import { type Descriptor, parseDescriptor, refNameAnnotation } from '../descriptor.js';
import { type Digest, Digester, isDigest, VerifyStream } from '../digest.js';
import { OciImageError } from '../errors.js';
import { reachableDigests } from '../image-walk.js';
import { bindAbort, mapAbort, throwIfAborted } from '../internal/abort.js';
import { checkBlobDescriptor, discardSource, toReadable } from '../internal/blob-source.js';
import { checkRefName } from '../internal/ref-name.js';

/** What {@link MemoryProvider.gc} removed. */
export interface MemoryGcResult {
  removed: Digest[];
  bytesFreed: number;
}

/**
 * A content provider with refs held in memory (tests, caches, building images before a push).
 * Blobs are verified while streamed in and stored only when digest and size match.
 */
export class MemoryProvider implements TaggableContentProvider {
  #blobs = new Map<Digest, Uint8Array>();
  #refs = new Map<string, Descriptor>();

  /** A new stream over a copy-free view of the blob. Throws `BLOB_NOT_FOUND`. */
  async get(digest: Digest, options: GetOptions = {}): Promise<Readable> {
    throwIfAborted(options.signal, `get ${digest}`);
    const bytes = this.#require(digest);
    // content in memory was verified on put; `verify` has nothing more to check
    return bindAbort(Readable.from([bytes], { objectMode: false }), options.signal, `get ${digest}`);
  }

  /** True when the blob is held. */
  async has(digest: Digest, options: ProviderCallOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, `has ${digest}`);
    return this.#blobs.has(digest);
  }

  /** The blob's size. Throws `BLOB_NOT_FOUND`. */
  async stat(digest: Digest, options: ProviderCallOptions = {}): Promise<BlobStat> {
    throwIfAborted(options.signal, `stat ${digest}`);
    return { size: this.#require(digest).byteLength };
  }

  /** Collects `source` while verifying it; stores it only when digest and size match. */
  async put(descriptor: Descriptor, source: BlobSource, options: PutOptions = {}): Promise<void> {
    const { signal } = options;
    const digest = checkBlobDescriptor(descriptor);
    if (this.#blobs.has(digest)) {
      discardSource(source);
      return;
    }
    const chunks: Buffer[] = [];
    try {
      await pipeline(
        toReadable(source),
        new VerifyStream({ digest, size: descriptor.size }),
        async (verified: AsyncIterable<Buffer>) => {
          for await (const chunk of verified) chunks.push(Buffer.from(chunk));
        },
        { signal },
      );
    } catch (error) {
      discardSource(source);
      throw mapAbort(error, signal, `put ${digest}`);
    }
    if (!this.#blobs.has(digest)) this.#blobs.set(digest, Buffer.concat(chunks));
  }

  /** Collects `source` while digesting it and stores it under that digest. */
  async ingest(source: BlobSource, options: IngestOptions): Promise<Descriptor> {
    const { signal } = options;
    const digester = new Digester(options.algorithm ?? 'sha256');
    const chunks: Buffer[] = [];
    try {
      await pipeline(
        toReadable(source),
        async (stream: AsyncIterable<Buffer>) => {
          for await (const chunk of stream) {
            digester.update(chunk);
            chunks.push(Buffer.from(chunk));
          }
        },
        { signal },
      );
    } catch (error) {
      discardSource(source);
      throw mapAbort(error, signal, 'ingest');
    }
    const digest = digester.digest();
    if (!this.#blobs.has(digest)) this.#blobs.set(digest, Buffer.concat(chunks));
    return {
      mediaType: options.mediaType,
      digest,
      size: digester.size,
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    };
  }

  /** Removes the blob; false when it was absent. */
  async delete(digest: Digest, options: ProviderCallOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, `delete ${digest}`);
    return this.#blobs.delete(digest);
  }

  /** Every blob digest held (a snapshot taken when iteration starts). */
  async *list(options: ProviderCallOptions = {}): AsyncGenerator<Digest> {
    for (const digest of [...this.#blobs.keys()]) {
      throwIfAborted(options.signal, 'list blobs');
      yield digest;
    }
  }

  /** The descriptor named `ref` (or held under that digest). Throws `REF_NOT_FOUND`. */
  async resolve(ref: string, options: ProviderCallOptions = {}): Promise<Descriptor> {
    throwIfAborted(options.signal, `resolve ${ref}`);
    const named = this.#refs.get(ref);
    if (named !== undefined) return named;
    if (isDigest(ref)) {
      for (const descriptor of this.#refs.values()) if (descriptor.digest === ref) return descriptor;
    }
    throw new OciImageError('REF_NOT_FOUND', `memory provider: no ref named ${JSON.stringify(ref)}`, {
      path: ref,
    });
  }

  /** Points `ref` at `descriptor` (any ref-name annotation on it is dropped). */
  async tag(ref: string, descriptor: Descriptor, options: ProviderCallOptions = {}): Promise<void> {
    throwIfAborted(options.signal, `tag ${ref}`);
    checkRefName(ref);
    const valid = parseDescriptor(descriptor);
    if (valid.annotations?.[refNameAnnotation] !== undefined) {
      const { [refNameAnnotation]: _dropped, ...rest } = valid.annotations;
      valid.annotations = rest;
      if (Object.keys(rest).length === 0) delete valid.annotations;
    }
    this.#refs.delete(ref);
    this.#refs.set(ref, valid);
  }

  /** Removes `ref`; false when it did not exist. */
  async untag(ref: string, options: ProviderCallOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, `untag ${ref}`);
    return this.#refs.delete(ref);
  }

  /** Every ref in the order it was (last) tagged. */
  async *listRefs(options: ProviderCallOptions = {}): AsyncGenerator<RefEntry> {
    for (const [name, descriptor] of [...this.#refs]) {
      throwIfAborted(options.signal, 'list refs');
      yield { name, descriptor };
    }
  }

  /** Removes blobs unreachable from the refs (following subjects). */
  async gc(options: ProviderCallOptions = {}): Promise<MemoryGcResult> {
    const reachable = await reachableDigests(this, this.#refs.values(), {
      signal: options.signal,
      followSubject: true,
      ignoreMissing: true,
    });
    const result: MemoryGcResult = { removed: [], bytesFreed: 0 };
    for (const [digest, bytes] of [...this.#blobs]) {
      if (reachable.has(digest)) continue;
      this.#blobs.delete(digest);
      result.removed.push(digest);
      result.bytesFreed += bytes.byteLength;
    }
    return result;
  }

  #require(digest: Digest): Uint8Array {
    const bytes = this.#blobs.get(digest);
    if (bytes === undefined) {
      throw new OciImageError('BLOB_NOT_FOUND', `blob ${digest} not found`, { path: digest });
    }
    return bytes;
  }
}

/** In-memory content providers. */
export const memory = {
  /** A new, empty memory provider. */
  create(): MemoryProvider {
    return new MemoryProvider();
  },
} as const;
