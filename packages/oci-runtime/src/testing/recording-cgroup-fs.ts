/**
 * A {@link CgroupFileSystem} that passes every call to a real one and records the mutating ones in
 * order, with optional injected failures, so tests can assert the exact writes a manager makes
 * (including several writes to one file, which a fixture file alone would not show). Test support.
 */
import type { CgroupDirectoryEntry, CgroupFileSystem } from '../cgroups/file-system.js';
import { nodeCgroupFileSystem } from '../cgroups/node-file-system.js';

/** One recorded call. */
export type RecordedCgroupCall =
  | { op: 'write'; path: string; data: string }
  | { op: 'mkdir'; path: string }
  | { op: 'rmdir'; path: string };

/** Returns an errno name (`EINVAL`, `EBUSY`, …) to make that write fail, or undefined to let it through. */
export type CgroupWriteFailure = (path: string, data: string) => string | undefined;

/** The recorder: `calls` grows as the manager works; `writes()` filters the writes. */
export interface RecordingCgroupFileSystem extends CgroupFileSystem {
  readonly calls: RecordedCgroupCall[];
  /** The recorded writes as `[path, data]`, optionally only those under `prefix` (made relative to it). */
  writes(prefix?: string): [string, string][];
}

function systemError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: injected failure on ${path}`), { code });
}

/** Wraps `inner` (default the real file system); `failWrite` injects errors before the real write. */
export function recordingCgroupFileSystem(
  options: { inner?: CgroupFileSystem; failWrite?: CgroupWriteFailure } = {},
): RecordingCgroupFileSystem {
  const inner = options.inner ?? nodeCgroupFileSystem;
  const calls: RecordedCgroupCall[] = [];
  return {
    calls,
    writes(prefix?: string): [string, string][] {
      const result: [string, string][] = [];
      for (const call of calls) {
        if (call.op !== 'write') continue;
        if (prefix === undefined) result.push([call.path, call.data]);
        else if (call.path.startsWith(`${prefix}/`))
          result.push([call.path.slice(prefix.length + 1), call.data]);
      }
      return result;
    },
    readFile: (path: string): Promise<string> => inner.readFile(path),
    async writeFile(path: string, data: string): Promise<void> {
      const failure = options.failWrite?.(path, data);
      calls.push({ op: 'write', path, data });
      if (failure !== undefined) throw systemError(failure, path);
      await inner.writeFile(path, data);
    },
    async mkdir(path: string): Promise<boolean> {
      calls.push({ op: 'mkdir', path });
      return inner.mkdir(path);
    },
    async rmdir(path: string): Promise<void> {
      calls.push({ op: 'rmdir', path });
      await inner.rmdir(path);
    },
    readdir: (path: string): Promise<CgroupDirectoryEntry[]> => inner.readdir(path),
    exists: (path: string): Promise<boolean> => inner.exists(path),
  };
}
