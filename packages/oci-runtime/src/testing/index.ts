export { type BusyboxRootfsOptions, buildBusyboxRootfs, busyboxApplets } from './busybox-rootfs.js';
export { type DeviceAccess, EbpfError, runDeviceProgram } from './ebpf-interpreter.js';
export {
  type CgroupWriteFailure,
  type RecordedCgroupCall,
  type RecordingCgroupFileSystem,
  recordingCgroupFileSystem,
} from './recording-cgroup-fs.js';
export { type RecordedCall, RecordingSyscalls, syscallError } from './recording-syscalls.js';
