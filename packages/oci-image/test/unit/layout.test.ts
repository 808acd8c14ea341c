import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Descriptor,
  digestOf,
  encodeManifest,
  isOciImageError,
  layout,
  MediaType,
  parseIndex,
  refNameAnnotation,
} from '../../src/index.js';
import { randomImage, validateContent, writeImage } from '../../src/testing/index.js';

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'ocikit-layout-'));
  directories.push(directory);
  return directory;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('oci layout directory', () => {
  it('creates oci-layout and an empty index.json, and reuses an existing layout', async () => {
    const directory = join(await tempDir(), 'new');
    const provider = await layout.create(directory);
    expect(JSON.parse(await readFile(join(directory, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    const index = parseIndex(await readFile(join(directory, 'index.json')));
    expect(index.value.manifests).toEqual([]);
    await provider.tag('keep', (await randomImage(1, { layers: 1 })).root);
    await layout.create(directory);
    expect(parseIndex(await readFile(join(directory, 'index.json'))).value.manifests).toHaveLength(1);
  });

  it('does no I/O on open and fails with INVALID_LAYOUT on first use of a bad directory', async () => {
    const directory = await tempDir();
    const missing = layout.open(join(directory, 'nope'));
    await expect(missing.has(digestOf('x'))).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
    await writeFile(join(directory, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '2.0.0' }));
    await expect(layout.open(directory).resolve('x')).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
    await expect(layout.create(directory)).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
    await writeFile(join(directory, 'oci-layout'), 'not json');
    await expect(layout.open(directory).stat(digestOf('x'))).rejects.toMatchObject({
      code: 'INVALID_LAYOUT',
    });
  });

  it('reports an invalid index.json as INVALID_LAYOUT naming the field', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    await writeFile(
      join(directory, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ size: 1 }] }),
    );
    try {
      await provider.resolve('x');
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, 'INVALID_LAYOUT')).toBe(true);
      expect((error as Error).message).toContain('manifests[0]');
    }
  });

  it('loses no update when many tags are written concurrently (two provider objects)', async () => {
    const directory = await tempDir();
    const first = await layout.create(directory);
    const second = layout.open(directory);
    const image = await randomImage(2, { layers: 1 });
    await writeImage(first, image);
    await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? first : second).tag(`tag-${i}`, image.root)),
    );
    const names: string[] = [];
    for await (const entry of first.listRefs()) names.push(entry.name);
    expect(names.sort()).toEqual(Array.from({ length: 24 }, (_, i) => `tag-${i}`).sort());
    const raw = await readFile(join(directory, 'index.json'));
    expect(parseIndex(raw).value.manifests).toHaveLength(24);
  });

  it('replaces a ref of the same name, keeps unnamed entries and unknown fields', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    const a = (await randomImage(3, { layers: 1 })).root;
    const b = (await randomImage(4, { layers: 1 })).root;
    const unnamed = { ...a, annotations: { 'x.y': 'z' } };
    await writeFile(
      join(directory, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [unnamed], annotations: { top: 'level' }, extra: [1] }),
    );
    await provider.tag('v1', a);
    await provider.tag('v1', b);
    const written = JSON.parse(await readFile(join(directory, 'index.json'), 'utf8'));
    expect(written.extra).toEqual([1]);
    expect(written.annotations).toEqual({ top: 'level' });
    expect(written.manifests).toEqual([unnamed, { ...b, annotations: { [refNameAnnotation]: 'v1' } }]);
    expect(await provider.resolve('v1')).toEqual(b);
    expect((await provider.indexEntries()).length).toBe(2);
  });

  it('verifies a blob while streaming when asked', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    const bytes = Buffer.from('verified content');
    const descriptor: Descriptor = {
      mediaType: 'application/octet-stream',
      digest: digestOf(bytes),
      size: bytes.length,
    };
    await provider.put(descriptor, bytes);
    expect((await readAll(await provider.get(descriptor.digest, { verify: true }))).equals(bytes)).toBe(true);
    await writeFile(provider.blobPath(descriptor.digest), 'tampered content');
    await expect(readAll(await provider.get(descriptor.digest, { verify: true }))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    // without verify the bytes are returned as they are
    expect((await readAll(await provider.get(descriptor.digest))).toString()).toBe('tampered content');
  });

  it('refuses a blob that is a symlink', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    const outside = join(directory, 'secret');
    await writeFile(outside, 'secret');
    const digest = digestOf('secret');
    await mkdir(join(directory, 'blobs', 'sha256'), { recursive: true });
    await symlink(outside, provider.blobPath(digest));
    await expect(provider.get(digest)).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
    expect(await provider.has(digest)).toBe(false);
  });

  it('refuses a blobs directory that is a symlink', async () => {
    const directory = await tempDir();
    const elsewhere = join(directory, 'elsewhere');
    await mkdir(elsewhere);
    const root = join(directory, 'layout');
    await mkdir(root);
    await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [] }));
    await symlink(elsewhere, join(root, 'blobs'));
    const bytes = Buffer.from('x');
    await expect(
      layout
        .open(root)
        .put({ mediaType: 'application/octet-stream', digest: digestOf(bytes), size: 1 }, bytes),
    ).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
  });

  it('lists only files named by a valid digest', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    const bytes = Buffer.from('listed');
    await provider.put(
      { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length },
      bytes,
    );
    await writeFile(join(directory, 'blobs', 'sha256', 'junk'), 'x');
    await mkdir(join(directory, 'blobs', 'md5'));
    const listed: string[] = [];
    for await (const digest of provider.list()) listed.push(digest);
    expect(listed).toEqual([digestOf(bytes)]);
  });
});

describe('oci layout gc', () => {
  it('removes blobs unreachable from index.json and keeps shared and subject blobs', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    const kept = await randomImage(20, { platforms: ['linux/amd64', 'linux/arm/v7'] });
    const dropped = await randomImage(21, { layers: 2 });
    await writeImage(provider, kept, { tag: 'kept' });
    await writeImage(provider, dropped, { tag: 'dropped' });
    // a referrer whose subject is the dropped image keeps it alive while the referrer is named
    const emptyConfig = { mediaType: MediaType.ociEmpty, digest: digestOf('{}'), size: 2 };
    await provider.put(emptyConfig, Buffer.from('{}'));
    const referrer = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: 'application/vnd.example.note',
      config: emptyConfig,
      layers: [],
      subject: dropped.root,
    });
    await provider.put(referrer.descriptor, referrer.raw);
    await provider.tag('note', referrer.descriptor);
    await provider.untag('dropped');
    expect((await provider.gc()).removed).toEqual([]);

    await provider.untag('note');
    const orphan = Buffer.from('orphan');
    await provider.put(
      { mediaType: 'application/octet-stream', digest: digestOf(orphan), size: orphan.length },
      orphan,
    );
    const dry = await provider.gc({ dryRun: true });
    const result = await provider.gc();
    const expected = [...dropped.blobs.keys(), referrer.digest, emptyConfig.digest, digestOf(orphan)].sort();
    expect(dry.removed.sort()).toEqual(expected);
    expect(result.removed.sort()).toEqual(expected);
    expect(result.bytesFreed).toBeGreaterThan(0);
    for (const digest of kept.blobs.keys()) expect(await provider.has(digest)).toBe(true);
    for (const digest of dropped.blobs.keys()) expect(await provider.has(digest)).toBe(false);
    expect(await validateContent(provider)).toEqual([]);
  });

  it('removes stale temp files but not fresh ones', async () => {
    const directory = await tempDir();
    const provider = await layout.create(directory);
    const stale = join(directory, '.ocikit-tmp-blob-stale');
    await writeFile(stale, 'partial');
    const fresh = await provider.gc();
    expect(fresh.removedTemps).toEqual([]);
    const result = await provider.gc({ tempMaxAgeMs: 0 });
    expect(result.removedTemps).toEqual([stale]);
    await expect(readFile(stale)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
