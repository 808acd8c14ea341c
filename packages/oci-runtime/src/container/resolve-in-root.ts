import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';

const maxLinks = 40;

/**
 * Resolves `path` (a container path such as a mount destination) inside `root` on the host, following
 * symlinks that exist now as the container would see them: an absolute link restarts at `root`.
 * Returns the path relative to `root` with no symlinks and no `.`/`..` left (`''` for the root).
 * Throws `MOUNT_ESCAPE` when a `..` (in the path or in a link) climbs above the root, and when links
 * nest deeper than 40. Parts that do not exist yet are kept as written.
 */
export function resolveInRoot(root: string, path: string): string {
  const pending = path.split('/').reverse();
  const resolved: string[] = [];
  let links = 0;
  let exists = true;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) {
        throw new RuntimeError('MOUNT_ESCAPE', `resolve ${path} in ${root}: ".." leaves the root`, { path });
      }
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part];
    if (exists) {
      let target: string | undefined;
      try {
        const stat = lstatSync(join(root, ...candidate));
        if (stat.isSymbolicLink()) target = readlinkSync(join(root, ...candidate));
      } catch {
        exists = false;
      }
      if (target !== undefined) {
        links += 1;
        if (links > maxLinks) {
          throw new RuntimeError('MOUNT_ESCAPE', `resolve ${path} in ${root}: too many levels of symlinks`, {
            path,
          });
        }
        if (target.startsWith('/')) resolved.length = 0;
        pending.push(...target.split('/').reverse());
        continue;
      }
    }
    resolved.push(part);
  }
  return resolved.join('/');
}
