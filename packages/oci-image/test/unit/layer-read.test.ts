import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { digestOf, parseDigest } from '../../src/digest.js';
import { isOciImageError } from '../../src/errors.js';
import { type LayerEntry, readLayer } from '../../src/layer/read-layer.js';
import { tarBuilder } from '../../src/testing/tar-builder.js';

const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x80]);

function sampleTar(): Buffer {
  return tarBuilder()
    .directory('etc/', { mode: 0o755, mtime: 1_600_000_000 })
    .file('etc/hosts', '127.0.0.1 localhost\n', { uid: 7, gid: 8, mode: 0o640 })
    .file('bin/ping', 'ELF', { xattrs: { 'security.capability': capability, 'user.note': 'text' } })
    .symlink('bin/sh', 'busybox')
    .hardlink('etc/hosts.bak', 'etc/hosts')
    .file(`deep/${'d'.repeat(120)}/file`, 'long name', { mtime: 1_650_000_000.25 })
    .toBuffer();
}

async function readAll(
  source: Readable | AsyncIterable<Uint8Array>,
  options: Parameters<typeof readLayer>[1] = {},
): Promise<{
  entries: Array<LayerEntry['header'] & { content: string }>;
  reader: ReturnType<typeof readLayer>;
}> {
  const reader = readLayer(source, options);
  const entries: Array<LayerEntry['header'] & { content: string }> = [];
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) {
      chunks.push(chunk);
    }
    entries.push({ ...entry.header, content: Buffer.concat(chunks).toString() });
  }
  return { entries, reader };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  );
}

describe('readLayer', () => {
  it('yields headers, contents and raw xattr bytes, and digests the plain tar', async () => {
    const tar = sampleTar();
    const { entries, reader } = await readAll(Readable.from([tar]));
    expect(entries.map((entry) => [entry.name, entry.type])).toEqual([
      ['etc/', 'directory'],
      ['etc/hosts', 'file'],
      ['bin/ping', 'file'],
      ['bin/sh', 'symlink'],
      ['etc/hosts.bak', 'link'],
      [`deep/${'d'.repeat(120)}/file`, 'file'],
    ]);
    const hosts = entries[1];
    expect(hosts).toMatchObject({ uid: 7, gid: 8, mode: 0o640, size: 20, content: '127.0.0.1 localhost\n' });
    expect(entries[0]?.mtime).toBe(1_600_000_000);
    expect(entries[5]?.mtime).toBeCloseTo(1_650_000_000.25, 5);
    expect(entries[2]?.xattrs.get('security.capability')?.equals(capability)).toBe(true);
    expect(entries[2]?.xattrs.get('user.note')?.toString()).toBe('text');
    expect(entries[3]?.linkname).toBe('busybox');
    expect(reader.result).toEqual({
      digest: digestOf(tar),
      diffId: digestOf(tar),
      size: tar.length,
      uncompressedSize: tar.length,
    });
  });

  for (const [name, pack] of [
    ['gzip', (tar: Buffer) => zlib.gzipSync(tar)],
    ['zstd', (tar: Buffer) => zstdCompress(tar)],
  ] as const) {
    it(`gives digest of the ${name} bytes and diffId of the tar, with auto detection`, async () => {
      const tar = sampleTar();
      const blob = pack(tar);
      // An async iterable of small chunks works as well as a Readable.
      async function* chunks(): AsyncIterable<Uint8Array> {
        for (let offset = 0; offset < blob.length; offset += 100) {
          yield blob.subarray(offset, offset + 100);
        }
      }
      const { entries, reader } = await readAll(chunks(), {
        expected: { digest: digestOf(blob), size: blob.length },
      });
      expect(entries).toHaveLength(6);
      expect(reader.result).toEqual({
        digest: digestOf(blob),
        diffId: digestOf(tar),
        size: blob.length,
        uncompressedSize: tar.length,
      });
    });
  }

  it('computes the blob digest in the expected algorithm', async () => {
    const blob = zlib.gzipSync(sampleTar());
    const expected = digestOf(blob, 'sha512');
    const { reader } = await readAll(Readable.from([blob]), { expected: { digest: expected } });
    expect(reader.result.digest).toBe(expected);
    expect(reader.result.diffId).toMatch(/^sha256:/);
  });

  it('lets the consumer skip bodies', async () => {
    const reader = readLayer(Readable.from([sampleTar()]));
    const names: string[] = [];
    for await (const entry of reader) {
      names.push(entry.header.name);
    }
    expect(names).toHaveLength(6);
    expect(reader.result.diffId).toBe(digestOf(sampleTar()));
  });

  it('lets the consumer stop reading a body part way', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    const tar = tarBuilder().file('big', big).file('after', 'next').toBuffer();
    const reader = readLayer(Readable.from([tar.subarray(0, 100_000), tar.subarray(100_000)]));
    const seen: Array<[string, number]> = [];
    for await (const entry of reader) {
      let length = 0;
      for await (const chunk of entry.body) {
        length += chunk.length;
        break;
      }
      seen.push([entry.header.name, length]);
    }
    expect(seen[0]?.[0]).toBe('big');
    expect(seen[0]?.[1]).toBeGreaterThan(0);
    expect(seen[0]?.[1]).toBeLessThan(big.length);
    expect(seen[1]).toEqual(['after', 4]);
    expect(reader.result.diffId).toBe(digestOf(tar));
  });

  it('fails with DIGEST_MISMATCH at the end when the blob has another digest', async () => {
    const error = await failure(
      readAll(Readable.from([sampleTar()]), { expected: { digest: digestOf('something else') } }),
    );
    expect(isOciImageError(error, 'DIGEST_MISMATCH')).toBe(true);
  });

  it('fails with SIZE_MISMATCH for a short blob and SIZE_EXCEEDED for a long one', async () => {
    const tar = sampleTar();
    const short = await failure(
      readAll(Readable.from([tar]), { expected: { digest: digestOf(tar), size: tar.length + 1 } }),
    );
    expect(isOciImageError(short, 'SIZE_MISMATCH')).toBe(true);
    const long = await failure(
      readAll(Readable.from([tar]), { expected: { digest: digestOf(tar), size: tar.length - 512 } }),
    );
    expect(isOciImageError(long, 'SIZE_EXCEEDED')).toBe(true);
  });

  it('fails with LAYER_TRUNCATED when the tar ends inside an entry', async () => {
    const tar = tarBuilder().file('a', 'x'.repeat(5000)).toBuffer({ truncateAt: 2048 });
    const error = await failure(readAll(Readable.from([tar])));
    expect(isOciImageError(error, 'LAYER_TRUNCATED')).toBe(true);
  });

  it('fails with LAYER_INVALID_ENTRY for a header with a bad checksum', async () => {
    const tar = sampleTar();
    tar[600] = (tar[600] ?? 0) ^ 0xff;
    const error = await failure(readAll(Readable.from([tar])));
    expect(isOciImageError(error, 'LAYER_INVALID_ENTRY')).toBe(true);
  });

  it('reads old v7 headers without the ustar magic', async () => {
    const tar = tarBuilder().file('old-style', 'v7').toBuffer();
    // Blank magic, version, owner names and device fields (v7 has none), then fix the checksum.
    tar.fill(0, 257, 500);
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of tar.subarray(0, 512)) {
      sum += byte;
    }
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    const { entries } = await readAll(Readable.from([tar]));
    expect(entries.map((entry) => [entry.name, entry.content])).toEqual([['old-style', 'v7']]);
  });

  it('passes the source error through unchanged', async () => {
    const boom = new Error('network went away');
    async function* broken(): AsyncIterable<Uint8Array> {
      yield sampleTar().subarray(0, 1024);
      throw boom;
    }
    expect(await failure(readAll(broken()))).toBe(boom);
  });

  it('fails with ABORTED when the signal fires', async () => {
    const controller = new AbortController();
    controller.abort();
    const early = await failure(readAll(Readable.from([sampleTar()]), { signal: controller.signal }));
    expect(isOciImageError(early, 'ABORTED')).toBe(true);
    const later = new AbortController();
    const reader = readLayer(Readable.from([sampleTar()]), { signal: later.signal });
    const error = await failure(
      (async () => {
        for await (const _entry of reader) {
          later.abort();
        }
      })(),
    );
    expect(isOciImageError(error, 'ABORTED')).toBe(true);
  });

  it('refuses to give a result before the read completed and to be iterated twice', async () => {
    const reader = readLayer(Readable.from([sampleTar()]));
    expect(() => reader.result).toThrow(/only after/);
    for await (const _entry of reader) {
      break;
    }
    expect(() => reader.result).toThrow(/only after/);
    expect(() => reader[Symbol.asyncIterator]()).toThrow(/once/);
  });

  it('reads an empty stream as an empty layer', async () => {
    const { entries, reader } = await readAll(Readable.from([]));
    expect(entries).toHaveLength(0);
    expect(reader.result.diffId).toBe(parseDigest(digestOf(Buffer.alloc(0))));
  });
});
