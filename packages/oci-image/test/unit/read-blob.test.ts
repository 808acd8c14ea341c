import { describe, expect, it } from 'vitest';
import {
  type Descriptor,
  digestOf,
  encodeManifest,
  MediaType,
  memory,
  readBlob,
  readImageDocument,
  readIndex,
  walkImage,
} from '../../src/index.js';
import { randomImage, writeImage } from '../../src/testing/index.js';

describe('reading blobs and documents from a provider', () => {
  it('reads embedded data without touching the provider', async () => {
    const bytes = Buffer.from('{}');
    const descriptor: Descriptor = {
      mediaType: MediaType.ociEmpty,
      digest: digestOf(bytes),
      size: 2,
      data: bytes.toString('base64'),
    };
    expect(Buffer.from(await readBlob(memory.create(), descriptor)).toString()).toBe('{}');
  });

  it('refuses a descriptor above maxSize with SIZE_EXCEEDED and a wrong size with SIZE_MISMATCH', async () => {
    const provider = memory.create();
    const bytes = Buffer.from('0123456789');
    const descriptor: Descriptor = {
      mediaType: 'application/octet-stream',
      digest: digestOf(bytes),
      size: 10,
    };
    await provider.put(descriptor, bytes);
    await expect(readBlob(provider, descriptor, { maxSize: 9 })).rejects.toMatchObject({
      code: 'SIZE_EXCEEDED',
    });
    await expect(readBlob(provider, { ...descriptor, size: 11 })).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
    });
    await expect(readBlob(provider, { ...descriptor, digest: digestOf('other') })).rejects.toMatchObject({
      code: 'BLOB_NOT_FOUND',
    });
  });

  it('checks the declared media type against the descriptor and the kind asked for', async () => {
    const provider = memory.create();
    const image = await randomImage(50, { layers: 1 });
    await writeImage(provider, image);
    await expect(readIndex(provider, image.root)).rejects.toMatchObject({ code: 'INVALID_INDEX' });
    const entry = image.manifests[0];
    if (entry === undefined) throw new Error('fixture');
    const asDocker = { ...image.root, mediaType: MediaType.dockerManifest };
    await expect(readImageDocument(provider, asDocker)).rejects.toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      path: 'mediaType',
    });
    const umoci = encodeManifest({ schemaVersion: 2, config: entry.config.descriptor, layers: [] });
    await provider.put(umoci.descriptor, umoci.raw);
    expect((await readImageDocument(provider, umoci.descriptor)).kind).toBe('manifest');
  });

  it('walks children before parents, each digest once', async () => {
    const provider = memory.create();
    const image = await randomImage(51, { platforms: ['linux/amd64', 'linux/arm64'], layers: 2 });
    await writeImage(provider, image);
    const order: string[] = [];
    for await (const descriptor of walkImage(provider, image.root)) order.push(descriptor.digest);
    expect(order.at(-1)).toBe(image.root.digest);
    expect(new Set(order).size).toBe(order.length);
    expect(order.sort()).toEqual([...image.blobs.keys()].sort());
  });
});
