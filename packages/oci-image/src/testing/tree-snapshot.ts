import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute, listAttributes } from '@napi-rs/xattr';
import { OciImageError } from '../errors.js';

/** What one path of a tree is, in a form that compares with `toEqual` or {@link diffTreeSnapshots}. */
export interface TreeSnapshotEntry {
  type: 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  /** Permission bits with setuid, setgid and sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Regular files: byte length and sha256 (hex) of the content. */
  size?: number;
  sha256?: string;
  /** Symlinks: the target as stored, never followed. */
  target?: string;
  /** Devices: major and minor number as `major:minor`. */
  device?: string;
  /**
   * Non-directories with more than one link inside the tree: the smallest (byte order) path of the paths
   * sharing the inode, so two trees with the same hardlink groups give the same value.
   */
  linkGroup?: string;
  /** Modification time in whole seconds, for non-directories, when asked for. */
  mtime?: number;
  /** Extended attributes as `name -> base64 value`, when asked for and there are any. */
  xattrs?: Record<string, string>;
}

/** A tree: relative path (`etc/passwd`, no leading `./`) to what is there. Ordered by path. */
export type TreeSnapshot = Map<string, TreeSnapshotEntry>;

/** Options of {@link snapshotTree}. */
export interface SnapshotTreeOptions {
  /** Record non-directory mtimes (default false; directory times are never recorded). */
  mtimes?: boolean | undefined;
  /**
   * Record extended attributes: `true` every one, a function picks by name (default false).
   * `security.selinux` and `system.*` are never recorded (the host adds them, not the layer).
   */
  xattrs?: boolean | ((name: string) => boolean) | undefined;
  /** Leave out this path and, for a directory, everything beneath it. */
  ignore?: ((path: string) => boolean) | undefined;
  /** Record the root itself as the path `''` (default false: a layer never names its root). */
  includeRoot?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

function typeOf(stats: Stats): TreeSnapshotEntry['type'] {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  if (stats.isFIFO()) return 'fifo';
  return 'socket';
}

function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}

async function sha256File(absolute: string, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(absolute, { highWaterMark: 1024 * 1024, signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function xattrWanted(name: string, option: SnapshotTreeOptions['xattrs']): boolean {
  if (option === undefined || option === false) return false;
  if (name === 'security.selinux' || name.startsWith('system.')) return false;
  return option === true || option(name);
}

async function readXattrs(
  absolute: string,
  option: SnapshotTreeOptions['xattrs'],
): Promise<Record<string, string> | undefined> {
  if (option === undefined || option === false) return undefined;
  let names: string[];
  try {
    names = await listAttributes(absolute);
  } catch {
    // The file system keeps none (or none for this kind of file).
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const name of [...names].sort()) {
    if (!xattrWanted(name, option)) continue;
    const value = await getAttribute(absolute, name);
    if (value !== null) out[name] = Buffer.from(value).toString('base64');
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function compareBytes(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

/**
 * Describes every path under `root` (never following a symlink): type, mode, owner, size and sha256 of
 * regular files, symlink targets, device numbers, hardlink groups, and optionally mtimes and xattrs.
 * Directory times and atimes are never recorded (applying children changes them). Rejects with
 * `ABORTED` when `signal` fires and with the file system's error when a path cannot be read.
 */
export async function snapshotTree(root: string, options: SnapshotTreeOptions = {}): Promise<TreeSnapshot> {
  const { signal } = options;
  const entries: Array<[string, TreeSnapshotEntry]> = [];
  const inodes = new Map<string, string[]>();
  const linked = new Map<string, TreeSnapshotEntry>();

  const visit = async (relative: string, absolute: string): Promise<void> => {
    if (signal?.aborted === true) {
      throw new OciImageError('ABORTED', `snapshot tree: aborted at ${JSON.stringify(relative)}`, {
        path: relative,
        cause: signal.reason,
      });
    }
    const stats = await lstat(absolute);
    const type = typeOf(stats);
    if (relative !== '' || options.includeRoot === true) {
      const entry: TreeSnapshotEntry = { type, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
      if (type === 'file') {
        entry.size = stats.size;
        entry.sha256 = await sha256File(absolute, signal);
      } else if (type === 'symlink') {
        entry.target = await readlink(absolute);
      } else if (type === 'char' || type === 'block') {
        entry.device = `${major(stats.rdev)}:${minor(stats.rdev)}`;
      }
      if (type !== 'directory') {
        if (options.mtimes === true) entry.mtime = Math.floor(stats.mtimeMs / 1000);
        if (stats.nlink > 1) {
          const key = `${stats.dev}:${stats.ino}`;
          const paths = inodes.get(key) ?? [];
          paths.push(relative);
          inodes.set(key, paths);
          linked.set(relative, entry);
        }
      }
      const xattrs = await readXattrs(absolute, options.xattrs);
      if (xattrs !== undefined) entry.xattrs = xattrs;
      entries.push([relative, entry]);
    }
    if (type !== 'directory') return;
    const names = (await readdir(absolute)).sort(compareBytes);
    for (const name of names) {
      const child = relative === '' ? name : `${relative}/${name}`;
      if (options.ignore?.(child) === true) continue;
      await visit(child, join(absolute, name));
    }
  };

  await visit('', root);
  for (const paths of inodes.values()) {
    // A single path with nlink > 1 shares its inode only with something outside the tree.
    if (paths.length < 2) continue;
    const first = [...paths].sort(compareBytes)[0] as string;
    for (const path of paths) {
      const entry = linked.get(path);
      if (entry !== undefined) entry.linkGroup = first;
    }
  }
  entries.sort(([left], [right]) => compareBytes(left, right));
  return new Map(entries);
}

/** Options of {@link diffTreeSnapshots}. */
export interface DiffTreeOptions {
  /** Properties to leave out of the comparison (e.g. `['mtime']`). */
  ignoreFields?: ReadonlyArray<keyof TreeSnapshotEntry> | undefined;
}

function comparable(entry: TreeSnapshotEntry, ignored: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (!ignored.has(key) && value !== undefined) out[key] = value;
  }
  return out;
}

function render(key: string, value: unknown): string {
  if (key === 'mode' && typeof value === 'number') return `0o${value.toString(8)}`;
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * The differences between two snapshots, one line per difference, in path order:
 * `- path` (only in `expected`), `+ path` (only in `actual`), `~ path: field expected -> actual`.
 * An empty list means the trees are equal for every recorded field. Pure.
 */
export function diffTreeSnapshots(
  expected: TreeSnapshot,
  actual: TreeSnapshot,
  options: DiffTreeOptions = {},
): string[] {
  const ignored = new Set<string>(options.ignoreFields ?? []);
  const paths = [...new Set([...expected.keys(), ...actual.keys()])].sort(compareBytes);
  const out: string[] = [];
  for (const path of paths) {
    const left = expected.get(path);
    const right = actual.get(path);
    if (right === undefined) {
      out.push(`- ${path}`);
      continue;
    }
    if (left === undefined) {
      out.push(`+ ${path}`);
      continue;
    }
    const a = comparable(left, ignored);
    const b = comparable(right, ignored);
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
        out.push(`~ ${path}: ${key} ${render(key, a[key])} -> ${render(key, b[key])}`);
      }
    }
  }
  return out;
}
