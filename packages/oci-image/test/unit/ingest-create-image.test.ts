import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ContentProvider,
  createImage,
  digestOf,
  hasRefStore,
  layout,
  MediaType,
  memory,
  readImageConfig,
  readManifest,
} from '../../src/index.js';

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

async function providers(): Promise<Array<[string, ContentProvider]>> {
  const directory = await mkdtemp(join(tmpdir(), 'ocikit-ingest-'));
  directories.push(directory);
  return [
    ['memory', memory.create()],
    ['layout', await layout.create(directory)],
  ];
}

describe('ingest', () => {
  it('stores a blob of unknown digest under the digest of its bytes', async () => {
    for (const [name, provider] of await providers()) {
      const bytes = Buffer.from(`blob for ${name}`);
      const descriptor = await provider.ingest(Readable.from([bytes.subarray(0, 4), bytes.subarray(4)]), {
        mediaType: MediaType.ociLayer,
        annotations: { a: 'b' },
      });
      expect(descriptor).toEqual({
        mediaType: MediaType.ociLayer,
        digest: digestOf(bytes),
        size: bytes.byteLength,
        annotations: { a: 'b' },
      });
      const stream = await provider.get(descriptor.digest, { verify: true });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    }
  });

  it('commits nothing when the source fails', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'ocikit-ingest-'));
    directories.push(directory);
    const store = await layout.create(directory);
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from('partial');
        throw new Error('source broke');
      })(),
    );
    await expect(store.ingest(failing, { mediaType: MediaType.ociLayer })).rejects.toThrow('source broke');
    const digests: string[] = [];
    for await (const digest of store.list()) digests.push(digest);
    expect(digests).toEqual([]);
    expect((await readdir(store.root)).filter((name) => name.startsWith('.ocikit-tmp-'))).toEqual([]);
  });
});

describe('createImage', () => {
  it('writes a tagged image whose manifest, config and diff IDs agree', async () => {
    for (const [, provider] of await providers()) {
      const tar = Buffer.alloc(1024);
      const layer = await provider.ingest(tar, { mediaType: MediaType.ociLayer });
      const result = await createImage(provider, {
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        appendLayers: [{ descriptor: layer, diffId: digestOf(tar) }],
        config: { cmd: ['sh'], env: ['PATH=/bin'] },
        created: '2026-01-02T03:04:05Z',
        tag: 'demo',
      });
      if (!hasRefStore(provider)) throw new Error('providers here keep refs');
      const manifest = await readManifest(provider, await provider.resolve('demo'));
      expect(manifest.digest).toBe(result.descriptor.digest);
      expect(manifest.value.layers).toEqual([layer]);
      const config = await readImageConfig(provider, manifest.value.config);
      expect(config.value.architecture).toBe('arm64');
      expect(config.value.variant).toBe('v8');
      expect(config.value.rootfs.diff_ids).toEqual([digestOf(tar)]);
      expect(config.value.config?.Cmd).toEqual(['sh']);
      expect(config.value.created).toBe('2026-01-02T03:04:05Z');
    }
  });

  it('createImage leaves no unreferenced blobs', async () => {
    for (const [name, provider] of await providers()) {
      const tar = Buffer.alloc(1024);
      const layer = await provider.ingest(tar, { mediaType: MediaType.ociLayer });
      // Layers and config changes make the result differ from an empty start, which used to be stored too.
      const result = await createImage(provider, {
        appendLayers: [{ descriptor: layer, diffId: digestOf(tar) }],
        config: { cmd: ['sh'], labels: { purpose: name } },
        annotations: { 'org.example.kind': 'regression' },
        created: '2026-01-02T03:04:05Z',
      });
      const reachable = [
        result.descriptor.digest,
        result.manifest.value.config.digest,
        ...result.manifest.value.layers.map((entry) => entry.digest),
      ];
      const stored: string[] = [];
      for await (const digest of provider.list()) stored.push(digest);
      expect(stored.sort(), name).toEqual([...new Set(reachable)].sort());
      expect(stored, name).toHaveLength(3);
    }
  });
});
