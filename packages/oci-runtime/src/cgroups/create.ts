import { posix } from 'node:path';
import { RuntimeError } from '../errors.js';
import { DEFAULT_CGROUP_ROOT, detectCgroupVersionSync } from './detect.js';
import type { CgroupManager, CgroupManagerOptions } from './manager.js';
import { nodeCgroupFileSystem } from './node-file-system.js';
import { checkCgroupsPath } from './paths.js';
import { V1CgroupManager } from './v1.js';
import { V2CgroupManager } from './v2.js';

/**
 * Creates the {@link CgroupManager} for `options.path`. Lazy: the only I/O is one stat of
 * `<root>/cgroup.controllers` when `version` is `auto` (the default); paths and mounts are resolved on the
 * first call. Throws CGROUP_UNSUPPORTED for `systemd: true` or a `slice:prefix:name` path, and
 * INVALID_ARGUMENT for an empty path or a relative root.
 */
export function createCgroupManager(options: CgroupManagerOptions): CgroupManager {
  if (options.systemd === true) {
    throw new RuntimeError(
      'CGROUP_UNSUPPORTED',
      'systemd cgroup driver not supported (use the cgroupfs driver)',
      {
        path: options.path,
      },
    );
  }
  checkCgroupsPath(options.path);
  const root = options.root ?? DEFAULT_CGROUP_ROOT;
  if (!posix.isAbsolute(root)) {
    throw new RuntimeError('INVALID_ARGUMENT', `cgroup root "${root}" is not absolute`, { path: root });
  }
  const init = {
    path: options.path,
    root: posix.resolve(root),
    procRoot: options.procRoot ?? '/proc',
    fileSystem: options.fileSystem ?? nodeCgroupFileSystem,
  };
  const version =
    options.version === undefined || options.version === 'auto'
      ? detectCgroupVersionSync(root)
      : options.version;
  return version === 2
    ? new V2CgroupManager({ ...init, attachDeviceProgram: options.attachDeviceProgram })
    : new V1CgroupManager(init);
}
