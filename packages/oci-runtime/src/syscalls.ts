/**
 * The narrow boundary between the runtime and the kernel calls Node cannot make. Only `native.ts`
 * implements it with the addon; unit tests use `RecordingSyscalls` from the `./testing` entry.
 * This file does no I/O: it holds the contract, the plan shapes and the constants both sides share.
 */

/** Kinds of rootfs operations, run in order in the container's mount namespace before pivot_root. */
export const RootfsOpKind = Object.freeze({ mount: 1, mknod: 2, symlink: 3, mkdir: 4 } as const);

/**
 * One rootfs operation. `target` is relative to the rootfs and already resolved (no symlinks); the
 * child walks it again with O_NOFOLLOW and fails with a `mount-escape:` error when a link appears.
 */
export interface RootfsOp {
  kind: (typeof RootfsOpKind)[keyof typeof RootfsOpKind];
  target: string;
  /** mount: the source; symlink: the link text. */
  source?: string | undefined;
  fstype?: string | undefined;
  data?: string | undefined;
  /** mount(2) flags of the first call (MS_BIND, MS_REC, MS_NOSUID, …). */
  flags?: number | undefined;
  /** After a bind mount: remount with MS_REMOUNT|MS_BIND and these flags (e.g. MS_RDONLY). */
  remountFlags?: number | undefined;
  /** A propagation change (MS_PRIVATE|MS_REC, …) applied to the new mount. */
  propagation?: number | undefined;
  /** What to create at the target when missing: 0 nothing, 1 a directory, 2 a regular file (symlink: 2 replaces). */
  create?: 0 | 1 | 2 | undefined;
  mode?: number | undefined;
  dev?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
}

/** A namespace the container process joins with setns(2): an open fd and its CLONE_NEW* type. */
export interface NamespaceJoin {
  fd: number;
  type: number;
}

/** A resource limit for setrlimit(2): values are exact (RLIM_INFINITY is 2^64-1). */
export interface RlimitPlan {
  resource: number;
  soft: bigint;
  hard: bigint;
}

/** The five capability sets as bit masks; `last` is the highest capability the kernel knows. */
export interface CapabilityPlan {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
  last: number;
}

/** A hook the child runs itself (startContainer), with the state JSON on stdin. */
export interface ChildHookPlan {
  path: string;
  args?: string[] | undefined;
  env?: string[] | undefined;
  /** Seconds; 0 = none. */
  timeout?: number | undefined;
}

/**
 * Everything the container process needs between clone and execve, prepared in full by the parent.
 * `mode` 0 creates a container (init), 1 joins a running one (exec).
 */
export interface SpawnPlan {
  mode: 0 | 1;
  join?: NamespaceJoin[] | undefined;
  /** Create a user namespace in stage 1; the parent then writes the maps ({@link SyncMessageType}.userns). */
  newUserns?: boolean | undefined;
  /**
   * CLONE_NEW* flags for the clone of the container process. Never CLONE_NEWTIME: that bit is
   * clone(2)'s exit signal; use {@link SpawnPlan.newTimeNamespace}.
   */
  cloneFlags?: number | undefined;
  /** unshare(CLONE_NEWTIME) before the clone, so that the container process starts in a new time namespace. */
  newTimeNamespace?: boolean | undefined;
  /** Text written to `/proc/self/timens_offsets` after that unshare (lines `<clock> <secs> <nanosecs>`). */
  timeOffsets?: string | undefined;
  /** Bring `lo` up in a new network namespace (runc's loopback network); default true. */
  loopbackUp?: boolean | undefined;
  rootfs?: string | undefined;
  rootfsPropagation?: number | undefined;
  noPivot?: boolean | undefined;
  readonlyRoot?: boolean | undefined;
  ops?: RootfsOp[] | undefined;
  maskedPaths?: string[] | undefined;
  readonlyPaths?: string[] | undefined;
  /** Absolute `/proc/sys/…` paths and their values, same length. */
  sysctlPaths?: string[] | undefined;
  sysctlValues?: string[] | undefined;
  hostname?: string | undefined;
  domainname?: string | undefined;
  rlimits?: RlimitPlan[] | undefined;
  uid: number;
  gid: number;
  /** Supplementary groups; undefined leaves them (needed when setgroups is denied). */
  groups?: number[] | undefined;
  umask?: number | undefined;
  capabilities?: CapabilityPlan | undefined;
  noNewPrivileges?: boolean | undefined;
  /** A BPF program (`struct sock_filter[]`) loaded with seccomp(SECCOMP_SET_MODE_FILTER, flags). */
  seccomp?: { program: Uint8Array; flags: number } | undefined;
  apparmorProfile?: string | undefined;
  /** SELinux label for the process, written to `/proc/self/attr/exec` just before execve. */
  selinuxLabel?: string | undefined;
  /** personality(2) value set just before execve (PER_LINUX 0, PER_LINUX32 8); undefined leaves it. */
  personality?: number | undefined;
  /** A `struct sched_attr` (48 bytes, see `schedulerAttributes`) for sched_setattr(2); undefined leaves it. */
  schedulerAttributes?: Uint8Array | undefined;
  /** An ioprio value (class << 13 | level) for ioprio_set(IOPRIO_WHO_PROCESS); undefined leaves it. */
  ioPriority?: number | undefined;
  cwd?: string | undefined;
  args: string[];
  env?: string[] | undefined;
  /** An O_PATH fd of `<state>/exec.fifo`; the process opens it for writing and blocks until `start`. */
  execFifoFd?: number | undefined;
  /** A connected `--console-socket` fd; with `terminal` the pty master is sent over it. */
  consoleFd?: number | undefined;
  terminal?: boolean | undefined;
  consoleRows?: number | undefined;
  consoleCols?: number | undefined;
  /** fds to make the process's 0, 1, 2 (null keeps the caller's own). */
  stdio?: (number | null)[] | undefined;
  /** fds 3 … 3+N-1 stay open in the process. */
  preserveFds?: number | undefined;
  /** setsid() before anything else (default true). */
  setsid?: boolean | undefined;
  startHooks?: ChildHookPlan[] | undefined;
  hookState?: string | undefined;
}

/** What `spawn` returns: stage 1's pid (it exits after reporting stage 2) and the parent's sync socket. */
export interface SpawnResult {
  pid: number;
  syncFd: number;
}

/** The monitor a {@link Syscalls.spawnMonitored} container belongs to from the start. */
export interface MonitorSpawn {
  /** The `ocikit-monitor` executable. */
  binary: string;
  /** Its options (exit file, log, attach socket, …); the fd options of adopt mode are added. */
  args: readonly string[];
  /** Give the container a stdin pipe whose write end the monitor holds (else /dev/null). */
  stdin: boolean;
}

/**
 * What {@link Syscalls.spawnMonitored} returns: stage 1 (`pid`, not a child of this process: do not
 * wait for it) and its sync socket as for `spawn`, plus the monitor's pid, the fd to write the init's
 * pid to (then close it; closing it unwritten tells the monitor the create failed) and the fd on which the
 * monitor answers with one JSON line (`{"pid":N,"monitorPid":M}` or `{"error":…}`).
 */
export interface MonitoredSpawnResult extends SpawnResult {
  monitorPid: number;
  adoptFd: number;
  reportFd: number;
}

/** The message types of the sync socket (mirrors `enum ock_msg_type` in native/addon/child.h). */
export const SyncMessageType = Object.freeze({
  userns: 1,
  usernsDone: 2,
  pid: 3,
  go: 4,
  hooks: 5,
  hooksDone: 6,
  ready: 7,
  error: 8,
  abort: 9,
} as const);

/** One message from the child: `value` is a pid or an errno, `text` says what failed. */
export interface SyncMessage {
  type: number;
  value: number;
  text: string;
}

/** How a process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  exitCode: number | null;
  signal: number | null;
}

/**
 * The kernel calls the runtime needs beyond Node's own. Methods throw an `Error` with a numeric
 * `errno` when the call fails; promises run blocking calls off the main thread.
 */
export interface Syscalls {
  /** Clones stage 1 of a container process running `plan`; the caller drives the sync protocol. */
  spawn(plan: SpawnPlan): SpawnResult;
  /**
   * Like `spawn`, but stage 1 is cloned by a new `ocikit-monitor` process (in its adopt mode) that owns
   * the container from the start: reaper, stdio pipes, log and exit file (see {@link MonitoredSpawnResult}).
   * `plan.stdio` is replaced by the monitor's pipes.
   */
  spawnMonitored(plan: SpawnPlan, monitor: MonitorSpawn): MonitoredSpawnResult;
  /** Next message from the child, or null when it closed its end (after execve or exit). */
  syncRecv(fd: number): Promise<SyncMessage | null>;
  /** One message to the child; `text` rides after the header (GO carries the startContainer hook state). */
  syncSend(fd: number, type: number, value?: number, text?: string): void;
  /** waitpid(2) for a child of this process. */
  waitPid(pid: number): Promise<ProcessExit>;
  /** waitpid(WNOHANG): null while the child runs; throws (ECHILD) for a non-child. */
  tryWaitPid(pid: number): ProcessExit | null;
  /** open(2) with O_CLOEXEC added; for O_PATH fds and namespace files. */
  openFd(path: string, flags: number, mode?: number): number;
  closeFd(fd: number): void;
  /** Creates a FIFO with exactly `mode` (the umask does not apply). */
  mkfifo(path: string, mode: number): void;
  /** A connected unix stream socket (close-on-exec). */
  connectUnix(path: string): number;
  /** A listening unix stream socket (close-on-exec). */
  listenUnix(path: string): number;
  /** Accepts one connection on `listenFd` and receives one fd sent with SCM_RIGHTS. */
  acceptFd(listenFd: number): Promise<number>;
  /**
   * Loads `program` (`struct bpf_insn[]`) as a BPF_PROG_TYPE_CGROUP_DEVICE program with `license` and
   * attaches it to the cgroup v2 directory with BPF_F_ALLOW_MULTI, then detaches the device programs
   * attached there before. Needs CAP_SYS_ADMIN (or CAP_BPF); the error's `errno` says what the kernel refused.
   */
  attachDeviceProgram(cgroupDirectory: string, program: Uint8Array, license: string): void;
}

/** CLONE_NEW* flags by runtime-spec namespace type. */
export const namespaceCloneFlags = Object.freeze({
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
  time: 0x00000080,
} as const);

/** The `/proc/<pid>/ns/<name>` file name of each runtime-spec namespace type. */
export const namespaceProcNames = Object.freeze({
  mount: 'mnt',
  uts: 'uts',
  ipc: 'ipc',
  user: 'user',
  pid: 'pid',
  network: 'net',
  cgroup: 'cgroup',
  time: 'time',
} as const);

/** mount(2) flags (include/uapi/linux/mount.h). */
export const MountFlag = Object.freeze({
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const);

/** open(2) flags used with {@link Syscalls.openFd}. */
export const OpenFlag = Object.freeze({
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  NONBLOCK: 0x800,
  PATH: 0x200000,
} as const);
