import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../errors.js';

/** How a container's init process ended, as the monitor recorded it in its exit file. */
export interface ExitStatus {
  /** The container init's pid (in the monitor's pid namespace). */
  pid: number;
  /** The exit status; 128 + signal number when the process was killed by a signal (shell convention). */
  exitCode: number;
  /** The signal that killed the process, or `null` when it exited by itself. */
  signal: number | null;
  /** When the monitor reaped the process: RFC 3339 with nanoseconds, UTC (kept as text: a Date loses ns). */
  exitedAt: string;
}

/** The first field of `value` that is not what the monitor writes, with what was wrong; undefined when fine. */
function invalidField(value: unknown): [string, string] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['', 'not an object'];
  const record = value as Record<string, unknown>;
  const isInteger = (field: unknown): field is number => typeof field === 'number' && Number.isInteger(field);
  if (!isInteger(record.pid) || record.pid <= 0) return ['pid', 'not a positive integer'];
  if (!isInteger(record.exitCode) || record.exitCode < 0 || record.exitCode > 255) {
    return ['exitCode', 'not an integer in 0..255'];
  }
  if (record.signal !== null && (!isInteger(record.signal) || record.signal <= 0)) {
    return ['signal', 'neither null nor a positive integer'];
  }
  if (typeof record.exitedAt !== 'string' || record.exitedAt === '')
    return ['exitedAt', 'not a non-empty string'];
  return undefined;
}

/**
 * Parses the text of a monitor exit file. Pure (no validation library, so it is cheap to load). Throws
 * {@link RuntimeError} `MONITOR_FAILED` (with `path` when given) when the text is not the JSON object the
 * monitor writes.
 */
export function parseExitStatus(text: string, filePath?: string): ExitStatus {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RuntimeError('MONITOR_FAILED', 'read exit file: not JSON', { path: filePath, cause: error });
  }
  const invalid = invalidField(value);
  if (invalid !== undefined) {
    const [field, problem] = invalid;
    const where = field === '' ? ` (${problem})` : ` (field "${field}": ${problem})`;
    throw new RuntimeError('MONITOR_FAILED', `read exit file: unexpected content${where}`, {
      path: filePath,
    });
  }
  const record = value as ExitStatus;
  return { pid: record.pid, exitCode: record.exitCode, signal: record.signal, exitedAt: record.exitedAt };
}

/**
 * Reads a monitor exit file. Resolves `undefined` while the file does not exist (the container has not
 * exited); the monitor writes it by rename, so a partial file is never seen. Throws {@link RuntimeError}
 * `MONITOR_FAILED` for unreadable or malformed content and `ABORTED` when `signal` fires.
 */
export async function readExitFile(
  exitFile: string,
  options: { signal?: AbortSignal } = {},
): Promise<ExitStatus | undefined> {
  let text: string;
  try {
    text = await readFile(exitFile, { encoding: 'utf8', signal: options.signal });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((error as Error).name === 'AbortError') {
      throw new RuntimeError('ABORTED', 'read exit file: aborted', { path: exitFile, cause: error });
    }
    throw new RuntimeError('MONITOR_FAILED', `read exit file: ${(error as Error).message}`, {
      path: exitFile,
      errno: (error as NodeJS.ErrnoException).code,
      cause: error,
    });
  }
  return parseExitStatus(text, exitFile);
}

/** Options for {@link waitForExit}. */
export interface WaitForExitOptions {
  signal?: AbortSignal;
  /** How often to look at the file when no change notification arrives (default 250 ms). */
  pollMs?: number;
}

/**
 * Waits until the monitor has written `exitFile` and resolves its {@link ExitStatus}. Watches the
 * directory with fs.watch and also polls every `pollMs` (fs.watch can miss events or be unavailable).
 * Rejects with {@link RuntimeError} `ABORTED` when `signal` fires and `MONITOR_FAILED` for a malformed file.
 * It waits forever if no monitor writes the file: pass a signal to bound it.
 */
export function waitForExit(exitFile: string, options: WaitForExitOptions = {}): Promise<ExitStatus> {
  const { signal } = options;
  const pollMs = options.pollMs ?? 250;
  return new Promise<ExitStatus>((resolve, reject) => {
    let settled = false;
    let checking = false;
    let again = false;
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;

    const cleanUp = (): void => {
      settled = true;
      watcher?.close();
      if (timer !== undefined) clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      if (settled) return;
      cleanUp();
      reject(
        new RuntimeError('ABORTED', 'wait for exit: aborted', { path: exitFile, cause: signal?.reason }),
      );
    };
    const check = async (): Promise<void> => {
      if (settled) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        const status = await readExitFile(exitFile);
        if (status !== undefined && !settled) {
          cleanUp();
          resolve(status);
        }
      } catch (error) {
        if (!settled) {
          cleanUp();
          reject(error);
        }
      } finally {
        checking = false;
        if (again && !settled) {
          again = false;
          void check();
        }
      }
    };

    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const base = path.basename(exitFile);
    try {
      watcher = watch(path.dirname(exitFile), { persistent: false }, (_event, name) => {
        if (name === null || name === base) void check();
      });
      watcher.on('error', () => {
        // The directory may vanish or the watch limit be reached: polling carries on alone.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined;
    }
    timer = setInterval(() => void check(), pollMs);
    void check();
  });
}
