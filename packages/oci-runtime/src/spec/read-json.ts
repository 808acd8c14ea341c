import { RuntimeError } from '../errors.js';
import { JsonSyntaxError, parseJsonBigint } from '../internal/json-bigint.js';

/**
 * Decodes JSON text (or bytes) keeping uint64 integers exact; throws `INVALID_SPEC` for bad JSON.
 * `file` only decorates the error. Loads no schema library.
 */
export function readSpecJson(input: string | Uint8Array, file?: string): unknown {
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input);
  try {
    // A UTF-8 byte order mark is not JSON but some editors write one.
    return parseJsonBigint(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    const where = file === undefined ? '' : ` ${file}`;
    const reason = error instanceof JsonSyntaxError ? error.message : String(error);
    throw new RuntimeError('INVALID_SPEC', `parse spec${where}: invalid JSON: ${reason}`, {
      path: file,
      cause: error,
    });
  }
}
