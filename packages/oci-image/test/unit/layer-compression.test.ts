import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { isOciImageError } from '../../src/errors.js';
import { compress, decompress, detectCompression } from '../../src/layer/compression.js';
import type { Compression } from '../../src/media-types.js';

async function collect(source: Readable, ...transforms: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    source,
    ...(transforms as [NodeJS.ReadWriteStream]),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

// Compressible but not trivial: repeated text with a counter.
const payload = Buffer.from(
  Array.from({ length: 20_000 }, (_, index) => `line ${index} of the layer payload\n`).join(''),
);

describe('layer compression', () => {
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    it(`round-trips ${compression} explicitly and with auto detection`, async () => {
      const packed = await collect(Readable.from([payload]), compress(compression));
      expect(detectCompression(packed)).toBe(compression);
      const explicit = await collect(Readable.from([packed]), decompress(compression));
      expect(explicit.equals(payload)).toBe(true);
      // Feed one byte at a time at first so that sniffing has to wait for the magic.
      const dribble = [
        packed.subarray(0, 1),
        packed.subarray(1, 2),
        packed.subarray(2, 3),
        packed.subarray(3),
      ];
      const auto = await collect(Readable.from(dribble), decompress('auto'));
      expect(auto.equals(payload)).toBe(true);
    });
  }

  it('detects the magic bytes and treats anything else as a plain tar', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0x00]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('etc/'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });

  it('decodes short and empty inputs with auto detection', async () => {
    expect((await collect(Readable.from([Buffer.from('ab')]), decompress('auto'))).toString()).toBe('ab');
    expect((await collect(Readable.from([]), decompress('auto'))).length).toBe(0);
  });

  it('honours a compression level', async () => {
    const fast = await collect(Readable.from([payload]), compress('gzip', { level: 1 }));
    const best = await collect(Readable.from([payload]), compress('gzip', { level: 9 }));
    expect(best.length).toBeLessThan(fast.length);
    expect(zlib.gunzipSync(best).equals(payload)).toBe(true);
    const zstd = await collect(Readable.from([payload]), compress('zstd', { level: 19 }));
    expect((await collect(Readable.from([zstd]), decompress('zstd'))).equals(payload)).toBe(true);
  });

  it('rejects an unknown compression with LAYER_UNSUPPORTED_COMPRESSION', () => {
    expect(() => compress('bzip2' as Compression)).toThrow(
      expect.objectContaining({ code: 'LAYER_UNSUPPORTED_COMPRESSION' }),
    );
    expect(() => decompress('xz' as Compression)).toThrow(
      expect.objectContaining({ code: 'LAYER_UNSUPPORTED_COMPRESSION' }),
    );
  });

  it('reports a gzip stream cut short as LAYER_TRUNCATED', async () => {
    const packed = zlib.gzipSync(payload);
    const error = await collect(
      Readable.from([packed.subarray(0, packed.length / 2)]),
      decompress('auto'),
    ).catch((caught: unknown) => caught);
    expect(isOciImageError(error, 'LAYER_TRUNCATED')).toBe(true);
  });

  it('reports a zstd stream cut short as LAYER_TRUNCATED', async () => {
    const packed = zstdCompress(payload);
    const error = await collect(
      Readable.from([packed.subarray(0, packed.length - 10)]),
      decompress('zstd'),
    ).catch((caught: unknown) => caught);
    expect(isOciImageError(error, 'LAYER_TRUNCATED')).toBe(true);
  });

  it('reports undecodable gzip and zstd data as LAYER_CORRUPT', async () => {
    const gzip = Buffer.from(zlib.gzipSync(payload));
    gzip.fill(0xaa, 20, 200);
    const gzipError = await collect(Readable.from([gzip]), decompress('gzip')).catch(
      (caught: unknown) => caught,
    );
    expect(isOciImageError(gzipError, 'LAYER_CORRUPT')).toBe(true);
    const zstd = Buffer.from(zstdCompress(payload));
    zstd.fill(0xaa, 8, 200);
    const zstdError = await collect(Readable.from([zstd]), decompress('auto')).catch(
      (caught: unknown) => caught,
    );
    expect(isOciImageError(zstdError, 'LAYER_CORRUPT')).toBe(true);
  });
});
