import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ContentProvider,
  type CopyProgress,
  copy,
  type Descriptor,
  digestOf,
  encodeManifest,
  isManifestMediaType,
  layout,
  MediaType,
  memory,
} from '../../src/index.js';
import { randomImage, validateContent, writeImage } from '../../src/testing/index.js';

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});
async function tempLayout() {
  const directory = await mkdtemp(join(tmpdir(), 'ocikit-copy-'));
  directories.push(directory);
  return layout.create(directory);
}

/** A blob-only view of a provider (no refs) that records the order of puts. */
function recording(target: ContentProvider): ContentProvider & { puts: Descriptor[] } {
  const puts: Descriptor[] = [];
  return {
    puts,
    get: (digest, options) => target.get(digest, options),
    has: (digest, options) => target.has(digest, options),
    stat: (digest, options) => target.stat(digest, options),
    delete: (digest, options) => target.delete(digest, options),
    list: (options) => target.list(options),
    ingest: (source, options) => target.ingest(source, options),
    put: async (descriptor, source, options) => {
      await target.put(descriptor, source, options);
      puts.push(descriptor);
    },
  };
}

describe('copy', () => {
  it('copies a multi-platform image from memory to a layout with identical digests', async () => {
    const from = memory.create();
    const image = await randomImage(30, { platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] });
    await writeImage(from, image, { tag: 'v1' });
    const to = await tempLayout();
    const events: CopyProgress[] = [];
    const result = await copy(from, to, 'v1', { onProgress: (event) => events.push(event) });
    expect(result.descriptor).toEqual(image.root);
    expect(result.copied.map((d) => d.digest).sort()).toEqual([...image.blobs.keys()].sort());
    expect(await to.resolve('v1')).toEqual(image.root);
    for (const [digest, bytes] of image.blobs) expect((await to.stat(digest)).size).toBe(bytes.byteLength);
    expect(await validateContent(to)).toEqual([]);
    expect(events.filter((event) => event.state === 'done')).toHaveLength(image.blobs.size);
    const last = events.filter((event) => event.state === 'progress').at(-1);
    expect(last?.bytes).toBe(last?.total);
  });

  it('copies only the matching platform and returns that manifest', async () => {
    const image = await randomImage(31, { platforms: ['linux/amd64', 'linux/arm64'] });
    const from = await tempLayout();
    await writeImage(from, image, { tag: 'multi' });
    const to = memory.create();
    const result = await copy(from, to, 'multi', { platform: 'linux/aarch64', tag: 'arm' });
    const arm = image.manifests[1];
    const amd = image.manifests[0];
    if (arm === undefined || amd === undefined) throw new Error('fixture');
    expect(result.descriptor.digest).toBe(arm.manifest.digest);
    expect(await to.resolve('arm')).toMatchObject({ digest: arm.manifest.digest });
    expect(await to.has(arm.config.digest)).toBe(true);
    expect(await to.has(amd.config.digest)).toBe(false);
    expect(await to.has(image.root.digest)).toBe(false);
    await expect(copy(from, to, 'multi', { platform: 'linux/s390x' })).rejects.toMatchObject({
      code: 'NO_MATCHING_PLATFORM',
    });
  });

  it('skips blobs the target has and writes manifests after their blobs, the index last', async () => {
    const from = memory.create();
    const image = await randomImage(32, { platforms: ['linux/amd64', 'linux/arm64'] });
    await writeImage(from, image, { tag: 'v1' });
    const store = memory.create();
    const shared = image.manifests[0]?.layers[0];
    if (shared === undefined) throw new Error('fixture');
    await store.put(shared.descriptor, shared.blob);
    const to = recording(store);
    const result = await copy(from, to, image.root);
    expect(result.skipped.map((d) => d.digest)).toEqual([shared.descriptor.digest]);
    const order = to.puts.map((d) => d.digest);
    expect(order.at(-1)).toBe(image.root.digest);
    for (const entry of image.manifests) {
      const at = order.indexOf(entry.manifest.digest);
      expect(at).toBeGreaterThan(order.indexOf(entry.config.digest));
      for (const layer of entry.layers) expect(at).toBeGreaterThan(order.indexOf(layer.descriptor.digest));
    }
    expect(
      to.puts.filter((d) => isManifestMediaType(d.mediaType) || d.mediaType === MediaType.ociIndex),
    ).toHaveLength(3);
    const again = await copy(from, to, image.root);
    expect(again.copied).toEqual([]);
    expect(again.skipped).toHaveLength(image.blobs.size);
  });

  it('copies a layout to another layout and back to memory unchanged', async () => {
    const image = await randomImage(33, { docker: true, layers: 3 });
    const a = await tempLayout();
    await writeImage(a, image, { tag: 'docker' });
    const b = await tempLayout();
    await copy(a, b, 'docker');
    const c = memory.create();
    await copy(b, c, 'docker', { tag: 'renamed' });
    expect(await c.resolve('renamed')).toEqual(image.root);
    expect(await validateContent(c)).toEqual([]);
  });

  it('fails on a corrupted source blob without committing it', async () => {
    const image = await randomImage(34, { layers: 1 });
    const from = await tempLayout();
    await writeImage(from, image, { tag: 'v1' });
    const layer = image.manifests[0]?.layers[0];
    if (layer === undefined) throw new Error('fixture');
    await writeFile(from.blobPath(layer.descriptor.digest), Buffer.alloc(layer.blob.byteLength));
    const to = memory.create();
    await expect(copy(from, to, 'v1')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await to.has(layer.descriptor.digest)).toBe(false);
    expect(await to.has(image.root.digest)).toBe(false);
  });

  it('copies a blob embedded in its descriptor even when the source does not store it', async () => {
    const from = memory.create();
    const empty = Buffer.from('{}');
    const config = {
      mediaType: MediaType.ociEmpty,
      digest: digestOf(empty),
      size: 2,
      data: empty.toString('base64'),
    };
    const artifact = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: 'application/vnd.example.thing',
      config,
      layers: [],
    });
    await from.put(artifact.descriptor, artifact.raw);
    const to = memory.create();
    const result = await copy(from, to, artifact.descriptor);
    expect(result.copied.map((d) => d.digest)).toEqual([config.digest, artifact.digest]);
    expect(await to.has(config.digest)).toBe(true);
  });

  it('reports REF_NOT_FOUND, REFS_UNSUPPORTED and ABORTED', async () => {
    const from = memory.create();
    const image = await randomImage(35, { layers: 1 });
    await writeImage(from, image, { tag: 'v1' });
    await expect(copy(from, memory.create(), 'nope')).rejects.toMatchObject({ code: 'REF_NOT_FOUND' });
    await expect(copy(recording(from), memory.create(), 'v1')).rejects.toMatchObject({
      code: 'REFS_UNSUPPORTED',
    });
    const controller = new AbortController();
    controller.abort();
    await expect(copy(from, memory.create(), 'v1', { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });
});
