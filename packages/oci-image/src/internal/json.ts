import type { z } from 'zod';
import { OciImageError, type OciImageErrorCode } from '../errors.js';

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats a zod issue path as a JSON field path: `layers[2].digest`, `annotations["a.b"]`. */
export function formatJsonPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') {
      out += `[${key}]`;
    } else if (typeof key === 'string' && identifier.test(key)) {
      out += out === '' ? key : `.${key}`;
    } else {
      out += `[${JSON.stringify(String(key))}]`;
    }
  }
  return out;
}

/** Decodes UTF-8 bytes and parses JSON; throws `INVALID_JSON` naming `what`. */
export function parseJsonBytes(raw: Uint8Array | string, what: string): unknown {
  try {
    const text = typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw);
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new OciImageError('INVALID_JSON', `parse ${what}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Validates `value` with `schema`; on failure throws `code` whose `path` is the field path of the first
 * issue (joined under `prefix`, e.g. `manifests[1]`).
 */
export function validateWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: OciImageErrorCode,
  what: string,
  prefix = '',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) {
    return result.data;
  }
  const issue = result.error.issues[0];
  const path = formatJsonPath(issue?.path ?? [], prefix);
  const where = path === '' ? '' : ` at ${path}`;
  throw new OciImageError(code, `parse ${what}${where}: ${issue?.message ?? 'invalid'}`, {
    path,
    cause: result.error,
  });
}

/** Serialises a JSON value to UTF-8 bytes (compact, key order as given). */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Bytes of a string or byte array, without copying a Uint8Array. */
export function toBytes(raw: Uint8Array | string): Uint8Array {
  return typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
}
