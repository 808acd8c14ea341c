/** Linux resource numbers of the `RLIMIT_*` names (include/uapi/asm-generic/resource.h, x86_64 and aarch64). */
export const rlimitNumbers: Readonly<Record<string, number>> = Object.freeze({
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
});

/** RLIM_INFINITY: the "unlimited" value of a 64-bit rlimit. */
export const rlimitInfinity = 2n ** 64n - 1n;

/** The resource number of an `RLIMIT_*` name (`RLIMIT_NOFILE` → 7), or `undefined` when unknown. */
export function rlimitNumber(name: string): number | undefined {
  return Object.hasOwn(rlimitNumbers, name) ? rlimitNumbers[name] : undefined;
}
