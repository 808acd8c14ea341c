import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf, layout, MediaType, overlaySnapshotter } from '../../src/index.js';
import { tarBuilder } from '../../src/testing/index.js';

// A pull writes a layer's blob into the store and unpacks it into the snapshotter from one stream.
// When that stream breaks half way, neither may commit anything: no blob, no snapshot, no temp left.
const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

async function temp(prefix: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

function layerBlob(): { tar: Buffer; blob: Buffer } {
  const builder = tarBuilder().directory('data');
  for (let index = 0; index < 8; index += 1) builder.file(`data/file-${index}`, randomBytes(256 * 1024));
  const tar = builder.toBuffer();
  return { tar, blob: gzipSync(tar) };
}

/** Yields the first `cut` bytes of `blob`, then fails like a connection reset. */
function brokenSource(blob: Buffer, cut: number): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < cut; offset += 64 * 1024)
        yield blob.subarray(offset, Math.min(cut, offset + 64 * 1024));
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    })(),
  );
}

/** Pulls one layer: the same bytes go to the store and to the snapshotter. */
async function pull(source: Readable, blob: Buffer, tar: Buffer, storeRoot: string, snapshotRoot: string) {
  const store = await layout.create(storeRoot);
  const snapshots = await overlaySnapshotter.open(snapshotRoot);
  const descriptor = { mediaType: MediaType.ociLayerGzip, digest: digestOf(blob), size: blob.byteLength };
  const toStore = new PassThrough();
  const toSnapshot = new PassThrough();
  // each consumer sees the failure through its own pipeline; these keep a late 'error' from going unhandled
  toStore.on('error', () => undefined);
  toSnapshot.on('error', () => undefined);
  source.on('data', (chunk) => {
    toStore.write(chunk);
    toSnapshot.write(chunk);
  });
  source.on('end', () => {
    toStore.end();
    toSnapshot.end();
  });
  source.on('error', (error) => {
    toStore.destroy(error);
    toSnapshot.destroy(error);
  });
  const results = await Promise.allSettled([
    store.put(descriptor, toStore),
    snapshots.unpack([{ diffId: digestOf(tar), open: () => toSnapshot, expected: descriptor }]),
  ]);
  await snapshots.close();
  return { store, snapshots: await overlaySnapshotter.open(snapshotRoot), descriptor, results };
}

describe('an interrupted pull', () => {
  it('commits neither the blob nor the snapshot, and a retry then commits both', async () => {
    const { tar, blob } = layerBlob();
    const storeRoot = await temp('ocikit-pull-store-');
    const snapshotRoot = await temp('ocikit-pull-snap-');

    const broken = await pull(
      brokenSource(blob, Math.floor(blob.byteLength / 2)),
      blob,
      tar,
      storeRoot,
      snapshotRoot,
    );
    expect(broken.results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await broken.store.has(broken.descriptor.digest)).toBe(false);
    expect((await readdir(storeRoot)).filter((name) => name.startsWith('.ocikit-tmp-'))).toEqual([]);
    expect(broken.snapshots.list()).toEqual([]);
    const leftovers = await readdir(join(snapshotRoot, 'snapshots')).catch(() => []);
    expect(leftovers).toEqual([]);
    await broken.snapshots.close();

    const retried = await pull(Readable.from([blob]), blob, tar, storeRoot, snapshotRoot);
    expect(retried.results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await retried.store.has(retried.descriptor.digest)).toBe(true);
    expect(retried.snapshots.list().map((info) => info.key)).toEqual([digestOf(tar)]);
    const files = await readdir(join(snapshotRoot, 'snapshots'));
    expect(files).toHaveLength(1);
    await retried.snapshots.close();
  });
});
