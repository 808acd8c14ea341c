/**
 * How to mount a snapshot, in the shape of containerd's `mount.Mount` and of the runtime-spec's `mounts`
 * entries: `mount -t <type> <source> <target> -o <options joined by ','>`. Plain data: nothing is mounted.
 */
export interface Mount {
  /** File system type: `overlay` or `bind`. */
  type: string;
  /** The device or directory: `overlay` for overlayfs, the directory for a bind mount. */
  source: string;
  /** Mount options, e.g. `lowerdir=/a:/b` or `ro`, `rbind`. */
  options: string[];
}
