import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainIds, layerChainId } from '../../src/chain-id.js';
import { type Digest, digestOf } from '../../src/digest.js';
import { isOciImageError } from '../../src/errors.js';
import { OverlaySnapshotter, overlaySnapshotter } from '../../src/snapshot/overlay-snapshotter.js';

// These tests use an `apply` that writes plain files, so they need neither root nor a mount.
const diffA = digestOf('layer a');
const diffB = digestOf('layer b');
const diffC = digestOf('layer c');

function writer(files: Record<string, string>, calls: { count: number }) {
  return async (target: string) => {
    calls.count += 1;
    for (const [name, content] of Object.entries(files)) await writeFile(join(target, name), content);
    return undefined;
  };
}

function code(expected: string) {
  return (error: unknown) => isOciImageError(error) && error.code === expected;
}

describe('chain IDs', () => {
  it('follow the image-spec: the base diff ID, then sha256 of "<parent> <diffID>"', () => {
    expect(layerChainId(undefined, diffA)).toBe(diffA);
    const second = digestOf(`${diffA} ${diffB}`);
    expect(layerChainId(diffA, diffB)).toBe(second);
    const third = layerChainId(second, diffC);
    expect(third).toBe(digestOf(`${second} ${diffC}`));
    expect(chainIds([diffA, diffB, diffC])).toEqual([diffA, second, third]);
  });
});

describe('OverlaySnapshotter bookkeeping', () => {
  let work: string;
  let root: string;
  let snapshotter: OverlaySnapshotter;
  const chainB = layerChainId(diffA, diffB);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ocikit-snapshot-'));
    root = join(work, 'root');
    snapshotter = await overlaySnapshotter.open(root);
  });
  afterAll(async () => {
    await snapshotter?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('unpacks each layer once, even when asked concurrently', async () => {
    const calls = { count: 0 };
    const first = await snapshotter.prepareLayer(undefined, diffA, writer({ a: 'A' }, calls));
    expect(first).toEqual({ chainId: diffA, unpacked: true });
    const results = await Promise.all([
      snapshotter.prepareLayer(diffA, diffB, writer({ b: 'B' }, calls)),
      snapshotter.prepareLayer(diffA, diffB, writer({ b: 'B' }, calls)),
      snapshotter.prepareLayer(diffA, diffB, writer({ b: 'B' }, calls)),
    ]);
    expect(results.map((result) => result.chainId)).toEqual([chainB, chainB, chainB]);
    expect(results.filter((result) => result.unpacked)).toHaveLength(1);
    expect(calls.count).toBe(2);
    expect(await snapshotter.prepareLayer(diffA, diffB, writer({ b: 'B' }, calls))).toEqual({
      chainId: chainB,
      unpacked: false,
    });
    expect(calls.count).toBe(2);
    expect(snapshotter.stat(chainB)).toMatchObject({ kind: 'committed', parent: diffA });
  });

  it('commits nothing when apply fails, aborts, or reports another diff ID', async () => {
    const before = await readdir(join(root, 'snapshots'));
    await expect(
      snapshotter.prepareLayer(chainB, diffC, async (target) => {
        await writeFile(join(target, 'half'), 'written');
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    await expect(
      snapshotter.prepareLayer(chainB, diffC, async () => ({ diffId: digestOf('something else') })),
    ).rejects.toSatisfy(code('DIGEST_MISMATCH'));
    const controller = new AbortController();
    await expect(
      snapshotter.prepareLayer(
        chainB,
        diffC,
        async () => {
          controller.abort();
          return undefined;
        },
        { signal: controller.signal },
      ),
    ).rejects.toSatisfy(code('ABORTED'));
    expect(() => snapshotter.stat(layerChainId(chainB, diffC))).toThrow(
      expect.objectContaining({ code: 'SNAPSHOT_NOT_FOUND' }),
    );
    expect(await readdir(join(root, 'snapshots'))).toEqual(before);
  });

  it('refuses a missing parent, a taken key and a parent that is not committed', async () => {
    await expect(
      snapshotter.prepareLayer(digestOf('nope') as Digest, diffC, writer({}, { count: 0 })),
    ).rejects.toSatisfy(code('SNAPSHOT_NOT_FOUND'));
    await expect(snapshotter.prepare('c1', digestOf('nope'))).rejects.toSatisfy(code('SNAPSHOT_NOT_FOUND'));
    await snapshotter.prepare('c1', chainB);
    await expect(snapshotter.prepare('c1', chainB)).rejects.toSatisfy(code('SNAPSHOT_EXISTS'));
    await expect(snapshotter.view('c1', chainB)).rejects.toSatisfy(code('SNAPSHOT_EXISTS'));
    await expect(snapshotter.prepare('c2', 'c1')).rejects.toSatisfy(code('SNAPSHOT_NOT_FOUND'));
  });

  it('describes mounts: overlay top-most first, read-only binds for one layer or none', async () => {
    const dirA = snapshotter.mounts(diffA).source;
    const c1 = snapshotter.mounts('c1');
    expect(c1.type).toBe('overlay');
    expect(c1.source).toBe('overlay');
    const lower = c1.options
      .find((option) => option.startsWith('lowerdir='))!
      .slice('lowerdir='.length)
      .split(':');
    expect(lower).toHaveLength(2);
    expect(lower[1]).toBe(dirA);
    expect(await readFile(join(lower[0]!, 'b'), 'utf8')).toBe('B');
    expect(await readFile(join(lower[1]!, 'a'), 'utf8')).toBe('A');
    const upper = c1.options.find((option) => option.startsWith('upperdir='))!.slice('upperdir='.length);
    const workdir = c1.options.find((option) => option.startsWith('workdir='))!.slice('workdir='.length);
    await access(upper);
    await access(workdir);

    expect(snapshotter.mounts(diffA)).toEqual({ type: 'bind', source: dirA, options: ['ro', 'rbind'] });
    expect(await snapshotter.view('view-a', diffA)).toEqual({
      type: 'bind',
      source: dirA,
      options: ['ro', 'rbind'],
    });
    const viewB = await snapshotter.view('view-b', chainB);
    expect(viewB).toEqual({
      type: 'overlay',
      source: 'overlay',
      options: ['ro', `lowerdir=${lower.join(':')}`],
    });
    const scratch = await snapshotter.prepare('scratch');
    expect(scratch.type).toBe('bind');
    expect(scratch.options).toEqual(['rw', 'rbind']);
    expect((await snapshotter.view('empty-view')).options).toEqual(['ro', 'rbind']);
  });

  it('measures usage, protects parents from removal, and removes snapshots with their files', async () => {
    const upper = snapshotter
      .mounts('c1')
      .options.find((option) => option.startsWith('upperdir='))!
      .slice(9);
    await writeFile(join(upper, 'written'), Buffer.alloc(10_000, 1));
    const usage = await snapshotter.usage('c1');
    expect(usage.inodes).toBe(2); // the upper dir and the file
    expect(usage.size).toBeGreaterThanOrEqual(10_000);
    expect((await snapshotter.usage(diffA)).inodes).toBe(2);

    await expect(snapshotter.remove(diffA)).rejects.toSatisfy(code('SNAPSHOT_IN_USE'));
    await expect(snapshotter.remove(chainB)).rejects.toSatisfy(code('SNAPSHOT_IN_USE'));
    await snapshotter.remove('c1');
    await expect(access(upper)).rejects.toThrow();
    expect(() => snapshotter.mounts('c1')).toThrow(expect.objectContaining({ code: 'SNAPSHOT_NOT_FOUND' }));
    await expect(snapshotter.remove('c1')).rejects.toSatisfy(code('SNAPSHOT_NOT_FOUND'));
  });

  it('commits an active snapshot under a new name usable as a parent', async () => {
    const mount = await snapshotter.prepare('building', chainB);
    const upper = mount.options.find((option) => option.startsWith('upperdir='))!.slice(9);
    await writeFile(join(upper, 'built'), 'x');
    const name = layerChainId(chainB, diffC);
    await snapshotter.commit(name, 'building');
    expect(snapshotter.stat(name)).toMatchObject({ kind: 'committed', parent: chainB });
    expect(() => snapshotter.stat('building')).toThrow(
      expect.objectContaining({ code: 'SNAPSHOT_NOT_FOUND' }),
    );
    const child = await snapshotter.prepare('on-top', name);
    const lower = child.options
      .find((option) => option.startsWith('lowerdir='))!
      .slice(9)
      .split(':');
    expect(lower).toHaveLength(3);
    expect(await readFile(join(lower[0]!, 'built'), 'utf8')).toBe('x');
    await expect(snapshotter.commit(name, 'on-top')).rejects.toSatisfy(code('SNAPSHOT_EXISTS'));
    await expect(snapshotter.commit('x', diffA)).rejects.toSatisfy(code('SNAPSHOT_NOT_FOUND'));
  });

  it('takes any non-empty string as a key, prototype names included', async () => {
    await snapshotter.prepare('constructor', diffA);
    await snapshotter.prepare('__proto__', diffA);
    expect(snapshotter.stat('__proto__')).toMatchObject({ key: '__proto__', kind: 'active', parent: diffA });
    expect(snapshotter.stat('constructor').kind).toBe('active');
    expect(() => snapshotter.stat('toString')).toThrow(
      expect.objectContaining({ code: 'SNAPSHOT_NOT_FOUND' }),
    );
    await expect(snapshotter.prepare('')).rejects.toSatisfy(code('SNAPSHOT_INVALID_KEY'));
    await expect(snapshotter.unpack([])).rejects.toSatisfy(code('INVALID_CONFIG'));
  });

  it('survives a restart: a new object over the same root sees the same snapshots and mounts', async () => {
    const before = snapshotter.list();
    const mountsBefore = before.map((info) => snapshotter.mounts(info.key));
    await snapshotter.close();
    // leftovers of an interrupted unpack are cleaned on open
    await mkdir(join(root, 'snapshots', 'tmp-interrupted', 'fs'), { recursive: true });
    await mkdir(join(root, 'snapshots', '999', 'fs'), { recursive: true });
    snapshotter = await OverlaySnapshotter.open(root);
    expect(snapshotter.list()).toEqual(before);
    expect(before.map((info) => info.key)).toEqual(
      expect.arrayContaining([diffA, chainB, 'on-top', 'scratch', 'view-a']),
    );
    expect(snapshotter.list().map((info) => snapshotter.mounts(info.key))).toEqual(mountsBefore);
    const dirs = await readdir(join(root, 'snapshots'));
    expect(dirs).not.toContain('tmp-interrupted');
    expect(dirs).not.toContain('999');
  });

  it('rejects corrupt metadata with SNAPSHOT_CORRUPT and unusable roots with SNAPSHOT_INVALID_ROOT', async () => {
    const broken = join(work, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'metadata.json'), '{"version": 7}');
    await expect(OverlaySnapshotter.open(broken)).rejects.toSatisfy(code('SNAPSHOT_CORRUPT'));
    await writeFile(join(broken, 'metadata.json'), 'not json');
    await expect(OverlaySnapshotter.open(broken)).rejects.toSatisfy(code('SNAPSHOT_CORRUPT'));
    await expect(OverlaySnapshotter.open(join(work, 'a:b'))).rejects.toSatisfy(code('SNAPSHOT_INVALID_ROOT'));
  });
});
