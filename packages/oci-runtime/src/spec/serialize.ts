import { stringifyJsonBigint } from '../internal/json-bigint.js';
import type { RuntimeSpec } from './config.js';

/**
 * The JSON text of a spec, tab-indented like `runc spec` writes it, with exact uint64 values (bigints are
 * written as integer literals, which `JSON.stringify` cannot do). Pure.
 */
export function serializeRuntimeSpec(spec: RuntimeSpec): string {
  return `${stringifyJsonBigint(spec, '\t')}\n`;
}
