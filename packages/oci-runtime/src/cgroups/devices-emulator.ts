/**
 * A model of the cgroup v1 devices controller's rule list (security/device_cgroup.c), used to turn the
 * runtime-spec `devices` list into (a) the minimal v1 `devices.allow`/`devices.deny` writes and (b) the
 * clean rule set a v2 eBPF program enforces, so both versions allow exactly the same accesses.
 * Semantics follow runc's devices emulator. Pure; no I/O.
 */
import { RuntimeError } from '../errors.js';
import type { CgroupDeviceRule } from './resources.js';

/** A device node type: block, char, or `a` (all). */
export type DeviceType = 'a' | 'b' | 'c';

/** A normalised device rule: -1 is the wildcard for major/minor; `access` is a subset of `rwm` in that order. */
export interface DeviceRule {
  type: DeviceType;
  major: number;
  minor: number;
  access: string;
  allow: boolean;
}

const ACCESS_ORDER = ['r', 'w', 'm'] as const;

function accessSet(access: string): Set<string> {
  const set = new Set<string>();
  for (const letter of access) {
    if (letter !== 'r' && letter !== 'w' && letter !== 'm') {
      throw new RuntimeError('INVALID_ARGUMENT', `device rule: unknown access "${letter}" in "${access}"`, {
        path: 'linux.resources.devices.access',
      });
    }
    set.add(letter);
  }
  return set;
}

function accessString(set: ReadonlySet<string>): string {
  return ACCESS_ORDER.filter((letter) => set.has(letter)).join('');
}

/** Normalises one runtime-spec device rule; throws INVALID_ARGUMENT for an unknown type or access. */
export function normalizeDeviceRule(rule: CgroupDeviceRule): DeviceRule {
  const type = rule.type === undefined || rule.type === '' ? 'a' : rule.type;
  if (type !== 'a' && type !== 'b' && type !== 'c') {
    throw new RuntimeError('INVALID_ARGUMENT', `device rule: type "${type}" is not a, b or c`, {
      path: 'linux.resources.devices.type',
    });
  }
  const number = (value: number | undefined, field: string): number => {
    if (value === undefined || value === -1) return -1;
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RuntimeError('INVALID_ARGUMENT', `device rule: invalid ${field} ${value}`, {
        path: `linux.resources.devices.${field}`,
      });
    }
    return value;
  };
  return {
    type,
    major: number(rule.major, 'major'),
    minor: number(rule.minor, 'minor'),
    access: accessString(accessSet(rule.access === undefined || rule.access === '' ? 'rwm' : rule.access)),
    allow: rule.allow,
  };
}

/** The v1 file syntax of a rule: `c 1:3 rwm`, `a *:* rwm`. */
export function deviceRuleLine(rule: DeviceRule): string {
  if (rule.type === 'a') return 'a *:* rwm';
  const part = (value: number): string => (value === -1 ? '*' : String(value));
  return `${rule.type} ${part(rule.major)}:${part(rule.minor)} ${rule.access}`;
}

function key(type: DeviceType, major: number, minor: number): string {
  return `${type} ${major} ${minor}`;
}

interface Exception {
  type: 'b' | 'c';
  major: number;
  minor: number;
  access: Set<string>;
}

/**
 * The state of one devices cgroup: a default (allow-all or deny-all) plus exceptions. Applying an `a`
 * rule resets it; other rules add to or carve out of the exceptions, like the kernel does.
 */
export class DeviceEmulator {
  #defaultAllow: boolean;
  readonly #exceptions = new Map<string, Exception>();

  /** Starts deny-all (the state runc's rules assume before the first rule). */
  constructor(defaultAllow = false) {
    this.#defaultAllow = defaultAllow;
  }

  /** True when everything not listed is allowed (a deny list). */
  get defaultAllow(): boolean {
    return this.#defaultAllow;
  }

  /** Builds the emulator of runtime-spec rules applied in order to a deny-all start. Throws INVALID_ARGUMENT. */
  static fromRules(rules: readonly CgroupDeviceRule[]): DeviceEmulator {
    const emulator = new DeviceEmulator(false);
    for (const rule of rules) emulator.apply(normalizeDeviceRule(rule));
    return emulator;
  }

  /**
   * Rebuilds the state from a v1 `devices.list` (which lists what is allowed; `a *:* rwm` alone means
   * allow-all, whose deny exceptions the kernel does not show). Throws CGROUP_FAILED on a bad line.
   */
  static fromList(text: string): DeviceEmulator {
    const emulator = new DeviceEmulator(false);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const match = /^([abc]) (\d+|\*):(\d+|\*) ([rwm]+)$/.exec(line.trim());
      if (match === null) {
        throw new RuntimeError('CGROUP_FAILED', `parse devices.list line "${line}"`, {
          path: 'devices.list',
        });
      }
      const type = match[1] as DeviceType;
      const number = (field: string | undefined): number => (field === '*' ? -1 : Number(field));
      emulator.apply({
        type,
        major: number(match[2]),
        minor: number(match[3]),
        access: match[4] ?? '',
        allow: true,
      });
    }
    return emulator;
  }

  /** Applies one normalised rule. Throws INVALID_ARGUMENT when it would punch a hole in a wildcard exception. */
  apply(rule: DeviceRule): void {
    if (rule.type === 'a') {
      this.#defaultAllow = rule.allow;
      this.#exceptions.clear();
      return;
    }
    const exception = {
      type: rule.type,
      major: rule.major,
      minor: rule.minor,
      access: accessSet(rule.access),
    };
    // A rule of the default's kind removes exceptions; the opposite kind adds one.
    if (rule.allow === this.#defaultAllow) this.#remove(exception);
    else this.#add(exception);
  }

  #add(exception: Exception): void {
    const id = key(exception.type, exception.major, exception.minor);
    const existing = this.#exceptions.get(id);
    if (existing === undefined) this.#exceptions.set(id, exception);
    else for (const letter of exception.access) existing.access.add(letter);
  }

  #remove(exception: Exception): void {
    // The kernel silently ignores a removal that only partly matches a wildcard exception (it cannot
    // split `c *:* m` into 2^32 pieces); refuse instead, so nobody believes the access is gone.
    const partials: [number, number][] = [
      [-1, exception.minor],
      [exception.major, -1],
      [-1, -1],
    ];
    for (const [major, minor] of partials) {
      if (major === exception.major && minor === exception.minor) continue;
      const partial = this.#exceptions.get(key(exception.type, major, minor));
      if (partial === undefined) continue;
      for (const letter of exception.access) {
        if (partial.access.has(letter)) {
          throw new RuntimeError(
            'INVALID_ARGUMENT',
            `device rule ${deviceRuleLine({ ...exception, access: accessString(exception.access), allow: true })}: cannot remove part of the wildcard rule ${deviceRuleLine({ type: exception.type, major, minor, access: accessString(partial.access), allow: true })}`,
            { path: 'linux.resources.devices' },
          );
        }
      }
    }
    const id = key(exception.type, exception.major, exception.minor);
    const existing = this.#exceptions.get(id);
    if (existing === undefined) return;
    for (const letter of exception.access) existing.access.delete(letter);
    if (existing.access.size === 0) this.#exceptions.delete(id);
  }

  /** The exceptions sorted by (major, minor, type), each with `allow` opposite to the default. */
  exceptions(): DeviceRule[] {
    return [...this.#exceptions.values()]
      .sort(
        (a, b) => a.major - b.major || a.minor - b.minor || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
      )
      .map((exception) => ({
        type: exception.type,
        major: exception.major,
        minor: exception.minor,
        access: accessString(exception.access),
        allow: !this.#defaultAllow,
      }));
  }

  /** The full clean rule list: the `a *:* rwm` default first, then {@link exceptions}. */
  rules(): DeviceRule[] {
    return [
      { type: 'a', major: -1, minor: -1, access: 'rwm', allow: this.#defaultAllow },
      ...this.exceptions(),
    ];
  }

  /**
   * The fewest v1 writes that turn this state into `target`: a disruptive `a` rule only when the default
   * changes (or this is allow-all, whose deny exceptions cannot be read back), then the exceptions to
   * drop and to add.
   */
  transitionTo(target: DeviceEmulator): DeviceRule[] {
    const writes: DeviceRule[] = [];
    let old = this.exceptions();
    if (this.#defaultAllow || this.#defaultAllow !== target.defaultAllow) {
      writes.push({ type: 'a', major: -1, minor: -1, access: 'rwm', allow: target.defaultAllow });
      old = [];
    }
    const targetExceptions = target.exceptions();
    const find = (list: DeviceRule[], rule: DeviceRule): DeviceRule | undefined =>
      list.find((item) => item.type === rule.type && item.major === rule.major && item.minor === rule.minor);
    for (const rule of old) {
      const kept = new Set(find(targetExceptions, rule)?.access ?? '');
      const dropped = [...rule.access].filter((letter) => !kept.has(letter)).join('');
      if (dropped !== '') writes.push({ ...rule, access: dropped, allow: target.defaultAllow });
    }
    for (const rule of targetExceptions) {
      const had = new Set(find(old, rule)?.access ?? '');
      const gained = [...rule.access].filter((letter) => !had.has(letter)).join('');
      if (gained !== '') writes.push({ ...rule, access: gained, allow: !target.defaultAllow });
    }
    return writes;
  }
}
