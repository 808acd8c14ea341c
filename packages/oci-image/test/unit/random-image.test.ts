import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/index.js';
import { randomImage, SeededRandom } from '../../src/testing/index.js';

describe('seeded random images', () => {
  it('gives the same bytes for the same seed and other bytes for another', async () => {
    const first = await randomImage(99, { platforms: ['linux/amd64', 'linux/arm64'] });
    const second = await randomImage(99, { platforms: ['linux/amd64', 'linux/arm64'] });
    const other = await randomImage(100, { platforms: ['linux/amd64', 'linux/arm64'] });
    expect(second.root).toEqual(first.root);
    expect([...second.blobs.keys()]).toEqual([...first.blobs.keys()]);
    expect(other.root.digest).not.toBe(first.root.digest);
    expect(new SeededRandom(1).next()).toBe(new SeededRandom(1).next());
  });

  it('makes real gzip tar layers whose diff ids are the tar digests', async () => {
    const image = await randomImage(5, { layers: 2, filesPerLayer: 4 });
    const layer = image.manifests[0]?.layers[0];
    if (layer === undefined) throw new Error('fixture');
    expect(digestOf(layer.blob)).toBe(layer.descriptor.digest);
    const names: string[] = [];
    const extract = tar.extract();
    const done = (async () => {
      for await (const entry of extract) {
        names.push(entry.header.name);
        entry.resume();
      }
    })();
    Readable.from([layer.blob]).pipe(createGunzip()).pipe(extract);
    await done;
    expect(names).toHaveLength(6);
    expect(image.manifests[0]?.config.value.rootfs.diff_ids[0]).toBe(digestOf(layer.tar));
  });
});
