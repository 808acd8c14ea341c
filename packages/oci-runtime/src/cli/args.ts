/**
 * A small argv parser with urfave/cli's rules (what runc uses): long flags `--name value` or
 * `--name=value`, short aliases `-n value`, booleans without a value (or `--name=true|false`),
 * repeatable flags, and flag parsing stops at the first positional argument or `--`.
 */

/** How one flag takes its value. */
export type FlagKind = 'bool' | 'string' | 'list';

/** A flag definition: its long name, aliases (short or long), kind and help text. */
export interface FlagSpec {
  name: string;
  aliases?: readonly string[] | undefined;
  kind: FlagKind;
  usage: string;
  /** The placeholder shown in help (`value`). */
  value?: string | undefined;
}

/** Parsed flags and the positional arguments left. */
export interface ParsedArgs {
  flags: Map<string, string | boolean | string[]>;
  positionals: string[];
}

/** A usage error (unknown flag, missing value): the CLI prints it and exits 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses `argv` against `specs`. With `stopAtPositional` (default true), everything from the first
 * non-flag argument on is positional. Throws {@link UsageError}.
 */
export function parseArgs(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  stopAtPositional = true,
): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byName.set(spec.name, spec);
    for (const alias of spec.aliases ?? []) byName.set(alias, spec);
  }
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] as string;
    i += 1;
    if (arg === '--') {
      positionals.push(...argv.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      if (stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = byName.get(name);
    if (spec === undefined) throw new UsageError(`flag provided but not defined: -${name}`);
    if (spec.kind === 'bool') {
      if (inline !== undefined && !/^(true|false|1|0|t|f)$/i.test(inline)) {
        throw new UsageError(`invalid boolean value ${JSON.stringify(inline)} for -${name}`);
      }
      flags.set(spec.name, inline === undefined ? true : /^(true|1|t)$/i.test(inline));
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[i] as string;
      i += 1;
    }
    if (spec.kind === 'list') {
      const list = (flags.get(spec.name) as string[] | undefined) ?? [];
      list.push(value);
      flags.set(spec.name, list);
    } else {
      flags.set(spec.name, value);
    }
  }
  return { flags, positionals };
}

/** The string value of a flag, or `fallback`. */
export function flagString(args: ParsedArgs, name: string): string | undefined;
export function flagString(args: ParsedArgs, name: string, fallback: string): string;
export function flagString(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const value = args.flags.get(name);
  return typeof value === 'string' ? value : fallback;
}

/** Whether a boolean flag is set. */
export function flagBool(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/** The values of a repeatable flag (empty when absent). */
export function flagList(args: ParsedArgs, name: string): string[] {
  const value = args.flags.get(name);
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** A non-negative integer flag; throws {@link UsageError} for anything else. */
export function flagInt(args: ParsedArgs, name: string, fallback: number): number {
  const text = flagString(args, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text))
    throw new UsageError(`invalid value ${JSON.stringify(text)} for flag -${name}: not a number`);
  return Number(text);
}

/** Renders flag help lines (`   --name value, -n value   usage`). */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const names = [spec.name, ...(spec.aliases ?? [])].map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
    const value = spec.kind === 'bool' ? '' : ` ${spec.value ?? 'value'}`;
    return [names.map((n) => n + value).join(', '), spec.usage] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, usage]) => `   ${left.padEnd(width)}  ${usage}`).join('\n');
}

/**
 * Parses a Go-style duration (`5s`, `100ms`, `1m30s`) into milliseconds; throws {@link UsageError}.
 */
export function parseDuration(text: string): number {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    '\u00b5s': 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length)
    throw new UsageError(`invalid duration ${JSON.stringify(text)}`);
  return total;
}

/** Parses a size like docker's RAMInBytes (`512`, `64k`, `10m`, `1g`, `1.5GB`) into bytes; -1 stays -1. */
export function parseSize(text: string): number {
  if (text === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`invalid size ${JSON.stringify(text)}`);
  const power = 'bkmgtp'.indexOf((m[2] || 'b').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}
