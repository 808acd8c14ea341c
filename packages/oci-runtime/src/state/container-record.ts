import type { Hooks } from '../spec/config.js';

/** The runtime-spec state statuses (`creating` while create runs). */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** The public state of a container, as `state` prints it (runtime-spec "State", runc's field order). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  /** RFC 3339 with nanoseconds, UTC. */
  created: string;
  owner: string;
  annotations?: Record<string, string> | undefined;
}

/**
 * What the state store keeps in `<root>/<id>/state.json`: the public fields plus what later commands
 * need without re-reading the bundle (the pid's start time to detect reuse, the cgroup, the hooks).
 */
export interface ContainerRecord extends Omit<ContainerState, 'status'> {
  /** The last status written; the live status is derived (see `deriveStatus`). */
  status: ContainerStatus;
  /** Field 22 of /proc/<pid>/stat when the pid was recorded. */
  pidStartTime: string;
  /** The cgroupsPath the container's cgroup manager was made with ('' when none). */
  cgroupPath: string;
  /** The hooks still to run after create (poststart, poststop), from the spec. */
  hooks?: Hooks | undefined;
  /** The compiled seccomp filter (base64 `struct sock_filter[]`), applied to `exec`'d processes too. */
  seccomp?: { program: string; flags: number } | undefined;
  /** Whether the container has its own pid namespace (kill --all needs the cgroup otherwise). */
  sharedPidNamespace?: boolean | undefined;
  /** The `ocikit-monitor` that reaps the init and records its exit (containers created with a monitor). */
  monitor?: MonitorRecord | undefined;
}

/** What is kept about a container's monitor: the process, and where it writes the exit status and log. */
export interface MonitorRecord {
  /** The monitor's pid. */
  pid: number;
  /** Field 22 of /proc/<pid>/stat of the monitor, so a reused pid is never taken for it. */
  startTime: string;
  /** The monitor's exit file (JSON written by rename once the init has exited and output is drained). */
  exitFile: string;
  /** The container's log file, when it has one. */
  logPath?: string | undefined;
  /** `raw` or `cri` (the log's layout). */
  logFormat?: 'raw' | 'cri' | undefined;
  /** The unix socket where clients attach to the container's stdio, when there is one. */
  attachSocket?: string | undefined;
}
