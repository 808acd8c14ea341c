import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Digester, digestOf, isOciImageError, parseDigest, VerifyStream } from '../../src/index.js';

const helloSha256 = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

describe('digests', () => {
  it('computes sha256 and sha512 of bytes', () => {
    expect(digestOf('hello')).toBe(helloSha256);
    expect(digestOf('hello', 'sha512')).toMatch(/^sha512:[a-f0-9]{128}$/);
  });

  it('digests incrementally the same as at once', () => {
    const digester = new Digester();
    digester.update(Buffer.from('he'));
    digester.update(Buffer.from('llo'));
    expect(digester.size).toBe(5);
    expect(digester.digest()).toBe(helloSha256);
  });

  it.each([
    ['sha256:abc', 'INVALID_DIGEST'],
    ['sha256:' + 'A'.repeat(64), 'INVALID_DIGEST'],
    ['nocolon', 'INVALID_DIGEST'],
    ['md5:' + 'a'.repeat(32), 'UNSUPPORTED_ALGORITHM'],
  ] as const)('rejects %s with %s', (input, code) => {
    expect(() => parseDigest(input, 'layers[0].digest')).toThrow(expect.objectContaining({ code }));
    try {
      parseDigest(input, 'layers[0].digest');
    } catch (error) {
      expect(isOciImageError(error, code)).toBe(true);
      expect((error as { path: string }).path).toBe('layers[0].digest');
    }
  });

  it('verifies a stream and fails on mismatch, short and long input', async () => {
    const good = new VerifyStream({ digest: parseDigest(helloSha256), size: 5 });
    await pipeline(Readable.from([Buffer.from('hello')]), good, async (source) => {
      for await (const _ of source) {
        // drain
      }
    });
    const cases: Array<[string, number | undefined, string]> = [
      ['hellx', 5, 'DIGEST_MISMATCH'],
      ['hell', 5, 'SIZE_MISMATCH'],
      ['hello!', 5, 'SIZE_EXCEEDED'],
      ['hellx', undefined, 'DIGEST_MISMATCH'],
    ];
    for (const [text, size, code] of cases) {
      const stream = new VerifyStream({ digest: parseDigest(helloSha256), size });
      await expect(
        pipeline(Readable.from([Buffer.from(text)]), stream, async (source) => {
          for await (const _ of source) {
            // drain
          }
        }),
      ).rejects.toMatchObject({ code });
    }
  });
});
