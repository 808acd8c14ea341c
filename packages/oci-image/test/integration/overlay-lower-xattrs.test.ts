import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { listAttributesSync } from '@napi-rs/xattr';
import { afterAll, describe, expect, it } from 'vitest';
import { applyLayerAsOverlayLower } from '../../src/index.js';
import { tarBuilder } from '../../src/testing/index.js';

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

// A hostile layer may carry overlayfs' own xattrs; in a lower dir they would redirect or hide other layers.
describe('unpacking a layer as an overlay lower dir', () => {
  it('drops overlay xattrs the layer carries and keeps the others', async () => {
    const target = await mkdtemp(join(tmpdir(), 'ocikit-lower-'));
    directories.push(target);
    const tar = tarBuilder()
      .directory('dir', {
        xattrs: {
          'trusted.overlay.redirect': '/elsewhere',
          'trusted.overlay.opaque': 'y',
          'user.overlay.metacopy': '',
          'user.kept': 'yes',
        },
      })
      .file('dir/file', 'data', { xattrs: { 'trusted.overlay.metacopy': '', 'trusted.kept': 'yes' } })
      .toBuffer();
    await applyLayerAsOverlayLower(target, Readable.from([tar]), { compression: 'none' });
    expect(listAttributesSync(join(target, 'dir')).sort()).toEqual(['user.kept']);
    expect(listAttributesSync(join(target, 'dir/file')).sort()).toEqual(['trusted.kept']);
  });

  it('still marks a directory opaque for an OCI opaque whiteout', async () => {
    const target = await mkdtemp(join(tmpdir(), 'ocikit-lower-'));
    directories.push(target);
    const tar = tarBuilder().directory('dir').file('dir/.wh..wh..opq').file('dir/new', 'x').toBuffer();
    await applyLayerAsOverlayLower(target, Readable.from([tar]), { compression: 'none' });
    expect(listAttributesSync(join(target, 'dir'))).toEqual(['trusted.overlay.opaque']);
  });
});
