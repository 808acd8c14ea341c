import { z } from 'zod';
import { annotationsSchema, descriptorSchema, mediaTypeSchema } from './descriptor.js';
import { OciImageError } from './errors.js';
import { encodeJson, parseJsonBytes, toBytes, validateWith } from './internal/json.js';
import { MediaType } from './media-types.js';
import { type ParsedBlob, toParsedBlob } from './parsed-blob.js';

/**
 * zod model of an image manifest: OCI (`mediaType` optional, as umoci omits it) or Docker v2 schema 2.
 * Unknown fields are kept.
 */
export const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.enum([MediaType.ociManifest, MediaType.dockerManifest]).optional(),
  artifactType: mediaTypeSchema.optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});

/** An image manifest (OCI or Docker v2 schema 2). */
export type Manifest = z.output<typeof manifestSchema>;

/** A manifest with its exact bytes and digest. */
export type ParsedManifest = ParsedBlob<Manifest>;

/** The media type a manifest document declares, or the OCI manifest type when it declares none. */
export function manifestMediaType(manifest: Manifest): string {
  return manifest.mediaType ?? MediaType.ociManifest;
}

/**
 * Parses manifest bytes. Throws `INVALID_JSON` for bad JSON, `UNSUPPORTED_MEDIA_TYPE` (path `mediaType`)
 * when the document declares a non-manifest media type, and `INVALID_MANIFEST` with the field path
 * (e.g. `layers[2].digest`) otherwise. The digest is of the given bytes.
 */
export function parseManifest(raw: Uint8Array | string): ParsedManifest {
  const bytes = toBytes(raw);
  const json = parseJsonBytes(bytes, 'manifest');
  if (typeof json === 'object' && json !== null && 'mediaType' in json) {
    const declared = (json as { mediaType: unknown }).mediaType;
    if (
      typeof declared === 'string' &&
      declared !== MediaType.ociManifest &&
      declared !== MediaType.dockerManifest
    ) {
      throw new OciImageError(
        'UNSUPPORTED_MEDIA_TYPE',
        `parse manifest: media type "${declared}" is not a manifest`,
        {
          path: 'mediaType',
        },
      );
    }
  }
  const value = validateWith(manifestSchema, json, 'INVALID_MANIFEST', 'manifest');
  return toParsedBlob(bytes, value, manifestMediaType(value));
}

/** Validates a manifest value and serialises it; the result's digest is of the bytes produced. */
export function encodeManifest(value: z.input<typeof manifestSchema>): ParsedManifest {
  return parseManifest(encodeJson(value));
}
