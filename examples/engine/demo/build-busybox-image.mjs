#!/usr/bin/env node
// The ocikit demo: build an OCI image from busybox-static with @ocikit/oci-image, write it into an OCI
// image layout, print its manifest, unpack it with applyLayer, and run a command in the unpacked tree.
// Usage: node demo/build-busybox-image.mjs [layout-dir]   (default: a new temp directory)
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyLayer,
  createImage,
  createLayerFromDirectory,
  hostPlatform,
  layout,
  MediaType,
  readImageConfig,
  readManifest,
} from '@ocikit/oci-image';

const busybox = '/bin/busybox';
const work = await mkdtemp(join(tmpdir(), 'ocikit-demo-'));
const layoutDir = process.argv[2] ?? join(work, 'layout');

// 1. A root filesystem: busybox-static and a symlink per applet, plus minimal /etc files.
const rootfs = join(work, 'rootfs');
await mkdir(join(rootfs, 'bin'), { recursive: true });
await mkdir(join(rootfs, 'etc'));
await mkdir(join(rootfs, 'tmp'), { mode: 0o1777 });
await copyFile(busybox, join(rootfs, 'bin/busybox'));
const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
for (const applet of applets) {
  if (applet !== 'busybox') await symlink('busybox', join(rootfs, 'bin', applet));
}
await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\n');

// 2. One gzip layer streamed straight into the layout; digests are computed while it streams.
const store = await layout.create(layoutDir);
const layer = createLayerFromDirectory(rootfs, {
  compression: 'gzip',
  mtime: new Date('2026-01-01T00:00:00Z'),
});
const descriptor = await store.ingest(layer.stream, { mediaType: MediaType.ociLayerGzip });
const { diffId } = await layer.done;

// 3. Config and manifest, tagged in index.json.
const platform = hostPlatform();
const image = await createImage(store, {
  platform: { os: platform.os, architecture: platform.architecture, variant: platform.variant },
  appendLayers: [{ descriptor, diffId, history: { createdBy: 'ocikit demo: busybox-static' } }],
  config: { cmd: ['sh'], env: ['PATH=/bin'], labels: { 'org.opencontainers.image.title': 'busybox' } },
  tag: 'busybox:demo',
});
console.log(`image layout: ${layoutDir}`);
console.log(`tag busybox:demo -> ${image.descriptor.digest}`);
console.log('manifest:');
console.log(JSON.stringify(JSON.parse(Buffer.from(image.manifest.raw).toString('utf8')), null, 2));

// 4. Unpack: resolve the tag, read manifest and config, apply each layer, check each diff ID.
const manifest = await readManifest(store, await store.resolve('busybox:demo'));
const config = await readImageConfig(store, manifest.value.config);
const unpacked = join(work, 'unpacked');
await mkdir(unpacked);
for (const [index, layerDescriptor] of manifest.value.layers.entries()) {
  const result = await applyLayer(unpacked, await store.get(layerDescriptor.digest), {
    expected: { digest: layerDescriptor.digest, size: layerDescriptor.size },
  });
  const wanted = config.value.rootfs.diff_ids[index];
  if (result.diffId !== wanted)
    throw new Error(`layer ${index}: diff ID ${result.diffId}, config says ${wanted}`);
  console.log(`unpacked layer ${index}: ${result.size} bytes, diff ID ${result.diffId} (matches the config)`);
}
const entries = await readdir(join(unpacked, 'bin'));
console.log(`unpacked tree: ${unpacked} (${entries.length} entries in /bin)`);

// 5. Run a command in the unpacked tree (chroot; the runtime package does the real containers).
const output = execFileSync(
  'chroot',
  [unpacked, '/bin/sh', '-c', 'echo "hello from $(uname -s) in the unpacked image"'],
  {
    encoding: 'utf8',
  },
);
process.stdout.write(output);

// 6. What a peer tool sees: skopeo reads the layout we wrote and reports the same manifest digest.
try {
  const inspected = JSON.parse(
    execFileSync('skopeo', ['inspect', `oci:${layoutDir}:busybox:demo`], { encoding: 'utf8' }),
  );
  const same = inspected.Digest === image.descriptor.digest ? 'same digest' : 'DIFFERENT digest';
  console.log(`skopeo inspect oci:${layoutDir}:busybox:demo -> ${inspected.Digest} (${same})`);
} catch (error) {
  console.log(`skopeo not available (${error.code ?? error.message}); skipped the peer check`);
}
