import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { pipeline as pipelineCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  BlobSource,
  BlobStat,
  GetOptions,
  IngestOptions,
  ProviderCallOptions,
  PutOptions,
  RefEntry,
  TaggableContentProvider,
} from '../content-provider.js';
import { type Descriptor, parseDescriptor, refNameAnnotation } from '../descriptor.js';
import {
  type Digest,
  Digester,
  digestAlgorithm,
  digestHex,
  isDigest,
  parseDigest,
  VerifyStream,
  verifyFile,
} from '../digest.js';
import { isOciImageError, OciImageError } from '../errors.js';
import { parseIndex } from '../image-index.js';
import { reachableDigests } from '../image-walk.js';
import { bindAbort, mapAbort, throwIfAborted } from '../internal/abort.js';
import { checkBlobDescriptor, discardSource, toReadable } from '../internal/blob-source.js';
import { encodeJson } from '../internal/json.js';
import { KeyedMutex } from '../internal/mutex.js';
import { checkRefName } from '../internal/ref-name.js';
import { MediaType } from '../media-types.js';
import {
  activeTemps,
  isRealDirectory,
  newTempPath,
  releaseTemp,
  tempPrefix,
  writeFileAtomic,
} from './layout-files.js';

/** Options of {@link LayoutProvider.gc}. */
export interface GcOptions extends ProviderCallOptions {
  /** Temp files older than this are stale and removed (default one hour; 0 removes every idle one). */
  tempMaxAgeMs?: number | undefined;
  /** Report what would be removed without removing it. */
  dryRun?: boolean | undefined;
}

/** Options of {@link LayoutProvider.verify}. */
export interface VerifyBlobOptions extends ProviderCallOptions {
  /** The size the blob must have (from its descriptor); by default only the digest is checked. */
  size?: number | undefined;
}

/** What {@link LayoutProvider.gc} removed. */
export interface GcResult {
  /** Blobs removed (unreachable from index.json). */
  removed: Digest[];
  /** Bytes those blobs held. */
  bytesFreed: number;
  /** Stale temp files removed (absolute paths). */
  removedTemps: string[];
}

/** The `imageLayoutVersion` this provider writes. */
export const imageLayoutVersion = '1.0.0';

// index.json updates are serialised per layout directory across every provider object of this process
const indexLocks = new KeyedMutex();

interface IndexEntry {
  parsed: Descriptor;
  raw: unknown;
}

function layoutError(root: string, why: string, cause?: unknown): OciImageError {
  return new OciImageError('INVALID_LAYOUT', `oci layout ${root}: ${why}`, { path: root, cause });
}

function notFound(digest: string): OciImageError {
  return new OciImageError('BLOB_NOT_FOUND', `blob ${digest} not found`, { path: digest });
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) as a content provider
 * with refs (`org.opencontainers.image.ref.name` annotations in index.json). The constructor does no I/O;
 * the first call checks `oci-layout` (`INVALID_LAYOUT`). Blob writes go to a temp file in the root and
 * are renamed into place after digest and size were verified; index.json is rewritten by temp + rename
 * under a per-directory lock of this process (other processes are not locked out).
 */
export class LayoutProvider implements TaggableContentProvider {
  /** The absolute path of the layout directory. */
  readonly root: string;
  #checked: Promise<void> | undefined;

  constructor(root: string) {
    this.root = resolvePath(root);
  }

  /** The path of a blob's file (it may not exist). Throws `INVALID_DIGEST`. */
  blobPath(digest: Digest): string {
    const valid = parseDigest(digest);
    return join(this.root, 'blobs', digestAlgorithm(valid), digestHex(valid));
  }

  /** Checks `oci-layout` once (retried after a failure). Throws `INVALID_LAYOUT`. */
  async checkLayout(options: ProviderCallOptions = {}): Promise<void> {
    throwIfAborted(options.signal, `open layout ${this.root}`);
    this.#checked ??= this.#readLayoutFile().catch((error: unknown) => {
      this.#checked = undefined;
      throw error;
    });
    return this.#checked;
  }

  async #readLayoutFile(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.root, 'oci-layout'), 'utf8');
    } catch (error) {
      throw layoutError(this.root, 'cannot read the oci-layout file', error);
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (error) {
      throw layoutError(this.root, 'oci-layout is not JSON', error);
    }
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
      throw layoutError(this.root, `unsupported imageLayoutVersion ${JSON.stringify(version)}`);
    }
    // a blobs directory that is a symlink could lead reads and writes out of the layout
    const blobs = await lstat(join(this.root, 'blobs')).catch(() => undefined);
    if (blobs !== undefined && !blobs.isDirectory()) {
      throw layoutError(this.root, 'blobs is not a directory (a symlink is refused)');
    }
  }

  /** Opens a blob (never through a symlink). With `verify`, the stream fails at its end on a bad digest. */
  async get(digest: Digest, options: GetOptions = {}): Promise<Readable> {
    await this.checkLayout(options);
    const { handle, size } = await this.#openBlob(digest);
    // 1 MiB chunks (not the 64 KiB default): fewer reads, and a gunzip or hash downstream runs at speed.
    let stream: Readable = bindAbort(
      handle.createReadStream({ highWaterMark: 1 << 20 }),
      options.signal,
      `get ${digest}`,
    );
    if (options.verify) {
      const verify = new VerifyStream({ digest, size });
      pipelineCallback(stream, verify, () => undefined);
      stream = verify;
    }
    return stream;
  }

  /**
   * Checks a stored blob against its digest (and `size`, when given) without streaming it: the file is
   * opened like {@link get} (never through a symlink) and read into reused buffers ({@link verifyFile}),
   * the quickest way to re-check content at rest. Resolves with the blob's size. Throws
   * `BLOB_NOT_FOUND`, `INVALID_LAYOUT`, `DIGEST_MISMATCH`, `SIZE_MISMATCH`, `SIZE_EXCEEDED` or `ABORTED`.
   */
  async verify(digest: Digest, options: VerifyBlobOptions = {}): Promise<BlobStat> {
    await this.checkLayout(options);
    const { handle, size } = await this.#openBlob(digest);
    try {
      await verifyFile(handle, { digest, size: options.size ?? size }, { signal: options.signal });
      return { size };
    } finally {
      await handle.close();
    }
  }

  /** Opens a blob file read-only, never through a symlink, and checks it is a regular file. */
  async #openBlob(digest: Digest): Promise<{ handle: FileHandle; size: number }> {
    const path = this.blobPath(digest);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw notFound(digest);
      if (errorCode(error) === 'ELOOP') throw layoutError(this.root, `blob ${digest} is a symlink`, error);
      throw error;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw layoutError(this.root, `blob ${digest} is not a regular file`);
      return { handle, size: info.size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** True when the blob file exists. */
  async has(digest: Digest, options: ProviderCallOptions = {}): Promise<boolean> {
    try {
      await this.stat(digest, options);
      return true;
    } catch (error) {
      if (isOciImageError(error, 'BLOB_NOT_FOUND')) return false;
      throw error;
    }
  }

  /** The blob file's size. Throws `BLOB_NOT_FOUND`. */
  async stat(digest: Digest, options: ProviderCallOptions = {}): Promise<BlobStat> {
    await this.checkLayout(options);
    try {
      const info = await lstat(this.blobPath(digest));
      if (!info.isFile()) throw notFound(digest);
      return { size: info.size };
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw notFound(digest);
      throw error;
    }
  }

  /**
   * Streams `source` into a temp file, verifying digest and size, then renames it to the blob path.
   * A blob already present with the right size is kept and `source` is discarded.
   */
  async put(descriptor: Descriptor, source: BlobSource, options: PutOptions = {}): Promise<void> {
    const { signal } = options;
    await this.checkLayout(options);
    const digest = checkBlobDescriptor(descriptor);
    const target = this.blobPath(digest);
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isFile() && existing.size === descriptor.size) {
      discardSource(source);
      return;
    }
    // create blobs/ and blobs/<alg>/ one level at a time, refusing symlinks, so nothing is written outside
    try {
      await this.#blobDirectory(digestAlgorithm(digest));
    } catch (error) {
      discardSource(source);
      throw error;
    }
    const temp = newTempPath(this.root, 'blob');
    try {
      // the file is created before streaming starts, so a failure can always remove it;
      // `flush` fsyncs before close, so the renamed blob is durable
      const handle = await open(temp, 'wx', 0o644);
      await pipeline(
        toReadable(source),
        new VerifyStream({ digest, size: descriptor.size }),
        handle.createWriteStream({ flush: true }),
        { signal },
      );
      throwIfAborted(signal, `put ${digest}`);
      await rename(temp, target);
    } catch (error) {
      discardSource(source);
      throw mapAbort(error, signal, `put ${digest}`);
    } finally {
      await releaseTemp(temp);
    }
  }

  /**
   * Streams `source` into a temp file while digesting it, then renames it to its blob path (an existing
   * blob of that digest is kept). Nothing is committed when the source fails or the signal aborts.
   */
  async ingest(source: BlobSource, options: IngestOptions): Promise<Descriptor> {
    const { signal } = options;
    const algorithm = options.algorithm ?? 'sha256';
    try {
      await this.checkLayout(options);
      await this.#blobDirectory(algorithm);
    } catch (error) {
      discardSource(source);
      throw error;
    }
    const temp = newTempPath(this.root, 'ingest');
    try {
      const handle = await open(temp, 'wx', 0o644);
      const digester = new Digester(algorithm);
      await pipeline(
        toReadable(source),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            digester.update(chunk);
            yield chunk;
          }
        },
        handle.createWriteStream({ flush: true }),
        { signal },
      );
      throwIfAborted(signal, 'ingest');
      const digest = digester.digest();
      await rename(temp, this.blobPath(digest));
      return {
        mediaType: options.mediaType,
        digest,
        size: digester.size,
        ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
      };
    } catch (error) {
      discardSource(source);
      throw mapAbort(error, signal, 'ingest');
    } finally {
      await releaseTemp(temp);
    }
  }

  /** Creates `blobs/` and `blobs/<algorithm>/` one level at a time, refusing symlinks. */
  async #blobDirectory(algorithm: string): Promise<void> {
    const blobs = join(this.root, 'blobs');
    for (const level of [blobs, join(blobs, algorithm)]) {
      await mkdir(level).catch((error: unknown) => {
        if (errorCode(error) !== 'EEXIST') throw error;
      });
      if (!(await isRealDirectory(level))) {
        throw layoutError(this.root, `${level} is not a directory inside the layout`);
      }
    }
  }

  /** Removes the blob file; false when it was absent. */
  async delete(digest: Digest, options: ProviderCallOptions = {}): Promise<boolean> {
    await this.checkLayout(options);
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** Every blob under `blobs/<alg>/` whose name is a valid digest (other files are ignored). */
  async *list(options: ProviderCallOptions = {}): AsyncGenerator<Digest> {
    await this.checkLayout(options);
    const blobs = join(this.root, 'blobs');
    let algorithms: string[];
    try {
      algorithms = await readdir(blobs);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
    for (const algorithm of algorithms.sort()) {
      if (!(await isRealDirectory(join(blobs, algorithm)))) continue;
      for (const name of (await readdir(join(blobs, algorithm))).sort()) {
        throwIfAborted(options.signal, 'list blobs');
        const candidate = `${algorithm}:${name}`;
        if (isDigest(candidate)) yield candidate;
      }
    }
  }

  async #readIndexEntries(): Promise<{ document: Record<string, unknown>; entries: IndexEntry[] }> {
    let raw: Buffer;
    try {
      raw = await readFile(join(this.root, 'index.json'));
    } catch (error) {
      throw layoutError(this.root, 'cannot read index.json', error);
    }
    let parsed: ReturnType<typeof parseIndex>;
    try {
      parsed = parseIndex(raw);
    } catch (error) {
      const where = isOciImageError(error) && error.path ? ` at ${error.path}` : '';
      throw layoutError(this.root, `index.json is not a valid index${where}`, error);
    }
    const document = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    const rawEntries = document.manifests as unknown[];
    const entries = parsed.value.manifests.map((descriptor, position) => ({
      parsed: descriptor,
      raw: rawEntries[position],
    }));
    return { document, entries };
  }

  /** Every descriptor in index.json, named or not, as written there. */
  async indexEntries(options: ProviderCallOptions = {}): Promise<Descriptor[]> {
    await this.checkLayout(options);
    return (await this.#readIndexEntries()).entries.map((entry) => entry.parsed);
  }

  async #updateIndex(
    options: ProviderCallOptions,
    change: (entries: IndexEntry[]) => unknown[] | undefined,
  ): Promise<void> {
    await this.checkLayout(options);
    await indexLocks.run(this.root, async () => {
      throwIfAborted(options.signal, `update ${this.root}/index.json`);
      const { document, entries } = await this.#readIndexEntries();
      const next = change(entries);
      if (next === undefined) return;
      document.manifests = next;
      await writeFileAtomic(this.root, join(this.root, 'index.json'), encodeJson(document), 'index');
    });
  }

  /**
   * The descriptor named `ref` (its ref-name annotation removed), or, for a digest, the index.json entry
   * with that digest. Throws `REF_NOT_FOUND`.
   */
  async resolve(ref: string, options: ProviderCallOptions = {}): Promise<Descriptor> {
    await this.checkLayout(options);
    const { entries } = await this.#readIndexEntries();
    const found =
      entries.find((entry) => entry.parsed.annotations?.[refNameAnnotation] === ref) ??
      (isDigest(ref) ? entries.find((entry) => entry.parsed.digest === ref) : undefined);
    if (found === undefined) {
      throw new OciImageError(
        'REF_NOT_FOUND',
        `oci layout ${this.root}: no ref named ${JSON.stringify(ref)}`,
        {
          path: ref,
        },
      );
    }
    return withoutRefName(found.parsed);
  }

  /** Points `ref` at `descriptor` in index.json (entries with the same name are replaced). */
  async tag(ref: string, descriptor: Descriptor, options: ProviderCallOptions = {}): Promise<void> {
    checkRefName(ref);
    const valid = parseDescriptor(descriptor);
    const entry = {
      ...valid,
      annotations: { ...(valid.annotations ?? {}), [refNameAnnotation]: ref },
    };
    await this.#updateIndex(options, (entries) => [
      ...entries
        .filter((existing) => existing.parsed.annotations?.[refNameAnnotation] !== ref)
        .map((e) => e.raw),
      entry,
    ]);
  }

  /** Removes the index.json entries named `ref`; false when there were none. Blobs stay until {@link gc}. */
  async untag(ref: string, options: ProviderCallOptions = {}): Promise<boolean> {
    let removed = false;
    await this.#updateIndex(options, (entries) => {
      const kept = entries.filter((existing) => existing.parsed.annotations?.[refNameAnnotation] !== ref);
      removed = kept.length !== entries.length;
      return removed ? kept.map((e) => e.raw) : undefined;
    });
    return removed;
  }

  /** Every named entry of index.json, in file order. */
  async *listRefs(options: ProviderCallOptions = {}): AsyncGenerator<RefEntry> {
    await this.checkLayout(options);
    const { entries } = await this.#readIndexEntries();
    for (const entry of entries) {
      const name = entry.parsed.annotations?.[refNameAnnotation];
      if (name !== undefined) yield { name, descriptor: withoutRefName(entry.parsed) };
    }
  }

  /**
   * Removes blobs not reachable from index.json (through indexes, manifests, configs, layers and
   * subjects) and stale temp files. Runs under the index lock, so tags of this process wait; a blob put
   * but not yet referenced by index.json is unreachable and will be removed (tag it first).
   */
  async gc(options: GcOptions = {}): Promise<GcResult> {
    await this.checkLayout(options);
    const tempMaxAgeMs = options.tempMaxAgeMs ?? 60 * 60 * 1000;
    return indexLocks.run(this.root, async () => {
      const { entries } = await this.#readIndexEntries();
      const reachable = await reachableDigests(
        this,
        entries.map((entry) => entry.parsed),
        { signal: options.signal, followSubject: true, ignoreMissing: true },
      );
      const result: GcResult = { removed: [], bytesFreed: 0, removedTemps: [] };
      for await (const digest of this.list(options)) {
        if (reachable.has(digest)) continue;
        const { size } = await this.stat(digest).catch(() => ({ size: 0 }));
        if (!options.dryRun && !(await this.delete(digest))) continue;
        result.removed.push(digest);
        result.bytesFreed += size;
      }
      const now = Date.now();
      for (const name of await readdir(this.root)) {
        if (!name.startsWith(tempPrefix)) continue;
        const path = join(this.root, name);
        if (activeTemps.has(path)) continue;
        const info = await lstat(path).catch(() => undefined);
        if (info === undefined || !info.isFile() || now - info.mtimeMs < tempMaxAgeMs) continue;
        if (!options.dryRun) await unlink(path).catch(() => undefined);
        result.removedTemps.push(path);
      }
      return result;
    });
  }

  /** Writes `oci-layout` and an empty `index.json` when they are absent (used by `layout.create`). */
  async initialise(options: ProviderCallOptions = {}): Promise<void> {
    throwIfAborted(options.signal, `create layout ${this.root}`);
    await mkdir(join(this.root, 'blobs'), { recursive: true });
    const layoutFile = join(this.root, 'oci-layout');
    if ((await lstat(layoutFile).catch(() => undefined)) === undefined) {
      await writeFileAtomic(this.root, layoutFile, encodeJson({ imageLayoutVersion }), 'layout');
    }
    await this.checkLayout(options);
    await indexLocks.run(this.root, async () => {
      const indexFile = join(this.root, 'index.json');
      if ((await lstat(indexFile).catch(() => undefined)) !== undefined) return;
      const empty = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      await writeFileAtomic(this.root, indexFile, encodeJson(empty), 'index');
    });
  }
}

function withoutRefName(descriptor: Descriptor): Descriptor {
  if (descriptor.annotations?.[refNameAnnotation] === undefined) return descriptor;
  const { [refNameAnnotation]: _removed, ...rest } = descriptor.annotations;
  const copy: Descriptor = { ...descriptor, annotations: rest };
  if (Object.keys(rest).length === 0) delete copy.annotations;
  return copy;
}
