import { execFile as execFileCallback } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, chown, link, mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { setAttribute } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOciImageError } from '../../src/errors.js';
import { applyLayer } from '../../src/layer/apply-layer.js';
import { createLayerFromDirectory } from '../../src/layer/from-directory.js';
import { createLayerFromOverlayUpper } from '../../src/layer/from-overlay-upper.js';
import { describeTree, listTar } from './create-layer.helpers.js';

const execFile = promisify(execFileCallback);
const isRoot = process.getuid?.() === 0;
if (!isRoot)
  console.log(
    'create-layer integration tests skipped: they need root (mknod, chown, trusted.* xattrs, mount)',
  );

const capability = Buffer.from('0100000201200000000000000000000000000000', 'hex'); // cap_net_raw+ep, binary

/** A tree with every kind of file a layer can hold. */
async function buildFullTree(root: string): Promise<void> {
  await mkdir(join(root, 'usr', 'bin'), { recursive: true });
  await mkdir(join(root, 'dev'));
  await mkdir(join(root, 'tmp'), { mode: 0o1777 });
  await chmod(join(root, 'tmp'), 0o1777);
  await writeFile(join(root, 'usr', 'bin', 'ping'), Buffer.alloc(70_000, 'p'));
  await setAttribute(join(root, 'usr', 'bin', 'ping'), 'security.capability', capability);
  await writeFile(join(root, 'usr', 'bin', 'su'), '#!/bin/sh\n');
  await chmod(join(root, 'usr', 'bin', 'su'), 0o4755);
  await link(join(root, 'usr', 'bin', 'su'), join(root, 'usr', 'bin', 'su-again'));
  await symlink('../usr/bin/su', join(root, 'dev', 'su-link'));
  await symlink('/does/not/exist', join(root, 'dangling'));
  await execFile('mknod', ['-m', '0666', join(root, 'dev', 'null'), 'c', '1', '3']);
  await execFile('mknod', ['-m', '0660', join(root, 'dev', 'sda1'), 'b', '8', '1']);
  await execFile('mkfifo', ['-m', '0640', join(root, 'dev', 'pipe')]);
  await mkdir(join(root, 'home', 'user'), { recursive: true });
  await writeFile(join(root, 'home', 'user', 'notes'), 'owned by 1000\n');
  await chown(join(root, 'home', 'user'), 1000, 1001);
  await chown(join(root, 'home', 'user', 'notes'), 1000, 1001);
  await setAttribute(join(root, 'home'), 'user.comment', 'a home');
  await setAttribute(join(root, 'home'), 'trusted.marker', Buffer.from([0, 255, 1]));
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'ünïcode näme'), 'u');
}

async function writeLayerFile(layer: { stream: NodeJS.ReadableStream }, file: string): Promise<void> {
  await pipeline(layer.stream, createWriteStream(file));
}

describe.skipIf(!isRoot)('createLayerFromDirectory (root)', () => {
  let work: string;
  let tree: string;
  let layerFile: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ocikit-create-layer-'));
    tree = join(work, 'tree');
    await mkdir(tree);
    await buildFullTree(tree);
    layerFile = join(work, 'layer.tar');
    const layer = createLayerFromDirectory(tree, { compression: 'none' });
    await writeLayerFile(layer, layerFile);
    await layer.done;
  });
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('writes devices, fifos, owners, setuid, hardlinks and xattrs into the headers', async () => {
    const { createReadStream } = await import('node:fs');
    const entries = new Map((await listTar(createReadStream(layerFile))).map((entry) => [entry.name, entry]));
    expect(entries.get('dev/null')).toMatchObject({
      type: 'character-device',
      devmajor: 1,
      devminor: 3,
      mode: 0o666,
    });
    expect(entries.get('dev/sda1')).toMatchObject({
      type: 'block-device',
      devmajor: 8,
      devminor: 1,
      mode: 0o660,
    });
    expect(entries.get('dev/pipe')).toMatchObject({ type: 'fifo', mode: 0o640 });
    expect(entries.get('tmp/')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(entries.get('usr/bin/su')).toMatchObject({ type: 'file', mode: 0o4755 });
    expect(entries.get('usr/bin/su-again')).toMatchObject({ type: 'link', linkname: 'usr/bin/su' });
    expect(entries.get('home/user/notes')).toMatchObject({ uid: 1000, gid: 1001 });
    expect(entries.get('dangling')).toMatchObject({ type: 'symlink', linkname: '/does/not/exist' });
    expect(entries.get('home/')?.pax).toMatchObject({ 'SCHILY.xattr.user.comment': 'a home' });
    expect(Object.keys(entries.get('usr/bin/ping')?.pax ?? {})).toContain('SCHILY.xattr.security.capability');
    expect(entries.has('ünïcode näme')).toBe(true);
    expect([...entries.keys()].some((name) => name.startsWith('/') || name.startsWith('./'))).toBe(false);
  });

  it('is listed by GNU tar and extracted by it into an identical tree (binary xattrs included)', async () => {
    const { stdout, stderr } = await execFile('tar', ['-tvf', layerFile, '--numeric-owner']);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^crw-rw-rw- 0\/0 +1,3 .* dev\/null$/m);
    expect(stdout).toMatch(/^brw-rw---- 0\/0 +8,1 .* dev\/sda1$/m);
    expect(stdout).toMatch(/^hrwsr-xr-x 0\/0 .* usr\/bin\/su-again link to usr\/bin\/su$/m);
    expect(stdout).toMatch(/^-rw-r--r-- 1000\/1001 .* home\/user\/notes$/m);
    const out = join(work, 'gnu-out');
    await mkdir(out);
    await execFile('tar', [
      '--xattrs',
      '--xattrs-include=*',
      '--numeric-owner',
      '-xpf',
      layerFile,
      '-C',
      out,
    ]);
    expect(await describeTree(out)).toEqual(await describeTree(tree));
  });

  it('round-trips through applyLayer into an identical tree', async () => {
    const { createReadStream } = await import('node:fs');
    const out = join(work, 'applied');
    await mkdir(out);
    const layer = createLayerFromDirectory(tree, { compression: 'zstd' });
    const applied = applyLayer(out, layer.stream, { compression: 'zstd' });
    const [made, result] = await Promise.all([layer.done, applied]);
    expect(result.diffId).toBe(made.diffId);
    expect(await describeTree(out)).toEqual(await describeTree(tree));
    // and the tar file made earlier without compression has the same diff ID
    const again = join(work, 'applied-again');
    await mkdir(again);
    expect((await applyLayer(again, createReadStream(layerFile), { compression: 'none' })).diffId).toBe(
      made.diffId,
    );
  });
});

describe.skipIf(!isRoot)('createLayerFromOverlayUpper (root)', () => {
  let work: string;
  const mounted: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ocikit-overlay-layer-'));
  });
  afterAll(async () => {
    for (const target of mounted.reverse()) await execFile('umount', [target]).catch(() => undefined);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  async function mountOverlay(name: string, extra: string[] = []) {
    const base = join(work, name);
    const dirs = {
      lower: join(base, 'lower'),
      upper: join(base, 'upper'),
      work: join(base, 'work'),
      merged: join(base, 'merged'),
    };
    for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
    const options = [
      `lowerdir=${dirs.lower}`,
      `upperdir=${dirs.upper}`,
      `workdir=${dirs.work}`,
      ...extra,
    ].join(',');
    return {
      ...dirs,
      mount: async () => {
        await execFile('mount', ['-t', 'overlay', 'overlay', '-o', options, dirs.merged]);
        mounted.push(dirs.merged);
      },
      unmount: async () => {
        await execFile('umount', [dirs.merged]);
        mounted.splice(mounted.indexOf(dirs.merged), 1);
      },
    };
  }

  it('turns overlay whiteouts and opaque dirs into OCI ones; lower + upper layers apply to the merged view', async () => {
    const overlay = await mountOverlay('basic');
    const { lower, merged, upper } = overlay;
    await mkdir(join(lower, 'opaque'), { recursive: true });
    await mkdir(join(lower, 'kept', 'sub'), { recursive: true });
    await writeFile(join(lower, 'deleted.txt'), 'gone');
    await writeFile(join(lower, 'kept.txt'), 'stays');
    await writeFile(join(lower, 'opaque', 'old-1'), '1');
    await writeFile(join(lower, 'opaque', 'old-2'), '2');
    await writeFile(join(lower, 'kept', 'sub', 'file'), 'deep');
    await mkdir(join(lower, 'whole-dir-deleted'));
    await writeFile(join(lower, 'whole-dir-deleted', 'x'), 'x');
    await overlay.mount();
    await unlink(join(merged, 'deleted.txt'));
    await rm(join(merged, 'whole-dir-deleted'), { recursive: true });
    await rm(join(merged, 'opaque'), { recursive: true });
    await mkdir(join(merged, 'opaque'));
    await writeFile(join(merged, 'opaque', 'new'), 'fresh');
    await writeFile(join(merged, 'added.txt'), 'added');
    await writeFile(join(merged, 'kept', 'sub', 'file'), 'changed');
    await chmod(join(merged, 'kept.txt'), 0o600);
    const mergedTree = await describeTree(merged);
    await overlay.unmount();

    const upperLayer = createLayerFromOverlayUpper(upper, { compression: 'none' });
    const entries = await listTar(upperLayer.stream);
    const names = entries.map((entry) => entry.name);
    expect(names).toEqual([
      '.wh.deleted.txt',
      '.wh.whole-dir-deleted',
      'added.txt',
      'kept/',
      'kept/sub/',
      'kept/sub/file',
      'kept.txt',
      'opaque/',
      'opaque/.wh..wh..opq',
      'opaque/new',
    ]);
    const byName = new Map(entries.map((entry) => [entry.name, entry]));
    expect(byName.get('.wh.deleted.txt')).toMatchObject({ type: 'file', size: 0, mode: 0 });
    expect(byName.get('opaque/.wh..wh..opq')).toMatchObject({ type: 'file', size: 0 });
    const paxKeys = entries.flatMap((entry) => Object.keys(entry.pax ?? {}));
    expect(paxKeys.filter((key) => key.includes('overlay'))).toEqual([]);

    const applied = join(work, 'basic', 'applied');
    await mkdir(applied);
    const lowerLayer = createLayerFromDirectory(lower, { compression: 'gzip' });
    await applyLayer(applied, lowerLayer.stream, { compression: 'gzip' });
    const upperAgain = createLayerFromOverlayUpper(upper, { compression: 'gzip' });
    await applyLayer(applied, upperAgain.stream, { compression: 'gzip' });
    expect(await describeTree(applied)).toEqual(mergedTree);
  });

  it('understands a hand-made upper dir: shared whiteout inodes, xwhiteouts, user.overlay xattrs', async () => {
    const upper = join(work, 'hand-made');
    await mkdir(join(upper, 'dir'), { recursive: true });
    await execFile('mknod', [join(upper, 'a'), 'c', '0', '0']);
    await link(join(upper, 'a'), join(upper, 'dir', 'b')); // overlayfs shares one whiteout inode via links
    await writeFile(join(upper, 'dir', 'x-whiteout'), '');
    await setAttribute(join(upper, 'dir', 'x-whiteout'), 'trusted.overlay.whiteout', 'y');
    await setAttribute(join(upper, 'dir'), 'trusted.overlay.opaque', 'x'); // "x": has xwhiteouts, not opaque
    await mkdir(join(upper, 'user-opaque'));
    await setAttribute(join(upper, 'user-opaque'), 'user.overlay.opaque', 'y');
    await setAttribute(join(upper, 'user-opaque'), 'user.kept', 'k');
    const entries = await listTar(createLayerFromOverlayUpper(upper, { compression: 'none' }).stream);
    expect(entries.map((entry) => [entry.name, entry.type])).toEqual([
      ['.wh.a', 'file'],
      ['dir/', 'directory'],
      ['dir/.wh.b', 'file'],
      ['dir/.wh.x-whiteout', 'file'],
      ['user-opaque/', 'directory'],
      ['user-opaque/.wh..wh..opq', 'file'],
    ]);
    expect(entries[4]?.pax).toEqual({ 'SCHILY.xattr.user.kept': 'k' });
    expect(entries[1]?.pax).toBeNull();
  });

  it('rejects an upper dir written with redirect_dir=on with LAYER_UNSUPPORTED_OVERLAY', async () => {
    const overlay = await mountOverlay('redirect', ['redirect_dir=on', 'index=off']);
    await mkdir(join(overlay.lower, 'old-name'));
    await writeFile(join(overlay.lower, 'old-name', 'f'), 'f');
    await overlay.mount();
    await rename(join(overlay.merged, 'old-name'), join(overlay.merged, 'new-name'));
    await overlay.unmount();
    const layer = createLayerFromOverlayUpper(overlay.upper, { compression: 'none' });
    layer.stream.resume();
    await expect(layer.done).rejects.toSatisfy(
      (error) => isOciImageError(error, 'LAYER_UNSUPPORTED_OVERLAY') && error.path === 'new-name',
    );
  });
});
