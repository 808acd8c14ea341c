import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  appendLayer,
  chainId,
  type Descriptor,
  digestOf,
  editImage,
  MediaType,
  memory,
  readImageConfig,
  readManifest,
  updateConfig,
} from '../../src/index.js';
import { buildTar, randomImage, validateContent, writeImage } from '../../src/testing/index.js';

const created = '2025-01-02T03:04:05Z';

async function newLayer(
  text: string,
): Promise<{ descriptor: Descriptor; diffId: Descriptor['digest']; blob: Uint8Array }> {
  const tar = await buildTar([{ name: 'added.txt', content: text }]);
  const blob = gzipSync(tar);
  return {
    descriptor: { mediaType: MediaType.ociLayerGzip, digest: digestOf(blob), size: blob.byteLength },
    diffId: digestOf(tar),
    blob,
  };
}

describe('image editing', () => {
  it('appends a layer: manifest layers, diff ids and history grow, digests are of the written bytes', async () => {
    const provider = memory.create();
    const image = await randomImage(40, { layers: 2 });
    await writeImage(provider, image, { tag: 'base' });
    const layer = await newLayer('hello');
    await provider.put(layer.descriptor, layer.blob);
    const result = await appendLayer(
      provider,
      'base',
      { descriptor: layer.descriptor, diffId: layer.diffId, history: { createdBy: 'COPY added.txt /' } },
      { created, tag: 'edited' },
    );
    expect(result.descriptor.digest).toBe(digestOf(result.manifest.raw));
    expect(result.manifest.value.config.digest).toBe(digestOf(result.config.raw));
    const manifest = await readManifest(provider, await provider.resolve('edited'));
    expect(manifest.value.layers.map((l) => l.digest)).toEqual([
      ...(image.manifests[0]?.layers.map((l) => l.descriptor.digest) ?? []),
      layer.descriptor.digest,
    ]);
    const config = await readImageConfig(provider, manifest.value.config);
    const baseDiffIds = image.manifests[0]?.config.value.rootfs.diff_ids ?? [];
    expect(config.value.rootfs.diff_ids).toEqual([...baseDiffIds, layer.diffId]);
    expect(config.value.history?.at(-1)).toEqual({ created, created_by: 'COPY added.txt /' });
    expect(config.value.history).toHaveLength(3);
    expect(config.value.created).toBe(created);
    expect(chainId(config.value.rootfs.diff_ids)).toMatch(/^sha256:/);
    // the base is untouched
    expect(await provider.resolve('base')).toEqual(image.root);
    expect(await validateContent(provider)).toEqual([]);
  });

  it('changes config fields and keeps the rest', async () => {
    const provider = memory.create();
    const image = await randomImage(41, { layers: 1 });
    await writeImage(provider, image, { tag: 'base' });
    const result = await updateConfig(
      provider,
      image.root,
      {
        user: '1000:1000',
        workingDir: '/srv',
        setEnv: { PATH: '/bin', APP: '1' },
        entrypoint: ['/bin/app'],
        cmd: null,
        labels: { a: 'b', gone: null },
        exposedPorts: ['8080/tcp'],
        volumes: ['/data'],
        stopSignal: 'SIGINT',
      },
      { created, history: { createdBy: 'ocikit config' }, annotations: { 'org.example': 'x' } },
    );
    const run = result.config.value.config;
    expect(run?.User).toBe('1000:1000');
    expect(run?.WorkingDir).toBe('/srv');
    expect(run?.Env).toEqual(['PATH=/bin', 'APP=1']);
    expect(run?.Entrypoint).toEqual(['/bin/app']);
    expect(run?.Cmd).toBeNull();
    expect(run?.Labels).toEqual({ a: 'b' });
    expect(run?.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(run?.Volumes).toEqual({ '/data': {} });
    expect(run?.StopSignal).toBe('SIGINT');
    expect(result.config.value.history?.at(-1)).toEqual({
      created,
      empty_layer: true,
      created_by: 'ocikit config',
    });
    expect(result.manifest.value.annotations).toEqual({ 'org.example': 'x' });
    expect(result.config.value.rootfs).toEqual(image.manifests[0]?.config.value.rootfs);
    expect(await provider.has(result.descriptor.digest)).toBe(true);
    expect(await provider.has(result.config.digest)).toBe(true);
  });

  it('keeps a Docker manifest Docker and unknown fields in place', async () => {
    const provider = memory.create();
    const image = await randomImage(42, { docker: true, layers: 1 });
    await writeImage(provider, image);
    const result = await editImage(provider, image.root, {
      created,
      config: { env: ['A=1'] },
      mutateConfig: (config) => ({ ...config, 'x-extra': { kept: true } }),
    });
    expect(result.descriptor.mediaType).toBe(MediaType.dockerManifest);
    expect(result.manifest.value.mediaType).toBe(MediaType.dockerManifest);
    expect(result.config.mediaType).toBe(MediaType.dockerConfig);
    expect(result.config.value['x-extra']).toEqual({ kept: true });
    const again = await updateConfig(provider, result.descriptor, { user: 'x' }, { created });
    expect(again.config.value['x-extra']).toEqual({ kept: true });
  });

  it('refuses a layer that is not in the provider, an index, and a bad config', async () => {
    const provider = memory.create();
    const image = await randomImage(43, { platforms: ['linux/amd64'] });
    await writeImage(provider, image);
    const layer = await newLayer('absent');
    const manifest = image.manifests[0]?.descriptor as Descriptor;
    await expect(
      appendLayer(provider, manifest, { descriptor: layer.descriptor, diffId: layer.diffId }),
    ).rejects.toMatchObject({
      code: 'BLOB_NOT_FOUND',
    });
    await expect(updateConfig(provider, image.root, { user: 'x' })).rejects.toMatchObject({
      code: 'INVALID_MANIFEST',
    });
    await expect(
      editImage(provider, manifest, {
        mutateConfig: (config) => ({ ...config, os: 7 as unknown as string }),
      }),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', path: 'os' });
  });
});
