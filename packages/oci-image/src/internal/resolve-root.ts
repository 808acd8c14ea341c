import { type ContentProvider, hasRefStore } from '../content-provider.js';
import type { Descriptor } from '../descriptor.js';
import { OciImageError } from '../errors.js';

/**
 * The descriptor an image operation starts from: `source` itself, or the descriptor the provider's refs
 * name `source`. `who` starts the error message (e.g. `copy: the source`). Throws `REFS_UNSUPPORTED` when a
 * name is given to a provider without refs, and what `resolve` throws (`REF_NOT_FOUND`, `ABORTED`).
 */
export async function resolveRoot(
  provider: ContentProvider,
  source: string | Descriptor,
  who: string,
  signal: AbortSignal | undefined,
): Promise<Descriptor> {
  if (typeof source !== 'string') return source;
  if (!hasRefStore(provider)) {
    throw new OciImageError('REFS_UNSUPPORTED', `${who} keeps no refs, cannot resolve "${source}"`, {
      path: source,
    });
  }
  return provider.resolve(source, { signal });
}
