import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { layerChainId } from '../chain-id.js';
import type { Digest } from '../digest.js';
import { isOciImageError, OciImageError } from '../errors.js';
import { throwIfAborted } from '../internal/abort.js';
import type { Compression } from '../media-types.js';
import type { Mount } from './mount.js';
import { applyLayerAsOverlayLower, type OverlayLowerOptions } from './overlay-lower.js';
import {
  cloneMetadata,
  readMetadata,
  type SnapshotKind,
  type SnapshotMetadata,
  type SnapshotRecord,
  writeMetadata,
} from './snapshot-metadata.js';

/** What {@link OverlaySnapshotter.list} and {@link OverlaySnapshotter.stat} tell about a snapshot. */
export interface SnapshotInfo {
  /** The chain ID for a committed layer, the caller's key for active snapshots and views. */
  key: string;
  kind: SnapshotKind;
  /** Key of the committed snapshot below this one. */
  parent?: string | undefined;
  created: Date;
  labels: Record<string, string>;
}

/** Disk use of a snapshot's own directory (its layer, or its upper dir), hardlinks counted once. */
export interface SnapshotUsage {
  /** Bytes allocated (st_blocks * 512). */
  size: number;
  inodes: number;
}

/**
 * Unpacks one layer into `target` (an empty directory that becomes an overlay lower dir). It must write
 * OCI whiteouts as overlay whiteouts (char device 0:0, `trusted.overlay.opaque=y`), since the lower layers
 * are not in `target`. When it returns a `diffId`, that must equal the one the layer was asked for.
 */
export type ApplyToDirectory = (target: string, signal: AbortSignal | undefined) => Promise<unknown>;

/** The result of {@link OverlaySnapshotter.prepareLayer}. */
export interface PreparedLayer {
  chainId: Digest;
  /** False when the layer was already committed (or unpacked by a concurrent call) and `apply` did not run. */
  unpacked: boolean;
}

/** One layer for {@link OverlaySnapshotter.unpack}: its diff ID and how to open (and reopen) its blob. */
export interface UnpackLayer {
  diffId: Digest;
  /** Opens the layer blob; called at most once per unpack, and not at all when the layer is unpacked. */
  open(): Readable | Promise<Readable>;
  /** Compression of the blob; default `'auto'` (sniffed). */
  compression?: Compression | 'auto' | undefined;
  /** When given, the blob must have this digest (and size), e.g. from the manifest's descriptor. */
  expected?: { digest: Digest; size?: number | undefined } | undefined;
}

/** Options of {@link OverlaySnapshotter.unpack}. */
export interface UnpackOptions {
  /** How to unpack one blob into an empty directory; default {@link applyLayerAsOverlayLower}. */
  apply?: ((target: string, source: Readable, options: OverlayLowerOptions) => Promise<unknown>) | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of the calls that make a snapshot. */
export interface SnapshotOptions {
  labels?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of {@link OverlaySnapshotter.open}. */
export interface OverlaySnapshotterOptions {
  signal?: AbortSignal | undefined;
}

const METADATA_FILE = 'metadata.json';
const SNAPSHOTS_DIR = 'snapshots';
const TEMP_PREFIX = 'tmp-';

function notFound(key: string): OciImageError {
  return new OciImageError('SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(key)} does not exist`, {
    path: key,
  });
}

function exists(key: string): OciImageError {
  return new OciImageError('SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(key)} already exists`, {
    path: key,
  });
}

function checkKey(key: string, action: string): void {
  if (typeof key !== 'string' || key === '') {
    throw new OciImageError('SNAPSHOT_INVALID_KEY', `${action}: a snapshot key must be a non-empty string`, {
      path: String(key),
    });
  }
}

/**
 * An overlayfs snapshotter in the manner of containerd's: image layers are unpacked once each into
 * `<root>/snapshots/<n>/fs`, keyed by chain ID, and stacked as overlay lower dirs; containers get an active
 * snapshot (an upper and a work dir over a committed parent) or a read-only view. It returns mount
 * descriptions and never mounts anything itself. State lives in `<root>/metadata.json`, replaced atomically
 * on every change, so a new snapshotter over the same root sees the same snapshots.
 *
 * One snapshotter object should own a root at a time (calls within it are safe to run concurrently; two
 * processes over one root are not coordinated). Mount options must fit in one page (4096 bytes here):
 * each lower layer costs about `root.length + 20` bytes, so with a short root (e.g. `/var/lib/ocikit/ov`)
 * more than 100 layers fit; containerd goes further by mounting with relative paths from a `chdir` into
 * the snapshots directory, which a caller can do with these paths too.
 */
export class OverlaySnapshotter {
  /** Absolute root directory. */
  readonly root: string;
  #metadata: SnapshotMetadata;
  #queue: Promise<unknown> = Promise.resolve();
  #unpacking = new Map<string, Promise<PreparedLayer>>();

  private constructor(root: string, metadata: SnapshotMetadata) {
    this.root = root;
    this.#metadata = metadata;
  }

  /**
   * Opens (creating if needed) a snapshotter at `root`, loads its metadata and deletes what an interrupted
   * run left behind (temp dirs, directories no snapshot refers to). Throws `SNAPSHOT_CORRUPT` for unreadable
   * metadata and `SNAPSHOT_INVALID_ROOT` for a root path that cannot appear in overlay options (`:`, `,`, `\`).
   */
  static async open(root: string, options: OverlaySnapshotterOptions = {}): Promise<OverlaySnapshotter> {
    const absolute = resolve(root);
    if (/[:,\\]/.test(absolute)) {
      throw new OciImageError(
        'SNAPSHOT_INVALID_ROOT',
        `open snapshotter: root ${JSON.stringify(absolute)} contains ':', ',' or '\\', which overlay options cannot hold`,
        { path: absolute },
      );
    }
    throwIfAborted(options.signal, 'open snapshotter');
    await mkdir(join(absolute, SNAPSHOTS_DIR), { recursive: true, mode: 0o700 });
    const metadata = await readMetadata(join(absolute, METADATA_FILE));
    const known = new Set([...metadata.snapshots.values()].map((record) => record.id));
    for (const name of await readdir(join(absolute, SNAPSHOTS_DIR))) {
      if (!known.has(name)) await rm(join(absolute, SNAPSHOTS_DIR, name), { recursive: true, force: true });
    }
    return new OverlaySnapshotter(absolute, metadata);
  }

  /**
   * Makes sure the layer `diffId` on top of the committed snapshot `parent` (a chain ID, or undefined for a
   * base layer) is unpacked, and returns its chain ID. `apply` runs only when it is not: into a fresh temp dir
   * that is renamed into place and recorded only after `apply` succeeded, so a failure or abort commits
   * nothing. Concurrent calls for the same chain ID share one unpack. Throws `SNAPSHOT_NOT_FOUND` (parent),
   * `SNAPSHOT_EXISTS` (the chain ID is taken by a non-committed snapshot), `DIGEST_MISMATCH` (apply reported
   * another diff ID), `ABORTED`, or what `apply` threw.
   */
  async prepareLayer(
    parent: Digest | undefined,
    diffId: Digest,
    apply: ApplyToDirectory,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<PreparedLayer> {
    const { signal } = options;
    const chainId = layerChainId(parent, diffId);
    for (;;) {
      throwIfAborted(signal, `unpack layer ${diffId}`);
      const existing = this.#metadata.snapshots.get(chainId);
      if (existing !== undefined) {
        if (existing.kind !== 'committed') throw exists(chainId);
        return { chainId, unpacked: false };
      }
      if (parent !== undefined && this.#metadata.snapshots.get(parent)?.kind !== 'committed')
        throw notFound(parent);
      const running = this.#unpacking.get(chainId);
      if (running === undefined) break;
      try {
        await running;
        return { chainId, unpacked: false };
      } catch (error) {
        // the other caller was aborted: unpack again for this one, unless it is aborted too
        if (isOciImageError(error, 'ABORTED') && signal?.aborted !== true) continue;
        throw error;
      }
    }
    const work = this.#unpackLayer(chainId, parent, diffId, apply, signal);
    this.#unpacking.set(chainId, work);
    try {
      return await work;
    } finally {
      this.#unpacking.delete(chainId);
    }
  }

  async #unpackLayer(
    chainId: Digest,
    parent: Digest | undefined,
    diffId: Digest,
    apply: ApplyToDirectory,
    signal: AbortSignal | undefined,
  ): Promise<PreparedLayer> {
    const temp = await this.#makeTemp(false);
    try {
      const result = await apply(join(temp, 'fs'), signal);
      throwIfAborted(signal, `unpack layer ${diffId}`);
      const reported = (result as { diffId?: unknown } | null | undefined)?.diffId;
      if (reported !== undefined && reported !== diffId) {
        throw new OciImageError(
          'DIGEST_MISMATCH',
          `unpack layer: expected diff ID ${diffId}, the layer has ${String(reported)}`,
          { path: diffId },
        );
      }
      await this.#commitTemp(temp, chainId, { kind: 'committed', parent, created: new Date().toISOString() });
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
    return { chainId, unpacked: true };
  }

  /**
   * Unpacks `layers` (bottom first), each layer at most once, and returns the chain ID of the top one (for
   * {@link prepare} or {@link view}). A layer already unpacked is not opened. By default each layer goes
   * through {@link applyLayerAsOverlayLower} (needs root); `options.apply` replaces it. The diff ID read from
   * the blob must match the layer's (`DIGEST_MISMATCH`). Throws like {@link prepareLayer}.
   */
  async unpack(layers: readonly UnpackLayer[], options: UnpackOptions = {}): Promise<Digest> {
    if (layers.length === 0) {
      throw new OciImageError('INVALID_CONFIG', 'unpack: an image needs at least one layer', {
        path: 'rootfs.diff_ids',
      });
    }
    const apply = options.apply ?? applyLayerAsOverlayLower;
    let parent: Digest | undefined;
    for (const layer of layers) {
      const prepared = await this.prepareLayer(
        parent,
        layer.diffId,
        async (target, signal) => {
          const source = await layer.open();
          try {
            return await apply(target, source, {
              compression: layer.compression ?? 'auto',
              expected: layer.expected,
              signal,
            });
          } finally {
            source.destroy();
          }
        },
        { signal: options.signal },
      );
      parent = prepared.chainId;
    }
    return parent!;
  }

  /**
   * Creates the writable snapshot `key` over the committed snapshot `parent` (or empty, without a parent)
   * and returns how to mount it: an overlay with `lowerdir` (top-most layer first), `upperdir` and
   * `workdir`; without a parent a read-write bind mount of an empty directory. Throws `SNAPSHOT_EXISTS`,
   * `SNAPSHOT_NOT_FOUND` (parent), `ABORTED`.
   */
  async prepare(key: string, parent?: string, options: SnapshotOptions = {}): Promise<Mount> {
    await this.#create(key, parent, 'active', options);
    return this.mounts(key);
  }

  /**
   * Creates the read-only snapshot `key` of the committed snapshot `parent` and returns how to mount it:
   * a read-only bind mount when `parent` is a single layer (or of an empty directory without a parent),
   * otherwise a read-only overlay of the lower dirs. Throws like {@link prepare}.
   */
  async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<Mount> {
    await this.#create(key, parent, 'view', options);
    return this.mounts(key);
  }

  /**
   * The mount description of snapshot `key` (for a committed snapshot, a read-only view of it). Pure
   * lookup, no I/O. Throws `SNAPSHOT_NOT_FOUND`.
   */
  mounts(key: string): Mount {
    const record = this.#record(key);
    const own = this.#directory(record.id);
    if (record.kind === 'active') {
      const lowers = this.#lowerDirs(record.parent);
      if (lowers.length === 0) return { type: 'bind', source: join(own, 'fs'), options: ['rw', 'rbind'] };
      return {
        type: 'overlay',
        source: 'overlay',
        options: [
          `lowerdir=${lowers.join(':')}`,
          `upperdir=${join(own, 'fs')}`,
          `workdir=${join(own, 'work')}`,
        ],
      };
    }
    const lowers = record.kind === 'committed' ? this.#lowerDirs(key) : this.#lowerDirs(record.parent);
    if (lowers.length === 0) return { type: 'bind', source: join(own, 'fs'), options: ['ro', 'rbind'] };
    if (lowers.length === 1) return { type: 'bind', source: lowers[0]!, options: ['ro', 'rbind'] };
    return { type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${lowers.join(':')}`] };
  }

  /**
   * Turns the active snapshot `key` into the committed snapshot `name` (e.g. the chain ID of the layer made
   * from its upper dir with `createLayerFromOverlayUpper`), usable as a parent. Unmount it first. Throws
   * `SNAPSHOT_NOT_FOUND` (`key` missing or not active), `SNAPSHOT_EXISTS` (`name`).
   */
  async commit(name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    throwIfAborted(options.signal, `commit snapshot ${key}`);
    checkKey(name, 'commit snapshot');
    await this.#mutate(async (draft) => {
      const record = draft.snapshots.get(key);
      if (record === undefined || record.kind !== 'active') throw notFound(key);
      if (draft.snapshots.has(name)) throw exists(name);
      draft.snapshots.delete(key);
      draft.snapshots.set(name, {
        ...record,
        kind: 'committed',
        created: new Date().toISOString(),
        ...(options.labels === undefined ? {} : { labels: options.labels }),
      });
    });
    await rm(join(this.#directory(this.#record(name).id), 'work'), { recursive: true, force: true });
  }

  /**
   * Deletes snapshot `key` and its directory (unmount it first). The record goes first, then the files, so a
   * crash in between leaves only garbage that the next {@link open} removes. Throws `SNAPSHOT_NOT_FOUND` and
   * `SNAPSHOT_IN_USE` (another snapshot has it as parent).
   */
  async remove(key: string, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    throwIfAborted(options.signal, `remove snapshot ${key}`);
    let id = '';
    await this.#mutate(async (draft) => {
      const record = draft.snapshots.get(key);
      if (record === undefined) throw notFound(key);
      const child = [...draft.snapshots].find(([, other]) => other.parent === key);
      if (child !== undefined) {
        throw new OciImageError(
          'SNAPSHOT_IN_USE',
          `remove snapshot ${JSON.stringify(key)}: ${JSON.stringify(child[0])} is built on it`,
          { path: key },
        );
      }
      draft.snapshots.delete(key);
      id = record.id;
    });
    const trash = join(this.root, SNAPSHOTS_DIR, `${TEMP_PREFIX}removed-${id}`);
    try {
      await rename(this.#directory(id), trash);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // already gone: nothing to delete
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** Every snapshot, sorted by key. No I/O. */
  list(): SnapshotInfo[] {
    return [...this.#metadata.snapshots.keys()].sort().map((key) => this.stat(key));
  }

  /** What snapshot `key` is. No I/O. Throws `SNAPSHOT_NOT_FOUND`. */
  stat(key: string): SnapshotInfo {
    const record = this.#record(key);
    return {
      key,
      kind: record.kind,
      parent: record.parent,
      created: new Date(record.created),
      labels: { ...(record.labels ?? {}) },
    };
  }

  /**
   * Disk use of the snapshot's own files: the unpacked layer for a committed snapshot, the upper dir for an
   * active one (what the container wrote). Throws `SNAPSHOT_NOT_FOUND`, `ABORTED`.
   */
  async usage(key: string, options: { signal?: AbortSignal | undefined } = {}): Promise<SnapshotUsage> {
    const record = this.#record(key);
    const seen = new Set<string>();
    let size = 0n;
    const visit = async (path: string, stats: BigIntStats): Promise<void> => {
      throwIfAborted(options.signal, `usage of snapshot ${key}`);
      const inode = `${stats.dev}:${stats.ino}`;
      if (!seen.has(inode)) {
        seen.add(inode);
        size += stats.blocks * 512n;
      }
      if (!stats.isDirectory()) return;
      for (const name of await readdir(path)) {
        const child = join(path, name);
        await visit(child, await lstat(child, { bigint: true }));
      }
    };
    const fs = join(this.#directory(record.id), 'fs');
    await visit(fs, await lstat(fs, { bigint: true }));
    return { size: Number(size), inodes: seen.size };
  }

  /** Waits for metadata writes in flight. The object must not be used afterwards. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#unpacking.values()]);
    await this.#queue.catch(() => undefined);
  }

  #record(key: string): SnapshotRecord {
    const record = this.#metadata.snapshots.get(key);
    if (record === undefined) throw notFound(key);
    return record;
  }

  #directory(id: string): string {
    return join(this.root, SNAPSHOTS_DIR, id);
  }

  /** The fs dirs of `top` and its ancestors, top-most first. */
  #lowerDirs(top: string | undefined): string[] {
    const dirs: string[] = [];
    for (let key = top; key !== undefined; ) {
      const record = this.#record(key);
      dirs.push(join(this.#directory(record.id), 'fs'));
      key = record.parent;
    }
    return dirs;
  }

  async #create(
    key: string,
    parent: string | undefined,
    kind: SnapshotKind,
    options: SnapshotOptions,
  ): Promise<void> {
    throwIfAborted(options.signal, `prepare snapshot ${key}`);
    checkKey(key, 'prepare snapshot');
    if (this.#metadata.snapshots.has(key)) throw exists(key);
    if (parent !== undefined && this.#metadata.snapshots.get(parent)?.kind !== 'committed')
      throw notFound(parent);
    const temp = await this.#makeTemp(kind === 'active');
    try {
      await this.#commitTemp(temp, key, {
        kind,
        parent,
        created: new Date().toISOString(),
        ...(options.labels === undefined ? {} : { labels: options.labels }),
      });
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  async #makeTemp(withWork: boolean): Promise<string> {
    const temp = await mkdtemp(join(this.root, SNAPSHOTS_DIR, TEMP_PREFIX));
    await mkdir(join(temp, 'fs'), { mode: 0o755 });
    if (withWork) await mkdir(join(temp, 'work'), { mode: 0o700 });
    return temp;
  }

  /** Renames `temp` to the next snapshot id and records it under `key`, re-checking key and parent. */
  async #commitTemp(temp: string, key: string, record: Omit<SnapshotRecord, 'id'>): Promise<void> {
    await this.#mutate(async (draft) => {
      if (draft.snapshots.has(key)) throw exists(key);
      if (record.parent !== undefined && draft.snapshots.get(record.parent)?.kind !== 'committed') {
        throw notFound(record.parent);
      }
      const id = String(draft.nextId);
      draft.nextId += 1;
      await rename(temp, this.#directory(id));
      draft.snapshots.set(key, { id, ...record });
      return async () => {
        // the metadata write failed: put the directory back so the caller's clean-up removes it
        await rename(this.#directory(id), temp);
      };
    });
  }

  /**
   * Runs `change` on a copy of the metadata, one change at a time, then writes the copy and makes it current.
   * `change` may return an undo step, run when the write fails.
   */
  async #mutate(change: (draft: SnapshotMetadata) => Promise<unknown>): Promise<void> {
    const run = async (): Promise<void> => {
      const draft = cloneMetadata(this.#metadata);
      const undo = await change(draft);
      try {
        await writeMetadata(join(this.root, METADATA_FILE), draft);
      } catch (error) {
        if (typeof undo === 'function') await (undo as () => Promise<void>)().catch(() => undefined);
        throw error;
      }
      this.#metadata = draft;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    await result;
  }
}

/** The overlay snapshotter provider: `overlaySnapshotter.open(root)`. */
export const overlaySnapshotter = {
  open: (root: string, options?: OverlaySnapshotterOptions): Promise<OverlaySnapshotter> =>
    OverlaySnapshotter.open(root, options),
} as const;
