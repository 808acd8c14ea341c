import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { digestOf } from '../../src/digest.js';
import { isOciImageError } from '../../src/errors.js';
import { type ApplyLayerOptions, applyLayer } from '../../src/layer/apply-layer.js';
import { tarBuilder } from '../../src/testing/tar-builder.js';

const isRoot = process.geteuid?.() === 0;
if (!isRoot) {
  console.log('apply-layer: not root; ownership, device and trusted.* xattr tests are skipped');
}

let workspace: string;
let counter = 0;

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-apply-layer-'));
});

afterAll(() => {
  fs.rmSync(workspace, { recursive: true, force: true });
});

function freshRoot(): string {
  counter += 1;
  const root = path.join(workspace, `root-${counter}`);
  fs.mkdirSync(root);
  return root;
}

function apply(root: string, blob: Buffer, options: ApplyLayerOptions = {}) {
  return applyLayer(root, Readable.from([blob]), options);
}

function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  );
}

// vfs_cap_data revision 2: magic 0x02000000 with the effective flag, then permitted/inheritable words
// (cap_net_raw = bit 13 permitted).
const capability = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x3d]);

describe('applyLayer: entry types and metadata', () => {
  it('writes files, directories and symlinks with mode, owner, times and xattrs', async () => {
    const root = freshRoot();
    const blob = tarBuilder()
      .directory('./', { mode: 0o755 })
      .directory('etc/', { mode: 0o750, uid: 10, gid: 20, mtime: 1_500_000_000 })
      .file('etc/hosts', '127.0.0.1 localhost\n', {
        mode: 0o640,
        uid: 1000,
        gid: 1001,
        mtime: 1_600_000_000.5,
      })
      .file('bin/su', 'ELF', { mode: 0o4755, uid: 0, gid: 0 })
      .file('bin/wall', 'ELF', { mode: 0o2755, uid: 0, gid: 5 })
      .directory('tmp/', { mode: 0o1777 })
      .file('bin/ping', 'ELF', {
        mode: 0o755,
        xattrs: {
          'user.origin': 'layer',
          'trusted.overlay.x': 'y',
          'trusted.binary': binary,
          'security.capability': capability,
        },
      })
      .symlink('bin/sh', 'busybox', { uid: 3, gid: 4, mtime: 1_400_000_000 })
      .symlink('etc/localtime', '/usr/share/zoneinfo/UTC')
      .toBuffer();
    const result = await apply(root, blob);
    expect(result).toEqual({
      digest: digestOf(blob),
      diffId: digestOf(blob),
      size: blob.length,
      uncompressedSize: blob.length,
    });

    const etc = fs.lstatSync(path.join(root, 'etc'));
    expect(etc.isDirectory()).toBe(true);
    expect(etc.mode & 0o7777).toBe(0o750);
    // Directory times are set after the children were written into it.
    expect(etc.mtimeMs).toBe(1_500_000_000_000);
    const hosts = fs.lstatSync(path.join(root, 'etc/hosts'));
    expect(fs.readFileSync(path.join(root, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    expect(hosts.mode & 0o7777).toBe(0o640);
    expect(hosts.mtimeMs).toBe(1_600_000_000_500);
    expect(fs.lstatSync(path.join(root, 'bin/su')).mode & 0o7777).toBe(0o4755);
    expect(fs.lstatSync(path.join(root, 'bin/wall')).mode & 0o7777).toBe(0o2755);
    expect(fs.lstatSync(path.join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.readlinkSync(path.join(root, 'bin/sh'))).toBe('busybox');
    expect(fs.lstatSync(path.join(root, 'bin/sh')).mtimeMs).toBe(1_400_000_000_000);
    expect(fs.readlinkSync(path.join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/UTC');
    expect(getAttributeSync(path.join(root, 'bin/ping'), 'user.origin')?.toString()).toBe('layer');
    if (isRoot) {
      expect([etc.uid, etc.gid]).toEqual([10, 20]);
      expect([hosts.uid, hosts.gid]).toEqual([1000, 1001]);
      expect(fs.lstatSync(path.join(root, 'bin/wall')).gid).toBe(5);
      const sh = fs.lstatSync(path.join(root, 'bin/sh'));
      expect([sh.uid, sh.gid]).toEqual([3, 4]);
      expect(getAttributeSync(path.join(root, 'bin/ping'), 'trusted.overlay.x')?.toString()).toBe('y');
      // Binary values survive byte for byte.
      expect(getAttributeSync(path.join(root, 'bin/ping'), 'security.capability')?.equals(capability)).toBe(
        true,
      );
      expect(getAttributeSync(path.join(root, 'bin/ping'), 'trusted.binary')?.equals(binary)).toBe(true);
    }
  });

  it('keeps uid and gid of the process when sameOwner is false', async () => {
    const root = freshRoot();
    await apply(root, tarBuilder().file('f', 'x', { uid: 4242, gid: 4343, mode: 0o4755 }).toBuffer(), {
      sameOwner: false,
    });
    const stats = fs.lstatSync(path.join(root, 'f'));
    expect([stats.uid, stats.gid]).toEqual([process.geteuid?.(), process.getegid?.()]);
    expect(stats.mode & 0o7777).toBe(0o4755);
  });

  it('puts user.* xattrs on files and directories, skips them on symlinks, and sets trusted.* on symlinks', async () => {
    const root = freshRoot();
    await apply(
      root,
      tarBuilder()
        .directory('d/', { xattrs: { 'user.dir': '1' } })
        .symlink('link', 'd', { xattrs: { 'user.never': 'x', ...(isRoot ? { 'trusted.link': 'ok' } : {}) } })
        .toBuffer(),
    );
    expect(getAttributeSync(path.join(root, 'd'), 'user.dir')?.toString()).toBe('1');
    const onLink = listAttributesSync(path.join(root, 'link'));
    expect(onLink).not.toContain('user.never');
    if (isRoot) {
      expect(onLink).toContain('trusted.link');
    }
  });

  it('fails with LAYER_APPLY_FAILED when an xattr cannot be set, unless told to ignore it', async () => {
    // The "bogus." namespace does not exist, so the kernel refuses it (EOPNOTSUPP).
    const blob = tarBuilder()
      .file('f', 'x', { xattrs: { 'bogus.name': 'v' } })
      .toBuffer();
    const error = await failure(apply(freshRoot(), blob));
    expect(isOciImageError(error, 'LAYER_APPLY_FAILED')).toBe(true);
    const root = freshRoot();
    await apply(root, blob, { ignoreXattrErrors: true });
    expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('x');
  });

  it.skipIf(!isRoot)('creates character and block devices and fifos', async () => {
    const root = freshRoot();
    await apply(
      root,
      tarBuilder()
        .device('dev/null', 'character', 1, 3, { mode: 0o666, mtime: 1_300_000_000 })
        .device('dev/loop9', 'block', 7, 9, { mode: 0o660, gid: 6 })
        .fifo('run/initctl', { mode: 0o600, uid: 2 })
        .toBuffer(),
    );
    const nullDevice = fs.lstatSync(path.join(root, 'dev/null'));
    expect(nullDevice.isCharacterDevice()).toBe(true);
    expect(nullDevice.rdev).toBe(fs.statSync('/dev/null').rdev);
    expect(nullDevice.mode & 0o7777).toBe(0o666);
    expect(nullDevice.mtimeMs).toBe(1_300_000_000_000);
    const loop = fs.lstatSync(path.join(root, 'dev/loop9'));
    expect(loop.isBlockDevice()).toBe(true);
    // Linux encodes dev_t as (major << 8) | minor for small numbers.
    expect(loop.rdev).toBe((7 << 8) | 9);
    expect(loop.gid).toBe(6);
    const fifo = fs.lstatSync(path.join(root, 'run/initctl'));
    expect(fifo.isFIFO()).toBe(true);
    expect(fifo.uid).toBe(2);
    expect(fifo.mode & 0o7777).toBe(0o600);
  });

  it('makes hardlinks share the inode, also through an absolute target and a parent symlink', async () => {
    const root = freshRoot();
    await apply(
      root,
      tarBuilder()
        .file('usr/bin/python3.11', 'interp', { mode: 0o755 })
        .hardlink('usr/bin/python3', 'usr/bin/python3.11')
        .hardlink('usr/bin/python', '/usr/bin/python3.11')
        .symlink('bin', 'usr/bin')
        .hardlink('usr/bin/py', 'bin/python3.11')
        .symlink('usr/bin/sym', 'python3.11')
        .hardlink('usr/bin/sym-link', 'usr/bin/sym')
        // A hardlink to itself leaves the file as it is.
        .hardlink('usr/bin/python3.11', './usr/bin/python3.11')
        .toBuffer(),
    );
    const original = fs.lstatSync(path.join(root, 'usr/bin/python3.11'));
    for (const name of ['python3', 'python', 'py']) {
      expect(fs.lstatSync(path.join(root, 'usr/bin', name)).ino).toBe(original.ino);
    }
    expect(original.nlink).toBe(4);
    // link(2) links a symlink itself, not what it points at.
    const symlinkCopy = fs.lstatSync(path.join(root, 'usr/bin/sym-link'));
    expect(symlinkCopy.isSymbolicLink()).toBe(true);
    expect(symlinkCopy.ino).toBe(fs.lstatSync(path.join(root, 'usr/bin/sym')).ino);
  });

  it('fails with LAYER_INVALID_ENTRY for a hardlink to a missing entry or a directory', async () => {
    const missing = await failure(apply(freshRoot(), tarBuilder().hardlink('a', 'nowhere').toBuffer()));
    expect(isOciImageError(missing, 'LAYER_INVALID_ENTRY')).toBe(true);
    const directory = await failure(
      apply(freshRoot(), tarBuilder().directory('d/').hardlink('a', 'd').toBuffer()),
    );
    expect(isOciImageError(directory, 'LAYER_INVALID_ENTRY')).toBe(true);
  });

  it('replaces entries of another type and keeps existing directories', async () => {
    const root = freshRoot();
    await apply(
      root,
      tarBuilder()
        .directory('was-dir/')
        .file('was-dir/child', 'c')
        .file('was-file', 'f')
        .symlink('was-link', 'elsewhere')
        .directory('kept/', { mode: 0o700 })
        .file('kept/old', 'o')
        .toBuffer(),
    );
    await apply(
      root,
      tarBuilder()
        .file('was-dir', 'now a file')
        .directory('was-file/')
        .file('was-link', 'now a file too')
        .directory('kept/', { mode: 0o711 })
        .file('kept/new', 'n')
        .toBuffer(),
    );
    expect(fs.readFileSync(path.join(root, 'was-dir'), 'utf8')).toBe('now a file');
    expect(fs.lstatSync(path.join(root, 'was-file')).isDirectory()).toBe(true);
    expect(fs.lstatSync(path.join(root, 'was-link')).isFile()).toBe(true);
    expect(fs.readdirSync(path.join(root, 'kept')).sort()).toEqual(['new', 'old']);
    expect(fs.lstatSync(path.join(root, 'kept')).mode & 0o7777).toBe(0o711);
  });

  it('creates missing parent directories and overwrites a file written twice in one layer', async () => {
    const root = freshRoot();
    await apply(root, tarBuilder().file('a/b/c/d', 'first').file('a/b/c/d', 'second').toBuffer());
    expect(fs.readFileSync(path.join(root, 'a/b/c/d'), 'utf8')).toBe('second');
    expect(fs.lstatSync(path.join(root, 'a/b')).isDirectory()).toBe(true);
  });

  it('writes large files through many chunks', async () => {
    const root = freshRoot();
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let index = 0; index < big.length; index += 4096) {
      big[index] = index % 251;
    }
    const blob = zlib.gzipSync(tarBuilder().file('big.bin', big).toBuffer(), { level: 1 });
    await apply(root, blob);
    expect(fs.readFileSync(path.join(root, 'big.bin')).equals(big)).toBe(true);
  });

  it('fails with LAYER_INVALID_ENTRY for an unknown entry type and for a parent that is a file', async () => {
    const sparse = await failure(
      apply(freshRoot(), tarBuilder().add({ name: 'f', typeflag: 'S' }).toBuffer()),
    );
    expect(isOciImageError(sparse, 'LAYER_INVALID_ENTRY')).toBe(true);
    const parent = await failure(apply(freshRoot(), tarBuilder().file('f', 'x').file('f/g', 'y').toBuffer()));
    expect(isOciImageError(parent, 'LAYER_INVALID_ENTRY')).toBe(true);
  });

  it('fails with LAYER_APPLY_FAILED when the root is not a directory', async () => {
    const file = path.join(workspace, 'not-a-dir');
    fs.writeFileSync(file, '');
    const source = Readable.from([tarBuilder().file('x', 'y').toBuffer()]);
    const error = await failure(applyLayer(file, source));
    expect(isOciImageError(error, 'LAYER_APPLY_FAILED')).toBe(true);
    // The caller's stream is released even though it was never read.
    expect(source.destroyed).toBe(true);
  });

  it('fails with ABORTED when aborted before or during the apply', async () => {
    const controller = new AbortController();
    controller.abort();
    const before = await failure(
      apply(freshRoot(), tarBuilder().file('x', 'y').toBuffer(), { signal: controller.signal }),
    );
    expect(isOciImageError(before, 'ABORTED')).toBe(true);
    const during = new AbortController();
    async function* slow(): AsyncIterable<Uint8Array> {
      const blob = tarBuilder().file('x', 'y').file('z', 'w').toBuffer();
      yield blob.subarray(0, 1024);
      during.abort();
      await new Promise((resolve) => setTimeout(resolve, 10));
      yield blob.subarray(1024);
    }
    const error = await failure(applyLayer(freshRoot(), slow(), { signal: during.signal }));
    expect(isOciImageError(error, 'ABORTED')).toBe(true);
  });
});

describe('applyLayer: whiteouts over a lower layer', () => {
  function lower(): Buffer {
    return tarBuilder()
      .directory('etc/')
      .file('etc/passwd', 'root:x:0:0')
      .file('etc/group', 'root:x:0:')
      .directory('var/cache/apt/', { mode: 0o755 })
      .file('var/cache/apt/pkgcache.bin', 'cache')
      .directory('var/cache/apt/archives/')
      .file('var/cache/apt/archives/a.deb', 'deb')
      .directory('opt/app/')
      .file('opt/app/old', 'old')
      .toBuffer();
  }

  it('deletes files and whole directories named by .wh. entries', async () => {
    const root = freshRoot();
    await apply(root, lower());
    await apply(
      root,
      tarBuilder().whiteout('etc/group').whiteout('var/cache/apt').whiteout('etc/never-there').toBuffer(),
    );
    expect(fs.readdirSync(path.join(root, 'etc'))).toEqual(['passwd']);
    expect(fs.readdirSync(path.join(root, 'var/cache'))).toEqual([]);
  });

  for (const order of ['marker first', 'marker last'] as const) {
    it(`makes a directory opaque keeping what the same layer adds (${order})`, async () => {
      const root = freshRoot();
      await apply(root, lower());
      const upper = tarBuilder();
      if (order === 'marker first') {
        upper.opaque('var/cache/apt');
      }
      upper
        .directory('var/cache/apt/', { mode: 0o700 })
        .file('var/cache/apt/fresh', 'new')
        .file('var/cache/apt/archives/b.deb', 'new deb');
      if (order === 'marker last') {
        upper.opaque('var/cache/apt');
      }
      await apply(root, upper.toBuffer());
      expect(fs.readdirSync(path.join(root, 'var/cache/apt')).sort()).toEqual(['archives', 'fresh']);
      // archives came from the lower layer: only what this layer put there survives.
      expect(fs.readdirSync(path.join(root, 'var/cache/apt/archives'))).toEqual(['b.deb']);
      expect(fs.lstatSync(path.join(root, 'var/cache/apt')).mode & 0o7777).toBe(0o700);
      // Untouched siblings stay.
      expect(fs.readFileSync(path.join(root, 'opt/app/old'), 'utf8')).toBe('old');
    });
  }

  it('never deletes what the same layer wrote (image-spec: whiteouts apply to lower layers)', async () => {
    const root = freshRoot();
    await apply(root, lower());
    await apply(
      root,
      tarBuilder().file('etc/group', 'replaced').whiteout('etc/group').whiteout('etc/passwd').toBuffer(),
    );
    expect(fs.readdirSync(path.join(root, 'etc'))).toEqual(['group']);
    expect(fs.readFileSync(path.join(root, 'etc/group'), 'utf8')).toBe('replaced');
  });

  it('skips aufs metadata entries and ignores whiteouts in missing directories', async () => {
    const root = freshRoot();
    await apply(root, lower());
    await apply(
      root,
      tarBuilder().file('.wh..wh.aufs', '').file('etc/.wh..wh.meta', '').whiteout('nope/x').toBuffer(),
    );
    expect(fs.readdirSync(root).sort()).toEqual(['etc', 'opt', 'var']);
    expect(fs.readdirSync(path.join(root, 'etc')).sort()).toEqual(['group', 'passwd']);
  });
});

describe('applyLayer: compression and digests', () => {
  const tar = tarBuilder().directory('d/').file('d/f', 'content '.repeat(1000)).toBuffer();
  const blobs = {
    none: tar,
    gzip: zlib.gzipSync(tar),
    zstd: Buffer.from(zstdCompress(tar)),
  } as const;

  for (const [compression, blob] of Object.entries(blobs) as Array<[keyof typeof blobs, Buffer]>) {
    it(`applies ${compression} explicitly and by detection, with digest and diffId`, async () => {
      for (const mode of [compression, 'auto'] as const) {
        const root = freshRoot();
        const result = await apply(root, blob, {
          compression: mode,
          expected: { digest: digestOf(blob), size: blob.length },
        });
        expect(result).toEqual({
          digest: digestOf(blob),
          diffId: digestOf(tar),
          size: blob.length,
          uncompressedSize: tar.length,
        });
        expect(fs.readFileSync(path.join(root, 'd/f'), 'utf8')).toBe('content '.repeat(1000));
      }
    });
  }

  it('applies archives made by GNU tar and the zstd tool from a file stream', async () => {
    const source = path.join(workspace, 'gnu-source');
    fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(source, 'sub/file'), 'from gnu tar');
    fs.symlinkSync('sub/file', path.join(source, 'link'));
    fs.linkSync(path.join(source, 'sub/file'), path.join(source, 'hard'));
    const archive = path.join(workspace, 'gnu.tar');
    execFileSync('tar', ['--format=pax', '-C', source, '-cf', archive, '.']);
    execFileSync('zstd', ['-q', '-f', archive, '-o', `${archive}.zst`]);
    const blob = fs.readFileSync(`${archive}.zst`);
    const root = freshRoot();
    const result = await applyLayer(root, fs.createReadStream(`${archive}.zst`, { highWaterMark: 1 << 20 }));
    expect(result.digest).toBe(digestOf(blob));
    expect(result.diffId).toBe(digestOf(fs.readFileSync(archive)));
    expect(fs.readFileSync(path.join(root, 'sub/file'), 'utf8')).toBe('from gnu tar');
    expect(fs.readlinkSync(path.join(root, 'link'))).toBe('sub/file');
    expect(fs.lstatSync(path.join(root, 'hard')).ino).toBe(fs.lstatSync(path.join(root, 'sub/file')).ino);
  });

  it('rejects with DIGEST_MISMATCH after reading the whole blob', async () => {
    const error = await failure(apply(freshRoot(), blobs.gzip, { expected: { digest: digestOf('other') } }));
    expect(isOciImageError(error, 'DIGEST_MISMATCH')).toBe(true);
  });

  it('rejects with LAYER_CORRUPT for undecodable gzip data', async () => {
    const broken = Buffer.from(blobs.gzip);
    broken.fill(0x55, 12, 60);
    const error = await failure(apply(freshRoot(), broken));
    expect(isOciImageError(error, 'LAYER_CORRUPT')).toBe(true);
  });
});

describe('applyLayer: same result as GNU tar', () => {
  /** One line per entry (without times) and the entries' mtimes in ms. */
  function describeTree(root: string): { lines: string[]; times: number[] } {
    const lines: string[] = [];
    const times: number[] = [];
    const inodes = new Map<number, string>();
    const walk = (relative: string): void => {
      const full = path.join(root, relative);
      const stats = fs.lstatSync(full);
      const attributes = stats.isSymbolicLink()
        ? []
        : listAttributesSync(full)
            .sort()
            .map((name) => `${name}=${getAttributeSync(full, name)?.toString('hex')}`);
      // Hardlinks: name the first path seen for an inode instead of comparing inode numbers.
      const first = inodes.get(stats.ino);
      if (first === undefined) {
        inodes.set(stats.ino, relative);
      }
      const content = stats.isFile()
        ? digestOf(fs.readFileSync(full))
        : stats.isSymbolicLink()
          ? fs.readlinkSync(full)
          : '';
      lines.push(
        [
          relative,
          stats.mode.toString(8),
          stats.uid,
          stats.gid,
          stats.rdev,
          first ?? '',
          content,
          ...attributes,
        ].join(' '),
      );
      times.push(stats.mtimeMs);
      if (stats.isDirectory()) {
        for (const name of fs.readdirSync(full).sort()) {
          walk(relative === '.' ? name : `${relative}/${name}`);
        }
      }
    };
    walk('.');
    return { lines, times };
  }

  it.skipIf(!isRoot)('matches tar -x for a varied tree and part of zoneinfo', async () => {
    const source = path.join(workspace, 'varied');
    fs.mkdirSync(path.join(source, 'usr/bin'), { recursive: true });
    fs.mkdirSync(path.join(source, 'srv/shared'), { recursive: true });
    fs.mkdirSync(path.join(source, 'dev'));
    fs.writeFileSync(path.join(source, 'usr/bin/tool'), 'binary');
    fs.chmodSync(path.join(source, 'usr/bin/tool'), 0o4755);
    fs.linkSync(path.join(source, 'usr/bin/tool'), path.join(source, 'usr/bin/tool-alias'));
    fs.symlinkSync('tool', path.join(source, 'usr/bin/tool-link'));
    fs.writeFileSync(path.join(source, 'srv/shared/data'), 'data'.repeat(5000));
    fs.chownSync(path.join(source, 'srv/shared/data'), 1234, 5678);
    fs.chmodSync(path.join(source, 'srv/shared'), 0o2775);
    fs.chownSync(path.join(source, 'srv/shared'), 0, 5678);
    fs.mkdirSync(path.join(source, 'tmp'));
    fs.chmodSync(path.join(source, 'tmp'), 0o1777);
    execFileSync('mknod', [path.join(source, 'dev/zero'), 'c', '1', '5']);
    execFileSync('mkfifo', [path.join(source, 'dev/pipe')]);
    setAttributeSync(path.join(source, 'srv/shared/data'), 'user.label', 'varied');
    setAttributeSync(path.join(source, 'usr/bin'), 'trusted.marker', Buffer.from([0xff, 0x00, 0xee]));
    for (const [name, time] of [
      ['usr/bin/tool', 1_111_111_111],
      ['usr/bin', 1_222_222_222],
      ['srv', 1_333_333_333],
    ] as const) {
      fs.utimesSync(path.join(source, name), time, time);
    }
    fs.cpSync('/usr/share/zoneinfo/Europe', path.join(source, 'zoneinfo/Europe'), {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: true,
    });
    const archive = path.join(workspace, 'varied.tar');
    execFileSync('tar', [
      '--format=pax',
      '--xattrs',
      '--xattrs-include=*',
      '-C',
      source,
      '-cf',
      archive,
      '.',
    ]);

    const byTar = freshRoot();
    execFileSync('tar', [
      '--xattrs',
      '--xattrs-include=*',
      '--same-owner',
      '-p',
      '--numeric-owner',
      '-C',
      byTar,
      '-xf',
      archive,
    ]);
    const byUs = freshRoot();
    const result = await applyLayer(byUs, fs.createReadStream(archive, { highWaterMark: 1 << 20 }));
    expect(result.diffId).toBe(digestOf(fs.readFileSync(archive)));
    const expected = describeTree(byTar);
    const actual = describeTree(byUs);
    expect(expected.lines.length).toBeGreaterThan(60);
    expect(actual.lines).toEqual(expected.lines);
    // Node passes times to utimes as a double, so they are exact to about a microsecond, not to the ns.
    const drift = actual.times.map((time, index) => Math.abs(time - (expected.times[index] ?? 0)));
    expect(Math.max(...drift)).toBeLessThan(0.01);
  });
});
