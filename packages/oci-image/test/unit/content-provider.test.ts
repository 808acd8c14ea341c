import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ContentProvider,
  type Descriptor,
  digestOf,
  hasRefStore,
  layout,
  memory,
  type TaggableContentProvider,
} from '../../src/index.js';
import { checkProviderContract, randomImage, validateContent, writeImage } from '../../src/testing/index.js';

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

async function tempLayout(): Promise<TaggableContentProvider & { root: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'ocikit-provider-'));
  directories.push(directory);
  return layout.create(join(directory, 'layout'));
}

const providers: Array<[string, () => Promise<TaggableContentProvider>]> = [
  ['memory', async () => memory.create()],
  ['layout', tempLayout],
];

async function bytesOf(provider: ContentProvider, digest: Descriptor['digest']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await provider.get(digest)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function leftoverTemps(provider: ContentProvider): Promise<string[]> {
  if (!('root' in provider)) return [];
  const root = (provider as { root: string }).root;
  return (await readdir(root)).filter((name) => name.startsWith('.ocikit-tmp-'));
}

function blob(text: string): { descriptor: Descriptor; bytes: Buffer } {
  const bytes = Buffer.from(text);
  return {
    descriptor: { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length },
    bytes,
  };
}

describe.each(providers)('%s provider conformance', (_name, create) => {
  it('passes the shared contract check', async () => {
    const provider = await create();
    expect(await checkProviderContract(provider, 7)).toEqual([]);
    expect(await leftoverTemps(provider)).toEqual([]);
  });

  it('stores bytes whose digest and size match, readable many times', async () => {
    const provider = await create();
    const { descriptor, bytes } = blob('some content');
    await provider.put(descriptor, Readable.from([bytes.subarray(0, 4), bytes.subarray(4)]));
    expect(digestOf(await bytesOf(provider, descriptor.digest))).toBe(descriptor.digest);
    expect(digestOf(await bytesOf(provider, descriptor.digest))).toBe(descriptor.digest);
    expect(await provider.stat(descriptor.digest)).toEqual({ size: bytes.length });
    expect(await provider.has(descriptor.digest)).toBe(true);
  });

  it('commits nothing for a wrong digest (DIGEST_MISMATCH)', async () => {
    const provider = await create();
    const { descriptor } = blob('expected');
    await expect(provider.put(descriptor, Buffer.from('expectex'))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(await provider.has(descriptor.digest)).toBe(false);
    const listed: string[] = [];
    for await (const digest of provider.list()) listed.push(digest);
    expect(listed).toEqual([]);
    expect(await leftoverTemps(provider)).toEqual([]);
  });

  it('commits nothing for a truncated or failing source', async () => {
    const provider = await create();
    const { descriptor, bytes } = blob('x'.repeat(10_000));
    await expect(provider.put(descriptor, bytes.subarray(0, 5000))).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
    });
    const failing = new Readable({
      read() {
        this.push(bytes.subarray(0, 100));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(provider.put(descriptor, failing)).rejects.toThrow('connection reset');
    expect(await provider.has(descriptor.digest)).toBe(false);
    expect(await leftoverTemps(provider)).toEqual([]);
  });

  it('aborts a put with ABORTED and commits nothing', async () => {
    const provider = await create();
    const { descriptor, bytes } = blob('y'.repeat(1000));
    const controller = new AbortController();
    const slow = new Readable({ read() {} });
    slow.push(bytes.subarray(0, 10));
    const pending = provider.put(descriptor, slow, { signal: controller.signal });
    setImmediate(() => controller.abort());
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await provider.has(descriptor.digest)).toBe(false);
    expect(await leftoverTemps(provider)).toEqual([]);
  });

  it('ends a get stream with ABORTED when its signal aborts', async () => {
    const provider = await create();
    const { descriptor, bytes } = blob('z'.repeat(100_000));
    await provider.put(descriptor, bytes);
    const controller = new AbortController();
    const stream = await provider.get(descriptor.digest, { signal: controller.signal });
    controller.abort();
    await expect(readStream(stream)).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('rejects a put descriptor without a usable digest or size', async () => {
    const provider = await create();
    const { descriptor, bytes } = blob('d');
    await expect(provider.put({ ...descriptor, size: -1 }, bytes)).rejects.toMatchObject({
      code: 'INVALID_DESCRIPTOR',
      path: 'size',
    });
    await expect(provider.put({ ...descriptor, digest: 'sha256:x' as never }, bytes)).rejects.toMatchObject({
      code: 'INVALID_DIGEST',
      path: 'digest',
    });
  });

  it('survives 8 concurrent writers of one blob: one valid blob, no temp left', async () => {
    const provider = await create();
    const { descriptor, bytes } = blob('concurrent '.repeat(5000));
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        provider.put(descriptor, Readable.from([bytes.subarray(0, i * 100), bytes.subarray(i * 100)])),
      ),
    );
    expect((await bytesOf(provider, descriptor.digest)).equals(bytes)).toBe(true);
    const listed: string[] = [];
    for await (const digest of provider.list()) listed.push(digest);
    expect(listed).toEqual([descriptor.digest]);
    expect(await leftoverTemps(provider)).toEqual([]);
  });

  it('tags, resolves, lists and untags refs', async () => {
    const provider = await create();
    expect(hasRefStore(provider)).toBe(true);
    const image = await randomImage(3, { layers: 1 });
    await writeImage(provider, image, { tag: 'v1' });
    await provider.tag('v2', image.root);
    expect(await provider.resolve('v1')).toEqual(image.root);
    expect(await provider.resolve(image.root.digest)).toEqual(image.root);
    const names: string[] = [];
    for await (const entry of provider.listRefs()) names.push(entry.name);
    expect(names.sort()).toEqual(['v1', 'v2']);
    expect(await provider.untag('v1')).toBe(true);
    expect(await provider.untag('v1')).toBe(false);
    await expect(provider.resolve('v1')).rejects.toMatchObject({ code: 'REF_NOT_FOUND' });
    await expect(provider.tag('bad name', image.root)).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
    expect(await validateContent(provider)).toEqual([]);
  });

  it('holds valid random images (shared validator)', async () => {
    const provider = await create();
    await writeImage(provider, await randomImage(11, { platforms: ['linux/amd64', 'linux/arm64'] }), {
      tag: 'multi',
    });
    await writeImage(provider, await randomImage(12, { docker: true, compression: 'gzip' }), {
      tag: 'docker',
    });
    await writeImage(provider, await randomImage(13, { compression: 'none', omitManifestMediaType: true }), {
      tag: 'umoci',
    });
    expect(await validateContent(provider)).toEqual([]);
  });
});

describe('the shared validator', () => {
  it('reports a blob whose bytes do not match and a missing layer', async () => {
    const provider = await tempLayout();
    const image = await randomImage(5, { layers: 2 });
    await writeImage(provider, image, { tag: 'x' });
    const layer = image.manifests[0]?.layers[1];
    if (layer === undefined) throw new Error('fixture has no layer');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      (provider as unknown as { blobPath(d: string): string }).blobPath(layer.descriptor.digest),
      'garbage',
    );
    const problems = await validateContent(provider);
    expect(
      problems.some((problem) => problem.subject === layer.descriptor.digest && /hash/.test(problem.message)),
    ).toBe(true);
    await provider.delete(layer.descriptor.digest);
    const after = await validateContent(provider);
    expect(after.some((problem) => problem.message === 'blob is missing')).toBe(true);
  });

  it('reports a diff id that does not match the layer', async () => {
    const provider = memory.create();
    const image = await randomImage(6, { layers: 1 });
    const entry = image.manifests[0];
    if (entry === undefined) throw new Error('fixture has no manifest');
    const other = await randomImage(7, { layers: 1 });
    const otherLayer = other.manifests[0]?.layers[0];
    if (otherLayer === undefined) throw new Error('fixture has no layer');
    // a manifest whose layer is another image's layer while the config keeps the first diff id
    const { encodeManifest } = await import('../../src/index.js');
    const manifest = encodeManifest({ ...entry.manifest.value, layers: [otherLayer.descriptor] });
    await provider.put(otherLayer.descriptor, otherLayer.blob);
    await provider.put(entry.config.descriptor, entry.config.raw);
    await provider.put(manifest.descriptor, manifest.raw);
    await provider.tag('broken', manifest.descriptor);
    const problems = await validateContent(provider);
    expect(problems.some((problem) => /diff id/.test(problem.message))).toBe(true);
  });
});

describe('memory provider gc', () => {
  it('removes blobs no ref reaches and keeps the rest', async () => {
    const provider = memory.create();
    const kept = await randomImage(60, { layers: 1 });
    const dropped = await randomImage(61, { layers: 1 });
    await writeImage(provider, kept, { tag: 'kept' });
    await writeImage(provider, dropped, { tag: 'dropped' });
    expect((await provider.gc()).removed).toEqual([]);
    await provider.untag('dropped');
    const result = await provider.gc();
    expect(result.removed.sort()).toEqual([...dropped.blobs.keys()].sort());
    expect(result.bytesFreed).toBe(
      [...dropped.blobs.values()].reduce((sum, bytes) => sum + bytes.byteLength, 0),
    );
    expect(await validateContent(provider)).toEqual([]);
  });
});
