import { type BigIntStats, constants } from 'node:fs';
import { type FileHandle, open, readlink, stat } from 'node:fs/promises';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { getAttribute, listAttributes } from '@napi-rs/xattr';
import { type Digest, Digester } from '../digest.js';
import { OciImageError } from '../errors.js';
import type { WalkNode } from '../internal/walk.js';
import type { Compression } from '../media-types.js';
import { compress } from './compression.js';
import { encodeTarHeader, TAR_END, type TarEntryHeader, tarPadding } from './tar-writer.js';

/** Options shared by the functions that make a layer from files on disk. */
export interface CreateLayerOptions {
  /** Compression of the output stream; default `'gzip'`. The diff ID is always of the uncompressed tar. */
  compression?: Compression | undefined;
  /** Gives every entry this modification time (whole seconds), for reproducible layers. */
  mtime?: Date | undefined;
  /**
   * Entries modified after this time get this time instead, like `SOURCE_DATE_EPOCH` with GNU tar's
   * `--clamp-mtime`. Ignored when `mtime` is set.
   */
  clampMtime?: Date | undefined;
  /**
   * Which extended attributes to copy: `true` (default) copies all that can be read, `false` none, a function
   * decides per attribute name and layer path.
   */
  xattrs?: boolean | ((name: string, path: string) => boolean) | undefined;
  /** Aborting destroys the stream and rejects `done` with `ABORTED`. */
  signal?: AbortSignal | undefined;
}

/** What a finished layer stream was: digests and sizes computed while it streamed. */
export interface CreatedLayerInfo {
  /** sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  diffId: Digest;
  /** sha256 of the bytes of `stream` (the manifest descriptor's digest). */
  digest: Digest;
  /** Bytes of `stream`. */
  size: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  compression: Compression;
}

/**
 * A layer being made. `stream` can be read once. `done` settles after the last byte was handed to `stream`
 * (so only when `stream` is read to its end); it rejects with the error that broke the stream, and a
 * rejection is never reported as unhandled.
 */
export interface CreatedLayer {
  stream: Readable;
  done: Promise<CreatedLayerInfo>;
}

/** One output entry: its header and, for a regular file with content, where to read it. */
export interface LayerNode {
  header: TarEntryHeader;
  /** For regular files: the file on disk and the identity it had when walked. */
  source?: { absolute: string; stats: BigIntStats } | undefined;
}

/** Major and minor numbers of a device number, as glibc's `major()` and `minor()` decode it. */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n);
  const minor = (rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n);
  return { major: Number(major), minor: Number(minor) };
}

/** The tar entry type of a file mode, or undefined for sockets and unknown kinds (which tar cannot hold). */
export function entryTypeOf(stats: BigIntStats): TarEntryHeader['type'] | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'character-device';
  if (stats.isBlockDevice()) return 'block-device';
  if (stats.isFIFO()) return 'fifo';
  return undefined;
}

/** Reads all extended attributes of `absolute` without following a symlink, sorted by name. */
export async function readXattrs(absolute: string): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  let names: string[];
  try {
    names = await listAttributes(absolute);
  } catch (error) {
    if (isUnsupported(error)) return result;
    throw error;
  }
  for (const name of [...names].sort()) {
    try {
      const value = await getAttribute(absolute, name);
      if (value !== null) result.set(name, value);
    } catch (error) {
      // e.g. a name that vanished between list and get
      if (!isUnsupported(error)) throw error;
    }
  }
  return result;
}

function isUnsupported(error: unknown): boolean {
  const text = String((error as { message?: unknown })?.message ?? error);
  return /ENOTSUP|EOPNOTSUPP|ENODATA|not supported|No data available/i.test(text);
}

/**
 * The header of the file `absolute` (layer path `path`, lstat result `stats`) as it is on disk (type, mode
 * with setuid/setgid/sticky, owner, size, mtime, symlink target read from `absolute`, device numbers), or
 * undefined for a socket. Xattrs are read by the caller.
 */
export async function headerFromStats(
  path: string,
  absolute: string,
  stats: BigIntStats,
): Promise<TarEntryHeader | undefined> {
  const type = entryTypeOf(stats);
  if (type === undefined) return undefined;
  const header: TarEntryHeader = {
    path,
    type,
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    size: type === 'file' ? Number(stats.size) : 0,
    mtime: Math.max(0, Number(stats.mtimeNs / 1_000_000_000n)),
  };
  if (type === 'symlink') header.linkname = await readlink(absolute);
  if (type === 'character-device' || type === 'block-device') {
    const { major, minor } = deviceNumbers(stats.rdev);
    header.devmajor = major;
    header.devminor = minor;
  }
  return header;
}

/** Chooses the xattrs to copy according to the `xattrs` option. */
export function filterXattrs(
  all: Map<string, Buffer>,
  path: string,
  option: CreateLayerOptions['xattrs'],
  keep: (name: string) => boolean = () => true,
): Map<string, Buffer> | undefined {
  if (option === false) return undefined;
  const out = new Map<string, Buffer>();
  for (const [name, value] of all) {
    if (!keep(name)) continue;
    if (typeof option === 'function' && !option(name, path)) continue;
    out.set(name, value);
  }
  return out.size === 0 ? undefined : out;
}

class DigestTap extends Transform {
  readonly digester = new Digester();
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.digester.update(chunk);
    callback(null, chunk);
  }
}

const READ_CHUNK = 256 * 1024;

async function* fileContent(
  node: LayerNode,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  const { header, source } = node;
  if (source === undefined) {
    throw new OciImageError('LAYER_INVALID_ENTRY', `create layer: "${header.path}" has no content source`, {
      path: header.path,
    });
  }
  const changed = (what: string) =>
    new OciImageError('LAYER_SOURCE_CHANGED', `create layer: "${header.path}" ${what} while it was read`, {
      path: header.path,
    });
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: if the file was replaced by a symlink since the walk, fail instead of reading its target
    handle = await open(source.absolute, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw Object.assign(changed('was replaced or removed'), { cause: error });
  }
  try {
    const now = await handle.stat({ bigint: true });
    if (now.ino !== source.stats.ino || now.dev !== source.stats.dev || !now.isFile()) {
      throw changed('was replaced');
    }
    let remaining = header.size;
    while (remaining > 0) {
      if (signal?.aborted) throw abortError(header.path, signal);
      const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, remaining));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) throw changed('shrank');
      remaining -= bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
    const probe = await handle.read(Buffer.alloc(1), 0, 1, null);
    if (probe.bytesRead !== 0) throw changed('grew');
  } finally {
    await handle.close();
  }
}

function abortError(path: string, signal: AbortSignal): OciImageError {
  return new OciImageError('ABORTED', `create layer: aborted at "${path}"`, { path, cause: signal.reason });
}

function effectiveMtime(mtime: number, options: CreateLayerOptions): number {
  if (options.mtime !== undefined) return Math.max(0, Math.floor(options.mtime.getTime() / 1000));
  if (options.clampMtime !== undefined) {
    return Math.min(mtime, Math.max(0, Math.floor(options.clampMtime.getTime() / 1000)));
  }
  return mtime;
}

async function* tarChunks(
  nodes: AsyncIterable<WalkNode<LayerNode>>,
  options: CreateLayerOptions,
): AsyncGenerator<Buffer, void, undefined> {
  // first path seen for each (device, inode) of a multiply-linked non-directory
  const firstPathOf = new Map<string, string>();
  for await (const { value } of nodes) {
    const { source } = value;
    const header: TarEntryHeader = { ...value.header, mtime: effectiveMtime(value.header.mtime, options) };
    if (source !== undefined && source.stats.nlink > 1n && !source.stats.isDirectory()) {
      const key = `${source.stats.dev}:${source.stats.ino}`;
      const first = firstPathOf.get(key);
      if (first === undefined) {
        firstPathOf.set(key, header.path);
      } else {
        yield encodeTarHeader({
          ...header,
          type: 'hardlink',
          linkname: first,
          size: 0,
          devmajor: undefined,
          devminor: undefined,
        });
        continue;
      }
    }
    yield encodeTarHeader(header);
    if (header.type === 'file' && header.size > 0) {
      yield* fileContent({ header, source }, options.signal);
      yield tarPadding(header.size);
    }
  }
  yield TAR_END;
}

/**
 * Streams a tar of `nodes` (already in archive order), optionally compressed, digesting the tar and the output
 * while they stream. Multiply-linked files become hardlink entries after their first occurrence.
 */
export function createLayerFromNodes(
  nodes: AsyncIterable<WalkNode<LayerNode>>,
  options: CreateLayerOptions = {},
): CreatedLayer {
  const compression = options.compression ?? 'gzip';
  const tar = Readable.from(tarChunks(nodes, options), { objectMode: false });
  const uncompressed = new DigestTap();
  const compressed = new DigestTap();
  const output = new PassThrough();
  const stages = compression === 'none' ? [uncompressed] : [uncompressed, compress(compression), compressed];
  const { signal } = options;
  const done = pipeline([tar, ...stages, output], signal === undefined ? {} : { signal }).then(
    (): CreatedLayerInfo => {
      const diffId = uncompressed.digester.digest();
      return {
        diffId,
        digest: compression === 'none' ? diffId : compressed.digester.digest(),
        size: compression === 'none' ? uncompressed.digester.size : compressed.digester.size,
        uncompressedSize: uncompressed.digester.size,
        compression,
      };
    },
    (error: unknown) => {
      if (signal?.aborted === true && !(error instanceof OciImageError && error.code === 'ABORTED')) {
        throw new OciImageError('ABORTED', 'create layer: aborted', { cause: signal.reason });
      }
      throw error;
    },
  );
  done.catch(() => {});
  return { stream: output, done };
}

/** Throws `LAYER_INVALID_ENTRY` unless `root` is a directory (the tree a layer is made from). */
export async function requireDirectory(root: string): Promise<void> {
  const rootStats = await stat(root);
  if (!rootStats.isDirectory()) {
    throw new OciImageError('LAYER_INVALID_ENTRY', `create layer: "${root}" is not a directory`, {
      path: root,
    });
  }
}
