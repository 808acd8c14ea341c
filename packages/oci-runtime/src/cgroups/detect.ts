import { existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { posix } from 'node:path';

/** The default cgroupfs root. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Which cgroup version manages `root` (default `/sys/fs/cgroup`): 2 when `<root>/cgroup.controllers`
 * exists (a cgroup2 mount), else 1. A hybrid host (v1 controllers, an empty cgroup2 under `unified/`)
 * is therefore v1. Never throws.
 */
export async function detectCgroupVersion(root: string = DEFAULT_CGROUP_ROOT): Promise<1 | 2> {
  try {
    await access(posix.join(root, 'cgroup.controllers'));
    return 2;
  } catch {
    return 1;
  }
}

/** {@link detectCgroupVersion}, synchronously (one stat). */
export function detectCgroupVersionSync(root: string = DEFAULT_CGROUP_ROOT): 1 | 2 {
  return existsSync(posix.join(root, 'cgroup.controllers')) ? 2 : 1;
}
