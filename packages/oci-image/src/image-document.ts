import { type ParsedImageIndex, parseIndex } from './image-index.js';
import { parseJsonBytes, toBytes } from './internal/json.js';
import { type ParsedManifest, parseManifest } from './manifest.js';
import { isIndexMediaType, isManifestMediaType } from './media-types.js';

/** A manifest or an index, told apart by media type (or, without one, by the `manifests` field). */
export type ImageDocument =
  | { readonly kind: 'manifest'; readonly parsed: ParsedManifest }
  | { readonly kind: 'index'; readonly parsed: ParsedImageIndex };

/** True when `mediaType` names a manifest or an index (OCI or Docker). */
export function isImageDocumentMediaType(mediaType: string | undefined): boolean {
  return isManifestMediaType(mediaType) || isIndexMediaType(mediaType);
}

/**
 * Parses a manifest or index. With `mediaType` (usually the referring descriptor's), that decides;
 * otherwise the document's own `mediaType`, then the presence of `manifests`. Throws what
 * {@link parseManifest} / {@link parseIndex} throw.
 */
export function parseImageDocument(raw: Uint8Array | string, mediaType?: string): ImageDocument {
  const bytes = toBytes(raw);
  let kind: 'manifest' | 'index';
  if (isIndexMediaType(mediaType)) {
    kind = 'index';
  } else if (isManifestMediaType(mediaType)) {
    kind = 'manifest';
  } else {
    const json = parseJsonBytes(bytes, 'manifest or index') as Record<string, unknown> | null;
    const declared = typeof json === 'object' && json !== null ? json.mediaType : undefined;
    if (typeof declared === 'string' && isIndexMediaType(declared)) kind = 'index';
    else if (typeof declared === 'string' && isManifestMediaType(declared)) kind = 'manifest';
    else
      kind =
        json !== null && typeof json === 'object' && Array.isArray(json.manifests) ? 'index' : 'manifest';
  }
  return kind === 'index' ? { kind, parsed: parseIndex(bytes) } : { kind, parsed: parseManifest(bytes) };
}
