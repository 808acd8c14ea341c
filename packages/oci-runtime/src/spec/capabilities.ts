import { RuntimeError } from '../errors.js';

/**
 * Linux capability names and their bit numbers (include/uapi/linux/capability.h), CAP_CHOWN = 0 through
 * CAP_CHECKPOINT_RESTORE = 40.
 */
export const capabilityNumbers: Readonly<Record<string, number>> = Object.freeze({
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
});

/** The highest capability number this table knows (CAP_LAST_CAP of the headers it was taken from). */
export const lastCapability = 40;

/** Every capability name this table knows, in bit order. */
export const allCapabilities: readonly string[] = Object.freeze(
  Object.entries(capabilityNumbers)
    .sort((a, b) => a[1] - b[1])
    .map(([name]) => name),
);

/** The bit number of a capability name (`CAP_SYS_ADMIN` → 21), or `undefined` when unknown. */
export function capabilityNumber(name: string): number | undefined {
  return Object.hasOwn(capabilityNumbers, name) ? capabilityNumbers[name] : undefined;
}

/** Options for {@link capabilityMask}. */
export interface CapabilityMaskOptions {
  /** `'throw'` (default): an unknown name is `INVALID_SPEC`; `'ignore'`: leave it out (runc warns and goes on). */
  onUnknown?: 'throw' | 'ignore';
  /** Names the field in errors, e.g. `process.capabilities.bounding`. */
  path?: string;
}

/**
 * The 64-bit capability set of a list of names: bit n set for capability n (the layout of the kernel's
 * two 32-bit `__user_cap_data_struct` words, low word first). Throws `INVALID_SPEC` for an unknown name
 * unless `onUnknown: 'ignore'`.
 */
export function capabilityMask(
  names: readonly string[] | undefined,
  options: CapabilityMaskOptions = {},
): bigint {
  let mask = 0n;
  for (const [index, name] of (names ?? []).entries()) {
    const bit = capabilityNumber(name);
    if (bit === undefined) {
      if (options.onUnknown === 'ignore') continue;
      const path = options.path === undefined ? undefined : `${options.path}[${index}]`;
      throw new RuntimeError('INVALID_SPEC', `capabilities: unknown capability ${JSON.stringify(name)}`, {
        path,
      });
    }
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** The names of the bits set in a capability mask, in bit order; bits beyond the table become `CAP_<n>`. */
export function capabilityNames(mask: bigint): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(allCapabilities[bit] ?? `CAP_${bit}`);
  }
  return names;
}
