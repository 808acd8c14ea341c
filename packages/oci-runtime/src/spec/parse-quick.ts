import type { Process, RuntimeSpec } from './config.js';
import { parseProcessFast, parseRuntimeSpecFast } from './config-parser.generated.js';
import { readSpecJson } from './read-json.js';
import { validateProcess, validateRuntimeSpec } from './validate.js';

/**
 * Parses config.json text exactly like `parseRuntimeSpec` (same result, same `INVALID_SPEC` errors), but
 * loads zod and builds its schemas only when the generated parser declines the input — that is, only to
 * word an error. What `ocikit-runtime create` and `ContainerRuntime.create` use.
 */
export async function parseRuntimeSpecQuick(text: string | Uint8Array, file?: string): Promise<RuntimeSpec> {
  const spec = parseRuntimeSpecFast(readSpecJson(text, file));
  if (spec === undefined) return (await import('./config.js')).parseRuntimeSpec(text, file);
  validateRuntimeSpec(spec);
  return spec;
}

/** {@link parseRuntimeSpecQuick} for a process description (`runc exec --process`); like `parseProcess`. */
export async function parseProcessQuick(text: string | Uint8Array, file?: string): Promise<Process> {
  const process = parseProcessFast(readSpecJson(text, file));
  if (process === undefined) return (await import('./config.js')).parseProcess(text, file);
  validateProcess(process, []);
  return process;
}
