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
}
