/**
 * Writes the source of src/spec/config-parser.generated.ts: the runtime-spec zod schemas compiled ahead of
 * time into plain functions, so that parsing a config.json needs neither zod nor the ~130 schema objects
 * built at start-up (together ~35 ms of every `ocikit-runtime create`).
 *
 * The generated parser is a fast path, not a second source of truth. It accepts a value only when the zod
 * schema would accept it, and then returns what zod would return (same keys in the same order, unknown
 * keys dropped, the same transforms); everything else — including input zod would accept but that the
 * generated code treats conservatively (a `__proto__` key, symbol keys, a non-plain record) — makes it
 * return `undefined`, and the caller runs zod for the verdict and its error message. The unit test
 * test/unit/spec-fast-parse.test.ts regenerates the file from the live schemas (it fails when the
 * committed file is stale; `OCIKIT_WRITE_GENERATED=1` rewrites it) and compares the two parsers on
 * thousands of mutated specs.
 *
 * Only the zod features the spec model uses are supported — object (strip), optional, array,
 * record with plain string keys, string, boolean, number and bigint with safe-integer / min / max checks,
 * union, enum, literal, and a pipe into `Number`. Anything else throws here, at generation time.
 */
import type { z } from 'zod';

/** A schema to expose from the generated module under `name`. */
export interface GeneratedEntry {
  name: string;
  schema: z.ZodType;
  /** The TypeScript type the function returns (imported from ./config.js). */
  type: string;
}

interface Def {
  type: string;
  [key: string]: unknown;
}

interface CheckDef {
  check: string;
  format?: string;
  value?: unknown;
  inclusive?: boolean;
  when?: unknown;
}

function defOf(schema: unknown): Def {
  return (schema as { _zod: { def: Def } })._zod.def;
}

function literal(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new Error(`spec parser codegen: cannot write the literal ${String(value)}`);
}

/** The conditions (as code over `v`) that reject a value failing `checks`. */
function checkConditions(checks: readonly unknown[] | undefined, kind: 'number' | 'bigint'): string[] {
  const conditions: string[] = [];
  for (const check of checks ?? []) {
    const def = defOf(check) as unknown as CheckDef;
    if (def.when !== undefined) throw new Error('spec parser codegen: conditional checks are not supported');
    if (def.check === 'number_format' && kind === 'number' && def.format === 'safeint') {
      conditions.push('!Number.isSafeInteger(v)');
    } else if (def.check === 'greater_than') {
      conditions.push(`v ${def.inclusive ? '<' : '<='} ${literal(def.value)}`);
    } else if (def.check === 'less_than') {
      conditions.push(`v ${def.inclusive ? '>' : '>='} ${literal(def.value)}`);
    } else {
      throw new Error(`spec parser codegen: unsupported ${kind} check ${def.check}/${def.format ?? ''}`);
    }
  }
  return conditions;
}

/** Compiles schemas into functions `(v: unknown) => unknown` that throw `reject`. */
class Compiler {
  readonly #names = new Map<unknown, string>();
  /** Function name by body: distinct schema objects of the same shape share one function. */
  readonly #byBody = new Map<string, string>();
  readonly #functions: string[] = [];
  readonly #constants: string[] = [];

  /** The expression parsing `value` (code) with `schema`. */
  expression(schema: unknown, value: string): string {
    const def = defOf(schema);
    if (def.type === 'string') return `str(${value})`;
    if (def.type === 'boolean') return `bool(${value})`;
    return `${this.functionFor(schema)}(${value})`;
  }

  functionFor(schema: unknown): string {
    const known = this.#names.get(schema);
    if (known !== undefined) return known;
    // The model has no recursive schemas, so a body can be written before its function is named.
    const body = this.#body(defOf(schema));
    let name = this.#byBody.get(body);
    if (name === undefined) {
      name = `p${this.#byBody.size}`;
      this.#byBody.set(body, name);
      this.#functions.push(`function ${name}(v: unknown): unknown {\n${body}\n}`);
    }
    this.#names.set(schema, name);
    return name;
  }

  readonly #constantNames = new Map<string, string>();

  #constant(code: string): string {
    let name = this.#constantNames.get(code);
    if (name === undefined) {
      name = `c${this.#constants.length}`;
      this.#constantNames.set(code, name);
      this.#constants.push(`const ${name} = ${code};`);
    }
    return name;
  }

  #body(def: Def): string {
    switch (def.type) {
      case 'string':
        return '  return str(v);';
      case 'boolean':
        return '  return bool(v);';
      case 'number': {
        if (def.coerce === true) throw new Error('spec parser codegen: coercion is not supported');
        const conditions = [
          "typeof v !== 'number'",
          '!Number.isFinite(v)',
          ...checkConditions(def.checks as unknown[], 'number'),
        ];
        return `  if (${conditions.join(' || ')}) throw reject;\n  return v;`;
      }
      case 'bigint': {
        if (def.coerce === true) throw new Error('spec parser codegen: coercion is not supported');
        const conditions = ["typeof v !== 'bigint'", ...checkConditions(def.checks as unknown[], 'bigint')];
        return `  if (${conditions.join(' || ')}) throw reject;\n  return v;`;
      }
      case 'enum': {
        const values = Object.values(def.entries as Record<string, unknown>).map(literal);
        const set = this.#constant(`new Set<unknown>([${values.join(', ')}])`);
        return `  if (!${set}.has(v)) throw reject;\n  return v;`;
      }
      case 'literal': {
        const values = (def.values as unknown[]).map(literal);
        const set = this.#constant(`new Set<unknown>([${values.join(', ')}])`);
        return `  if (!${set}.has(v)) throw reject;\n  return v;`;
      }
      case 'optional':
        return `  return v === undefined ? undefined : ${this.expression(def.innerType, 'v')};`;
      case 'array':
        this.#noChecks(def);
        return [
          '  if (!Array.isArray(v)) throw reject;',
          '  const out: unknown[] = new Array(v.length);',
          `  for (let i = 0; i < v.length; i++) out[i] = ${this.expression(def.element, 'v[i]')};`,
          '  return out;',
        ].join('\n');
      case 'record': {
        this.#noChecks(def);
        const key = defOf(def.keyType);
        if (key.type !== 'string' || (key.checks as unknown[] | undefined)?.length) {
          throw new Error('spec parser codegen: only records with plain string keys are supported');
        }
        return [
          '  if (!isPlainRecord(v)) throw reject;',
          '  const out: Record<string, unknown> = {};',
          '  for (const key of Object.keys(v)) {',
          "    if (key === '__proto__') throw reject;",
          `    out[key] = ${this.expression(def.valueType, 'v[key]')};`,
          '  }',
          '  return out;',
        ].join('\n');
      }
      case 'object': {
        this.#noChecks(def);
        if (def.catchall !== undefined)
          throw new Error('spec parser codegen: catchall objects are not supported');
        const lines = [
          "  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw reject;",
          '  const o = v as Record<string, unknown>;',
          '  const out: Record<string, unknown> = {};',
          '  let x: unknown;',
        ];
        for (const [key, field] of Object.entries(def.shape as Record<string, unknown>)) {
          if (key === '__proto__') throw new Error('spec parser codegen: a __proto__ field is not supported');
          const property = JSON.stringify(key);
          lines.push(`  x = o[${property}];`);
          const fieldDef = defOf(field);
          if (fieldDef.type === 'optional') {
            // zod keeps a key that is present with the value undefined; JSON never has one, so leave that to zod.
            lines.push(
              `  if (x !== undefined) out[${property}] = ${this.expression(fieldDef.innerType, 'x')};`,
              `  else if (${property} in o) throw reject;`,
            );
          } else {
            lines.push(
              '  if (x === undefined) throw reject;',
              `  out[${property}] = ${this.expression(field, 'x')};`,
            );
          }
        }
        lines.push('  return out;');
        return lines.join('\n');
      }
      case 'union': {
        this.#noChecks(def);
        const options = (def.options as unknown[]).map((option) => this.expression(option, 'v'));
        // zod takes the first option that accepts the value.
        const attempts = options.map(
          (option) =>
            `  try {\n    return ${option};\n  } catch (error) {\n    if (error !== reject) throw error;\n  }`,
        );
        return `${attempts.join('\n')}\n  throw reject;`;
      }
      case 'pipe': {
        const out = defOf(def.out);
        if (out.type !== 'transform' || !isNumberTransform(out.transform)) {
          throw new Error('spec parser codegen: only a pipe into (value) => Number(value) is supported');
        }
        return `  return Number(${this.expression(def.in, 'v')});`;
      }
      default:
        throw new Error(`spec parser codegen: unsupported schema type ${def.type}`);
    }
  }

  #noChecks(def: Def): void {
    if ((def.checks as unknown[] | undefined)?.length) {
      throw new Error(`spec parser codegen: checks on ${def.type} schemas are not supported`);
    }
  }

  get source(): string {
    return [...this.#constants, '', ...this.#functions].join('\n');
  }
}

function isNumberTransform(transform: unknown): boolean {
  if (typeof transform !== 'function') return false;
  return /^\(?\s*(\w+)\s*\)?\s*=>\s*Number\(\s*\1\s*\)$/.test(transform.toString().trim());
}

/** The whole generated module for `entries`. Pure. Throws for a schema feature it cannot compile. */
export function generateSpecParser(entries: readonly GeneratedEntry[]): string {
  const compiler = new Compiler();
  const exports = entries.map((entry) => {
    const parse = compiler.functionFor(entry.schema);
    return [
      `/** \`${entry.type}\` as zod would parse it, or undefined where zod must decide (see the header). */`,
      `export function ${entry.name}(value: unknown): ${entry.type} | undefined {`,
      '  try {',
      `    return ${parse}(value) as ${entry.type};`,
      '  } catch (error) {',
      '    if (error === reject) return undefined;',
      '    throw error;',
      '  }',
      '}',
    ].join('\n');
  });
  const types = [...new Set(entries.map((entry) => entry.type))].sort();
  return `// Generated by scripts/spec-parser-codegen.ts from the zod schemas in src/spec/config.ts; do not edit.
// Regenerate: OCIKIT_WRITE_GENERATED=1 pnpm vitest run packages/oci-runtime/test/unit/spec-fast-parse.test.ts
import type { ${types.join(', ')} } from './config.js';

/** Thrown inside the parser when zod has to decide; never leaves this module. */
const reject: unique symbol = Symbol('reject');

function str(v: unknown): string {
  if (typeof v !== 'string') throw reject;
  return v;
}

function bool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw reject;
  return v;
}

/** Objects zod's record accepts for certain (plain prototype, no symbol keys). */
function isPlainRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const prototype = Object.getPrototypeOf(v);
  return (prototype === Object.prototype || prototype === null) && Object.getOwnPropertySymbols(v).length === 0;
}

${compiler.source}

${exports.join('\n\n')}
`;
}
