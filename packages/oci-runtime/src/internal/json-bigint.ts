/**
 * A strict JSON reader that keeps integers beyond 2^53 exact as `bigint` (runtime-spec has uint64 fields
 * such as rlimits set to RLIM_INFINITY = 18446744073709551615 and seccomp argument masks, which
 * `JSON.parse` would round). Everything else behaves like `JSON.parse`: the last duplicate key wins and a
 * `__proto__` key becomes an own property, never the prototype.
 */

const maxDepth = 512;

/** Thrown by {@link parseJsonBigint} with the byte offset of the fault. */
export class JsonSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
    this.offset = offset;
  }
}

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const integerPattern = /^-?(?:0|[1-9]\d*)$/;
// A JSON string: quote, then runs of non-special characters or escapes, then quote.
// biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are what JSON forbids in strings
const stringPattern = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** Parses JSON text; integers outside the safe range come back as `bigint`. Throws {@link JsonSyntaxError}. */
export function parseJsonBigint(text: string): unknown {
  let position = 0;

  const skipSpace = (): void => {
    while (position < text.length) {
      const c = text.charCodeAt(position);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) position++;
      else break;
    }
  };

  const readString = (): string => {
    stringPattern.lastIndex = position;
    const match = stringPattern.exec(text);
    if (match === null) throw new JsonSyntaxError('invalid string', position);
    position = stringPattern.lastIndex;
    return JSON.parse(match[0]) as string;
  };

  const readValue = (depth: number): unknown => {
    if (depth > maxDepth) throw new JsonSyntaxError('nesting too deep', position);
    skipSpace();
    const c = text[position];
    if (c === '{') {
      position++;
      const object: Record<string, unknown> = {};
      skipSpace();
      if (text[position] === '}') {
        position++;
        return object;
      }
      for (;;) {
        skipSpace();
        if (text[position] !== '"') throw new JsonSyntaxError('expected a property name', position);
        const key = readString();
        skipSpace();
        if (text[position] !== ':') throw new JsonSyntaxError('expected ":"', position);
        position++;
        const value = readValue(depth + 1);
        Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
        skipSpace();
        if (text[position] === ',') {
          position++;
          continue;
        }
        if (text[position] === '}') {
          position++;
          return object;
        }
        throw new JsonSyntaxError('expected "," or "}"', position);
      }
    }
    if (c === '[') {
      position++;
      const array: unknown[] = [];
      skipSpace();
      if (text[position] === ']') {
        position++;
        return array;
      }
      for (;;) {
        array.push(readValue(depth + 1));
        skipSpace();
        if (text[position] === ',') {
          position++;
          continue;
        }
        if (text[position] === ']') {
          position++;
          return array;
        }
        throw new JsonSyntaxError('expected "," or "]"', position);
      }
    }
    if (c === '"') return readString();
    if (text.startsWith('true', position)) {
      position += 4;
      return true;
    }
    if (text.startsWith('false', position)) {
      position += 5;
      return false;
    }
    if (text.startsWith('null', position)) {
      position += 4;
      return null;
    }
    numberPattern.lastIndex = position;
    const match = numberPattern.exec(text);
    if (match === null) throw new JsonSyntaxError('unexpected character', position);
    position = numberPattern.lastIndex;
    const literal = match[0];
    const value = Number(literal);
    if (integerPattern.test(literal) && !Number.isSafeInteger(value)) return BigInt(literal);
    return value;
  };

  const result = readValue(0);
  skipSpace();
  if (position !== text.length) throw new JsonSyntaxError('unexpected data after the value', position);
  return result;
}

/**
 * JSON text of `value` where `bigint`s are written as plain integer literals. Like `JSON.stringify`,
 * `undefined` properties are left out (and become `null` in arrays); `toJSON` is not consulted.
 */
export function stringifyJsonBigint(value: unknown, indent = ''): string {
  const write = (item: unknown, margin: string): string | undefined => {
    if (item === null) return 'null';
    switch (typeof item) {
      case 'bigint':
        return item.toString();
      case 'number':
        return Number.isFinite(item) ? String(item) : 'null';
      case 'boolean':
        return item ? 'true' : 'false';
      case 'string':
        return JSON.stringify(item);
      case 'object':
        break;
      default:
        return undefined;
    }
    const inner = margin + indent;
    const open = indent === '' ? '' : `\n${inner}`;
    const separator = indent === '' ? ',' : `,\n${inner}`;
    const close = indent === '' ? '' : `\n${margin}`;
    if (Array.isArray(item)) {
      if (item.length === 0) return '[]';
      const parts = item.map((element: unknown) => write(element, inner) ?? 'null');
      return `[${open}${parts.join(separator)}${close}]`;
    }
    const parts: string[] = [];
    for (const [key, element] of Object.entries(item as Record<string, unknown>)) {
      const text = write(element, inner);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${indent === '' ? '' : ' '}${text}`);
    }
    if (parts.length === 0) return '{}';
    return `{${open}${parts.join(separator)}${close}}`;
  };
  return write(value, '') ?? 'null';
}
