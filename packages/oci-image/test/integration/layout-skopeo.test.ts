import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  copy,
  digestOf,
  encodeImageConfig,
  encodeManifest,
  layout,
  MediaType,
  memory,
  parseIndex,
  readManifest,
} from '../../src/index.js';
import { buildTar, randomImage, validateContent, writeImage } from '../../src/testing/index.js';

const run = promisify(execFile);
const skopeo = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((path) => existsSync(path));
const umoci = ['/usr/bin/umoci', '/usr/local/bin/umoci'].find((path) => existsSync(path));
if (skopeo === undefined) process.stdout.write('layout-skopeo: skopeo is not installed, skipping\n');

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'ocikit-skopeo-'));
  directories.push(directory);
  return directory;
}

/** A one-layer image built by hand: a tar made in memory, gzip, a config and a manifest. */
async function handMadeImage() {
  const tar = await buildTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hello.txt', content: 'hello from ocikit\n' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  ]);
  const blob = gzipSync(tar);
  const layer = { mediaType: MediaType.ociLayerGzip, digest: digestOf(blob), size: blob.byteLength };
  const config = encodeImageConfig({
    created: '2025-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], Labels: { 'org.example': 'ocikit' } },
    rootfs: { type: 'layers', diff_ids: [digestOf(tar)] },
    history: [{ created: '2025-01-01T00:00:00Z', created_by: 'ocikit test' }],
  });
  const manifest = encodeManifest({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.descriptor,
    layers: [layer],
    annotations: { 'org.opencontainers.image.title': 'hand made' },
  });
  return { tar, blob, layer, config, manifest };
}

describe.skipIf(skopeo === undefined)('oci layout interoperability with skopeo', () => {
  it('skopeo reads the layout we write: raw manifest bytes and digest are ours', async () => {
    const directory = join(await tempDir(), 'ours');
    const provider = await layout.create(directory);
    const image = await handMadeImage();
    await provider.put(image.layer, image.blob);
    await provider.put(image.config.descriptor, image.config.raw);
    await provider.put(image.manifest.descriptor, image.manifest.raw);
    await provider.tag('v1', image.manifest.descriptor);

    const raw = await run(skopeo as string, ['inspect', '--raw', `oci:${directory}:v1`], {
      encoding: 'buffer',
    });
    expect(Buffer.compare(raw.stdout, Buffer.from(image.manifest.raw))).toBe(0);
    expect(digestOf(raw.stdout)).toBe(image.manifest.digest);

    const inspected = JSON.parse(
      (await run(skopeo as string, ['inspect', `oci:${directory}:v1`])).stdout,
    ) as {
      Digest: string;
      Layers: string[];
      Architecture: string;
      Os: string;
      Env: string[];
      Labels: Record<string, string>;
    };
    expect(inspected.Digest).toBe(image.manifest.digest);
    expect(inspected.Layers).toEqual([image.layer.digest]);
    expect(inspected.Architecture).toBe('amd64');
    expect(inspected.Os).toBe('linux');
    expect(inspected.Env).toEqual(['PATH=/bin']);
    expect(inspected.Labels).toEqual({ 'org.example': 'ocikit' });

    const config = await run(skopeo as string, ['inspect', '--config', '--raw', `oci:${directory}:v1`], {
      encoding: 'buffer',
    });
    expect(digestOf(config.stdout)).toBe(image.config.digest);
  });

  it('we read what skopeo copies to another layout, digests identical', async () => {
    const base = await tempDir();
    const source = join(base, 'source');
    const provider = await layout.create(source);
    const image = await handMadeImage();
    await provider.put(image.layer, image.blob);
    await provider.put(image.config.descriptor, image.config.raw);
    await provider.put(image.manifest.descriptor, image.manifest.raw);
    await provider.tag('v1', image.manifest.descriptor);

    const target = join(base, 'target');
    await run(skopeo as string, [
      '--insecure-policy',
      'copy',
      '--quiet',
      `oci:${source}:v1`,
      `oci:${target}:copied`,
    ]);
    const copied = layout.open(target);
    const descriptor = await copied.resolve('copied');
    expect(descriptor.digest).toBe(image.manifest.digest);
    expect(descriptor.size).toBe(image.manifest.size);
    const manifest = await readManifest(copied, descriptor);
    expect(manifest.value.config.digest).toBe(image.config.digest);
    expect(manifest.value.layers[0]?.digest).toBe(image.layer.digest);
    expect(await validateContent(copied)).toEqual([]);

    // and our copy engine takes it on to memory and back to a fresh layout unchanged
    const held = memory.create();
    await copy(copied, held, 'copied');
    const again = await layout.create(join(base, 'again'));
    await copy(held, again, 'copied', { tag: 'again' });
    const raw = await run(skopeo as string, ['inspect', '--raw', `oci:${join(base, 'again')}:again`], {
      encoding: 'buffer',
    });
    expect(digestOf(raw.stdout)).toBe(image.manifest.digest);
  });

  it('skopeo copies a multi-platform index we wrote (--all) and we read it back', async () => {
    const base = await tempDir();
    const source = await layout.create(join(base, 'multi'));
    const image = await randomImage(77, { platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] });
    await writeImage(source, image, { tag: 'multi' });
    const raw = await run(skopeo as string, ['inspect', '--raw', `oci:${source.root}:multi`], {
      encoding: 'buffer',
    });
    expect(digestOf(raw.stdout)).toBe(image.root.digest);
    const target = join(base, 'copied');
    await run(skopeo as string, [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--all',
      `oci:${source.root}:multi`,
      `oci:${target}:all`,
    ]);
    const copied = layout.open(target);
    expect((await copied.resolve('all')).digest).toBe(image.root.digest);
    expect(await validateContent(copied)).toEqual([]);
    const index = parseIndex(await readFile(join(target, 'index.json')));
    expect(index.value.manifests).toHaveLength(1);
  });

  it.skipIf(umoci === undefined)('umoci lists the tags of a layout we wrote', async () => {
    const directory = join(await tempDir(), 'umoci');
    const provider = await layout.create(directory);
    await writeImage(provider, await randomImage(78, { layers: 1 }), { tag: 'first' });
    await writeImage(provider, await randomImage(79, { layers: 1 }), { tag: 'second' });
    const listed = (await run(umoci as string, ['ls', '--layout', directory])).stdout
      .split('\n')
      .filter(Boolean);
    expect(listed.sort()).toEqual(['first', 'second']);
  });
});
