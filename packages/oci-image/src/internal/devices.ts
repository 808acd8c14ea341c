import { execFile } from 'node:child_process';
import { OciImageError } from '../errors.js';

/** The special files a layer may carry. */
export type SpecialFileKind = 'character-device' | 'block-device' | 'fifo';

const MKNOD = '/usr/bin/mknod';
const MKFIFO = '/usr/bin/mkfifo';

function run(file: string, args: string[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { signal, encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) {
        reject(Object.assign(error, { stderr }));
        return;
      }
      resolve();
    });
  });
}

/**
 * Creates a device node or fifo at `absolutePath` with mode 0600 (the caller sets the real mode).
 * Node has no mknod(2), so this runs coreutils `mknod` / `mkfifo`. The caller must have resolved
 * `absolutePath` inside its root and removed any entry already there: neither tool follows or replaces
 * an existing last component (mknod(2) fails with EEXIST). Throws `LAYER_APPLY_FAILED` when the tool fails
 * (for example EPERM for devices without CAP_MKNOD).
 */
export async function makeSpecialFile(
  absolutePath: string,
  kind: SpecialFileKind,
  major: number,
  minor: number,
  signal?: AbortSignal,
): Promise<void> {
  // Paths are absolute, so they can never be read as an option by the tools.
  const args =
    kind === 'fifo'
      ? ['-m', '0600', absolutePath]
      : ['-m', '0600', absolutePath, kind === 'character-device' ? 'c' : 'b', String(major), String(minor)];
  try {
    await run(kind === 'fifo' ? MKFIFO : MKNOD, args, signal);
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new OciImageError(
      'LAYER_APPLY_FAILED',
      `apply layer: create ${kind} ${JSON.stringify(absolutePath)}: ${stderr || (error as Error).message}`,
      { path: absolutePath, cause: error },
    );
  }
}
