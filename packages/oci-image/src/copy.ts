import { Transform, type TransformCallback } from 'node:stream';
import { type ContentProvider, hasRefStore } from './content-provider.js';
import { type Descriptor, descriptorData } from './descriptor.js';
import { isDigest } from './digest.js';
import { isImageDocumentMediaType } from './image-document.js';
import { walkImage } from './image-walk.js';
import { throwIfAborted } from './internal/abort.js';
import { forEachLimited } from './internal/limit.js';
import { resolveRoot } from './internal/resolve-root.js';
import { isIndexMediaType } from './media-types.js';
import type { Platform } from './platform.js';
import { selectManifest } from './platform-match.js';
import { readIndex } from './read-blob.js';

/** A progress event of {@link copy}: per blob, bytes done out of `total`. */
export interface CopyProgress {
  descriptor: Descriptor;
  /** `skipped`: the target had it (or it is a foreign layer the source lacks); `progress`; `done`. */
  state: 'skipped' | 'progress' | 'done';
  bytes: number;
  total: number;
}

/** Options of {@link copy}. */
export interface CopyOptions {
  /** From an index, copy only the manifest best matching this platform (the result is that manifest). */
  platform?: Platform | string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: CopyProgress) => void) | undefined;
  /**
   * The ref to set in `to` when it keeps refs. Default: the source ref when one was given by name;
   * `false` sets none.
   */
  tag?: string | false | undefined;
  /** How many non-manifest blobs are copied at once (default 3). */
  concurrency?: number | undefined;
}

/** What {@link copy} did. */
export interface CopyResult {
  /** The root that was copied (the chosen manifest when `platform` picked one from an index). */
  descriptor: Descriptor;
  copied: Descriptor[];
  skipped: Descriptor[];
  /** Bytes transferred. */
  bytes: number;
}

class ProgressCounter extends Transform {
  #bytes = 0;
  readonly #report: (bytes: number) => void;
  constructor(report: (bytes: number) => void) {
    super();
    this.#report = report;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.byteLength;
    this.#report(this.#bytes);
    callback(null, chunk);
  }
}

/**
 * Copies an image (index or manifest, given by ref name in `from` or by descriptor) and every blob it
 * refers to from `from` to `to`. Blobs `to` already has are skipped; layers and configs go first, then
 * manifests, then indexes (children before parents), so `to` never holds a manifest whose blobs are
 * missing. Throws `REF_NOT_FOUND`, `BLOB_NOT_FOUND`, verification errors of `put`, `NO_MATCHING_PLATFORM`,
 * `ABORTED`.
 */
export async function copy(
  from: ContentProvider,
  to: ContentProvider,
  source: string | Descriptor,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const { signal } = options;
  throwIfAborted(signal, 'copy');
  let root = await resolveRoot(from, source, 'copy: the source', signal);
  if (options.platform !== undefined && isIndexMediaType(root.mediaType)) {
    const index = await readIndex(from, root, { signal });
    root = selectManifest(index.value, options.platform);
  }

  const leaves: Descriptor[] = [];
  const documents: Descriptor[] = [];
  for await (const descriptor of walkImage(from, root, { signal })) {
    (isImageDocumentMediaType(descriptor.mediaType) ? documents : leaves).push(descriptor);
  }

  const result: CopyResult = { descriptor: root, copied: [], skipped: [], bytes: 0 };
  const transfer = async (descriptor: Descriptor): Promise<void> => {
    throwIfAborted(signal, 'copy');
    const report = (state: CopyProgress['state'], bytes: number): void =>
      options.onProgress?.({ descriptor, state, bytes, total: descriptor.size });
    const foreign = (descriptor.urls?.length ?? 0) > 0 && !(await from.has(descriptor.digest, { signal }));
    if (foreign || (await to.has(descriptor.digest, { signal }))) {
      result.skipped.push(descriptor);
      report('skipped', 0);
      return;
    }
    const embedded = descriptorData(descriptor);
    if (embedded !== undefined && !(await from.has(descriptor.digest, { signal }))) {
      // the descriptor carries the blob itself (image-spec `data`); the source need not store it
      await to.put(descriptor, embedded, { signal });
      result.copied.push(descriptor);
      result.bytes += descriptor.size;
      report('done', descriptor.size);
      return;
    }
    const stream = await from.get(descriptor.digest, { signal });
    const counted = stream.pipe(new ProgressCounter((bytes) => report('progress', bytes)));
    stream.on('error', (error) => counted.destroy(error));
    await to.put(descriptor, counted, { signal });
    result.copied.push(descriptor);
    result.bytes += descriptor.size;
    report('done', descriptor.size);
  };
  await forEachLimited(leaves, options.concurrency ?? 3, transfer);
  for (const descriptor of documents) await transfer(descriptor);

  const tag = options.tag ?? (typeof source === 'string' && !isDigest(source) ? source : false);
  if (tag !== false && hasRefStore(to)) await to.tag(tag, root, { signal });
  return result;
}
