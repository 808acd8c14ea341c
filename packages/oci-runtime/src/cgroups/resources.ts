/**
 * The cgroup resource shapes the managers read, with runtime-spec's JSON field names
 * (config-linux.md "Control groups"). They are deliberately loose (every field optional, plain numbers)
 * so that the validated `LinuxResources` of `src/spec/config.ts` is assignable to {@link CgroupResources}.
 * No I/O here.
 */

/** `linux.resources.memory`: bytes; -1 means unlimited. */
export interface CgroupMemory {
  limit?: number | undefined;
  reservation?: number | undefined;
  /** memory + swap, as in cgroup v1 `memory.memsw.limit_in_bytes` (runtime-spec semantics). */
  swap?: number | undefined;
  /** Deprecated by the kernel; ignored with a note. */
  kernel?: number | undefined;
  kernelTCP?: number | undefined;
  swappiness?: number | undefined;
  disableOOMKiller?: boolean | undefined;
  useHierarchy?: boolean | undefined;
  checkBeforeUpdate?: boolean | undefined;
}

/** `linux.resources.cpu`: times in microseconds. */
export interface CgroupCpu {
  shares?: number | undefined;
  quota?: number | undefined;
  burst?: number | undefined;
  period?: number | undefined;
  realtimeRuntime?: number | undefined;
  realtimePeriod?: number | undefined;
  cpus?: string | undefined;
  mems?: string | undefined;
  idle?: number | undefined;
}

/** `linux.resources.pids`: a limit of 0 or below means "no limit". */
export interface CgroupPids {
  limit?: number | undefined;
}

/** `linux.resources.blockIO.weightDevice[]`. */
export interface CgroupWeightDevice {
  major: number;
  minor: number;
  weight?: number | undefined;
  leafWeight?: number | undefined;
}

/** `linux.resources.blockIO.throttle*Device[]`: bytes or operations per second. */
export interface CgroupThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** `linux.resources.blockIO`. */
export interface CgroupBlockIo {
  weight?: number | undefined;
  leafWeight?: number | undefined;
  weightDevice?: readonly CgroupWeightDevice[] | undefined;
  throttleReadBpsDevice?: readonly CgroupThrottleDevice[] | undefined;
  throttleWriteBpsDevice?: readonly CgroupThrottleDevice[] | undefined;
  throttleReadIOPSDevice?: readonly CgroupThrottleDevice[] | undefined;
  throttleWriteIOPSDevice?: readonly CgroupThrottleDevice[] | undefined;
}

/** `linux.resources.hugepageLimits[]`: `pageSize` like `2MB`, `1GB`; `limit` in bytes. */
export interface CgroupHugepageLimit {
  pageSize: string;
  limit: number;
}

/** `linux.resources.devices[]`: absent type (or `a`), major or minor mean "all". */
export interface CgroupDeviceRule {
  allow: boolean;
  type?: string | undefined;
  major?: number | undefined;
  minor?: number | undefined;
  /** Any of `r`, `w`, `m`; absent means `rwm`. */
  access?: string | undefined;
}

/** `linux.resources.network` (cgroup v1 net_cls / net_prio only). */
export interface CgroupNetwork {
  classID?: number | undefined;
  priorities?: readonly { name: string; priority: number }[] | undefined;
}

/** `linux.resources.rdma[device]`. */
export interface CgroupRdma {
  hcaHandles?: number | undefined;
  hcaObjects?: number | undefined;
}

/** `linux.resources`: what {@link CgroupManager.set} applies. Absent parts are left unchanged. */
export interface CgroupResources {
  devices?: readonly CgroupDeviceRule[] | undefined;
  memory?: CgroupMemory | undefined;
  cpu?: CgroupCpu | undefined;
  pids?: CgroupPids | undefined;
  blockIO?: CgroupBlockIo | undefined;
  hugepageLimits?: readonly CgroupHugepageLimit[] | undefined;
  network?: CgroupNetwork | undefined;
  rdma?: Readonly<Record<string, CgroupRdma>> | undefined;
  /** cgroup v2 files written verbatim (`{"memory.high": "1G"}`); must be empty on v1. */
  unified?: Readonly<Record<string, string>> | undefined;
}
