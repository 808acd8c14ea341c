import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
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

const exitStatusSchema = z.object({
  pid: z.number().int().positive(),
  exitCode: z.number().int().min(0).max(255),
  signal: z.number().int().positive().nullable(),
  exitedAt: z.string().min(1),
});

/**
 * Parses the text of a monitor exit file. Pure. Throws {@link RuntimeError} `MONITOR_FAILED` (with
 * `path` when given) when the text is not the JSON object the monitor writes.
 */
export function parseExitStatus(text: string, filePath?: string): ExitStatus {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RuntimeError('MONITOR_FAILED', 'read exit file: not JSON', { path: filePath, cause: error });
  }
  const parsed = exitStatusSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined ? '' : ` (field "${issue.path.join('.')}": ${issue.message})`;
    throw new RuntimeError('MONITOR_FAILED', `read exit file: unexpected content${field}`, {
      path: filePath,
      cause: parsed.error,
    });
  }
  return parsed.data;
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
