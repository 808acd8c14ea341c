/**
 * The runtime-spec `config.json` model (runtime-spec 1.2: config.md, config-linux.md) as zod schemas
 * and the TypeScript types inferred from them. Field names are exactly the spec's JSON names.
 *
 * Integers: uint64 fields that really can exceed 2^53 (rlimits, seccomp argument values) are
 * `number | bigint` ({@link Uint64}); {@link parseRuntimeSpec} reads JSON text so that such values stay
 * exact. Other 64-bit fields (memory limits, cpu quotas) are plain numbers.
 *
 * Unknown properties are dropped, as the spec asks runtimes to ignore them; Windows, Solaris, VM and z/OS
 * sections are not modelled.
 */
import { z } from 'zod';
import { RuntimeError } from '../errors.js';
import { formatFieldPath } from '../internal/field-path.js';
import { parseProcessFast, parseRuntimeSpecFast } from './config-parser.generated.js';
import { readSpecJson } from './read-json.js';
import { validateProcess, validateRuntimeSpec } from './validate.js';

export { readSpecJson };

const uint16 = z.number().int().min(0).max(0xffff);
const uint32 = z.number().int().min(0).max(0xffffffff);
const int32 = z.number().int().min(-0x80000000).max(0x7fffffff);
// JSON may hold an int64 beyond 2^53 (e.g. 9223372036854775807 for "unlimited"); keep it as a number.
const int64 = z.union([
  z.number().int(),
  z
    .bigint()
    .min(-(2n ** 63n))
    .max(2n ** 63n - 1n)
    .transform((value) => Number(value)),
]);
const uint64Lossy = z.union([
  z.number().int().min(0),
  z
    .bigint()
    .min(0n)
    .max(2n ** 64n - 1n)
    .transform((value) => Number(value)),
]);
const uint64Exact = z.union([
  z.number().int().min(0),
  z
    .bigint()
    .min(0n)
    .max(2n ** 64n - 1n),
]);
const stringList = z.array(z.string());
const stringMap = z.record(z.string(), z.string());

/** An unsigned 64-bit value: a number when it is a safe integer, else a bigint (exact). */
export type Uint64 = number | bigint;

/** `linux.uidMappings` / `gidMappings` and the per-mount mappings entry. */
export const linuxIdMappingSchema = z.object({
  containerID: uint32,
  hostID: uint32,
  size: uint32,
});
/** One ID mapping range: `size` IDs from `containerID` in the container map to `hostID` outside. */
export type LinuxIdMapping = z.infer<typeof linuxIdMappingSchema>;

/** `mounts[]`. */
export const mountSchema = z.object({
  destination: z.string(),
  type: z.string().optional(),
  source: z.string().optional(),
  options: stringList.optional(),
  uidMappings: z.array(linuxIdMappingSchema).optional(),
  gidMappings: z.array(linuxIdMappingSchema).optional(),
});
/** A mount placed in the container (runtime-spec config.md "Mounts"). */
export type Mount = z.infer<typeof mountSchema>;

/** `root`. */
export const rootSchema = z.object({
  path: z.string(),
  readonly: z.boolean().optional(),
});
/** The container's root file system: a path, absolute or relative to the bundle. */
export type Root = z.infer<typeof rootSchema>;

/** `process.user`. */
export const userSchema = z.object({
  uid: uint32,
  gid: uint32,
  umask: uint32.optional(),
  additionalGids: z.array(uint32).optional(),
  username: z.string().optional(),
});
/** The user the process runs as. */
export type User = z.infer<typeof userSchema>;

/** `process.consoleSize`. */
export const boxSchema = z.object({ height: uint32, width: uint32 });
/** A console size in character cells. */
export type Box = z.infer<typeof boxSchema>;

/** `process.capabilities`. */
export const linuxCapabilitiesSchema = z.object({
  bounding: stringList.optional(),
  effective: stringList.optional(),
  inheritable: stringList.optional(),
  permitted: stringList.optional(),
  ambient: stringList.optional(),
});
/** The five capability sets, as `CAP_*` names. */
export type LinuxCapabilities = z.infer<typeof linuxCapabilitiesSchema>;

/** `process.rlimits[]`. */
export const posixRlimitSchema = z.object({
  type: z.string(),
  hard: uint64Exact,
  soft: uint64Exact,
});
/** One resource limit; `type` is an `RLIMIT_*` name, limits are exact (RLIM_INFINITY is 2^64-1). */
export type POSIXRlimit = z.infer<typeof posixRlimitSchema>;

/** The scheduling policies of `process.scheduler.policy`. */
export const schedulerPolicies = [
  'SCHED_OTHER',
  'SCHED_FIFO',
  'SCHED_RR',
  'SCHED_BATCH',
  'SCHED_ISO',
  'SCHED_IDLE',
  'SCHED_DEADLINE',
] as const;
/** The flags of `process.scheduler.flags`. */
export const schedulerFlags = [
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
] as const;

/** `process.scheduler`. */
export const schedulerSchema = z.object({
  policy: z.enum(schedulerPolicies),
  nice: int32.optional(),
  priority: int32.optional(),
  flags: z.array(z.enum(schedulerFlags)).optional(),
  runtime: uint64Lossy.optional(),
  deadline: uint64Lossy.optional(),
  period: uint64Lossy.optional(),
});
/** sched_setattr(2) attributes for the process. */
export type Scheduler = z.infer<typeof schedulerSchema>;

/** `process.ioPriority`. */
export const linuxIoPrioritySchema = z.object({
  class: z.enum(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE']),
  priority: z.number().int(),
});
/** ioprio_set(2) class and level (0 highest … 7 lowest). */
export type LinuxIoPriority = z.infer<typeof linuxIoPrioritySchema>;

/** `process.execCPUAffinity`. */
export const cpuAffinitySchema = z.object({
  initial: z.string().optional(),
  final: z.string().optional(),
});
/** CPU lists (`0-3,7`) for `exec`'d processes before and after they join the cgroup. */
export type CPUAffinity = z.infer<typeof cpuAffinitySchema>;

/** `process`. */
export const processSchema = z.object({
  terminal: z.boolean().optional(),
  consoleSize: boxSchema.optional(),
  user: userSchema,
  args: stringList.optional(),
  commandLine: z.string().optional(),
  env: stringList.optional(),
  cwd: z.string(),
  capabilities: linuxCapabilitiesSchema.optional(),
  rlimits: z.array(posixRlimitSchema).optional(),
  noNewPrivileges: z.boolean().optional(),
  apparmorProfile: z.string().optional(),
  oomScoreAdj: z.number().int().optional(),
  scheduler: schedulerSchema.optional(),
  selinuxLabel: z.string().optional(),
  ioPriority: linuxIoPrioritySchema.optional(),
  execCPUAffinity: cpuAffinitySchema.optional(),
});
/** The container process (config.md "Process"); also the shape of `runc exec --process` files. */
export type Process = z.infer<typeof processSchema>;

/** `hooks.*[]`. */
export const hookSchema = z.object({
  path: z.string(),
  args: stringList.optional(),
  env: stringList.optional(),
  timeout: z.number().int().optional(),
});
/** A program run at a lifecycle point; `timeout` in seconds. */
export type Hook = z.infer<typeof hookSchema>;

/** `hooks`. */
export const hooksSchema = z.object({
  prestart: z.array(hookSchema).optional(),
  createRuntime: z.array(hookSchema).optional(),
  createContainer: z.array(hookSchema).optional(),
  startContainer: z.array(hookSchema).optional(),
  poststart: z.array(hookSchema).optional(),
  poststop: z.array(hookSchema).optional(),
});
/** The lifecycle hooks (`prestart` is deprecated but still run by runtimes). */
export type Hooks = z.infer<typeof hooksSchema>;

/** The namespace types of `linux.namespaces[].type`. */
export const namespaceTypes = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
/** A namespace type name. */
export type LinuxNamespaceType = (typeof namespaceTypes)[number];

/** `linux.namespaces[]`. */
export const linuxNamespaceSchema = z.object({
  type: z.enum(namespaceTypes),
  path: z.string().optional(),
});
/** A namespace to create (no `path`) or join (`path` to an nsfs file). */
export type LinuxNamespace = z.infer<typeof linuxNamespaceSchema>;

/** `linux.devices[]`. */
export const linuxDeviceSchema = z.object({
  path: z.string(),
  type: z.string(),
  major: int64.optional(),
  minor: int64.optional(),
  fileMode: uint32.optional(),
  uid: uint32.optional(),
  gid: uint32.optional(),
});
/** A device node to create in the container (`c`, `b`, `u` or `p`). */
export type LinuxDevice = z.infer<typeof linuxDeviceSchema>;

/** `linux.resources.devices[]`. */
export const linuxDeviceCgroupSchema = z.object({
  allow: z.boolean(),
  type: z.string().optional(),
  major: int64.optional(),
  minor: int64.optional(),
  access: z.string().optional(),
});
/** A device-cgroup rule; absent type/major/minor mean "all". */
export type LinuxDeviceCgroup = z.infer<typeof linuxDeviceCgroupSchema>;

/** `linux.resources.memory`. */
export const linuxMemorySchema = z.object({
  limit: int64.optional(),
  reservation: int64.optional(),
  swap: int64.optional(),
  kernel: int64.optional(),
  kernelTCP: int64.optional(),
  swappiness: uint64Lossy.optional(),
  disableOOMKiller: z.boolean().optional(),
  useHierarchy: z.boolean().optional(),
  checkBeforeUpdate: z.boolean().optional(),
});
/** Memory controller settings in bytes; -1 means unlimited. */
export type LinuxMemory = z.infer<typeof linuxMemorySchema>;

/** `linux.resources.cpu`. */
export const linuxCpuSchema = z.object({
  shares: uint64Lossy.optional(),
  quota: int64.optional(),
  burst: uint64Lossy.optional(),
  period: uint64Lossy.optional(),
  realtimeRuntime: int64.optional(),
  realtimePeriod: uint64Lossy.optional(),
  cpus: z.string().optional(),
  mems: z.string().optional(),
  idle: int64.optional(),
});
/** CPU and cpuset controller settings (times in microseconds). */
export type LinuxCpu = z.infer<typeof linuxCpuSchema>;

/** `linux.resources.pids`. */
export const linuxPidsSchema = z.object({ limit: int64 });
/** The pids controller limit; 0 or -1 mean no limit. */
export type LinuxPids = z.infer<typeof linuxPidsSchema>;

const blockIoDevice = { major: int64, minor: int64 };
/** `linux.resources.blockIO.weightDevice[]`. */
export const linuxWeightDeviceSchema = z.object({
  ...blockIoDevice,
  weight: uint16.optional(),
  leafWeight: uint16.optional(),
});
/** A per-device weight. */
export type LinuxWeightDevice = z.infer<typeof linuxWeightDeviceSchema>;
/** `linux.resources.blockIO.throttle*Device[]`. */
export const linuxThrottleDeviceSchema = z.object({ ...blockIoDevice, rate: uint64Lossy });
/** A per-device rate limit (bytes or operations per second). */
export type LinuxThrottleDevice = z.infer<typeof linuxThrottleDeviceSchema>;

/** `linux.resources.blockIO`. */
export const linuxBlockIoSchema = z.object({
  weight: uint16.optional(),
  leafWeight: uint16.optional(),
  weightDevice: z.array(linuxWeightDeviceSchema).optional(),
  throttleReadBpsDevice: z.array(linuxThrottleDeviceSchema).optional(),
  throttleWriteBpsDevice: z.array(linuxThrottleDeviceSchema).optional(),
  throttleReadIOPSDevice: z.array(linuxThrottleDeviceSchema).optional(),
  throttleWriteIOPSDevice: z.array(linuxThrottleDeviceSchema).optional(),
});
/** blkio (v1) / io (v2) controller settings. */
export type LinuxBlockIo = z.infer<typeof linuxBlockIoSchema>;

/** `linux.resources.hugepageLimits[]`. */
export const linuxHugepageLimitSchema = z.object({ pageSize: z.string(), limit: uint64Lossy });
/** A hugetlb limit in bytes for one page size (`2MB`, `1GB`, …). */
export type LinuxHugepageLimit = z.infer<typeof linuxHugepageLimitSchema>;

/** `linux.resources.network.priorities[]`. */
export const linuxInterfacePrioritySchema = z.object({ name: z.string(), priority: uint32 });
/** A net_prio priority for one interface. */
export type LinuxInterfacePriority = z.infer<typeof linuxInterfacePrioritySchema>;

/** `linux.resources.network`. */
export const linuxNetworkSchema = z.object({
  classID: uint32.optional(),
  priorities: z.array(linuxInterfacePrioritySchema).optional(),
});
/** net_cls / net_prio settings. */
export type LinuxNetwork = z.infer<typeof linuxNetworkSchema>;

/** `linux.resources.rdma[device]`. */
export const linuxRdmaSchema = z.object({
  hcaHandles: uint32.optional(),
  hcaObjects: uint32.optional(),
});
/** RDMA controller limits for one device. */
export type LinuxRdma = z.infer<typeof linuxRdmaSchema>;

/** `linux.resources`. */
export const linuxResourcesSchema = z.object({
  devices: z.array(linuxDeviceCgroupSchema).optional(),
  memory: linuxMemorySchema.optional(),
  cpu: linuxCpuSchema.optional(),
  pids: linuxPidsSchema.optional(),
  blockIO: linuxBlockIoSchema.optional(),
  hugepageLimits: z.array(linuxHugepageLimitSchema).optional(),
  network: linuxNetworkSchema.optional(),
  rdma: z.record(z.string(), linuxRdmaSchema).optional(),
  unified: stringMap.optional(),
});
/** The cgroup settings of the container (config-linux.md "Control groups"). */
export type LinuxResources = z.infer<typeof linuxResourcesSchema>;

/** The seccomp actions of runtime-spec. */
export const seccompActions = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
/** A seccomp action name. */
export type LinuxSeccompAction = (typeof seccompActions)[number];

/** The seccomp argument comparison operators. */
export const seccompOperators = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
/** A seccomp comparison operator name. */
export type LinuxSeccompOperator = (typeof seccompOperators)[number];

/** The libseccomp architecture names runtime-spec allows in `linux.seccomp.architectures`. */
export const seccompArchitectures = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
] as const;
/** A libseccomp architecture name. */
export type LinuxSeccompArch = (typeof seccompArchitectures)[number];

/** `linux.seccomp.syscalls[].args[]`. */
export const linuxSeccompArgSchema = z.object({
  index: z.number().int().min(0),
  value: uint64Exact,
  valueTwo: uint64Exact.optional(),
  op: z.enum(seccompOperators),
});
/** One argument condition; values are exact 64-bit. */
export type LinuxSeccompArg = z.infer<typeof linuxSeccompArgSchema>;

/** `linux.seccomp.syscalls[]`. */
export const linuxSyscallSchema = z.object({
  names: stringList,
  action: z.enum(seccompActions),
  errnoRet: uint32.optional(),
  args: z.array(linuxSeccompArgSchema).optional(),
});
/** A rule: these syscalls, when all `args` conditions hold, get `action`. */
export type LinuxSyscall = z.infer<typeof linuxSyscallSchema>;

/** `linux.seccomp`. */
export const linuxSeccompSchema = z.object({
  defaultAction: z.enum(seccompActions),
  defaultErrnoRet: uint32.optional(),
  architectures: z.array(z.enum(seccompArchitectures)).optional(),
  flags: stringList.optional(),
  listenerPath: z.string().optional(),
  listenerMetadata: z.string().optional(),
  syscalls: z.array(linuxSyscallSchema).optional(),
});
/** A seccomp profile (config-linux.md "Seccomp"). */
export type LinuxSeccomp = z.infer<typeof linuxSeccompSchema>;

/** `linux.intelRdt`. */
export const linuxIntelRdtSchema = z.object({
  closID: z.string().optional(),
  schemata: z.string().optional(),
  l3CacheSchema: z.string().optional(),
  memBwSchema: z.string().optional(),
  enableCMT: z.boolean().optional(),
  enableMBM: z.boolean().optional(),
  enableMonitoring: z.boolean().optional(),
});
/** Intel RDT (resctrl) settings. */
export type LinuxIntelRdt = z.infer<typeof linuxIntelRdtSchema>;

/** `linux.personality`. */
export const linuxPersonalitySchema = z.object({
  domain: z.enum(['LINUX', 'LINUX32']),
  flags: stringList.optional(),
});
/** personality(2) execution domain. */
export type LinuxPersonality = z.infer<typeof linuxPersonalitySchema>;

/** `linux.timeOffsets[clock]`. */
export const linuxTimeOffsetSchema = z.object({
  secs: int64.optional(),
  nanosecs: uint32.optional(),
});
/** A clock offset for a time namespace. */
export type LinuxTimeOffset = z.infer<typeof linuxTimeOffsetSchema>;

/** `linux.netDevices[hostName]`. */
export const linuxNetDeviceSchema = z.object({ name: z.string().optional() });
/** A host network device moved into the container, optionally renamed. */
export type LinuxNetDevice = z.infer<typeof linuxNetDeviceSchema>;

/** The values of `linux.rootfsPropagation` (runc also accepts the recursive `r…` forms). */
export const rootfsPropagations = [
  'private',
  'shared',
  'slave',
  'unbindable',
  'rprivate',
  'rshared',
  'rslave',
  'runbindable',
] as const;

/** `linux`. */
export const linuxSchema = z.object({
  namespaces: z.array(linuxNamespaceSchema).optional(),
  uidMappings: z.array(linuxIdMappingSchema).optional(),
  gidMappings: z.array(linuxIdMappingSchema).optional(),
  timeOffsets: z.record(z.string(), linuxTimeOffsetSchema).optional(),
  devices: z.array(linuxDeviceSchema).optional(),
  netDevices: z.record(z.string(), linuxNetDeviceSchema).optional(),
  cgroupsPath: z.string().optional(),
  resources: linuxResourcesSchema.optional(),
  intelRdt: linuxIntelRdtSchema.optional(),
  sysctl: stringMap.optional(),
  seccomp: linuxSeccompSchema.optional(),
  rootfsPropagation: z.union([z.enum(rootfsPropagations), z.literal('')]).optional(),
  maskedPaths: stringList.optional(),
  readonlyPaths: stringList.optional(),
  mountLabel: z.string().optional(),
  personality: linuxPersonalitySchema.optional(),
});
/** The Linux section of the configuration (config-linux.md). */
export type Linux = z.infer<typeof linuxSchema>;

/** The whole `config.json`. */
export const runtimeSpecSchema = z.object({
  ociVersion: z.string(),
  process: processSchema.optional(),
  root: rootSchema.optional(),
  hostname: z.string().optional(),
  domainname: z.string().optional(),
  mounts: z.array(mountSchema).optional(),
  hooks: hooksSchema.optional(),
  annotations: stringMap.optional(),
  linux: linuxSchema.optional(),
});
/** A parsed, validated runtime-spec configuration. */
export type RuntimeSpec = z.infer<typeof runtimeSpecSchema>;

/**
 * Applies a zod schema and turns the first issue into `INVALID_SPEC` whose `path` names the field
 * (`linux.namespaces[2].type`), prefixed with `prefix` when the value sits inside a larger document.
 */
export function parseWithSchema<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
  prefix: readonly PropertyKey[] = [],
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const fieldPath = formatFieldPath([...prefix, ...(issue?.path ?? [])]);
  const raw = issue?.message ?? 'invalid value';
  const message = raw.charAt(0).toLowerCase() + raw.slice(1);
  throw new RuntimeError('INVALID_SPEC', `${what}: ${fieldPath === '' ? '(root)' : fieldPath}: ${message}`, {
    path: fieldPath,
  });
}

/**
 * Parses and validates a runtime-spec configuration: an object already decoded, JSON text, or JSON bytes.
 * Checks the schema and then the spec's semantic rules (absolute paths, known namespaces and no duplicates,
 * user-namespace mappings, `CAP_*` and `RLIMIT_*` names, hook timeouts, …). Throws `INVALID_SPEC` with
 * `path` set to the offending field, e.g. `linux.namespaces[2].type`. `file` only decorates messages.
 */
export function parseRuntimeSpec(input: unknown, file?: string): RuntimeSpec {
  const value = typeof input === 'string' || input instanceof Uint8Array ? readSpecJson(input, file) : input;
  // The generated parser answers for valid input; zod decides (and words the error) for the rest.
  const spec =
    parseRuntimeSpecFast(value) ??
    parseWithSchema(runtimeSpecSchema, value, file === undefined ? 'parse spec' : `parse spec ${file}`);
  validateRuntimeSpec(spec);
  return spec;
}

/**
 * Parses a process description (the `process` object of a config, or a `runc exec --process` file) with
 * the same rules as {@link parseRuntimeSpec}. Throws `INVALID_SPEC`.
 */
export function parseProcess(input: unknown, file?: string): Process {
  const value = typeof input === 'string' || input instanceof Uint8Array ? readSpecJson(input, file) : input;
  const process =
    parseProcessFast(value) ??
    parseWithSchema(processSchema, value, file === undefined ? 'parse process' : `parse process ${file}`);
  validateProcess(process, []);
  return process;
}
