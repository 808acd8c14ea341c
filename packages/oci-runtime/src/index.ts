export {
  blkioWeightToIoWeight,
  CGROUP_V2_MAX,
  cpuSharesToWeight,
  memorySwapToV2,
} from './cgroups/conversions.js';
export { createCgroupManager } from './cgroups/create.js';
export { DEFAULT_CGROUP_ROOT, detectCgroupVersion, detectCgroupVersionSync } from './cgroups/detect.js';
export {
  DeviceEmulator,
  type DeviceRule,
  type DeviceType,
  deviceRuleLine,
  normalizeDeviceRule,
} from './cgroups/devices-emulator.js';
export type { CgroupDirectoryEntry, CgroupFileSystem } from './cgroups/file-system.js';
export type {
  AttachDeviceProgram,
  CgroupManager,
  CgroupManagerOptions,
  CgroupWaitOptions,
  FreezerState,
  OomEvent,
  OomEventsOptions,
} from './cgroups/manager.js';
export { nodeCgroupFileSystem, syncCgroupFileSystem } from './cgroups/node-file-system.js';
export type {
  CgroupBlockIo,
  CgroupCpu,
  CgroupDeviceRule,
  CgroupHugepageLimit,
  CgroupMemory,
  CgroupNetwork,
  CgroupPids,
  CgroupRdma,
  CgroupResources,
  CgroupThrottleDevice,
  CgroupWeightDevice,
} from './cgroups/resources.js';
export {
  type CgroupBlkioEntry,
  type CgroupCpuUsage,
  type CgroupHugetlbStats,
  type CgroupMemoryEntry,
  type CgroupStats,
  type CgroupThrottling,
  emptyCgroupStats,
} from './cgroups/stats.js';
export { V1CgroupManager, type V1CgroupManagerInit, type V1Hierarchy } from './cgroups/v1.js';
export { V2CgroupManager, type V2CgroupManagerInit } from './cgroups/v2.js';
export { BPF_DEVCG, compileDeviceFilter, DEVICE_FILTER_LICENSE } from './cgroups/v2-devices-bpf.js';
export { runCli } from './cli/main.js';
export {
  buildInitPlan,
  type CgroupBind,
  defaultDevices,
  type InitPlanOptions,
  type NamespacePlan,
  personalityDomains,
  personalityValue,
  planNamespaces,
  timeOffsetsText,
} from './container/init-plan.js';
export { type ParsedMountOptions, parseMountOptions, propagationOf } from './container/mount-options.js';
export { buildProcessPlan, type ProcessPlan, type ProcessPlanOptions } from './container/process-plan.js';
export {
  ioPriorityClasses,
  ioPriorityValue,
  SCHED_ATTR_SIZE,
  schedulerAttributes,
  schedulerFlagBits,
  schedulerPolicyNumbers,
} from './container/process-scheduling.js';
export { resolveInRoot } from './container/resolve-in-root.js';
export {
  type CgroupManagerFactory,
  ContainerRuntime,
  type ContainerRuntimeOptions,
  type CreateOptions,
  type DeleteOptions,
  type ExecOptions,
  type LifecycleResult,
  type MonitorOptions,
  runtimeOciVersion,
  type SeccompProgram,
  type WaitExitOptions,
} from './container/runtime.js';
export {
  childError,
  type SpawnCallbacks,
  type SpawnOptions,
  spawnContainerProcess,
} from './container/spawn-process.js';
export { isRuntimeError, RuntimeError, type RuntimeErrorCode, type RuntimeErrorOptions } from './errors.js';
export { type RunHookOptions, runHook, runHooks } from './hooks.js';
export {
  type AttachFrame,
  AttachFrameDecoder,
  type AttachSession,
  attachContainer,
} from './monitor/attach.js';
export {
  assembleCriLines,
  type CriLogLine,
  type CriLogRecord,
  parseCriLog,
} from './monitor/cri-log.js';
export {
  type ExitStatus,
  parseExitStatus,
  readExitFile,
  type WaitForExitOptions,
  waitForExit,
} from './monitor/exit-file.js';
export {
  type AdoptMonitorOptions,
  adoptMonitorArguments,
  defaultCliPath,
  defaultMonitorBinary,
  type MonitorFailureDetails,
  type MonitorStarted,
  monitorArguments,
  readMonitorAnswer,
  reopenLog,
  type StartMonitorOptions,
  startMonitor,
} from './monitor/monitor.js';
export { nativeBuildDirectory, nativeSyscalls } from './native.js';
export { type BpfInstruction, bpfMaxInstructions, decodeBpf, encodeBpf } from './seccomp/bpf.js';
export {
  type CompiledSeccomp,
  type CompileSeccompOptions,
  compileSeccomp,
  type SeccompTargetArch,
} from './seccomp/compile.js';
export { auditArch, seccompFilterFlags, seccompReturn } from './seccomp/constants.js';
export { type SyscallAbi, syscallNumber, syscallTable } from './seccomp/syscall-table.js';
export {
  allCapabilities,
  type CapabilityMaskOptions,
  capabilityMask,
  capabilityNames,
  capabilityNumber,
  capabilityNumbers,
  lastCapability,
} from './spec/capabilities.js';
export {
  type Box,
  type CPUAffinity,
  type Hook,
  type Hooks,
  type Linux,
  type LinuxBlockIo,
  type LinuxCapabilities,
  type LinuxCpu,
  type LinuxDevice,
  type LinuxDeviceCgroup,
  type LinuxHugepageLimit,
  type LinuxIdMapping,
  type LinuxIntelRdt,
  type LinuxInterfacePriority,
  type LinuxIoPriority,
  type LinuxMemory,
  type LinuxNamespace,
  type LinuxNamespaceType,
  type LinuxNetDevice,
  type LinuxNetwork,
  type LinuxPersonality,
  type LinuxPids,
  type LinuxRdma,
  type LinuxResources,
  type LinuxSeccomp,
  type LinuxSeccompAction,
  type LinuxSeccompArch,
  type LinuxSeccompArg,
  type LinuxSeccompOperator,
  type LinuxSyscall,
  type LinuxThrottleDevice,
  type LinuxTimeOffset,
  type LinuxWeightDevice,
  linuxResourcesSchema,
  linuxSeccompSchema,
  type Mount,
  namespaceTypes,
  type POSIXRlimit,
  type Process,
  parseProcess,
  parseRuntimeSpec,
  processSchema,
  type Root,
  type RuntimeSpec,
  runtimeSpecSchema,
  type Scheduler,
  seccompActions,
  seccompArchitectures,
  seccompOperators,
  type Uint64,
  type User,
} from './spec/config.js';
export { type DefaultSpecOptions, defaultSpec, ociVersion } from './spec/default-spec.js';
export { rlimitInfinity, rlimitNumber, rlimitNumbers } from './spec/rlimits.js';
export { serializeRuntimeSpec } from './spec/serialize.js';
export {
  parseSignal,
  signalName,
  signalNumbers,
  signalRealtimeMax,
  signalRealtimeMin,
} from './spec/signals.js';
export { validateProcess, validateRuntimeSpec } from './spec/validate.js';
export type {
  ContainerRecord,
  ContainerState,
  ContainerStatus,
  MonitorRecord,
} from './state/container-record.js';
export { isProcessAlive, type ProcStat, readProcStat } from './state/process-status.js';
export { assertContainerId, StateStore } from './state/state-store.js';
export {
  type CapabilityPlan,
  type ChildHookPlan,
  type MonitoredSpawnResult,
  type MonitorSpawn,
  MountFlag,
  type NamespaceJoin,
  namespaceCloneFlags,
  namespaceProcNames,
  OpenFlag,
  type ProcessExit,
  type RlimitPlan,
  type RootfsOp,
  RootfsOpKind,
  type SpawnPlan,
  type SpawnResult,
  type SyncMessage,
  SyncMessageType,
  type Syscalls,
} from './syscalls.js';
