import type { ContentProvider, ProviderCallOptions } from './content-provider.js';
import type { Descriptor } from './descriptor.js';
import type { Digest } from './digest.js';
import { isOciImageError } from './errors.js';
import { isImageDocumentMediaType } from './image-document.js';
import { throwIfAborted } from './internal/abort.js';
import { readImageDocument } from './read-blob.js';

/** Options of {@link walkImage}. */
export interface WalkOptions extends ProviderCallOptions {
  /** Also follow `subject` descriptors (GC does; copy does not). Default false. */
  followSubject?: boolean | undefined;
  /** Skip children of manifests/indexes whose blob is absent instead of throwing `BLOB_NOT_FOUND`. */
  ignoreMissing?: boolean | undefined;
  /** Decide per index entry whether to descend (e.g. a platform filter); default: every entry. */
  filterIndexEntry?: ((entry: Descriptor) => boolean) | undefined;
}

/** The descriptors a manifest or index refers to (none for other media types). */
export async function childDescriptors(
  provider: ContentProvider,
  descriptor: Descriptor,
  options: WalkOptions = {},
): Promise<Descriptor[]> {
  if (!isImageDocumentMediaType(descriptor.mediaType)) return [];
  const document = await readImageDocument(provider, descriptor, { signal: options.signal });
  const children: Descriptor[] = [];
  if (document.kind === 'index') {
    const filter = options.filterIndexEntry;
    for (const entry of document.parsed.value.manifests) {
      if (filter === undefined || filter(entry)) children.push(entry);
    }
  } else {
    children.push(document.parsed.value.config, ...document.parsed.value.layers);
  }
  const subject = document.parsed.value.subject;
  if (options.followSubject && subject !== undefined) children.push(subject);
  return children;
}

/**
 * Visits `root` and everything it refers to, depth first, children before their parent (so a copy in
 * this order writes manifests last). Each digest is yielded once. Lazy: reads a manifest or index only
 * when the walk reaches it.
 */
export async function* walkImage(
  provider: ContentProvider,
  root: Descriptor,
  options: WalkOptions = {},
): AsyncGenerator<Descriptor> {
  const seen = new Set<Digest>();
  async function* visit(descriptor: Descriptor): AsyncGenerator<Descriptor> {
    throwIfAborted(options.signal, 'walk image');
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    let children: Descriptor[] = [];
    try {
      children = await childDescriptors(provider, descriptor, options);
    } catch (error) {
      if (!(options.ignoreMissing && isOciImageError(error, 'BLOB_NOT_FOUND'))) throw error;
    }
    for (const child of children) yield* visit(child);
    yield descriptor;
  }
  yield* visit(root);
}

/** The set of digests reachable from `roots` (see {@link walkImage}). */
export async function reachableDigests(
  provider: ContentProvider,
  roots: Iterable<Descriptor>,
  options: WalkOptions = {},
): Promise<Set<Digest>> {
  const reachable = new Set<Digest>();
  for (const root of roots) {
    for await (const descriptor of walkImage(provider, root, options)) reachable.add(descriptor.digest);
  }
  return reachable;
}
