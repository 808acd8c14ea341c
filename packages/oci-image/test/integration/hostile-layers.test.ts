import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { isOciImageError, type OciImageErrorCode } from '../../src/errors.js';
import { type ApplyLayerOptions, applyLayer } from '../../src/layer/apply-layer.js';
import { type TarBuilder, tarBuilder } from '../../src/testing/tar-builder.js';

/*
 * Every case applies a hostile layer to <sentinel>/root. <sentinel> also holds a canary file and an
 * "outside" directory; the whole sentinel tree outside root is listed (type, mode, owner, size, times,
 * link count, content hash) before and after, and must not change. Host paths a case aims at are
 * checked by name, with a random suffix so that nothing real is hit.
 */

const isRoot = process.geteuid?.() === 0;
const tag = randomBytes(6).toString('hex');
let workspace: string;
let counter = 0;

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-hostile-'));
});

afterAll(() => {
  fs.rmSync(workspace, { recursive: true, force: true });
});

interface Sentinel {
  parent: string;
  root: string;
  outside: string;
  canary: string;
}

function sentinel(): Sentinel {
  counter += 1;
  const parent = path.join(workspace, `sentinel-${counter}`);
  const root = path.join(parent, 'root');
  const outside = path.join(parent, 'outside');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(path.join(outside, 'b'), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.join(outside, 'b'), 0o700);
  fs.writeFileSync(path.join(outside, 'secret'), 'secret');
  const canary = path.join(parent, 'canary.txt');
  fs.writeFileSync(canary, 'do not touch');
  return { parent, root, outside, canary };
}

function listing(directory: string, skip: string): string[] {
  const lines: string[] = [];
  const walk = (current: string): void => {
    for (const name of fs.readdirSync(current).sort()) {
      const full = path.join(current, name);
      if (full === skip) {
        continue;
      }
      const stats = fs.lstatSync(full);
      const content = stats.isFile()
        ? createHash('sha256').update(fs.readFileSync(full)).digest('hex')
        : stats.isSymbolicLink()
          ? fs.readlinkSync(full)
          : '';
      lines.push(
        [
          path.relative(directory, full),
          stats.mode,
          stats.uid,
          stats.gid,
          stats.size,
          stats.mtimeMs,
          stats.nlink,
          content,
        ].join(' '),
      );
      if (stats.isDirectory()) {
        walk(full);
      }
    }
  };
  const self = fs.lstatSync(directory);
  lines.push(['.', self.mode, self.uid, self.gid].join(' '));
  walk(directory);
  return lines;
}

function hostFacts(): string[] {
  const passwd = fs.lstatSync('/etc/passwd');
  return [`/etc/passwd ${passwd.nlink} ${passwd.mtimeMs} ${passwd.mode}`];
}

/**
 * Applies `blob` inside a fresh sentinel, checks the outcome (error code or success) and that nothing
 * outside the root changed. Returns the sentinel for further checks.
 */
async function attempt(
  blob: Buffer,
  outcome: OciImageErrorCode | 'ok',
  options: ApplyLayerOptions & { lower?: Buffer; place?: Sentinel } = {},
): Promise<Sentinel> {
  const place = options.place ?? sentinel();
  if (options.lower !== undefined) {
    await applyLayer(place.root, Readable.from([options.lower]));
  }
  const before = listing(place.parent, place.root);
  const host = hostFacts();
  const error = await applyLayer(place.root, Readable.from([blob]), options).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (outcome === 'ok') {
    expect(error).toBeUndefined();
  } else {
    expect(isOciImageError(error, outcome), `expected ${outcome}, got ${String(error)}`).toBe(true);
  }
  expect(listing(place.parent, place.root)).toEqual(before);
  expect(hostFacts()).toEqual(host);
  expect(fs.readFileSync(place.canary, 'utf8')).toBe('do not touch');
  expect(fs.lstatSync(place.root).isDirectory()).toBe(true);
  return place;
}

function layer(build: (builder: TarBuilder) => TarBuilder): Buffer {
  return build(tarBuilder()).toBuffer();
}

describe('hostile layers: names', () => {
  it('refuses ../escape with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.file('../escape', 'x')),
      'LAYER_PATH_ESCAPE',
    );
  });

  it('refuses a/../../escape and deeper climbs with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.file('a/../../escape', 'x')),
      'LAYER_PATH_ESCAPE',
    );
    await attempt(
      layer((t) => t.directory('a/b/../../../x/')),
      'LAYER_PATH_ESCAPE',
    );
  });

  it('puts an absolute name such as /etc/passwd-x inside the root', async () => {
    const name = `/etc/passwd-${tag}`;
    const place = await attempt(
      layer((t) => t.file(name, 'x')),
      'ok',
    );
    expect(fs.readFileSync(path.join(place.root, name), 'utf8')).toBe('x');
    expect(fs.existsSync(name)).toBe(false);
  });

  it('keeps a/../b inside the root', async () => {
    const place = await attempt(
      layer((t) => t.file('a/../b', 'fine')),
      'ok',
    );
    expect(fs.readFileSync(path.join(place.root, 'b'), 'utf8')).toBe('fine');
  });

  it('refuses to replace the root with a file (LAYER_INVALID_ENTRY)', async () => {
    await attempt(
      layer((t) => t.add({ name: './', typeflag: '0' })),
      'LAYER_INVALID_ENTRY',
    );
  });
});

describe('hostile layers: symlinks', () => {
  it('resolves evil -> / inside the root: evil/tmp/pwned lands in <root>/tmp', async () => {
    const name = `pwned-${tag}`;
    const place = await attempt(
      layer((t) => t.symlink('evil', '/').file(`evil/tmp/${name}`, 'x')),
      'ok',
    );
    expect(fs.readFileSync(path.join(place.root, 'tmp', name), 'utf8')).toBe('x');
    expect(fs.existsSync(path.join('/tmp', name))).toBe(false);
  });

  it('clamps evil -> ../../.. at the root', async () => {
    const place = await attempt(
      layer((t) => t.symlink('evil', '../../..').file('evil/escaped', 'x')),
      'ok',
    );
    expect(fs.readFileSync(path.join(place.root, 'escaped'), 'utf8')).toBe('x');
  });

  it('reads a relative link to the sentinel as a path inside the root', async () => {
    const place = await attempt(
      layer((t) => t.symlink('evil', '../outside').file('evil/secret', 'overwritten')),
      'ok',
    );
    expect(fs.readFileSync(path.join(place.root, 'outside/secret'), 'utf8')).toBe('overwritten');
  });

  it('reads an absolute link to a host directory as a path inside the root', async () => {
    const place = sentinel();
    const blob = layer((t) => t.symlink('evil', place.outside).file('evil/secret', 'overwritten'));
    const result = await attempt(blob, 'ok', { place });
    expect(fs.readFileSync(path.join(result.root, place.outside, 'secret'), 'utf8')).toBe('overwritten');
    expect(fs.readFileSync(path.join(place.outside, 'secret'), 'utf8')).toBe('secret');
  });

  it('replaces a symlink at the last component instead of writing through it', async () => {
    const place = sentinel();
    const blob = layer((t) =>
      t
        .symlink('trap', place.canary)
        .file('trap', 'pwned')
        .symlink('dirtrap', place.outside)
        .directory('dirtrap/', { mode: 0o777 })
        .symlink('fifotrap', place.canary)
        .symlink('linktrap', place.canary)
        .file('target', 't')
        .hardlink('linktrap', 'target'),
    );
    const result = await attempt(blob, 'ok', { place });
    expect(fs.readFileSync(path.join(result.root, 'trap'), 'utf8')).toBe('pwned');
    expect(fs.lstatSync(path.join(result.root, 'dirtrap')).isDirectory()).toBe(true);
    expect(fs.lstatSync(path.join(result.root, 'linktrap')).ino).toBe(
      fs.lstatSync(path.join(result.root, 'target')).ino,
    );
    expect(fs.readFileSync(place.canary, 'utf8')).toBe('do not touch');
    expect(fs.lstatSync(place.outside).mode & 0o777).not.toBe(0o777);
  });

  it('never sets deferred directory metadata through a parent later replaced by a symlink', async () => {
    const place = sentinel();
    const blob = layer((t) =>
      t.directory('a/').directory('a/b/', { mode: 0o777, mtime: 1_000_000_000 }).symlink('a', place.outside),
    );
    const result = await attempt(blob, 'ok', { place });
    expect(fs.readlinkSync(path.join(result.root, 'a'))).toBe(place.outside);
    expect(fs.lstatSync(path.join(place.outside, 'b')).mode & 0o777).toBe(0o700);
  });

  it('fails a symlink loop with LAYER_INVALID_ENTRY', async () => {
    await attempt(
      layer((t) => t.symlink('a', 'b').symlink('b', 'a').file('a/x', 'x')),
      'LAYER_INVALID_ENTRY',
    );
  });
});

describe('hostile layers: hardlinks', () => {
  it('treats a hardlink to /etc/passwd as <root>/etc/passwd (missing: LAYER_INVALID_ENTRY)', async () => {
    await attempt(
      layer((t) => t.hardlink('stolen', '/etc/passwd')),
      'LAYER_INVALID_ENTRY',
    );
  });

  it('links the root copy when <root>/etc/passwd exists', async () => {
    const place = await attempt(
      layer((t) => t.file('etc/passwd', 'in-root').hardlink('copy', '/etc/passwd')),
      'ok',
    );
    expect(fs.lstatSync(path.join(place.root, 'copy')).ino).toBe(
      fs.lstatSync(path.join(place.root, 'etc/passwd')).ino,
    );
  });

  it('refuses a hardlink to ../../outside with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.hardlink('stolen', '../../outside/secret')),
      'LAYER_PATH_ESCAPE',
    );
  });

  it('resolves a hardlink target through evil -> / inside the root', async () => {
    await attempt(
      layer((t) => t.symlink('evil', '/').hardlink('stolen', 'evil/etc/passwd')),
      'LAYER_INVALID_ENTRY',
    );
  });

  it('links a symlink itself, never the host file it names', async () => {
    const place = sentinel();
    const result = await attempt(
      layer((t) => t.symlink('s', place.canary).hardlink('h', 's')),
      'ok',
      { place },
    );
    expect(fs.lstatSync(path.join(result.root, 'h')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(place.canary).nlink).toBe(1);
  });
});

describe('hostile layers: whiteouts', () => {
  const lower = layer((t) =>
    t.file('canary.txt', 'root copy').file('keep', 'k').directory('d/').file('d/x', 'x'),
  );

  it('refuses .wh... (a whiteout of the parent) with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.file('.wh...')),
      'LAYER_PATH_ESCAPE',
      { lower },
    );
    await attempt(
      layer((t) => t.file('d/.wh...')),
      'LAYER_PATH_ESCAPE',
      { lower },
    );
  });

  it('refuses ../.wh.x with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.file('../.wh.canary.txt')),
      'LAYER_PATH_ESCAPE',
      { lower },
    );
  });

  it('refuses the empty whiteout .wh. (the directory itself, here the root) with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.file('.wh.')),
      'LAYER_PATH_ESCAPE',
      { lower },
    );
  });

  it('reads .wh.<root name> as a name inside the root: the root stays', async () => {
    const place = await attempt(
      layer((t) => t.file('.wh.root')),
      'ok',
      { lower },
    );
    expect(fs.readdirSync(place.root).sort()).toEqual(['canary.txt', 'd', 'keep']);
  });

  it('resolves whiteouts and opaque markers behind symlinks inside the root', async () => {
    const place = sentinel();
    const blob = layer((t) =>
      t
        .symlink('up', '..')
        .file('up/.wh.canary.txt')
        .symlink('host', place.parent)
        .file('host/.wh.canary.txt')
        .file('host/outside/.wh.secret'),
    );
    const result = await attempt(blob, 'ok', { lower, place });
    // up -> .. is clamped to the root, so the root's canary.txt went, the sentinel's stayed.
    expect(fs.readdirSync(result.root).sort()).toEqual(['d', 'host', 'keep', 'up']);
    const opaque = await attempt(
      layer((t) => t.symlink('up', '../..').opaque('up')),
      'ok',
      { lower },
    );
    expect(fs.readdirSync(opaque.root)).toEqual(['up']);
  });
});

describe('hostile layers: streams', () => {
  it('fails a stream cut inside an entry with LAYER_TRUNCATED', async () => {
    const blob = layer((t) => t.file('a', 'x'.repeat(4096)).file('b', 'y'.repeat(4096)));
    await attempt(blob.subarray(0, 6000), 'LAYER_TRUNCATED');
    const gzip = zlib.gzipSync(blob);
    await attempt(gzip.subarray(0, gzip.length - 12), 'LAYER_TRUNCATED');
  });

  it('fails a header claiming 100 GiB with a small body with LAYER_TRUNCATED, writing only what came', async () => {
    const blob = tarBuilder()
      .add({ name: 'huge', content: 'small body', declaredSize: 100 * 1024 ** 3 })
      .toBuffer();
    const place = await attempt(blob, 'LAYER_TRUNCATED');
    const huge = path.join(place.root, 'huge');
    if (fs.existsSync(huge)) {
      expect(fs.lstatSync(huge).size).toBeLessThan(1024 * 1024);
    }
  });

  it('fails with DIGEST_MISMATCH when the blob is not the one expected', async () => {
    const blob = layer((t) => t.file('a', 'x'));
    await attempt(blob, 'DIGEST_MISMATCH', { expected: { digest: digestOf('another blob') } });
    await attempt(blob, 'SIZE_EXCEEDED', { expected: { digest: digestOf(blob), size: 100 } });
  });

  it('fails garbage with LAYER_INVALID_ENTRY', async () => {
    await attempt(randomBytes(4096), 'LAYER_INVALID_ENTRY');
  });
});

describe('hostile layers: devices', () => {
  it('refuses a device named ../null-escape with LAYER_PATH_ESCAPE', async () => {
    await attempt(
      layer((t) => t.device('../null-escape', 'character', 1, 3)),
      'LAYER_PATH_ESCAPE',
    );
  });

  it.skipIf(!isRoot)('puts a device behind evil -> / inside the root', async () => {
    const name = `escape-${tag}`;
    const place = await attempt(
      layer((t) => t.symlink('evil', '/').device(`evil/dev/${name}`, 'character', 1, 3)),
      'ok',
    );
    expect(fs.lstatSync(path.join(place.root, 'dev', name)).isCharacterDevice()).toBe(true);
    expect(fs.existsSync(path.join('/dev', name))).toBe(false);
  });

  it.skipIf(!isRoot)(
    'replaces a symlink to a host file with the device instead of following it',
    async () => {
      const place = sentinel();
      const result = await attempt(
        layer((t) => t.symlink('node', place.canary).fifo('node', { mode: 0o666 })),
        'ok',
        {
          place,
        },
      );
      expect(fs.lstatSync(path.join(result.root, 'node')).isFIFO()).toBe(true);
      expect(fs.lstatSync(place.canary).mode & 0o777).not.toBe(0o666);
    },
  );
});
