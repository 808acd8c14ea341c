/**
 * Internal helpers: cgroupfs reads and writes with typed errors, directory trees, pid collection.
 */
import { posix } from 'node:path';
import { debuglog } from 'node:util';
import { RuntimeError } from '../errors.js';
import type { CgroupFileSystem } from './file-system.js';
import { parsePidList } from './parse.js';

/** Debug output for the cgroup code (`NODE_DEBUG=ocikit-cgroups`). */
export const debug = debuglog('ocikit-cgroups');

/** The errno name of a Node system error, if any. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A CGROUP_FAILED error for `action` (which names the thing), with the errno or the error's text. */
export function cgroupFailed(action: string, path: string | undefined, error: unknown): RuntimeError {
  const errno = errnoOf(error);
  return new RuntimeError('CGROUP_FAILED', `${action}: ${errno ?? String(error)}`, {
    path,
    errno,
    cause: error,
  });
}

/** Reads a file; throws CGROUP_FAILED. */
export async function readText(fs: CgroupFileSystem, path: string): Promise<string> {
  try {
    return await fs.readFile(path);
  } catch (error) {
    throw cgroupFailed(`read cgroup file ${path}`, path, error);
  }
}

/** Reads a file, or undefined when it does not exist; other failures throw CGROUP_FAILED. */
export async function readOptional(fs: CgroupFileSystem, path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw cgroupFailed(`read cgroup file ${path}`, path, error);
  }
}

/**
 * Writes one value. A missing file means the controller or feature is not there: CGROUP_UNSUPPORTED;
 * anything else the kernel refuses: CGROUP_FAILED with the errno.
 */
export async function writeValue(fs: CgroupFileSystem, path: string, value: string): Promise<void> {
  debug('write %s <- %s', path, value);
  try {
    await fs.writeFile(path, value);
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'ENOENT') {
      throw new RuntimeError(
        'CGROUP_UNSUPPORTED',
        `write ${JSON.stringify(value)} to ${path}: no such file (controller not available here?)`,
        { path, errno, cause: error },
      );
    }
    throw cgroupFailed(`write ${JSON.stringify(value)} to ${path}`, path, error);
  }
}

/** mkdir of one cgroup directory (an existing one is fine). Throws CGROUP_FAILED. */
export async function makeDirectory(fs: CgroupFileSystem, directory: string): Promise<void> {
  try {
    await fs.mkdir(directory);
  } catch (error) {
    throw cgroupFailed(`create cgroup ${directory}`, directory, error);
  }
}

/** mkdir -p of `directory` below the existing `base`. Throws CGROUP_FAILED. */
export async function makeDirectories(fs: CgroupFileSystem, base: string, directory: string): Promise<void> {
  const relative = posix.relative(base, directory);
  if (relative === '') return;
  let current = base;
  for (const part of relative.split('/')) {
    current = posix.join(current, part);
    await makeDirectory(fs, current);
  }
}

/** Resolves after `ms`, or rejects with ABORTED when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RuntimeError('ABORTED', 'cgroup operation aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new RuntimeError('ABORTED', 'cgroup operation aborted', { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function childDirectories(fs: CgroupFileSystem, directory: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(directory);
    return entries.filter((entry) => entry.isDirectory).map((entry) => posix.join(directory, entry.name));
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw cgroupFailed(`list cgroup ${directory}`, directory, error);
  }
}

/** Every pid in `cgroup.procs` of `directory` and its descendants (ascending, unique). */
export async function collectPids(fs: CgroupFileSystem, directory: string): Promise<number[]> {
  const pids = new Set<number>();
  const visit = async (path: string): Promise<void> => {
    const text = await readOptional(fs, posix.join(path, 'cgroup.procs'));
    if (text === undefined) return;
    for (const pid of parsePidList(text)) pids.add(pid);
    for (const child of await childDirectories(fs, path)) await visit(child);
  };
  await visit(directory);
  return [...pids].sort((a, b) => a - b);
}

/**
 * rmdir of `directory` and its child cgroups (deepest first). EBUSY (tasks still exiting) is retried
 * with a growing pause for up to about `timeoutMs`; a missing directory is fine. Throws CGROUP_FAILED.
 */
export async function removeTree(
  fs: CgroupFileSystem,
  directory: string,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number } = {},
): Promise<void> {
  for (const child of await childDirectories(fs, directory)) await removeTree(fs, child, options);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let pause = 5;
  for (;;) {
    try {
      await fs.rmdir(directory);
      return;
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'ENOENT') return;
      if (errno !== 'EBUSY' || Date.now() > deadline) {
        throw cgroupFailed(`remove cgroup ${directory}`, directory, error);
      }
    }
    await sleep(pause, options.signal);
    pause = Math.min(pause * 2, 100);
  }
}

/** Sends `signal` to each pid, ignoring ones already gone. */
export function signalPids(pids: readonly number[], signal: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if (errnoOf(error) !== 'ESRCH') throw cgroupFailed(`kill ${pid}`, undefined, error);
    }
  }
}
