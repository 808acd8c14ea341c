import { z } from 'zod';
import { type Digest, digestOf, parseDigest } from './digest.js';
import { validateWith } from './internal/json.js';
import { platformSchema } from './platform.js';

/** zod model of a digest string (sha256 or sha512), typed as {@link Digest}. */
export const digestSchema = z
  .string()
  .superRefine((value, context) => {
    try {
      parseDigest(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
  })
  .transform((value) => value as Digest);

// RFC 6838 type/subtype, optional parameters
const mediaTypeGrammar =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:\s*;.*)?$/;

/** zod model of a media type string (RFC 6838 `type/subtype`). */
export const mediaTypeSchema = z.string().regex(mediaTypeGrammar, 'not a valid media type');

/** zod model of an annotations map (string to string). */
export const annotationsSchema = z.record(z.string(), z.string());

/** zod model of an image-spec content descriptor; unknown fields are kept. */
export const descriptorSchema = z
  .looseObject({
    mediaType: mediaTypeSchema,
    digest: digestSchema,
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    urls: z.array(z.url()).optional(),
    annotations: annotationsSchema.optional(),
    platform: platformSchema.optional(),
    artifactType: mediaTypeSchema.optional(),
    data: z.base64().optional(),
  })
  .superRefine((descriptor, context) => {
    if (descriptor.data === undefined) return;
    // image-spec: embedded data MUST match the descriptor's size and digest
    const bytes = Buffer.from(descriptor.data, 'base64');
    if (bytes.byteLength !== descriptor.size) {
      context.addIssue({
        code: 'custom',
        path: ['data'],
        message: `embedded data holds ${bytes.byteLength} bytes, size says ${descriptor.size}`,
      });
      return;
    }
    const algorithm = descriptor.digest.startsWith('sha512:') ? 'sha512' : 'sha256';
    if (digestOf(bytes, algorithm) !== descriptor.digest) {
      context.addIssue({
        code: 'custom',
        path: ['data'],
        message: 'embedded data does not match the digest',
      });
    }
  });

/** An image-spec content descriptor. */
export type Descriptor = z.output<typeof descriptorSchema>;

/**
 * Validates a descriptor object (not bytes). Throws `INVALID_DESCRIPTOR` whose `path` names the field,
 * under `path` when given (e.g. `manifests[0]`).
 */
export function parseDescriptor(value: unknown, path = ''): Descriptor {
  return validateWith(descriptorSchema, value, 'INVALID_DESCRIPTOR', 'descriptor', path);
}

/** The bytes embedded in a descriptor's `data` field, or undefined when there are none. */
export function descriptorData(descriptor: Descriptor): Uint8Array | undefined {
  return descriptor.data === undefined ? undefined : Buffer.from(descriptor.data, 'base64');
}

/** The annotation key that names a ref in an OCI image layout's index.json. */
export const refNameAnnotation = 'org.opencontainers.image.ref.name';
