export { type BusyboxRootfsOptions, buildBusyboxRootfs, busyboxApplets } from './busybox-rootfs.js';
export {
  buildBusyboxImageArchive,
  type ContainerdHarness,
  type ContainerdHarnessOptions,
  type ContainerdLogLevel,
  type CtrResult,
  findProcesses,
  hasContainerd,
  hasUmoci,
  type RuntimeCleanup,
  type RuntimeWrapperOptions,
  startContainerd,
  writeRuntimeWrapper,
} from './containerd-harness.js';
export { type DeviceAccess, EbpfError, runDeviceProgram } from './ebpf-interpreter.js';
export {
  type CgroupWriteFailure,
  type RecordedCgroupCall,
  type RecordingCgroupFileSystem,
  recordingCgroupFileSystem,
} from './recording-cgroup-fs.js';
export { type RecordedCall, RecordingSyscalls, syscallError } from './recording-syscalls.js';
export { seededRandom } from './seeded-random.js';
