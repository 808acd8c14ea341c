import { execFile as execFileCallback } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { getAttribute } from '@napi-rs/xattr';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { isOciImageError } from '../../src/errors.js';
import type { Mount } from '../../src/snapshot/mount.js';
import { applyLayerAsOverlayLower } from '../../src/snapshot/overlay-lower.js';
import { OverlaySnapshotter, type UnpackLayer } from '../../src/snapshot/overlay-snapshotter.js';

const execFile = promisify(execFileCallback);
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('snapshot mount tests skipped: unpacking overlay lower dirs and mounting need root');

type EntrySpec = {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: string;
  linkname?: string;
};

/** Builds an uncompressed layer tar in memory with tar-stream. */
async function buildLayer(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const collected = readAll(pack);
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = {
      name: entry.name,
      type,
      mode: type === 'directory' ? 0o755 : 0o644,
      mtime: new Date(1_600_000_000_000),
      ...(entry.linkname === undefined ? {} : { linkname: entry.linkname }),
    };
    if (type === 'file') pack.entry(header, entry.content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  return collected;
}

function sha256(data: Buffer): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

async function listNames(directory: string): Promise<string[]> {
  return (await readdir(directory)).sort();
}

describe.skipIf(!isRoot)('overlay snapshotter with real mounts', () => {
  let work: string;
  let root: string;
  let layers: UnpackLayer[];
  let applyCalls = 0;
  const mounted: string[] = [];

  const countingApply = (
    target: string,
    source: Readable,
    options: Parameters<typeof applyLayerAsOverlayLower>[2],
  ) => {
    applyCalls += 1;
    return applyLayerAsOverlayLower(target, source, options);
  };

  async function mount(description: Mount, target: string): Promise<void> {
    await mkdir(target, { recursive: true });
    await execFile('mount', [
      '-t',
      description.type,
      description.source,
      '-o',
      description.options.join(','),
      target,
    ]);
    mounted.push(target);
  }

  async function unmount(target: string): Promise<void> {
    await execFile('umount', [target]);
    mounted.splice(mounted.indexOf(target), 1);
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ocikit-snapshot-mount-'));
    root = join(work, 'root');
    const layer1 = await buildLayer([
      { name: 'bin', type: 'directory' },
      { name: 'bin/tool', content: 'tool v1' },
      { name: 'etc', type: 'directory' },
      { name: 'etc/kept.conf', content: 'kept' },
      { name: 'etc/removed.conf', content: 'to be whited out' },
      { name: 'data', type: 'directory' },
      { name: 'data/old-1', content: 'old' },
      { name: 'data/sub', type: 'directory' },
      { name: 'data/sub/old-2', content: 'old' },
    ]);
    const layer2 = await buildLayer([
      { name: 'etc', type: 'directory' },
      { name: 'etc/.wh.removed.conf' },
      { name: 'etc/added.conf', content: 'from layer 2' },
      { name: 'data', type: 'directory' },
      { name: 'data/from-2', content: 'hidden by the opaque dir of layer 3' },
    ]);
    const layer3 = await buildLayer([
      { name: 'data', type: 'directory' },
      { name: 'data/.wh..wh..opq' },
      { name: 'data/new', content: 'only child' },
      { name: 'bin/tool', content: 'tool v3' },
      { name: 'bin/link', type: 'symlink', linkname: 'tool' },
    ]);
    const gzipped = gzipSync(layer2);
    layers = [
      { diffId: sha256(layer1), open: () => Readable.from([layer1]), compression: 'none' },
      // the blob is gzip, the diff ID is of the tar; the digest check uses the blob's digest
      {
        diffId: sha256(layer2),
        open: () => Readable.from([gzipped]),
        expected: { digest: sha256(gzipped), size: gzipped.length },
      },
      { diffId: sha256(layer3), open: () => Readable.from([layer3]), compression: 'auto' },
    ];
  });

  afterAll(async () => {
    for (const target of [...mounted].reverse()) await execFile('umount', [target]).catch(() => undefined);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('unpacks three layers once each, and the mounted overlay shows the merged image', async () => {
    const snapshotter = await OverlaySnapshotter.open(root);
    const top = await snapshotter.unpack(layers, { apply: countingApply });
    expect(applyCalls).toBe(3);
    expect(await snapshotter.unpack(layers, { apply: countingApply })).toBe(top);
    expect(applyCalls).toBe(3);

    const description = await snapshotter.prepare('container-1', top);
    expect(description.type).toBe('overlay');
    const lowers = description.options
      .find((option) => option.startsWith('lowerdir='))!
      .slice(9)
      .split(':');
    expect(lowers).toHaveLength(3);
    // top-most first: layer 3 holds the opaque marker as an xattr, layer 2 the whiteout as a 0:0 device
    expect((await getAttribute(join(lowers[0]!, 'data'), 'trusted.overlay.opaque'))?.toString()).toBe('y');
    const whiteout = await lstat(join(lowers[1]!, 'etc', 'removed.conf'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    expect(await listNames(lowers[2]!)).toEqual(['bin', 'data', 'etc']);

    const target = join(work, 'rootfs');
    await mount(description, target);
    try {
      expect(await listNames(join(target, 'etc'))).toEqual(['added.conf', 'kept.conf']);
      expect(await listNames(join(target, 'data'))).toEqual(['new']);
      expect(await listNames(join(target, 'bin'))).toEqual(['link', 'tool']);
      expect(await readFile(join(target, 'bin', 'link'), 'utf8')).toBe('tool v3');
      await writeFile(join(target, 'etc', 'written-by-container'), 'hello');
    } finally {
      await unmount(target);
    }
    const upper = description.options.find((option) => option.startsWith('upperdir='))!.slice(9);
    expect(await readFile(join(upper, 'etc', 'written-by-container'), 'utf8')).toBe('hello');
    expect((await snapshotter.usage('container-1')).inodes).toBeGreaterThanOrEqual(3);

    // a second container over the same chain reuses the unpacked layers
    const second = await snapshotter.prepare('container-2', top);
    expect(applyCalls).toBe(3);
    expect(second.options[0]).toBe(description.options[0]);
    await snapshotter.close();
  });

  it('after a restart, sees the same snapshots and mounts a read-only view', async () => {
    const snapshotter = await OverlaySnapshotter.open(root);
    expect(snapshotter.list().map((info) => [info.key, info.kind])).toEqual(
      expect.arrayContaining([
        ['container-1', 'active'],
        ['container-2', 'active'],
      ]),
    );
    const top = await snapshotter.unpack(layers, { apply: countingApply });
    expect(applyCalls).toBe(3);
    const description = await snapshotter.view('read-only', top);
    expect(description.options).toContain('ro');
    const target = join(work, 'view');
    await mount(description, target);
    try {
      expect(await listNames(join(target, 'etc'))).toEqual(['added.conf', 'kept.conf']);
      await expect(writeFile(join(target, 'nope'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    } finally {
      await unmount(target);
    }
    await snapshotter.close();
  });

  it('rejects a layer whose content does not match its diff ID, committing nothing', async () => {
    const snapshotter = await OverlaySnapshotter.open(root);
    const layer = await buildLayer([{ name: 'x', content: 'x' }]);
    const wrong = sha256(Buffer.from('not this layer'));
    await expect(
      snapshotter.unpack([{ diffId: wrong, open: () => Readable.from([layer]) }]),
    ).rejects.toSatisfy((error) => isOciImageError(error, 'DIGEST_MISMATCH'));
    expect(snapshotter.list().some((info) => info.key === wrong)).toBe(false);
    await expect(
      snapshotter.unpack([
        {
          diffId: sha256(layer),
          open: () => Readable.from([layer]),
          expected: { digest: sha256(Buffer.from('another blob')) },
        },
      ]),
    ).rejects.toSatisfy((error) => isOciImageError(error, 'DIGEST_MISMATCH'));
    expect(snapshotter.list().some((info) => info.key === sha256(layer))).toBe(false);
    expect((await readdir(join(root, 'snapshots'))).filter((name) => name.startsWith('tmp-'))).toEqual([]);
    await snapshotter.close();
  });
});
