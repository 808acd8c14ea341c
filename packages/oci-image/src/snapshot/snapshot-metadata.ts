import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { OciImageError } from '../errors.js';

/** The kinds of snapshot: an unpacked layer (read-only), a writable one, a read-only view. */
export type SnapshotKind = 'committed' | 'active' | 'view';

const snapshotRecordSchema = z.object({
  /** Directory name under `<root>/snapshots/`. */
  id: z.string().regex(/^[0-9]+$/),
  kind: z.enum(['committed', 'active', 'view']),
  parent: z.string().optional(),
  /** RFC 3339 creation time. */
  created: z.string(),
  labels: z.record(z.string(), z.string()).optional(),
});

const metadataSchema = z.object({
  version: z.literal(1),
  nextId: z.number().int().nonnegative(),
  // each record is checked on its own: z.record would rebuild the object and drop a `__proto__` key
  snapshots: z.custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  ),
});

/** One snapshot as stored in the metadata file. */
export type SnapshotRecord = z.infer<typeof snapshotRecordSchema>;

/**
 * The metadata of a snapshotter root, in memory. Snapshots are in a Map so that any key (`constructor`,
 * `__proto__`) is plain data.
 */
export interface SnapshotMetadata {
  /** The number the next snapshot directory gets. */
  nextId: number;
  snapshots: Map<string, SnapshotRecord>;
}

/** An empty metadata document. */
export function emptyMetadata(): SnapshotMetadata {
  return { nextId: 1, snapshots: new Map() };
}

/** A deep copy to change without touching the original. */
export function cloneMetadata(metadata: SnapshotMetadata): SnapshotMetadata {
  return { nextId: metadata.nextId, snapshots: new Map(structuredClone([...metadata.snapshots])) };
}

/**
 * Reads the metadata file, or returns empty metadata when it does not exist. Throws `SNAPSHOT_CORRUPT` when
 * it is not valid JSON of the expected shape.
 */
export async function readMetadata(file: string): Promise<SnapshotMetadata> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyMetadata();
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OciImageError('SNAPSHOT_CORRUPT', `read snapshot metadata: ${file} is not JSON`, {
      path: file,
      cause: error,
    });
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    throw new OciImageError('SNAPSHOT_CORRUPT', `read snapshot metadata: ${file} has an unexpected shape`, {
      path: file,
      cause: parsed.error,
    });
  }
  const snapshots = new Map<string, SnapshotRecord>();
  for (const [key, value] of Object.entries(parsed.data.snapshots)) {
    const record = snapshotRecordSchema.safeParse(value);
    if (!record.success) {
      throw new OciImageError(
        'SNAPSHOT_CORRUPT',
        `read snapshot metadata: ${file} has a malformed record for ${JSON.stringify(key)}`,
        { path: file, cause: record.error },
      );
    }
    snapshots.set(key, record.data);
  }
  return { nextId: parsed.data.nextId, snapshots };
}

/**
 * Replaces the metadata file atomically: writes a temp file beside it, flushes it to disk, renames it over
 * the old one and flushes the directory, so a crash leaves either the old or the new document.
 */
export async function writeMetadata(file: string, metadata: SnapshotMetadata): Promise<void> {
  const temp = join(dirname(file), `.metadata-${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    const document = {
      version: 1,
      nextId: metadata.nextId,
      snapshots: Object.fromEntries(metadata.snapshots),
    };
    await handle.writeFile(`${JSON.stringify(document, null, 2)}\n`);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const directory = await open(dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
