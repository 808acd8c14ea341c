// Test helpers shared by the create-layer and snapshot tests: read a tar into memory, describe a tree.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { getAttribute, listAttributes } from '@napi-rs/xattr';
import * as tar from 'tar-stream';

/** One archive entry as tar-stream decodes it, with its content. */
export interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  pax: Record<string, string> | null;
  content: Buffer;
}

/** Reads a whole (uncompressed) tar stream into a list of entries. */
export async function listTar(source: Readable | Buffer): Promise<ListedEntry[]> {
  const extract = tar.extract();
  const entries: ListedEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const header = entry.header as Partial<tar.Header> & { pax?: Record<string, string> | null };
      entries.push({
        name: header.name ?? '',
        type: String(header.type),
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        size: header.size ?? 0,
        mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
        linkname: header.linkname ?? null,
        devmajor: header.devmajor ?? 0,
        devminor: header.devminor ?? 0,
        pax: header.pax ?? null,
        content: Buffer.concat(chunks),
      });
    }
  })();
  if (Buffer.isBuffer(source)) {
    extract.end(source);
  } else {
    await pipeline(source, extract);
  }
  await done;
  return entries;
}

/** What a tree holds, per relative path, in a form that compares with `toEqual`. */
export interface TreeFacts {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  xattrs: Record<string, string>;
  /** Index of the hardlink group (paths sharing an inode), when nlink > 1. */
  linkGroup?: string;
}

function kind(stats: import('node:fs').Stats): string {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  if (stats.isFIFO()) return 'fifo';
  return 'other';
}

/**
 * Describes every file under `root` (not the root itself): type, mode, owner, size and sha256 of content,
 * link targets, device numbers, xattrs (hex, minus `ignoreXattr` matches), hardlink groups named by their
 * first path.
 */
export async function describeTree(
  root: string,
  ignoreXattr: RegExp = /^security\.selinux$/,
): Promise<Record<string, TreeFacts>> {
  const out: Record<string, TreeFacts> = {};
  const inodes = new Map<number, string>();
  async function visit(directory: string, prefix: string): Promise<void> {
    const names = (await readdir(directory)).sort();
    for (const name of names) {
      const absolute = join(directory, name);
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const stats = await lstat(absolute);
      const xattrs: Record<string, string> = {};
      for (const key of (await listAttributes(absolute)).sort()) {
        if (ignoreXattr.test(key)) continue;
        xattrs[key] = (await getAttribute(absolute, key))?.toString('hex') ?? '';
      }
      const facts: TreeFacts = {
        type: kind(stats),
        mode: stats.mode & 0o7777,
        uid: stats.uid,
        gid: stats.gid,
        xattrs,
      };
      if (stats.isFile()) {
        facts.size = stats.size;
        facts.sha256 = createHash('sha256')
          .update(await readFile(absolute))
          .digest('hex');
      }
      if (stats.isSymbolicLink()) facts.target = await readlink(absolute);
      if (stats.isCharacterDevice() || stats.isBlockDevice()) facts.rdev = stats.rdev;
      if (!stats.isDirectory() && stats.nlink > 1) {
        const first = inodes.get(stats.ino) ?? path;
        inodes.set(stats.ino, first);
        facts.linkGroup = first;
      }
      out[path] = facts;
      if (stats.isDirectory()) await visit(absolute, path);
    }
  }
  await visit(root, '');
  return out;
}
