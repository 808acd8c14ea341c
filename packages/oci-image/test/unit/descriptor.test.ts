import { describe, expect, it } from 'vitest';
import { descriptorData, digestOf, isOciImageError, parseDescriptor } from '../../src/index.js';

const hello = Buffer.from('hello');
const good = { mediaType: 'application/octet-stream', digest: digestOf(hello), size: 5 };

function codeAndPath(action: () => unknown): { code: string; path: string | undefined } {
  try {
    action();
  } catch (error) {
    if (isOciImageError(error)) return { code: error.code, path: error.path };
    throw error;
  }
  throw new Error('expected a failure');
}

describe('descriptors', () => {
  it('accepts every image-spec field and keeps unknown ones', () => {
    const value = parseDescriptor({
      ...good,
      urls: ['https://example.com/blob'],
      annotations: { 'org.opencontainers.image.ref.name': 'v1' },
      platform: { os: 'linux', architecture: 'amd64' },
      artifactType: 'application/vnd.example+json',
      data: hello.toString('base64'),
      'x-extension': true,
    });
    expect(value['x-extension']).toBe(true);
    expect(Buffer.from(descriptorData(value) ?? []).toString()).toBe('hello');
  });

  it.each([
    [{ ...good, digest: 'sha256:xyz' }, 'digest'],
    [{ ...good, digest: `md5:${'a'.repeat(32)}` }, 'digest'],
    [{ ...good, size: -1 }, 'size'],
    [{ ...good, size: 1.5 }, 'size'],
    [{ ...good, mediaType: 'not a type' }, 'mediaType'],
    [{ ...good, urls: ['::nope'] }, 'urls[0]'],
    [{ ...good, annotations: { a: 1 } }, 'annotations.a'],
    [{ ...good, platform: { os: 'linux' } }, 'platform.architecture'],
    [{ ...good, data: 'aGVsbG8hCg==' }, 'data'],
    [{ ...good, data: Buffer.from('hellx').toString('base64') }, 'data'],
    [{ size: 1, digest: good.digest }, 'mediaType'],
  ])('rejects %j naming %s', (value, path) => {
    expect(codeAndPath(() => parseDescriptor(value))).toEqual({ code: 'INVALID_DESCRIPTOR', path });
  });

  it('prefixes the path it is given', () => {
    expect(codeAndPath(() => parseDescriptor({ ...good, size: 'x' }, 'manifests[3]'))).toEqual({
      code: 'INVALID_DESCRIPTOR',
      path: 'manifests[3].size',
    });
  });
});
