import { MountFlag } from '../syscalls.js';

/** mount(2) arguments derived from a runtime-spec mount's `options`. */
export interface ParsedMountOptions {
  /** Flags without the propagation ones. */
  flags: number;
  /** MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE, with MS_REC for the `r…` forms; 0 when none. */
  propagation: number;
  /** Filesystem-specific options, comma-joined (`mode=755,size=65536k`). */
  data: string;
  bind: boolean;
}

const setFlags: Record<string, number> = {
  ro: MountFlag.RDONLY,
  nosuid: MountFlag.NOSUID,
  nodev: MountFlag.NODEV,
  noexec: MountFlag.NOEXEC,
  sync: MountFlag.SYNCHRONOUS,
  remount: MountFlag.REMOUNT,
  mand: MountFlag.MANDLOCK,
  dirsync: MountFlag.DIRSYNC,
  noatime: MountFlag.NOATIME,
  nodiratime: MountFlag.NODIRATIME,
  bind: MountFlag.BIND,
  rbind: MountFlag.BIND | MountFlag.REC,
  relatime: MountFlag.RELATIME,
  strictatime: MountFlag.STRICTATIME,
  lazytime: MountFlag.LAZYTIME,
  nosymfollow: MountFlag.NOSYMFOLLOW,
  silent: MountFlag.SILENT,
};

const clearFlags: Record<string, number> = {
  rw: MountFlag.RDONLY,
  suid: MountFlag.NOSUID,
  dev: MountFlag.NODEV,
  exec: MountFlag.NOEXEC,
  async: MountFlag.SYNCHRONOUS,
  nomand: MountFlag.MANDLOCK,
  atime: MountFlag.NOATIME,
  diratime: MountFlag.NODIRATIME,
  norelatime: MountFlag.RELATIME,
  nostrictatime: MountFlag.STRICTATIME,
  nolazytime: MountFlag.LAZYTIME,
  symfollow: MountFlag.NOSYMFOLLOW,
  loud: MountFlag.SILENT,
  defaults: 0,
};

const propagationFlags: Record<string, number> = {
  private: MountFlag.PRIVATE,
  rprivate: MountFlag.PRIVATE | MountFlag.REC,
  shared: MountFlag.SHARED,
  rshared: MountFlag.SHARED | MountFlag.REC,
  slave: MountFlag.SLAVE,
  rslave: MountFlag.SLAVE | MountFlag.REC,
  unbindable: MountFlag.UNBINDABLE,
  runbindable: MountFlag.UNBINDABLE | MountFlag.REC,
};

/** Options runc accepts that are not kernel options and have no effect here. */
const ignored = new Set(['tmpcopyup', 'rro', 'rrw', 'rnosuid', 'rnodev', 'rnoexec']);

/**
 * Splits runtime-spec mount options into flags, propagation and data the way runc does: known flag
 * words set or clear bits, propagation words go apart, everything else is passed to the filesystem.
 * Pure; never throws.
 */
export function parseMountOptions(options: readonly string[] | undefined): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const option of options ?? []) {
    const set = setFlags[option];
    const clear = clearFlags[option];
    const prop = propagationFlags[option];
    if (set !== undefined) flags |= set;
    else if (clear !== undefined) flags &= ~clear;
    else if (prop !== undefined) propagation = prop;
    else if (!ignored.has(option) && !option.startsWith('X-mount.')) data.push(option);
  }
  return { flags, propagation, data: data.join(','), bind: (flags & MountFlag.BIND) !== 0 };
}

/** The MS_* propagation flags of a `linux.rootfsPropagation` value; 0 for none or unknown. */
export function propagationOf(name: string | undefined): number {
  if (name === undefined || name === '') return 0;
  return propagationFlags[name] ?? 0;
}
