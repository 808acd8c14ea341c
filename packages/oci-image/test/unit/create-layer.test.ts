import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, mkdir, mkdtemp, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { setAttribute } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompress as zstdDecompress } from 'zstd-napi';
import { isOciImageError } from '../../src/errors.js';
import { createLayerFromDirectory } from '../../src/layer/from-directory.js';
import { encodeTarHeader, TAR_END, tarPadding } from '../../src/layer/tar-writer.js';
import { listTar } from '../integration/create-layer.helpers.js';

/** Splits the raw PAX records of the first (extended) header block of `archive`. */
function rawPaxRecords(archive: Buffer): Map<string, Buffer> {
  expect(String.fromCharCode(archive[156]!)).toBe('x');
  const size = Number.parseInt(archive.subarray(124, 136).toString('ascii').replace(/\0.*$/, ''), 8);
  let body = archive.subarray(512, 512 + size);
  const records = new Map<string, Buffer>();
  while (body.length > 0) {
    const space = body.indexOf(0x20);
    const length = Number(body.subarray(0, space).toString('ascii'));
    const record = body.subarray(space + 1, length);
    expect(record[record.length - 1]).toBe(0x0a); // the stated length lands exactly on the newline
    const equals = record.indexOf(0x3d);
    records.set(record.subarray(0, equals).toString(), record.subarray(equals + 1, record.length - 1));
    body = body.subarray(length);
  }
  return records;
}

function archiveOf(...headers: Buffer[]): Buffer {
  return Buffer.concat([...headers, TAR_END]);
}

describe('tar header encoding', () => {
  it('writes a ustar header tar-stream reads back, setuid bit and all', async () => {
    const header = encodeTarHeader({
      path: 'usr/bin/su',
      type: 'file',
      mode: 0o4755,
      uid: 0,
      gid: 42,
      size: 3,
      mtime: 1_700_000_000,
    });
    expect(header.length).toBe(512);
    const [entry] = await listTar(archiveOf(header, Buffer.from('abc'), tarPadding(3)));
    expect(entry).toMatchObject({
      name: 'usr/bin/su',
      type: 'file',
      mode: 0o4755,
      gid: 42,
      size: 3,
      mtime: 1_700_000_000,
      pax: null,
    });
    expect(entry!.content.toString()).toBe('abc');
  });

  it('gives directories a trailing slash and splits 100-255 byte names into prefix and name', async () => {
    const long = `${'d'.repeat(120)}/${'e'.repeat(90)}`;
    const entries = await listTar(
      archiveOf(
        encodeTarHeader({ path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 }),
        encodeTarHeader({ path: long, type: 'directory', mode: 0o700, uid: 0, gid: 0, size: 0, mtime: 0 }),
      ),
    );
    expect(entries.map((entry) => [entry.name, entry.type, entry.pax])).toEqual([
      ['etc/', 'directory', null],
      [`${long}/`, 'directory', null],
    ]);
  });

  it('moves long or non-ASCII names, long link targets and big ids into PAX records', async () => {
    const longName = `${'a'.repeat(200)}/${'b'.repeat(200)}`;
    const header = encodeTarHeader({
      path: longName,
      type: 'symlink',
      mode: 0o777,
      uid: 3_000_000,
      gid: 5,
      size: 0,
      mtime: 0,
      linkname: `/${'t'.repeat(150)}`,
    });
    const records = rawPaxRecords(header);
    expect(records.get('path')?.toString()).toBe(longName);
    expect(records.get('linkpath')?.toString()).toBe(`/${'t'.repeat(150)}`);
    expect(records.get('uid')?.toString()).toBe('3000000');
    expect(records.has('gid')).toBe(false);
    const [entry] = await listTar(archiveOf(header));
    expect(entry).toMatchObject({ name: longName, type: 'symlink', linkname: `/${'t'.repeat(150)}` });

    const [unicode] = await listTar(
      archiveOf(
        encodeTarHeader({ path: 'café/ü', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }),
      ),
    );
    expect(unicode!.name).toBe('café/ü');
  });

  it('writes xattrs as SCHILY.xattr records with their raw bytes, record lengths exact at every size', () => {
    // lengths around 100 make the decimal length of the record gain a digit
    for (let length = 80; length <= 110; length++) {
      const value = Buffer.alloc(length, 0xff);
      value[0] = 0;
      const header = encodeTarHeader({
        path: 'f',
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        xattrs: new Map([
          ['security.capability', value],
          ['user.a', Buffer.from('1')],
        ]),
      });
      const records = rawPaxRecords(header);
      expect([...records.keys()]).toEqual(['SCHILY.xattr.security.capability', 'SCHILY.xattr.user.a']);
      expect(records.get('SCHILY.xattr.security.capability')).toEqual(value);
    }
  });

  it('rejects values tar cannot hold with LAYER_INVALID_ENTRY', () => {
    expect(() =>
      encodeTarHeader({
        path: 'dev/huge',
        type: 'character-device',
        mode: 0o600,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        devmajor: 0o10000000,
        devminor: 0,
      }),
    ).toThrow(expect.objectContaining({ code: 'LAYER_INVALID_ENTRY', path: 'dev/huge' }));
  });
});

describe('createLayerFromDirectory (unprivileged features)', () => {
  let work: string;
  let tree: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ocikit-create-layer-unit-'));
    tree = join(work, 'tree');
    await mkdir(join(tree, 'a', 'c'), { recursive: true });
    await mkdir(join(tree, 'a-b'));
    await writeFile(join(tree, 'a', 'c', 'file'), 'content\n');
    await writeFile(join(tree, 'a', 'big'), Buffer.alloc(300_000, 7));
    await link(join(tree, 'a', 'c', 'file'), join(tree, 'z-hardlink'));
    await symlink('a/c/file', join(tree, 'link'));
    await chmod(join(tree, 'a', 'c', 'file'), 0o2751);
    execFileSync('mkfifo', [join(tree, 'pipe')]);
    await setAttribute(join(tree, 'a'), 'user.note', Buffer.from([0, 1, 2, 255]));
    for (const path of ['a/c/file', 'a/c', 'a/big', 'a', 'a-b', 'pipe', '.']) {
      await utimes(join(tree, path), 2_000_000_000, 2_000_000_000);
    }
  });
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('lists every entry in walk order, parents first, with their metadata', async () => {
    const layer = createLayerFromDirectory(tree, { compression: 'none' });
    const bytes = await readAll(layer.stream);
    const info = await layer.done;
    const entries = await listTar(bytes);
    expect(entries.map((entry) => [entry.name, entry.type])).toEqual([
      ['a/', 'directory'],
      ['a/big', 'file'],
      ['a/c/', 'directory'],
      ['a/c/file', 'file'],
      ['a-b/', 'directory'],
      ['link', 'symlink'],
      ['pipe', 'fifo'],
      ['z-hardlink', 'link'],
    ]);
    const byName = new Map(entries.map((entry) => [entry.name, entry]));
    expect(byName.get('a/c/file')).toMatchObject({ mode: 0o2751, size: 8, mtime: 2_000_000_000 });
    expect(byName.get('a/c/file')!.content.toString()).toBe('content\n');
    expect(byName.get('a/big')!.content.equals(Buffer.alloc(300_000, 7))).toBe(true);
    expect(byName.get('link')!.linkname).toBe('a/c/file');
    expect(byName.get('z-hardlink')).toMatchObject({ linkname: 'a/c/file', size: 0 });
    expect(rawPaxRecords(bytes).get('SCHILY.xattr.user.note')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(info).toEqual({
      diffId: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      size: bytes.length,
      uncompressedSize: bytes.length,
      compression: 'none',
    });
    expect(bytes.length % 512).toBe(0);
  });

  it('is reproducible, and the mtime options override or clamp times', async () => {
    const first = createLayerFromDirectory(tree, { compression: 'none' });
    await readAll(first.stream);
    const second = createLayerFromDirectory(tree, { compression: 'none' });
    await readAll(second.stream);
    expect((await second.done).diffId).toBe((await first.done).diffId);

    const set = createLayerFromDirectory(tree, { compression: 'none', mtime: new Date(1_000_000_000) });
    expect(new Set((await listTar(set.stream)).map((entry) => entry.mtime))).toEqual(new Set([1_000_000]));

    await utimes(join(tree, 'a-b'), 100, 100);
    const clamped = createLayerFromDirectory(tree, {
      compression: 'none',
      clampMtime: new Date(1_500_000_000_000),
    });
    const times = new Map((await listTar(clamped.stream)).map((entry) => [entry.name, entry.mtime]));
    expect(times.get('a-b/')).toBe(100);
    expect(times.get('a/c/file')).toBe(1_500_000_000);
  });

  it.each(['gzip', 'zstd'] as const)(
    'compresses with %s: digest of the output, diff ID of the tar',
    async (compression) => {
      const layer = createLayerFromDirectory(tree, { compression });
      const bytes = await readAll(layer.stream);
      const info = await layer.done;
      const tarBytes = compression === 'gzip' ? gunzipSync(bytes) : zstdDecompress(bytes);
      expect(info.compression).toBe(compression);
      expect(info.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      expect(info.size).toBe(bytes.length);
      expect(info.diffId).toBe(`sha256:${createHash('sha256').update(tarBytes).digest('hex')}`);
      expect(info.uncompressedSize).toBe(tarBytes.length);
      expect(info.digest).not.toBe(info.diffId);
    },
  );

  it('gives the same compressed bytes on every run, so the blob digest is reproducible too', async () => {
    const digests = [];
    for (let run = 0; run < 2; run++) {
      const layer = createLayerFromDirectory(tree, { compression: 'gzip', mtime: new Date(0) });
      layer.stream.resume();
      digests.push((await layer.done).digest);
    }
    expect(digests[0]).toBe(digests[1]);
  });

  it('copies xattrs as the xattrs option says: all, none, or those a filter keeps', async () => {
    const xattrKeys = async (option: Parameters<typeof createLayerFromDirectory>[1]) => {
      const entries = await listTar(
        createLayerFromDirectory(tree, { compression: 'none', ...option }).stream,
      );
      return entries.flatMap((entry) =>
        Object.keys(entry.pax ?? {}).filter((key) => key.startsWith('SCHILY.')),
      );
    };
    expect(await xattrKeys({})).toEqual(['SCHILY.xattr.user.note']);
    expect(await xattrKeys({ xattrs: false })).toEqual([]);
    expect(await xattrKeys({ xattrs: (name, path) => name !== 'user.note' || path !== 'a' })).toEqual([]);
  });

  it('rejects a root that is not a directory with LAYER_INVALID_ENTRY', async () => {
    const layer = createLayerFromDirectory(join(tree, 'a', 'c', 'file'));
    layer.stream.resume();
    await expect(layer.done).rejects.toSatisfy((error) => isOciImageError(error, 'LAYER_INVALID_ENTRY'));
  });

  it('fails with LAYER_SOURCE_CHANGED when a file shrinks while the layer is made', async () => {
    const changing = join(work, 'changing');
    await mkdir(changing, { recursive: true });
    await writeFile(join(changing, 'a-first'), Buffer.alloc(2_000_000, 1));
    await writeFile(join(changing, 'b-second'), Buffer.alloc(1000, 2));
    const layer = createLayerFromDirectory(changing, { compression: 'none' });
    const iterator = layer.stream[Symbol.asyncIterator]();
    await iterator.next(); // now reading a-first; b-second was already stat'ed with 1000 bytes
    await truncate(join(changing, 'b-second'), 10);
    const drain = (async () => {
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) {
        // keep reading until the stream fails
      }
    })();
    await expect(drain).rejects.toBeDefined();
    await expect(layer.done).rejects.toSatisfy(
      (error) => isOciImageError(error, 'LAYER_SOURCE_CHANGED') && error.path === 'b-second',
    );
  });

  it('stops with ABORTED when the signal fires', async () => {
    const controller = new AbortController();
    const layer = createLayerFromDirectory(tree, { compression: 'none', signal: controller.signal });
    controller.abort();
    layer.stream.resume();
    await expect(layer.done).rejects.toSatisfy((error) => isOciImageError(error, 'ABORTED'));
  });

  it('reads from a stream consumer the same bytes as a buffer consumer', async () => {
    const layer = createLayerFromDirectory(tree, { compression: 'none' });
    const copy = await readAll(Readable.from(layer.stream));
    expect(`sha256:${createHash('sha256').update(copy).digest('hex')}`).toBe((await layer.done).diffId);
  });
});
