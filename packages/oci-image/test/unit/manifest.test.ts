import { describe, expect, it } from 'vitest';
import {
  digestOf,
  encodeManifest,
  isOciImageError,
  MediaType,
  parseImageDocument,
  parseManifest,
} from '../../src/index.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const config = { mediaType: MediaType.ociConfig, digest: d(1), size: 10 };
const layer = (n: number) => ({ mediaType: MediaType.ociLayerGzip, digest: d(n), size: 100 + n });

function failure(action: () => unknown): { code: string; path: string | undefined } {
  try {
    action();
  } catch (error) {
    if (isOciImageError(error)) return { code: error.code, path: error.path };
    throw error;
  }
  throw new Error('expected a failure');
}

describe('manifests', () => {
  it('parses an OCI manifest and digests the exact bytes', () => {
    const text = `{\n  "schemaVersion": 2,\n  "mediaType": "${MediaType.ociManifest}",\n  "config": ${JSON.stringify(config)},\n  "layers": [${JSON.stringify(layer(2))}]\n}\n`;
    const parsed = parseManifest(Buffer.from(text));
    expect(parsed.digest).toBe(digestOf(text));
    expect(parsed.size).toBe(Buffer.byteLength(text));
    expect(Buffer.from(parsed.raw).toString()).toBe(text);
    expect(parsed.value.layers[0]?.size).toBe(102);
    expect(parsed.descriptor).toEqual({
      mediaType: MediaType.ociManifest,
      digest: digestOf(text),
      size: parsed.size,
    });
  });

  it('accepts an umoci-style manifest without mediaType (typed as OCI)', () => {
    const parsed = parseManifest(JSON.stringify({ schemaVersion: 2, config, layers: [] }));
    expect(parsed.value.mediaType).toBeUndefined();
    expect(parsed.mediaType).toBe(MediaType.ociManifest);
  });

  it('accepts a Docker v2 schema 2 manifest', () => {
    const parsed = parseManifest(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { ...config, mediaType: MediaType.dockerConfig },
        layers: [{ ...layer(3), mediaType: MediaType.dockerLayerGzip }],
      }),
    );
    expect(parsed.mediaType).toBe(MediaType.dockerManifest);
  });

  it('keeps subject, artifactType, annotations and unknown fields', () => {
    const parsed = parseManifest(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: 'application/vnd.example.sbom',
        config: { mediaType: MediaType.ociEmpty, digest: digestOf('{}'), size: 2, data: 'e30=' },
        layers: [layer(4)],
        subject: { mediaType: MediaType.ociManifest, digest: d(9), size: 500 },
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
        'vnd.example.future': { x: 1 },
      }),
    );
    expect(parsed.value.subject?.digest).toBe(d(9));
    expect(parsed.value['vnd.example.future']).toEqual({ x: 1 });
  });

  it.each([
    [{ schemaVersion: 1, config, layers: [] }, 'INVALID_MANIFEST', 'schemaVersion'],
    [{ schemaVersion: 2, layers: [] }, 'INVALID_MANIFEST', 'config'],
    [
      { schemaVersion: 2, config, layers: [layer(1), layer(2), { ...layer(3), digest: 'sha256:zz' }] },
      'INVALID_MANIFEST',
      'layers[2].digest',
    ],
    [{ schemaVersion: 2, config: { ...config, size: '10' }, layers: [] }, 'INVALID_MANIFEST', 'config.size'],
    [
      { schemaVersion: 2, config, layers: [{ ...layer(1), annotations: { 'a.b': 2 } }] },
      'INVALID_MANIFEST',
      'layers[0].annotations["a.b"]',
    ],
    [
      { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] },
      'UNSUPPORTED_MEDIA_TYPE',
      'mediaType',
    ],
  ])('rejects %j with %s at %s', (value, code, path) => {
    expect(failure(() => parseManifest(JSON.stringify(value)))).toEqual({ code, path });
  });

  it('rejects bad JSON and bad UTF-8 with INVALID_JSON', () => {
    expect(failure(() => parseManifest('{"schemaVersion":'))).toMatchObject({ code: 'INVALID_JSON' });
    expect(failure(() => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d])))).toMatchObject({
      code: 'INVALID_JSON',
    });
  });

  it('encodes a value and digests what it wrote', () => {
    const encoded = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config,
      layers: [layer(5)],
    });
    expect(encoded.digest).toBe(digestOf(encoded.raw));
    expect(JSON.parse(Buffer.from(encoded.raw).toString())).toMatchObject({ schemaVersion: 2 });
  });

  it('tells a manifest from an index without a media type', () => {
    expect(parseImageDocument(JSON.stringify({ schemaVersion: 2, config, layers: [] })).kind).toBe(
      'manifest',
    );
    expect(parseImageDocument(JSON.stringify({ schemaVersion: 2, manifests: [] })).kind).toBe('index');
    expect(
      parseImageDocument(JSON.stringify({ schemaVersion: 2, manifests: [] }), MediaType.dockerManifestList)
        .kind,
    ).toBe('index');
  });
});
