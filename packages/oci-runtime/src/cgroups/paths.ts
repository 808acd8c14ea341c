/**
 * cgroupsPath semantics (runc's): an absolute path is relative to the hierarchy root, a relative one to
 * the caller's own cgroup, and `slice:prefix:name` is the systemd driver's form (not supported here).
 */
import { posix } from 'node:path';
import { RuntimeError } from '../errors.js';
import { isWithin } from './mountinfo.js';

/** True for the systemd driver's `slice:prefix:name` form. */
export function isSystemdCgroupsPath(path: string): boolean {
  return !path.startsWith('/') && path.split(':').length === 3;
}

/**
 * Checks a cgroupsPath. Throws CGROUP_UNSUPPORTED for the systemd form and INVALID_ARGUMENT for an empty
 * path or one with a NUL byte.
 */
export function checkCgroupsPath(path: string): void {
  if (path === '' || path.includes('\0')) {
    throw new RuntimeError('INVALID_ARGUMENT', `cgroups path ${JSON.stringify(path)} is empty or invalid`, {
      path: 'linux.cgroupsPath',
    });
  }
  if (isSystemdCgroupsPath(path)) {
    throw new RuntimeError(
      'CGROUP_UNSUPPORTED',
      `cgroups path "${path}": systemd cgroup driver not supported (use a cgroupfs path)`,
      { path: 'linux.cgroupsPath' },
    );
  }
}

/**
 * The cgroup (absolute inside its hierarchy, normalised, never above `/`) that `given` names:
 * absolute paths as they are, relative ones under `callerCgroup` (from /proc/self/cgroup).
 */
export function resolveCgroupsPath(given: string, callerCgroup: string): string {
  checkCgroupsPath(given);
  return given.startsWith('/') ? posix.resolve('/', given) : posix.resolve('/', callerCgroup, given);
}

/**
 * The directory of cgroup `cgroup` in a hierarchy mounted at `mountpoint` showing `mountRoot`: the part
 * below the mount root is appended; a cgroup outside it (an absolute path given inside a cgroup
 * namespace) is taken relative to the mountpoint.
 */
export function cgroupDirectory(mountpoint: string, mountRoot: string, cgroup: string): string {
  const inside = isWithin(cgroup, mountRoot)
    ? cgroup.slice(mountRoot === '/' ? 0 : mountRoot.length)
    : cgroup;
  return posix.join(mountpoint, inside);
}
