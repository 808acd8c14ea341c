/**
 * The cgroup manager contract shared by the v1 and v2 providers. This file does no I/O.
 */
import type { CgroupFileSystem } from './file-system.js';
import type { CgroupResources } from './resources.js';
import type { CgroupStats } from './stats.js';

/** The state of a cgroup's freezer. */
export type FreezerState = 'frozen' | 'thawed' | 'freezing';

/** One OOM event: `count` is the cgroup's cumulative `oom_kill` counter after the kill(s) seen. */
export interface OomEvent {
  type: 'oom';
  count: number;
}

/** Options of {@link CgroupManager.oomEvents}. */
export interface OomEventsOptions {
  /** Ends the iteration (quietly) when aborted. */
  signal?: AbortSignal | undefined;
  /** How often the counter is read; default 100 ms. */
  intervalMs?: number | undefined;
  /**
   * The count already accounted for (e.g. an earlier {@link CgroupManager.oomKillCount}): kills above it
   * are reported, including ones that happened before iteration started. Default: the count at start.
   */
  since?: number | undefined;
}

/** Options of the manager calls that may wait (freezing, removing busy directories). */
export interface CgroupWaitOptions {
  signal?: AbortSignal | undefined;
}

/**
 * One container's cgroup, over cgroupfs. v1 spreads it over one directory per mounted hierarchy; v2 is one
 * directory. Every method throws a `RuntimeError`: `CGROUP_FAILED` when the kernel refuses a read or
 * write (`path` is the file, `errno` the reason), `CGROUP_UNSUPPORTED` when the requested setting has no
 * controller or file here. Construction does no I/O; the first call resolves paths and mounts.
 */
export interface CgroupManager {
  readonly version: 1 | 2;
  /** The cgroupsPath as given (absolute: relative to the hierarchy root; relative: to the caller's cgroup). */
  readonly path: string;
  /** Settings `set()` skipped or could not apply here (kernel memory, v2 swappiness, …), in words. */
  readonly notes: readonly string[];
  /** The resolved absolute directories, keyed by v1 hierarchy (`cpu`, `memory`, `name=systemd`, …) or `''` for v2. */
  directories(): Promise<ReadonlyMap<string, string>>;
  /** mkdir -p in each v1 hierarchy (cpuset.cpus/mems copied down) or the v2 directory (controllers enabled in the parents). */
  create(): Promise<void>;
  /** Moves `pid` (with its threads) into the cgroup in every hierarchy. */
  addProcess(pid: number): Promise<void>;
  /** Applies `resources`; parts left undefined are not touched (so `update` can pass a subset). */
  set(resources: CgroupResources): Promise<void>;
  /** Reads the current statistics; files a controller does not have count as zero. */
  stats(): Promise<CgroupStats>;
  /** Every pid in the cgroup and its descendants, ascending. */
  pids(): Promise<number[]>;
  /** Freezes every task and waits until the kernel says frozen. */
  freeze(options?: CgroupWaitOptions): Promise<void>;
  /** Thaws the cgroup. */
  thaw(): Promise<void>;
  freezerState(): Promise<FreezerState>;
  /**
   * OOM kills as they happen. Node cannot wait on an eventfd or poll() a cgroup file, so the
   * `oom_kill` counter (v1 `memory.oom_control`, kernel >= 4.13; v2 `memory.events`) is read every
   * `intervalMs`; one event is yielded per observed increase. Ends when aborted or the cgroup is removed.
   */
  oomEvents(options?: OomEventsOptions): AsyncIterable<OomEvent>;
  /** The cumulative number of OOM kills in the cgroup (0 when the memory controller is absent). */
  oomKillCount(): Promise<number>;
  /**
   * Sends `signal` to every task: freezes first so none can fork away, then thaws (v2 SIGKILL uses
   * cgroup.kill). Does nothing when the cgroup no longer exists.
   */
  killAll(signal: number): Promise<void>;
  /** Removes the cgroup directories, children first, retrying while tasks drain; missing ones are fine. */
  destroy(options?: CgroupWaitOptions): Promise<void>;
}

/**
 * Loads and attaches a v2 device-filter eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE, `program` is
 * `struct bpf_insn[]`) to the cgroup directory `cgroupDirectory`, replacing the one this runtime attached
 * before. Provided by the native addon; without it v2 device rules are recorded in `notes` and skipped.
 */
export type AttachDeviceProgram = (
  cgroupDirectory: string,
  program: Buffer,
  license: string,
) => Promise<void>;

/** Options of `createCgroupManager`. */
export interface CgroupManagerOptions {
  /** cgroupsPath: `/abs` (from the hierarchy root) or `rel` (under the caller's cgroup). `a:b:c` (systemd) is refused. */
  path: string;
  /** The cgroupfs root; default `/sys/fs/cgroup`. Tests point it at a fixture tree. */
  root?: string | undefined;
  /** Default `auto`: v2 when `<root>/cgroup.controllers` exists, else v1. */
  version?: 1 | 2 | 'auto' | undefined;
  /** Only the cgroupfs driver exists; `true` throws CGROUP_UNSUPPORTED. */
  systemd?: boolean | undefined;
  /** Where `self/mountinfo` and `self/cgroup` are read; default `/proc`. */
  procRoot?: string | undefined;
  /** The file-system door; default the real one. Tests wrap it to record writes. */
  fileSystem?: CgroupFileSystem | undefined;
  /** v2 only: how device rules get enforced (see {@link AttachDeviceProgram}). */
  attachDeviceProgram?: AttachDeviceProgram | undefined;
}
