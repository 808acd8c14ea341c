/**
 * Every error this package throws is an {@link OciImageError} with a stable `code`.
 * Codes are SCREAMING_SNAKE and never reused for another meaning.
 */
export type OciImageErrorCode =
  | 'INVALID_DIGEST'
  | 'UNSUPPORTED_ALGORITHM'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'SIZE_EXCEEDED'
  | 'INVALID_JSON'
  | 'INVALID_MANIFEST'
  | 'INVALID_INDEX'
  | 'INVALID_CONFIG'
  | 'INVALID_DESCRIPTOR'
  | 'INVALID_PLATFORM'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_REFERENCE'
  | 'NO_MATCHING_PLATFORM'
  | 'BLOB_NOT_FOUND'
  | 'REF_NOT_FOUND'
  | 'INVALID_LAYOUT'
  | 'LAYER_PATH_ESCAPE'
  | 'LAYER_INVALID_ENTRY'
  | 'LAYER_TRUNCATED'
  | 'LAYER_UNSUPPORTED_COMPRESSION'
  | 'SNAPSHOT_NOT_FOUND'
  | 'SNAPSHOT_EXISTS'
  | 'ABORTED'
  | 'LAYER_SOURCE_CHANGED'
  | 'LAYER_UNSUPPORTED_OVERLAY'
  | 'SNAPSHOT_IN_USE'
  | 'SNAPSHOT_CORRUPT'
  | 'SNAPSHOT_INVALID_ROOT'
  | 'SNAPSHOT_INVALID_KEY'
  | 'LAYER_CORRUPT'
  | 'LAYER_APPLY_FAILED'
  | 'REFS_UNSUPPORTED';

const brand = Symbol.for('@ocikit/oci-image:error');

/** Options for {@link OciImageError}: what was at fault and what caused it. */
export interface OciImageErrorOptions {
  /** The file path, blob digest or JSON field path at fault, when there is one. */
  path?: string | undefined;
  cause?: unknown;
}

/** The base error of @ocikit/oci-image; `code` is stable, `path` names what was at fault. */
export class OciImageError extends Error {
  readonly code: OciImageErrorCode;
  readonly path: string | undefined;
  readonly [brand] = true;

  constructor(code: OciImageErrorCode, message: string, options: OciImageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OciImageError';
    this.code = code;
    this.path = options.path;
  }
}

/**
 * True when `value` is an {@link OciImageError}, also when it comes from another copy of this package
 * (the check uses a global symbol, not `instanceof`). With `code`, the code must match too.
 */
export function isOciImageError(value: unknown, code?: OciImageErrorCode): value is OciImageError {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[brand] !== true) {
    return false;
  }
  return code === undefined || (value as OciImageError).code === code;
}
