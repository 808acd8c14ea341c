import fs from 'node:fs';
import { Readable } from 'node:stream';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import type { Digest } from '../digest.js';
import { isOciImageError, OciImageError } from '../errors.js';
import { makeSpecialFile } from '../internal/devices.js';
import {
  baseOf,
  cleanLayerPath,
  isWithin,
  joinRelative,
  parentOf,
  RootResolver,
} from '../internal/safe-path.js';
import type { Compression } from '../media-types.js';
import type { LayerEntryHeader } from './read-layer.js';
import { consumeLayer, type LayerBodySink, type LayerEntryAction } from './tar-parser.js';
import { classifyWhiteout, WHITEOUT_PREFIX, type WhiteoutKind } from './whiteout.js';

/** Options for {@link applyLayer}. */
export interface ApplyLayerOptions {
  /** The blob's compression; 'auto' (default) sniffs the magic bytes. */
  compression?: Compression | 'auto' | undefined;
  /** When given, the blob must have this digest (and size); checked before the promise resolves. */
  expected?: { digest: Digest; size?: number | undefined } | undefined;
  signal?: AbortSignal | undefined;
  /** Give entries the uid/gid of their headers (default: true when running as root). */
  sameOwner?: boolean | undefined;
  /**
   * Ignore failures to set extended attributes (default false: they fail with `LAYER_APPLY_FAILED`).
   * `user.*` attributes on symlinks, which Linux never allows, are always skipped.
   */
  ignoreXattrErrors?: boolean | undefined;
}

/** What {@link applyLayer} read and verified. */
export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Digest of the blob bytes as read. */
  digest: Digest;
  /** Blob (compressed) bytes read. */
  size: number;
  /** Uncompressed tar bytes. */
  uncompressedSize: number;
}

interface DeferredDirectory {
  mode: number;
  atime: number;
  mtime: number;
}

// O_NOFOLLOW makes the open fail rather than write through a symlink planted at the last component.
const CREATE_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const DIRECTORY_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A file-system error while applying `name` becomes `LAYER_APPLY_FAILED`; other errors pass through. */
function applyFailure(error: unknown, name: string): unknown {
  if (isOciImageError(error) || errnoOf(error) === undefined) {
    return error;
  }
  return new OciImageError(
    'LAYER_APPLY_FAILED',
    `apply layer: ${JSON.stringify(name)}: ${(error as Error).message}`,
    { path: name, cause: error },
  );
}

/**
 * Writes one regular file's content to its open descriptor with synchronous writes, then runs `finish`
 * (owner, mode, xattrs, times) and closes it. The descriptor is closed whatever happens.
 */
class FileSink implements LayerBodySink {
  readonly #descriptor: number;
  readonly #finish: () => void;
  readonly #name: string;
  #open = true;

  constructor(descriptor: number, finish: () => void, name: string) {
    this.#descriptor = descriptor;
    this.#finish = finish;
    this.#name = name;
  }

  write(chunk: Buffer): void {
    try {
      let offset = 0;
      while (offset < chunk.length) {
        offset += fs.writeSync(this.#descriptor, chunk, offset, chunk.length - offset);
      }
    } catch (error) {
      this.abandon();
      throw applyFailure(error, this.#name);
    }
  }

  end(): void {
    try {
      this.#finish();
      this.#close();
    } catch (error) {
      this.abandon();
      throw applyFailure(error, this.#name);
    }
  }

  abandon(): void {
    try {
      this.#close();
    } catch {
      // close(2) releases the descriptor even when it reports an error; nothing more to do.
    }
  }

  /** Closes once: a descriptor number may be reused as soon as it is closed. */
  #close(): void {
    if (this.#open) {
      this.#open = false;
      fs.closeSync(this.#descriptor);
    }
  }
}

function invalid(header: LayerEntryHeader, reason: string): OciImageError {
  return new OciImageError('LAYER_INVALID_ENTRY', `apply layer: ${JSON.stringify(header.name)} ${reason}`, {
    path: header.name,
  });
}

/** Applies one layer's entries to one root; owns the bookkeeping that spans entries. */
class LayerApplier {
  readonly #resolver: RootResolver;
  readonly #sameOwner: boolean;
  readonly #ignoreXattrErrors: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #uid: number;
  readonly #gid: number;
  /** The process umask when the apply started: it decides whether a file can be created with its mode. */
  readonly #umask: number;
  /**
   * Directories known to carry no default ACL (a default ACL, not the umask, shapes the mode of what is
   * created in it). Cleared whenever a directory is removed or gets xattrs.
   */
  readonly #withoutDefaultAcl = new Set<string>();
  /** Resolved paths this layer wrote; whiteouts never delete them (image-spec: lower layers only). */
  readonly #written = new Set<string>();
  /** Every ancestor of a written path. */
  readonly #ancestors = new Set<string>();
  /** Directory modes and times, set after their children are written. */
  readonly #deferred = new Map<string, DeferredDirectory>();

  constructor(root: string, options: ApplyLayerOptions) {
    this.#resolver = new RootResolver(root);
    this.#uid = process.geteuid?.() ?? 0;
    this.#gid = process.getegid?.() ?? 0;
    this.#umask = process.umask();
    this.#sameOwner = options.sameOwner ?? this.#uid === 0;
    this.#ignoreXattrErrors = options.ignoreXattrErrors ?? false;
    this.#signal = options.signal;
    const stats = fs.lstatSync(root);
    this.#resolver.rememberDirectory('', { mode: stats.mode, uid: stats.uid, gid: stats.gid });
  }

  /**
   * Applies one entry (the handler of {@link consumeLayer}): everything but a regular file's content and
   * a device node is done before this returns. File-system errors become `LAYER_APPLY_FAILED` naming the
   * entry.
   */
  entry(header: LayerEntryHeader): LayerEntryAction {
    try {
      const action = this.#dispatch(header);
      if (action instanceof Promise) {
        return action.catch((error: unknown) => {
          throw applyFailure(error, header.name);
        });
      }
      return action;
    } catch (error) {
      throw applyFailure(error, header.name);
    }
  }

  #dispatch(header: LayerEntryHeader): LayerEntryAction {
    const relative = cleanLayerPath(header.name);
    const base = baseOf(relative);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.#whiteout(header, parentOf(relative), classifyWhiteout(base));
      return undefined;
    }
    if (relative === '') {
      if (header.type !== 'directory') {
        throw invalid(header, 'would replace the root with a non-directory');
      }
      this.#directory(header, '');
      return undefined;
    }
    // With `create` the resolver always returns a directory (or throws).
    const parent = this.#resolver.resolveDirectory(parentOf(relative), { create: true }) as string;
    const target = joinRelative(parent, base);
    let action: LayerEntryAction;
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        action = this.#file(header, target, parent);
        break;
      case 'directory':
        this.#directory(header, target);
        break;
      case 'symlink':
        this.#symlink(header, target, parent);
        break;
      case 'link':
        this.#hardlink(header, target);
        break;
      case 'character-device':
      case 'block-device':
      case 'fifo':
        action = this.#special(header, target, parent);
        break;
      default:
        throw invalid(header, 'has an unsupported tar entry type');
    }
    // Marked before an asynchronous entry completes: entries are applied one at a time, and a failed
    // entry fails the whole apply.
    this.#markWritten(target);
    return action;
  }

  /** Sets deferred directory modes and times, deepest first, never following a symlink. */
  finish(): void {
    const directories = [...this.#deferred.entries()].sort(
      ([left], [right]) => right.split('/').length - left.split('/').length,
    );
    for (const [relative, { mode, atime, mtime }] of directories) {
      let descriptor: number;
      try {
        descriptor = fs.openSync(this.#resolver.absolute(relative), DIRECTORY_FLAGS);
      } catch (error) {
        // Removed or replaced by a later entry of this layer: nothing to finish.
        if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ELOOP' || errnoOf(error) === 'ENOTDIR') {
          continue;
        }
        throw error;
      }
      try {
        fs.fchmodSync(descriptor, mode);
        fs.futimesSync(descriptor, atime, mtime);
      } finally {
        fs.closeSync(descriptor);
      }
    }
  }

  #markWritten(relative: string): void {
    this.#written.add(relative);
    let parent = parentOf(relative);
    while (parent !== '' && !this.#ancestors.has(parent)) {
      this.#ancestors.add(parent);
      parent = parentOf(parent);
    }
  }

  /** Removes `relative` (recursively) and forgets what was cached or deferred beneath it. */
  #remove(relative: string, stats: fs.Stats): void {
    const absolute = this.#resolver.absolute(relative);
    if (stats.isDirectory()) {
      fs.rmSync(absolute, { recursive: true, force: true });
      this.#resolver.forget(relative);
      this.#withoutDefaultAcl.clear();
      for (const key of this.#deferred.keys()) {
        if (isWithin(key, relative)) {
          this.#deferred.delete(key);
        }
      }
    } else {
      fs.unlinkSync(absolute);
    }
  }

  /** Removes whatever is at `relative`, if anything; true when something was removed. */
  #clear(relative: string): boolean {
    let stats: fs.Stats;
    try {
      stats = fs.lstatSync(this.#resolver.absolute(relative));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        return false;
      }
      throw error;
    }
    this.#remove(relative, stats);
    return true;
  }

  /** Runs `create`; when the name is taken, removes what is there and tries once more. */
  #replacing<T>(relative: string, create: () => T): T {
    try {
      return create();
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') {
        throw error;
      }
    }
    this.#clear(relative);
    return create();
  }

  /** Hides what lower layers put at `relative`, keeping everything this layer wrote. */
  #removeLower(relative: string): void {
    if (!this.#written.has(relative) && !this.#ancestors.has(relative)) {
      this.#clear(relative);
      return;
    }
    const absolute = this.#resolver.absolute(relative);
    let stats: fs.Stats;
    try {
      stats = fs.lstatSync(absolute);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        return;
      }
      throw error;
    }
    if (stats.isDirectory()) {
      for (const child of fs.readdirSync(absolute)) {
        this.#removeLower(joinRelative(relative, child));
      }
    }
  }

  #whiteout(header: LayerEntryHeader, directory: string, whiteout: WhiteoutKind): void {
    if (whiteout.kind === 'meta' || whiteout.kind === 'none') {
      return;
    }
    if (
      whiteout.kind === 'whiteout' &&
      (whiteout.name === '' || whiteout.name === '.' || whiteout.name === '..')
    ) {
      throw new OciImageError(
        'LAYER_PATH_ESCAPE',
        `apply layer: whiteout ${JSON.stringify(header.name)} names its own directory or a parent`,
        { path: header.name },
      );
    }
    // A whiteout for a directory that does not exist has nothing to hide.
    const parent = this.#resolver.resolveDirectory(directory, { create: false });
    if (parent === undefined) {
      return;
    }
    if (whiteout.kind === 'opaque') {
      for (const child of fs.readdirSync(this.#resolver.absolute(parent))) {
        this.#removeLower(joinRelative(parent, child));
      }
      return;
    }
    this.#removeLower(joinRelative(parent, whiteout.name));
  }

  /** True when the directory `relative` has no default ACL (checked once, then remembered). */
  #hasNoDefaultAcl(relative: string): boolean {
    if (this.#withoutDefaultAcl.has(relative)) {
      return true;
    }
    let acl: Buffer | null;
    try {
      acl = getAttributeSync(this.#resolver.absolute(relative), 'system.posix_acl_default');
    } catch {
      // No ACL support (or no such attribute, depending on the binding): umask rules apply, yet stay
      // careful and let fchmod set the mode.
      return false;
    }
    if (acl !== null) {
      return false;
    }
    this.#withoutDefaultAcl.add(relative);
    return true;
  }

  /** True when a new inode created in `parent` would not already have the header's owner. */
  #needsChown(header: LayerEntryHeader, parent: string): boolean {
    if (!this.#sameOwner) {
      return false;
    }
    const info = this.#resolver.directoryInfo(parent);
    // A setgid directory hands its group to new entries.
    const gid = info !== undefined && (info.mode & 0o2000) !== 0 ? info.gid : this.#gid;
    return info === undefined || header.uid !== this.#uid || header.gid !== gid;
  }

  /**
   * Creates a regular file (O_EXCL and O_NOFOLLOW: never through what stands there) and returns the sink
   * that writes its content and then sets owner, mode, xattrs and times on the open descriptor.
   */
  #file(header: LayerEntryHeader, target: string, parent: string): LayerBodySink {
    const absolute = this.#resolver.absolute(target);
    const mode = header.mode & 0o7777;
    const chown = this.#needsChown(header, parent);
    // Created with its final mode when the umask keeps every bit and no chown follows (chown clears
    // setuid and setgid, so those bits are always set afterwards); otherwise 0600 and fchmod at the end.
    const exact =
      !chown && (mode & ~0o777) === 0 && (mode & this.#umask) === 0 && this.#hasNoDefaultAcl(parent);
    const descriptor = this.#replacing(target, () =>
      fs.openSync(absolute, CREATE_FLAGS, exact ? mode : 0o600),
    );
    return new FileSink(
      descriptor,
      () => {
        if (chown) {
          fs.fchownSync(descriptor, header.uid, header.gid);
        }
        // After chown: chown clears setuid and setgid.
        if (!exact) {
          fs.fchmodSync(descriptor, mode);
        }
        this.#xattrs(header, absolute, false);
        fs.futimesSync(descriptor, header.atime ?? header.mtime, header.mtime);
      },
      header.name,
    );
  }

  #directory(header: LayerEntryHeader, target: string): void {
    const absolute = this.#resolver.absolute(target);
    let info = this.#resolver.directoryInfo(target);
    if (info === undefined) {
      let stats: fs.Stats | undefined;
      try {
        fs.mkdirSync(absolute, 0o755);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') {
          throw error;
        }
        stats = fs.lstatSync(absolute);
        // An existing directory is kept (its lower-layer children stay); anything else is replaced.
        if (!stats.isDirectory()) {
          this.#remove(target, stats);
          fs.mkdirSync(absolute, 0o755);
          stats = undefined;
        }
      }
      stats ??= fs.lstatSync(absolute);
      info = { mode: stats.mode, uid: stats.uid, gid: stats.gid };
    }
    if (this.#sameOwner && (info.uid !== header.uid || info.gid !== header.gid)) {
      fs.lchownSync(absolute, header.uid, header.gid);
      // chown on a directory keeps setgid on Linux, but re-read to stay exact.
      const stats = fs.lstatSync(absolute);
      info = { mode: stats.mode, uid: stats.uid, gid: stats.gid };
    }
    this.#resolver.rememberDirectory(target, info);
    if (header.xattrs.size > 0) {
      // One of them may be a default ACL.
      this.#withoutDefaultAcl.delete(target);
      this.#xattrs(header, absolute, false);
    }
    this.#deferred.set(target, {
      mode: header.mode & 0o7777,
      atime: header.atime ?? header.mtime,
      mtime: header.mtime,
    });
  }

  #symlink(header: LayerEntryHeader, target: string, parent: string): void {
    const linkname = header.linkname ?? '';
    if (linkname === '') {
      throw invalid(header, 'is a symlink without a target');
    }
    const absolute = this.#resolver.absolute(target);
    this.#replacing(target, () => fs.symlinkSync(linkname, absolute));
    if (this.#needsChown(header, parent)) {
      fs.lchownSync(absolute, header.uid, header.gid);
    }
    this.#xattrs(header, absolute, true);
    fs.lutimesSync(absolute, header.atime ?? header.mtime, header.mtime);
  }

  #hardlink(header: LayerEntryHeader, target: string): void {
    // The target is a path inside the root like any entry name: `..` may not leave it, a leading `/`
    // counts from the root, parent symlinks resolve inside the root, and the last component is linked
    // as it is (link(2) does not follow symlinks).
    const linkRelative = cleanLayerPath(header.linkname ?? '');
    if (linkRelative === '') {
      throw invalid(header, 'is a hardlink to the root');
    }
    const linkParent = this.#resolver.resolveDirectory(parentOf(linkRelative), { create: false });
    if (linkParent === undefined) {
      throw invalid(header, `is a hardlink to ${JSON.stringify(header.linkname)}, which does not exist`);
    }
    const source = joinRelative(linkParent, baseOf(linkRelative));
    if (source === target) {
      return;
    }
    let stats: fs.Stats;
    try {
      stats = fs.lstatSync(this.#resolver.absolute(source));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        throw invalid(header, `is a hardlink to ${JSON.stringify(header.linkname)}, which does not exist`);
      }
      throw error;
    }
    if (stats.isDirectory()) {
      throw invalid(header, `is a hardlink to the directory ${JSON.stringify(header.linkname)}`);
    }
    const absolute = this.#resolver.absolute(target);
    this.#replacing(target, () => fs.linkSync(this.#resolver.absolute(source), absolute));
  }

  async #special(header: LayerEntryHeader, target: string, parent: string): Promise<void> {
    const absolute = this.#resolver.absolute(target);
    this.#clear(target);
    const kind = header.type as 'character-device' | 'block-device' | 'fifo';
    await makeSpecialFile(absolute, kind, header.devmajor, header.devminor, this.#signal);
    // mknod does not return a descriptor; check that what stands there is what was made before
    // touching it by path (chmod follows symlinks).
    const stats = fs.lstatSync(absolute);
    const made =
      kind === 'fifo'
        ? stats.isFIFO()
        : kind === 'block-device'
          ? stats.isBlockDevice()
          : stats.isCharacterDevice();
    if (!made) {
      throw new OciImageError(
        'LAYER_APPLY_FAILED',
        `apply layer: ${JSON.stringify(header.name)} changed while made`,
        {
          path: header.name,
        },
      );
    }
    if (this.#needsChown(header, parent)) {
      fs.lchownSync(absolute, header.uid, header.gid);
    }
    fs.chmodSync(absolute, header.mode & 0o7777);
    this.#xattrs(header, absolute, false);
    fs.lutimesSync(absolute, header.atime ?? header.mtime, header.mtime);
  }

  #xattrs(header: LayerEntryHeader, absolute: string, isSymlink: boolean): void {
    for (const [name, value] of header.xattrs) {
      // Linux allows user.* attributes only on regular files and directories.
      if (isSymlink && name.startsWith('user.')) {
        continue;
      }
      try {
        setAttributeSync(absolute, name, value);
      } catch (error) {
        if (this.#ignoreXattrErrors) {
          continue;
        }
        throw new OciImageError(
          'LAYER_APPLY_FAILED',
          `apply layer: set xattr ${name} on ${JSON.stringify(header.name)}: ${(error as Error).message}`,
          { path: header.name, cause: error },
        );
      }
    }
  }
}

/**
 * Extracts a layer blob into `root` (an existing directory) with OCI semantics, like containerd's
 * `archive.Apply`: whiteouts (`.wh.name`, `.wh..wh..opq`) hide lower-layer content, and regular files,
 * directories, symlinks, hardlinks, devices and fifos are created with the headers' owner (when
 * `sameOwner`), mode (setuid/setgid/sticky included), xattrs and times; directory modes and times are set
 * after all entries. Nothing is written outside `root`: names are cleaned, `..` above the root throws
 * `LAYER_PATH_ESCAPE`, symlinks in parent positions resolve inside the root, and the last component of
 * an entry is replaced, never followed.
 *
 * Resolves once the whole blob was read and `expected` verified. Rejects with `DIGEST_MISMATCH` /
 * `SIZE_MISMATCH` / `SIZE_EXCEEDED`, `LAYER_TRUNCATED`, `LAYER_CORRUPT`, `LAYER_INVALID_ENTRY`,
 * `LAYER_PATH_ESCAPE`, `LAYER_APPLY_FAILED` or `ABORTED`; the root is then partly written and should be
 * discarded (apply into a fresh snapshot). File-system calls are synchronous and short (one syscall per
 * step, file data in the stream's chunks), interleaved with the asynchronous read of the blob.
 */
export async function applyLayer(
  root: string,
  source: Readable | AsyncIterable<Uint8Array>,
  options: ApplyLayerOptions = {},
): Promise<ApplyLayerResult> {
  const { signal } = options;
  // Failing before the read starts must still release the caller's stream (a file or a socket).
  const release = (): void => {
    if (source instanceof Readable) {
      source.destroy();
    }
  };
  if (signal?.aborted) {
    release();
    throw new OciImageError('ABORTED', 'apply layer: aborted', { cause: signal.reason });
  }
  let realRoot: string;
  try {
    realRoot = await fs.promises.realpath(root);
    if (!(await fs.promises.lstat(realRoot)).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
  } catch (error) {
    release();
    throw new OciImageError(
      'LAYER_APPLY_FAILED',
      `apply layer: root ${JSON.stringify(root)} is not a directory`,
      {
        path: root,
        cause: error,
      },
    );
  }
  const applier = new LayerApplier(realRoot, options);
  const result = await consumeLayer(
    source,
    { compression: options.compression ?? 'auto', expected: options.expected, signal },
    (header) => applier.entry(header),
  );
  try {
    applier.finish();
  } catch (error) {
    if (isOciImageError(error) || errnoOf(error) === undefined) {
      throw error;
    }
    throw new OciImageError(
      'LAYER_APPLY_FAILED',
      `apply layer: finish directories: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return result;
}
