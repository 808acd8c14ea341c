/**
 * Kernel constants of the seccomp filter ABI (include/uapi/linux/seccomp.h, audit.h).
 */

/** `SECCOMP_RET_*` action values; the low 16 bits (`SECCOMP_RET_DATA`) carry errno or trace data. */
export const seccompReturn = Object.freeze({
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
});

/** `SECCOMP_RET_ACTION_FULL`: the mask of the action part of a return value. */
export const seccompReturnActionMask = 0xffff0000;
/** `SECCOMP_RET_DATA`: the mask of the data part of a return value. */
export const seccompReturnDataMask = 0x0000ffff;

/** `SECCOMP_FILTER_FLAG_*` bits for seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). */
export const seccompFilterFlags = Object.freeze({
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_NEW_LISTENER: 8,
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH: 16,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
});

/** `AUDIT_ARCH_*` values found in `seccomp_data.arch`. */
export const auditArch = Object.freeze({
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
  ARM: 0x40000028,
});

/** `__X32_SYSCALL_BIT`: x32 system call numbers carry this bit on the x86_64 audit arch. */
export const x32SyscallBit = 0x40000000;

/** Byte offsets in `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }`. */
export const seccompDataOffset = Object.freeze({
  nr: 0,
  arch: 4,
  instructionPointer: 8,
  args: 16,
});

/** ENOSYS and EPERM errno numbers (the same on every Linux architecture this package targets). */
export const errnoNumber = Object.freeze({ EPERM: 1, ENOSYS: 38 });
