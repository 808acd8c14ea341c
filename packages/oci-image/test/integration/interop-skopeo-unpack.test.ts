// Interop with skopeo 1.9.3: layouts skopeo writes (copies of umoci's and of ours, recompressed to zstd
// or gzip) are read by our layout provider and unpacked by applyLayer into the tree umoci unpacks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLayerFromDirectory,
  createLayerFromOverlayUpper,
  layout,
  MediaType,
  readManifest,
} from '../../src/index.js';
import { diffTreeSnapshots, snapshotTree, type TreeSnapshot } from '../../src/testing/tree-snapshot.js';
import { validateContent } from '../../src/testing/validate-content.js';
import {
  run,
  skopeoInspect,
  storeImage,
  storeLayer,
  toolAvailable,
  umociUnpack,
  unpackWithOcikit,
} from './interop-helpers.js';
import { buildBase, buildSecond, buildThird } from './interop-trees.js';

const isRoot = process.geteuid?.() === 0;
const haveUmoci = toolAvailable('umoci');
const haveSkopeo = toolAvailable('skopeo');
const cannot = !isRoot || !haveUmoci || !haveSkopeo;
if (cannot) {
  console.log(
    `interop-skopeo-unpack: skipped (needs root to restore owners and devices, and umoci + skopeo): root=${isRoot} umoci=${haveUmoci} skopeo=${haveSkopeo}`,
  );
}

let workspace: string;
let counter = 0;
function fresh(name: string): string {
  counter += 1;
  return path.join(workspace, `${name}-${counter}`);
}

function snapshot(root: string): Promise<TreeSnapshot> {
  return snapshotTree(root, { mtimes: true, xattrs: (name) => name.startsWith('user.') });
}

function skopeoCopy(from: string, to: string, ...flags: string[]): void {
  run('skopeo', ['copy', '--quiet', ...flags, `oci:${from}:t`, `oci:${to}:t`]);
}

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-interop-skopeo-'));
});

afterAll(() => {
  fs.rmSync(workspace, { recursive: true, force: true });
});

describe.skipIf(cannot)('skopeo copies of a umoci image', () => {
  let umociLayout: string;
  let expected: TreeSnapshot;

  beforeAll(async () => {
    umociLayout = fresh('umoci');
    run('umoci', ['init', '--layout', umociLayout]);
    run('umoci', ['new', '--image', `${umociLayout}:t`]);
    const rootfs = umociUnpack(umociLayout, 't', fresh('bundle'));
    buildBase(rootfs);
    run('umoci', ['repack', '--image', `${umociLayout}:t`, path.dirname(rootfs)]);
    const second = umociUnpack(umociLayout, 't', fresh('bundle'));
    fs.rmSync(path.join(second, 'gonedir'), { recursive: true });
    fs.rmSync(path.join(second, 'old/sub/y'));
    fs.writeFileSync(path.join(second, 'old/added'), 'added in the second layer\n');
    run('umoci', ['repack', '--image', `${umociLayout}:t`, path.dirname(second)]);
    expected = await snapshot(umociUnpack(umociLayout, 't', fresh('bundle')));
    expect(expected.has('gonedir')).toBe(false);
    expect(expected.has('old/added')).toBe(true);
  });

  it('skopeo copy (layers as they are): read and unpacked like umoci', async () => {
    const copied = fresh('skopeo-copy');
    skopeoCopy(umociLayout, copied);
    const provider = layout.open(copied);
    expect(await validateContent(provider, { checkDiffIds: true })).toEqual([]);
    const manifest = await readManifest(provider, await provider.resolve('t'));
    expect(manifest.value.layers.map((layer) => layer.mediaType)).toEqual([
      MediaType.ociLayerGzip,
      MediaType.ociLayerGzip,
    ]);
    const root = fresh('ours');
    await unpackWithOcikit(provider, 't', root);
    expect(diffTreeSnapshots(expected, await snapshot(root))).toEqual([]);
  });

  it('skopeo copy --dest-compress-format zstd: zstd layers unpacked like umoci unpacks the gzip ones', async () => {
    const copied = fresh('skopeo-zstd');
    skopeoCopy(umociLayout, copied, '--dest-compress-format', 'zstd');
    const provider = layout.open(copied);
    expect(await validateContent(provider)).toEqual([]);
    const manifest = await readManifest(provider, await provider.resolve('t'));
    expect(manifest.value.layers.map((layer) => layer.mediaType)).toEqual([
      MediaType.ociLayerZstd,
      MediaType.ociLayerZstd,
    ]);
    const root = fresh('ours');
    await unpackWithOcikit(provider, 't', root);
    expect(diffTreeSnapshots(expected, await snapshot(root))).toEqual([]);
  });
});

describe.skipIf(cannot)('skopeo copies of an image this package wrote', () => {
  let oursLayout: string;
  let expected: TreeSnapshot;

  beforeAll(async () => {
    const sources = [fresh('layer1'), fresh('layer2'), fresh('layer3')];
    buildBase(sources[0] as string);
    buildSecond(sources[1] as string);
    buildThird(sources[2] as string);
    oursLayout = fresh('ours-layout');
    const provider = await layout.create(oursLayout);
    const layers = [];
    for (const [index, source] of sources.entries()) {
      const created =
        index === 0
          ? createLayerFromDirectory(source, { compression: 'zstd' })
          : createLayerFromOverlayUpper(source, { compression: 'zstd' });
      layers.push(await storeLayer(provider, created));
    }
    await storeImage(provider, layers, 't');
    expected = await snapshot(umociUnpackViaGzip(oursLayout));
  });

  /** umoci cannot read zstd layers: let skopeo recompress to gzip, then umoci unpacks that. */
  function umociUnpackViaGzip(source: string): string {
    const gzip = fresh('gzip-for-umoci');
    skopeoCopy(source, gzip, '--dest-compress-format', 'gzip');
    return umociUnpack(gzip, 't', fresh('bundle'));
  }

  it('skopeo recompresses our zstd layers to gzip with the same diff IDs, and we unpack them like umoci', async () => {
    const gzip = fresh('skopeo-gzip');
    skopeoCopy(oursLayout, gzip, '--dest-compress-format', 'gzip');
    const provider = layout.open(gzip);
    const manifest = await readManifest(provider, await provider.resolve('t'));
    expect(manifest.value.layers.every((layer) => layer.mediaType === MediaType.ociLayerGzip)).toBe(true);
    const source = layout.open(oursLayout);
    const ourManifest = await readManifest(source, await source.resolve('t'));
    expect(manifest.value.layers.map((layer) => layer.digest)).not.toEqual(
      ourManifest.value.layers.map((layer) => layer.digest),
    );
    const root = fresh('ours');
    // unpackWithOcikit checks that the diff IDs applyLayer computes are the config's, which skopeo kept.
    await unpackWithOcikit(provider, 't', root);
    expect(diffTreeSnapshots(expected, await snapshot(root))).toEqual([]);
  });

  it('our zstd layout unpacks with applyLayer to the tree umoci makes of skopeo gzip copy', async () => {
    expect(expected.get('bin/su')?.mode).toBe(0o4755);
    expect(expected.has('gone.txt')).toBe(false);
    const inspected = skopeoInspect<{ Layers: string[] }>(oursLayout, 't');
    expect(inspected.Layers).toHaveLength(3);
    const root = fresh('ours');
    await unpackWithOcikit(layout.open(oursLayout), 't', root);
    expect(diffTreeSnapshots(expected, await snapshot(root))).toEqual([]);
  });
});
