import { randomUUID } from 'node:crypto';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Prefix of the temporary files a layout provider writes in the layout's root (blobs and index.json). */
export const tempPrefix = '.ocikit-tmp-';

/** The temp files this process is writing, by absolute path (so GC never removes a live one). */
export const activeTemps = new Set<string>();

/** A fresh temp path in `root` for `purpose`, registered as active until released. */
export function newTempPath(root: string, purpose: string): string {
  const path = join(root, `${tempPrefix}${purpose}-${randomUUID()}`);
  activeTemps.add(path);
  return path;
}

/** Forgets and removes a temp file (it may already have been renamed away). */
export async function releaseTemp(path: string): Promise<void> {
  activeTemps.delete(path);
  await rm(path, { force: true });
}

/** Writes `data` to `target` through a temp file in `root`: write, fsync, rename (atomic replace). */
export async function writeFileAtomic(
  root: string,
  target: string,
  data: Uint8Array,
  purpose: string,
): Promise<void> {
  const temp = newTempPath(root, purpose);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } finally {
    await releaseTemp(temp);
  }
}

/** True when `path` exists and is a directory (not a symlink to one). */
export async function isRealDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}
