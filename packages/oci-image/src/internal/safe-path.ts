import fs from 'node:fs';
import { OciImageError } from '../errors.js';

/**
 * Root-confined path handling for layer extraction, in the manner of containerd's `fs.RootPath` and
 * cyphar/filepath-securejoin: symlinks met in parent positions are resolved as if `root` were `/`
 * (absolute targets restart at the root, `..` stops at the root), and the last component of an entry
 * is never followed. All paths handed around here are "relative paths": cleaned, `/`-separated, no
 * leading slash, '' for the root itself.
 */

// Linux gives up after 40 nested links (MAXSYMLINKS); a layer gets the same budget per lookup.
const MAX_SYMLINKS = 40;

/**
 * Cleans a tar entry name into a relative path: a leading `/` counts from the root (as containerd does),
 * `.` and empty components go, `..` removes the previous component. Throws `LAYER_PATH_ESCAPE` when a
 * `..` would climb above the root (containerd would clamp it; refusing makes hostile layers visible).
 * Returns '' for the root itself.
 */
export function cleanLayerPath(name: string): string {
  if (name.includes('\0')) {
    throw new OciImageError('LAYER_INVALID_ENTRY', `apply layer: ${JSON.stringify(name)} contains NUL`, {
      path: name,
    });
  }
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      if (parts.length === 0) {
        throw new OciImageError('LAYER_PATH_ESCAPE', `apply layer: ${JSON.stringify(name)} leaves the root`, {
          path: name,
        });
      }
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** The parent of a relative path ('' for a top-level entry and for the root). */
export function parentOf(relative: string): string {
  const slash = relative.lastIndexOf('/');
  return slash === -1 ? '' : relative.slice(0, slash);
}

/** The last component of a relative path. */
export function baseOf(relative: string): string {
  return relative.slice(relative.lastIndexOf('/') + 1);
}

/** Joins a relative directory and one component. */
export function joinRelative(directory: string, name: string): string {
  return directory === '' ? name : `${directory}/${name}`;
}

/** True when `relative` is `directory` or lies beneath it. */
export function isWithin(relative: string, directory: string): boolean {
  return directory === '' || relative === directory || relative.startsWith(`${directory}/`);
}

/** What the resolver remembers about a real directory inside the root. */
export interface DirectoryInfo {
  mode: number;
  uid: number;
  gid: number;
}

/** Options for {@link RootResolver.resolveDirectory}. */
export interface ResolveDirectoryOptions {
  /** Create missing directories (mode 0755 before umask) instead of returning undefined. */
  create: boolean;
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

function lstatOrUndefined(path: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      return undefined;
    }
    throw error;
  }
}

/**
 * Resolves relative directories to real directories inside one root, never through a symlink that
 * leaves it. Keeps a cache of directories known to be real; call {@link forget} whenever a directory
 * inside the root is removed or replaced. Synchronous: each lookup is a handful of lstat calls at most.
 */
export class RootResolver {
  /** The root, an absolute path without symlinks (the caller passes a realpath). */
  readonly root: string;
  readonly #directories = new Map<string, DirectoryInfo>();

  constructor(root: string) {
    this.root = root;
  }

  /** The absolute path of a relative path (no resolution). */
  absolute(relative: string): string {
    return relative === '' ? this.root : `${this.root}/${relative}`;
  }

  /** Cached facts about a real directory, when the resolver has seen it. */
  directoryInfo(relative: string): DirectoryInfo | undefined {
    return this.#directories.get(relative);
  }

  /** Records (or updates) the facts about a real directory. */
  rememberDirectory(relative: string, info: DirectoryInfo): void {
    this.#directories.set(relative, info);
  }

  /** Drops what is cached about `relative` and everything beneath it. */
  forget(relative: string): void {
    if (relative === '') {
      this.#directories.clear();
      return;
    }
    const prefix = `${relative}/`;
    for (const key of this.#directories.keys()) {
      if (key === relative || key.startsWith(prefix)) {
        this.#directories.delete(key);
      }
    }
  }

  /**
   * Resolves a relative directory path component by component: real directories are entered, symlinks
   * are replaced by their targets read as paths inside the root (absolute targets restart at the root,
   * `..` never climbs above it), and missing components are created with `create` (else the result is
   * undefined). Returns the resolved relative path of a real directory. Throws `LAYER_INVALID_ENTRY`
   * when a component is not a directory or symlinks nest too deeply.
   */
  resolveDirectory(relative: string, options: ResolveDirectoryOptions): string | undefined {
    if (relative === '' || this.#directories.has(relative)) {
      return relative;
    }
    const pending = relative.split('/').reverse();
    let current = '';
    let links = 0;
    while (pending.length > 0) {
      const part = pending.pop() as string;
      if (part === '' || part === '.') {
        continue;
      }
      if (part === '..') {
        current = parentOf(current);
        continue;
      }
      const next = joinRelative(current, part);
      if (this.#directories.has(next)) {
        current = next;
        continue;
      }
      const absolute = this.absolute(next);
      let stats = lstatOrUndefined(absolute);
      if (stats === undefined) {
        if (!options.create) {
          return undefined;
        }
        try {
          fs.mkdirSync(absolute, 0o755);
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) {
            throw error;
          }
        }
        stats = fs.lstatSync(absolute);
      }
      if (stats.isSymbolicLink()) {
        links += 1;
        if (links > MAX_SYMLINKS) {
          throw new OciImageError(
            'LAYER_INVALID_ENTRY',
            `apply layer: too many symlinks while resolving ${JSON.stringify(relative)}`,
            { path: relative },
          );
        }
        const target = fs.readlinkSync(absolute);
        if (target.startsWith('/')) {
          current = '';
        }
        const targetParts = target.split('/');
        for (let index = targetParts.length - 1; index >= 0; index -= 1) {
          pending.push(targetParts[index] as string);
        }
        continue;
      }
      if (!stats.isDirectory()) {
        throw new OciImageError(
          'LAYER_INVALID_ENTRY',
          `apply layer: ${JSON.stringify(next)} is not a directory (resolving ${JSON.stringify(relative)})`,
          { path: relative },
        );
      }
      this.#directories.set(next, { mode: stats.mode, uid: stats.uid, gid: stats.gid });
      current = next;
    }
    return current;
  }
}
