import { z } from 'zod';
import { annotationsSchema, descriptorSchema, mediaTypeSchema } from './descriptor.js';
import { OciImageError } from './errors.js';
import { encodeJson, parseJsonBytes, toBytes, validateWith } from './internal/json.js';
import { MediaType } from './media-types.js';
import { type ParsedBlob, toParsedBlob } from './parsed-blob.js';

/** zod model of an image index (OCI) or manifest list (Docker v2 schema 2); unknown fields are kept. */
export const imageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.enum([MediaType.ociIndex, MediaType.dockerManifestList]).optional(),
  artifactType: mediaTypeSchema.optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});

/** An image index or Docker manifest list. */
export type ImageIndex = z.output<typeof imageIndexSchema>;

/** An index with its exact bytes and digest. */
export type ParsedImageIndex = ParsedBlob<ImageIndex>;

/** The media type an index declares, or the OCI index type when it declares none. */
export function indexMediaType(index: ImageIndex): string {
  return index.mediaType ?? MediaType.ociIndex;
}

/**
 * Parses index bytes. Throws `INVALID_JSON`, `UNSUPPORTED_MEDIA_TYPE` (path `mediaType`) for a declared
 * non-index media type, or `INVALID_INDEX` with the field path (e.g. `manifests[1].size`).
 */
export function parseIndex(raw: Uint8Array | string): ParsedImageIndex {
  const bytes = toBytes(raw);
  const json = parseJsonBytes(bytes, 'index');
  if (typeof json === 'object' && json !== null && 'mediaType' in json) {
    const declared = (json as { mediaType: unknown }).mediaType;
    if (
      typeof declared === 'string' &&
      declared !== MediaType.ociIndex &&
      declared !== MediaType.dockerManifestList
    ) {
      throw new OciImageError(
        'UNSUPPORTED_MEDIA_TYPE',
        `parse index: media type "${declared}" is not an index`,
        {
          path: 'mediaType',
        },
      );
    }
  }
  const value = validateWith(imageIndexSchema, json, 'INVALID_INDEX', 'index');
  return toParsedBlob(bytes, value, indexMediaType(value));
}

/** Validates an index value and serialises it; the result's digest is of the bytes produced. */
export function encodeIndex(value: z.input<typeof imageIndexSchema>): ParsedImageIndex {
  return parseIndex(encodeJson(value));
}
