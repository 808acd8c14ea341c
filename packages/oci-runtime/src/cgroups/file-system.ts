/**
 * The narrow file-system door the cgroup managers go through, so tests can wrap the real one and record
 * the exact writes. No I/O in this file.
 */

/** A directory entry as the managers need it. */
export interface CgroupDirectoryEntry {
  name: string;
  isDirectory: boolean;
}

/**
 * File operations on cgroupfs. Errors are Node system errors (with `code`, e.g. `ENOENT`, `EBUSY`);
 * the managers turn them into `RuntimeError`s.
 */
export interface CgroupFileSystem {
  /** The whole file as text. */
  readFile(path: string): Promise<string>;
  /** One write(2) of `data` to an existing file (never creates it; cgroupfs parses each write on its own). */
  writeFile(path: string, data: string): Promise<void>;
  /** mkdir (not recursive); resolves false when it already existed. */
  mkdir(path: string): Promise<boolean>;
  /** rmdir. */
  rmdir(path: string): Promise<void>;
  readdir(path: string): Promise<CgroupDirectoryEntry[]>;
  exists(path: string): Promise<boolean>;
}
