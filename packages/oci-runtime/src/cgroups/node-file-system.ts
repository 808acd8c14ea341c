import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeSync,
} from 'node:fs';
import { access, mkdir, open, readdir, readFile, rmdir } from 'node:fs/promises';
import type { CgroupDirectoryEntry, CgroupFileSystem } from './file-system.js';

/**
 * The real {@link CgroupFileSystem} over node:fs. Writes open without `O_CREAT` (a missing control file
 * is an error, as on cgroupfs) and with `O_TRUNC`, and issue exactly one write(2).
 */
export const nodeCgroupFileSystem: CgroupFileSystem = {
  async readFile(path: string): Promise<string> {
    return readFile(path, 'utf8');
  },
  async writeFile(path: string, data: string): Promise<void> {
    const handle = await open(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      const bytes = Buffer.from(data, 'utf8');
      const { bytesWritten } = await handle.write(bytes, 0, bytes.length, null);
      if (bytesWritten !== bytes.length) {
        throw Object.assign(new Error(`short write to ${path}`), { code: 'EIO' });
      }
    } finally {
      await handle.close();
    }
  },
  async mkdir(path: string): Promise<boolean> {
    try {
      await mkdir(path, { mode: 0o755 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  },
  async rmdir(path: string): Promise<void> {
    await rmdir(path);
  },
  async readdir(path: string): Promise<CgroupDirectoryEntry[]> {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }));
  },
  async exists(path: string): Promise<boolean> {
    try {
      await access(path, constants.F_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * {@link nodeCgroupFileSystem} with blocking calls behind the same promise interface. cgroupfs answers in
 * the kernel without disk I/O, so for a short-lived process (the CLI) this saves a thread-pool round trip
 * per file; a long-running server keeps the asynchronous one (a lowered memory limit can reclaim for a
 * while inside write(2)).
 */
export const syncCgroupFileSystem: CgroupFileSystem = {
  async readFile(path: string): Promise<string> {
    return readFileSync(path, 'utf8');
  },
  async writeFile(path: string, data: string): Promise<void> {
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      const bytes = Buffer.from(data, 'utf8');
      if (writeSync(fd, bytes, 0, bytes.length, null) !== bytes.length) {
        throw Object.assign(new Error(`short write to ${path}`), { code: 'EIO' });
      }
    } finally {
      closeSync(fd);
    }
  },
  async mkdir(path: string): Promise<boolean> {
    try {
      mkdirSync(path, { mode: 0o755 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  },
  async rmdir(path: string): Promise<void> {
    rmdirSync(path);
  },
  async readdir(path: string): Promise<CgroupDirectoryEntry[]> {
    return readdirSync(path, { withFileTypes: true }).map((entry) => ({
      name: entry.name,
      isDirectory: entry.isDirectory(),
    }));
  },
  async exists(path: string): Promise<boolean> {
    try {
      accessSync(path, constants.F_OK);
      return true;
    } catch {
      return false;
    }
  },
};
