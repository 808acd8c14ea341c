import { describe, expect, it } from 'vitest';
import { digestOf, encodeIndex, isOciImageError, MediaType, parseIndex } from '../../src/index.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('image indexes', () => {
  it('parses an OCI index with platforms and keeps the bytes', () => {
    const text = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: d(1),
          size: 10,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          mediaType: MediaType.ociManifest,
          digest: d(2),
          size: 11,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
      ],
      annotations: { a: 'b' },
    });
    const parsed = parseIndex(text);
    expect(parsed.digest).toBe(digestOf(text));
    expect(parsed.value.manifests[1]?.platform?.variant).toBe('v8');
  });

  it('accepts a Docker manifest list and an index without mediaType', () => {
    expect(
      parseIndex(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifestList, manifests: [] }))
        .mediaType,
    ).toBe(MediaType.dockerManifestList);
    expect(parseIndex(JSON.stringify({ schemaVersion: 2, manifests: [] })).mediaType).toBe(
      MediaType.ociIndex,
    );
  });

  it.each([
    [{ schemaVersion: 2 }, 'INVALID_INDEX', 'manifests'],
    [
      {
        schemaVersion: 2,
        manifests: [
          { mediaType: MediaType.ociManifest, digest: d(1), size: 1 },
          { mediaType: MediaType.ociManifest, digest: d(2), size: -3 },
        ],
      },
      'INVALID_INDEX',
      'manifests[1].size',
    ],
    [
      {
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.ociManifest,
            digest: d(1),
            size: 1,
            platform: { os: 'linux', architecture: 7 },
          },
        ],
      },
      'INVALID_INDEX',
      'manifests[0].platform.architecture',
    ],
    [
      { schemaVersion: 2, mediaType: MediaType.ociManifest, manifests: [] },
      'UNSUPPORTED_MEDIA_TYPE',
      'mediaType',
    ],
  ])('rejects %j with %s at %s', (value, code, path) => {
    try {
      parseIndex(JSON.stringify(value));
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, code as never)).toBe(true);
      expect((error as { path: string }).path).toBe(path);
    }
  });

  it('encodes an index', () => {
    const encoded = encodeIndex({ schemaVersion: 2, manifests: [] });
    expect(encoded.digest).toBe(digestOf('{"schemaVersion":2,"manifests":[]}'));
  });
});
