// Helpers shared by the interop tests (umoci, skopeo): run the real tools, store layers made by this
// package in a layout, unpack an image with applyLayer.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  applyLayer,
  type CreatedLayer,
  type Descriptor,
  type Digest,
  encodeImageConfig,
  encodeManifest,
  type LayoutProvider,
  layerCompression,
  MediaType,
  readImageConfig,
  readManifest,
} from '../../src/index.js';

/** True when `command` runs (`--version` exits 0). */
export function toolAvailable(command: string): boolean {
  const result = spawnSync(command, ['--version'], { stdio: 'ignore' });
  return result.status === 0;
}

/** Runs a tool and returns its stdout; a failure throws with the tool's stderr in the message. */
export function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { stderr?: string; status?: number };
    throw new Error(`${command} ${args.join(' ')} failed (${failure.status}): ${failure.stderr ?? ''}`);
  }
}

/** Runs a tool expected to fail sometimes: its exit status and stderr. */
export function attempt(command: string, args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

/** A layer stored in a layout: its manifest descriptor and diff ID. */
export interface StoredLayer {
  descriptor: Descriptor;
  diffId: Digest;
}

const layerMediaType = {
  none: MediaType.ociLayer,
  gzip: MediaType.ociLayerGzip,
  zstd: MediaType.ociLayerZstd,
} as const;

/** Reads a layer this package made to its end and stores the blob in `provider`. */
export async function storeLayer(provider: LayoutProvider, created: CreatedLayer): Promise<StoredLayer> {
  const chunks: Buffer[] = [];
  for await (const chunk of created.stream) chunks.push(chunk as Buffer);
  const info = await created.done;
  const descriptor: Descriptor = {
    mediaType: layerMediaType[info.compression],
    digest: info.digest,
    size: info.size,
  };
  await provider.put(descriptor, Buffer.concat(chunks));
  return { descriptor, diffId: info.diffId };
}

/** Writes a config and manifest over `layers` and tags the manifest `tag`; returns its descriptor. */
export async function storeImage(
  provider: LayoutProvider,
  layers: StoredLayer[],
  tag: string,
  env: string[] = ['PATH=/usr/bin:/bin'],
): Promise<{ descriptor: Descriptor; raw: Uint8Array; configDigest: Digest }> {
  const config = encodeImageConfig({
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: env, Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, index) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${index}` })),
  });
  await provider.put(config.descriptor, config.raw);
  const manifest = encodeManifest({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.descriptor,
    layers: layers.map((layer) => layer.descriptor),
  });
  const descriptor: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: manifest.digest,
    size: manifest.size,
  };
  await provider.put(descriptor, manifest.raw);
  await provider.tag(tag, descriptor);
  return { descriptor, raw: manifest.raw, configDigest: config.digest };
}

/**
 * Unpacks the image `tag` names into `root` (created) with applyLayer, verifying every layer's digest and
 * that the diff IDs applyLayer computed are the config's. Returns the diff IDs.
 */
export async function unpackWithOcikit(
  provider: LayoutProvider,
  tag: string,
  root: string,
): Promise<Digest[]> {
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const manifest = await readManifest(provider, await provider.resolve(tag));
  const config = await readImageConfig(provider, manifest.value.config);
  const diffIds: Digest[] = [];
  for (const layer of manifest.value.layers) {
    const compression = layerCompression(layer.mediaType);
    if (compression === undefined) throw new Error(`unexpected layer media type ${layer.mediaType}`);
    const result = await applyLayer(root, await provider.get(layer.digest), {
      compression,
      expected: { digest: layer.digest, size: layer.size },
    });
    diffIds.push(result.diffId);
  }
  if (JSON.stringify(diffIds) !== JSON.stringify(config.value.rootfs.diff_ids)) {
    throw new Error(
      `diff IDs ${diffIds.join(',')} are not the config's ${config.value.rootfs.diff_ids.join(',')}`,
    );
  }
  return diffIds;
}

/** `umoci unpack --image <layout>:<tag> <bundle>`; returns the bundle's rootfs. */
export function umociUnpack(layoutDirectory: string, tag: string, bundle: string): string {
  run('umoci', ['unpack', '--image', `${layoutDirectory}:${tag}`, bundle]);
  return path.join(bundle, 'rootfs');
}

/** Parsed `skopeo inspect` output of an OCI layout image (`--config` for the config instead). */
export function skopeoInspect<T = Record<string, unknown>>(
  layoutDirectory: string,
  tag: string,
  ...flags: string[]
): T {
  return JSON.parse(run('skopeo', ['inspect', ...flags, `oci:${layoutDirectory}:${tag}`])) as T;
}
