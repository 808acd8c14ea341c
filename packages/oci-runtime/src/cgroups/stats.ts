/**
 * Cgroup statistics in the shape of runc's `events --stats` "data" object (same JSON field names), so a
 * CLI can print `JSON.stringify(stats)` as runc does. Values are plain numbers: counters and byte sizes
 * are exact below 2^53; "unlimited" sentinels (v1 `9223372036854771712`, v2 `max` reported as 2^64-1 like
 * runc) lose their low digits. No I/O here.
 */

/** CPU time in nanoseconds. `percpu*` are empty on cgroup v2 (the kernel does not split them). */
export interface CgroupCpuUsage {
  total: number;
  percpu: number[];
  percpu_kernel: number[];
  percpu_user: number[];
  kernel: number;
  user: number;
}

/** CFS bandwidth throttling counters (`throttledTime` in nanoseconds). */
export interface CgroupThrottling {
  periods: number;
  throttledPeriods: number;
  throttledTime: number;
}

/** One memory counter set: bytes, and how often the limit was hit. */
export interface CgroupMemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

/** One line of a blkio / io statistic. */
export interface CgroupBlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** Hugetlb usage for one page size. */
export interface CgroupHugetlbStats {
  usage: number;
  max: number;
  failcnt: number;
}

/** Everything {@link CgroupManager.stats} reports. */
export interface CgroupStats {
  cpu: { usage: CgroupCpuUsage; throttling: CgroupThrottling };
  memory: {
    /** Page cache bytes (v1 `cache`, v2 `file`). */
    cache: number;
    usage: CgroupMemoryEntry;
    /** memory + swap, as v1 reports it (v2 values are combined to match). */
    swap: CgroupMemoryEntry;
    kernel: CgroupMemoryEntry;
    kernelTCP: CgroupMemoryEntry;
    /** Every key of `memory.stat`. */
    raw: Record<string, number>;
  };
  /** `limit` is 0 when unlimited, as in runc. */
  pids: { current: number; limit: number };
  blkio: {
    ioServiceBytesRecursive: CgroupBlkioEntry[];
    ioServicedRecursive: CgroupBlkioEntry[];
    ioQueueRecursive: CgroupBlkioEntry[];
    ioServiceTimeRecursive: CgroupBlkioEntry[];
    ioWaitTimeRecursive: CgroupBlkioEntry[];
    ioMergedRecursive: CgroupBlkioEntry[];
    ioTimeRecursive: CgroupBlkioEntry[];
    sectorsRecursive: CgroupBlkioEntry[];
  };
  /** Keyed by page size as the cgroup files name it (`2MB`, `1GB`). */
  hugetlb: Record<string, CgroupHugetlbStats>;
}

/** A zeroed memory entry. */
export function emptyMemoryEntry(): CgroupMemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

/** A fresh, all-zero {@link CgroupStats}; managers fill in what their files report. */
export function emptyCgroupStats(): CgroupStats {
  return {
    cpu: {
      usage: { total: 0, percpu: [], percpu_kernel: [], percpu_user: [], kernel: 0, user: 0 },
      throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    },
    memory: {
      cache: 0,
      usage: emptyMemoryEntry(),
      swap: emptyMemoryEntry(),
      kernel: emptyMemoryEntry(),
      kernelTCP: emptyMemoryEntry(),
      raw: {},
    },
    pids: { current: 0, limit: 0 },
    blkio: {
      ioServiceBytesRecursive: [],
      ioServicedRecursive: [],
      ioQueueRecursive: [],
      ioServiceTimeRecursive: [],
      ioWaitTimeRecursive: [],
      ioMergedRecursive: [],
      ioTimeRecursive: [],
      sectorsRecursive: [],
    },
    hugetlb: {},
  };
}
