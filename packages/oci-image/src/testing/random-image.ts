import { gzipSync } from 'node:zlib';
import { type ContentProvider, hasRefStore } from '../content-provider.js';
import type { Descriptor } from '../descriptor.js';
import { type Digest, digestOf } from '../digest.js';
import { encodeImageConfig, type ParsedImageConfig } from '../image-config.js';
import { encodeIndex, type ParsedImageIndex } from '../image-index.js';
import { encodeManifest, type ParsedManifest } from '../manifest.js';
import { MediaType } from '../media-types.js';
import { formatPlatform, type Platform, parsePlatform } from '../platform.js';
import { SeededRandom } from './seeded-random.js';
import { buildTar, type TarFixtureEntry } from './tar-fixture.js';

/** Options of {@link randomImage}. */
export interface RandomImageOptions {
  /** Layers per manifest (default 2). */
  layers?: number;
  /** Regular files per layer (default 3), each up to `maxFileSize` bytes (default 2048). */
  filesPerLayer?: number;
  maxFileSize?: number;
  /** Layer compression (default gzip). */
  compression?: 'gzip' | 'none';
  /** Docker v2 schema 2 media types instead of OCI (default OCI). */
  docker?: boolean;
  /** With platforms, the root is an index with one manifest per platform. */
  platforms?: Array<Platform | string>;
  /** Leave `mediaType` out of OCI manifests, as umoci does. */
  omitManifestMediaType?: boolean;
  /** `created` of configs and history (default 1970-01-01T00:00:00Z). */
  created?: string;
}

/** One generated layer: its blob, descriptor, uncompressed tar and diff ID. */
export interface RandomLayer {
  descriptor: Descriptor;
  diffId: Digest;
  blob: Uint8Array;
  tar: Uint8Array;
}

/** One generated single-platform image. */
export interface RandomImageManifest {
  descriptor: Descriptor;
  manifest: ParsedManifest;
  config: ParsedImageConfig;
  layers: RandomLayer[];
}

/** A generated image: its root (index or manifest), every blob, and the parts. */
export interface RandomImage {
  root: Descriptor;
  index: ParsedImageIndex | undefined;
  manifests: RandomImageManifest[];
  /** Every blob by digest (manifests and indexes included). */
  blobs: Map<Digest, Uint8Array>;
}

async function randomLayer(
  random: SeededRandom,
  options: RandomImageOptions,
  docker: boolean,
): Promise<RandomLayer> {
  const entries: TarFixtureEntry[] = [];
  const directory = random.name(6);
  entries.push({ name: `${directory}/`, type: 'directory' });
  const files = options.filesPerLayer ?? 3;
  for (let i = 0; i < files; i++) {
    const size = random.int(0, options.maxFileSize ?? 2048);
    entries.push({ name: `${directory}/${random.name(8)}.bin`, content: random.bytes(size), mode: 0o644 });
  }
  entries.push({
    name: `${directory}/link`,
    type: 'symlink',
    linkname: entries[1]?.name.split('/')[1] ?? 'x',
  });
  const tar = await buildTar(entries);
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  const blob = gzip ? gzipSync(tar) : tar;
  const mediaType = docker ? MediaType.dockerLayerGzip : gzip ? MediaType.ociLayerGzip : MediaType.ociLayer;
  return {
    descriptor: { mediaType, digest: digestOf(blob), size: blob.byteLength },
    diffId: digestOf(tar),
    blob,
    tar,
  };
}

/**
 * Generates an image from `seed`: the same seed and options give the same bytes and digests.
 * Layers are real tar archives (a directory, files of random bytes, a symlink), gzip-compressed unless
 * asked otherwise. Pure: nothing is written anywhere (see {@link writeImage}).
 */
export async function randomImage(seed: number, options: RandomImageOptions = {}): Promise<RandomImage> {
  const random = new SeededRandom(seed);
  const docker = options.docker ?? false;
  const created = options.created ?? '1970-01-01T00:00:00Z';
  const blobs = new Map<Digest, Uint8Array>();
  const platforms = (options.platforms ?? ['linux/amd64']).map((p) =>
    typeof p === 'string' ? parsePlatform(p) : p,
  );
  const manifests: RandomImageManifest[] = [];
  for (const platform of platforms) {
    const layers: RandomLayer[] = [];
    for (let i = 0; i < (options.layers ?? 2); i++) layers.push(await randomLayer(random, options, docker));
    const configValue: Record<string, unknown> = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
      },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
      history: layers.map((_, i) => ({ created, created_by: `random layer ${i} of seed ${seed}` })),
    };
    if (platform.variant !== undefined) configValue.variant = platform.variant;
    const config = encodeImageConfig(
      configValue as Parameters<typeof encodeImageConfig>[0],
      docker ? MediaType.dockerConfig : MediaType.ociConfig,
    );
    const manifestValue: Record<string, unknown> = { schemaVersion: 2 };
    if (docker) manifestValue.mediaType = MediaType.dockerManifest;
    else if (!options.omitManifestMediaType) manifestValue.mediaType = MediaType.ociManifest;
    manifestValue.config = config.descriptor;
    manifestValue.layers = layers.map((layer) => layer.descriptor);
    const manifest = encodeManifest(manifestValue as Parameters<typeof encodeManifest>[0]);
    const descriptor: Descriptor = { ...manifest.descriptor };
    if (options.platforms !== undefined) descriptor.platform = platform;
    for (const layer of layers) blobs.set(layer.descriptor.digest, layer.blob);
    blobs.set(config.digest, config.raw);
    blobs.set(manifest.digest, manifest.raw);
    manifests.push({ descriptor, manifest, config, layers });
  }
  let index: ParsedImageIndex | undefined;
  let root: Descriptor;
  if (options.platforms !== undefined) {
    index = encodeIndex({
      schemaVersion: 2,
      mediaType: docker ? MediaType.dockerManifestList : MediaType.ociIndex,
      manifests: manifests.map((entry) => entry.descriptor),
      annotations: { 'org.example.platforms': platforms.map(formatPlatform).join(',') },
    });
    blobs.set(index.digest, index.raw);
    root = index.descriptor;
  } else {
    root = (manifests[0] as RandomImageManifest).descriptor;
  }
  return { root, index, manifests, blobs };
}

/**
 * Puts every blob of `image` into `provider` (layers and configs first, then manifests, then the
 * index) and, with `tag` and a provider that keeps refs, points the tag at the root.
 */
export async function writeImage(
  provider: ContentProvider,
  image: RandomImage,
  options: { tag?: string; signal?: AbortSignal } = {},
): Promise<Descriptor> {
  const { signal } = options;
  for (const entry of image.manifests) {
    for (const layer of entry.layers) await provider.put(layer.descriptor, layer.blob, { signal });
    await provider.put(entry.config.descriptor, entry.config.raw, { signal });
    await provider.put(entry.manifest.descriptor, entry.manifest.raw, { signal });
  }
  if (image.index !== undefined) await provider.put(image.index.descriptor, image.index.raw, { signal });
  if (options.tag !== undefined && hasRefStore(provider))
    await provider.tag(options.tag, image.root, { signal });
  return image.root;
}
