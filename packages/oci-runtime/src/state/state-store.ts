import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { access, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import type { ContainerRecord } from './container-record.js';

const idPattern = /^[\w+\-.]+$/;

/** Throws `INVALID_ARGUMENT` unless `id` is a valid container ID (runc: letters, digits, `_+-.`). */
export function assertContainerId(id: string): void {
  if (!idPattern.test(id) || id === '.' || id === '..') {
    throw new RuntimeError('INVALID_ARGUMENT', `invalid container id ${JSON.stringify(id)}`, { path: id });
  }
}

/**
 * Container records under a root directory (runc's `--root`): `<root>/<id>/state.json`, written to a
 * temp file and renamed so a reader never sees half a record. Constructing does no I/O. Claiming, reading
 * and writing a record use blocking calls behind the promise API: a record is a few hundred bytes under a
 * runtime directory (usually tmpfs), and a thread-pool round trip costs more than the write itself —
 * several of them per CLI call.
 */
export class StateStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** The container's state directory (`<root>/<id>`). */
  directory(id: string): string {
    return join(this.root, id);
  }

  /** `<root>/<id>/exec.fifo`, present while the container is `created`. */
  fifoPath(id: string): string {
    return join(this.root, id, 'exec.fifo');
  }

  /** Claims the ID by creating its directory; throws `CONTAINER_EXISTS` when it is taken. */
  async claim(id: string): Promise<string> {
    assertContainerId(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    const dir = this.directory(id);
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new RuntimeError('CONTAINER_EXISTS', `container with id ${id} already exists`, { path: id });
      }
      throw error;
    }
    return dir;
  }

  /** Writes the record atomically (temp file + rename). */
  async write(record: ContainerRecord): Promise<void> {
    const dir = this.directory(record.id);
    const tmp = join(dir, `.state.json.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, join(dir, 'state.json'));
  }

  /** Reads a record; throws `CONTAINER_NOT_FOUND` when there is none. */
  async read(id: string): Promise<ContainerRecord> {
    assertContainerId(id);
    let text: string;
    try {
      text = readFileSync(join(this.directory(id), 'state.json'), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new RuntimeError('CONTAINER_NOT_FOUND', `container ${id} does not exist`, { path: id });
      }
      throw error;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  /** The IDs with a state directory holding a record, sorted. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const ids: string[] = [];
    for (const name of names.sort()) {
      try {
        // Only whether there is one: callers read the records they need.
        await access(join(this.root, name, 'state.json'));
        ids.push(name);
      } catch {
        // a directory without a record (a create in progress or a leftover) is not listed
      }
    }
    return ids;
  }

  /** Removes the container's state directory (missing is fine). */
  async remove(id: string): Promise<void> {
    assertContainerId(id);
    await rm(this.directory(id), { recursive: true, force: true });
  }
}
