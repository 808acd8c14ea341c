import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OciImageError } from '../errors.js';

/** A file found by {@link walkTree}: its layer path, where it is on disk, and its lstat. */
export interface WalkedFile {
  /** Base name inside its parent directory. */
  name: string;
  /** Relative path with `/` separators, no leading `./` or `/`. */
  path: string;
  /** Absolute path on disk. */
  absolute: string;
  /** lstat of the file (never follows a symlink), with 64-bit fields. */
  stats: BigIntStats;
}

/**
 * What one walked file becomes in the output: zero or more nodes. A node whose `descend` is set is a directory
 * whose children are walked right after it; `extraChildren` are synthetic children sorted in among them.
 */
export interface WalkNode<T> {
  /** The name that orders this node among its siblings (byte order of UTF-8). */
  name: string;
  /** Relative path of the node in the output. */
  path: string;
  value: T;
  /** Absolute directory to walk for this node's children. */
  descend?: string | undefined;
  /** Synthetic children (e.g. a whiteout marker) ordered together with the real ones. */
  extraChildren?: Array<WalkNode<T>> | undefined;
}

/** Maps one file to its output nodes; may return none to skip it. */
export type WalkConvert<T> = (file: WalkedFile) => Promise<Array<WalkNode<T>>>;

function byName(a: { name: string }, b: { name: string }): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

/**
 * Walks the tree under `root` depth-first, never following a symlink, and yields converted nodes in a
 * deterministic order: a directory before its children, siblings sorted by the bytes of their names. The root
 * itself is not yielded. Lazy: each directory is read when the walk reaches it. Throws `ABORTED` when `signal`
 * fires and `LAYER_SOURCE_CHANGED` when a directory vanished before it was read. The tree should not change
 * while it is walked: a directory swapped for a symlink between its lstat and its readdir would be listed
 * through the link (file contents are opened with O_NOFOLLOW and checked against the walked inode).
 */
export async function* walkTree<T>(
  root: string,
  convert: WalkConvert<T>,
  signal?: AbortSignal,
): AsyncGenerator<WalkNode<T>> {
  yield* walkDirectory(root, '', convert, [], signal);
}

async function* walkDirectory<T>(
  directory: string,
  prefix: string,
  convert: WalkConvert<T>,
  extra: Array<WalkNode<T>>,
  signal: AbortSignal | undefined,
): AsyncGenerator<WalkNode<T>> {
  throwIfAborted(signal, directory);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (prefix !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) {
      throw new OciImageError('LAYER_SOURCE_CHANGED', `walk: directory "${prefix}" was removed or replaced`, {
        path: prefix,
        cause: error,
      });
    }
    throw error;
  }
  const nodes: Array<WalkNode<T>> = [...extra];
  for (const name of names) {
    throwIfAborted(signal, directory);
    const absolute = join(directory, name);
    let stats: BigIntStats;
    try {
      stats = await lstat(absolute, { bigint: true });
    } catch (error) {
      // removed between readdir and lstat: it is simply not part of the snapshot we take
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const path = prefix === '' ? name : `${prefix}/${name}`;
    nodes.push(...(await convert({ name, path, absolute, stats })));
  }
  nodes.sort(byName);
  for (const node of nodes) {
    yield node;
    if (node.descend !== undefined) {
      yield* walkDirectory(node.descend, node.path, convert, node.extraChildren ?? [], signal);
    } else if (node.extraChildren !== undefined && node.extraChildren.length > 0) {
      yield* [...node.extraChildren].sort(byName);
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted === true) {
    throw new OciImageError('ABORTED', `walk ${path}: aborted`, { path, cause: signal.reason });
  }
}
