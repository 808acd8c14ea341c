import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type ContentProvider, hasRefStore } from '../content-provider.js';
import type { Descriptor } from '../descriptor.js';
import { type Digest, Digester, digestAlgorithm, digestOf } from '../digest.js';
import { isOciImageError } from '../errors.js';
import { walkImage } from '../image-walk.js';
import { isManifestMediaType, layerCompression } from '../media-types.js';
import { normalizePlatform } from '../platform.js';
import { readImageConfig, readManifest } from '../read-blob.js';

/** One thing a provider got wrong, found by {@link validateContent} or {@link checkProviderContract}. */
export interface ConformanceProblem {
  /** The blob or ref at fault, when there is one. */
  subject?: string;
  message: string;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function diffIdOf(provider: ContentProvider, layer: Descriptor): Promise<Digest | undefined> {
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined || compression === 'zstd') return undefined;
  const digester = new Digester();
  const source = await provider.get(layer.digest);
  const stages = compression === 'gzip' ? [source, createGunzip()] : [source];
  await pipeline(...(stages as [Readable]), async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) digester.update(chunk);
  });
  return digester.digest();
}

/**
 * Checks what a provider holds: every listed blob's bytes hash to its digest and `stat` reports their
 * length; every ref's image is complete (all blobs present with the descriptor's size), its manifests
 * and configs parse, the config's diff IDs count and (for tar and gzip layers) equal the uncompressed
 * layers, and platforms in indexes agree with configs. Returns the problems found (empty when none).
 */
export async function validateContent(
  provider: ContentProvider,
  options: { signal?: AbortSignal; checkDiffIds?: boolean } = {},
): Promise<ConformanceProblem[]> {
  const { signal } = options;
  const problems: ConformanceProblem[] = [];
  for await (const digest of provider.list({ signal })) {
    const bytes = await readAll(await provider.get(digest, { signal }));
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) problems.push({ subject: digest, message: `bytes hash to ${actual}` });
    const { size } = await provider.stat(digest, { signal });
    if (size !== bytes.byteLength) {
      problems.push({
        subject: digest,
        message: `stat says ${size} bytes, the blob has ${bytes.byteLength}`,
      });
    }
    if (!(await provider.has(digest, { signal })))
      problems.push({ subject: digest, message: 'listed but has() is false' });
  }
  if (!hasRefStore(provider)) return problems;
  for await (const { name, descriptor: root } of provider.listRefs({ signal })) {
    try {
      for await (const descriptor of walkImage(provider, root, { signal })) {
        const subject = `${name} ${descriptor.digest}`;
        if (!(await provider.has(descriptor.digest, { signal }))) {
          if ((descriptor.urls?.length ?? 0) === 0) problems.push({ subject, message: 'blob is missing' });
          continue;
        }
        const { size } = await provider.stat(descriptor.digest, { signal });
        if (size !== descriptor.size) {
          problems.push({
            subject,
            message: `descriptor says ${descriptor.size} bytes, the blob has ${size}`,
          });
        }
        if (!isManifestMediaType(descriptor.mediaType)) continue;
        const manifest = await readManifest(provider, descriptor, { signal });
        const config = await readImageConfig(provider, manifest.value.config, { signal });
        const diffIds = config.value.rootfs.diff_ids;
        if (diffIds.length !== manifest.value.layers.length) {
          problems.push({
            subject,
            message: `config lists ${diffIds.length} diff ids for ${manifest.value.layers.length} layers`,
          });
          continue;
        }
        if (descriptor.platform !== undefined) {
          const declared = normalizePlatform(descriptor.platform);
          const actual = normalizePlatform(config.value);
          if (declared.os !== actual.os || declared.architecture !== actual.architecture) {
            problems.push({ subject, message: 'index platform differs from the config os/architecture' });
          }
        }
        if (options.checkDiffIds === false) continue;
        for (const [position, layer] of manifest.value.layers.entries()) {
          if (!(await provider.has(layer.digest, { signal }))) continue;
          const diffId = await diffIdOf(provider, layer);
          if (diffId !== undefined && diffId !== diffIds[position]) {
            problems.push({
              subject,
              message: `layer ${position} has diff id ${diffId}, config says ${diffIds[position]}`,
            });
          }
        }
      }
    } catch (error) {
      problems.push({ subject: name, message: `walk failed: ${(error as Error).message}` });
    }
  }
  return problems;
}

async function expectFailure(
  problems: ConformanceProblem[],
  what: string,
  codes: readonly string[],
  action: () => Promise<unknown>,
): Promise<void> {
  try {
    await action();
    problems.push({ subject: what, message: `succeeded, expected ${codes.join(' or ')}` });
  } catch (error) {
    if (!codes.some((code) => isOciImageError(error, code as never))) {
      problems.push({
        subject: what,
        message: `failed with ${(error as { code?: string }).code ?? String(error)}`,
      });
    }
  }
}

/**
 * Exercises a writable provider's contract with fresh random blobs (seeded by `seed`): put then get
 * returns the bytes; a wrong digest fails with `DIGEST_MISMATCH`, a short source with `SIZE_MISMATCH`,
 * a long one with `SIZE_EXCEEDED`, and none of them commits; 8 concurrent puts of one blob leave one
 * valid blob; get/stat of an absent blob throw `BLOB_NOT_FOUND`; delete removes. Leaves the provider
 * without the blobs it made. Returns the problems found.
 */
export async function checkProviderContract(
  provider: ContentProvider,
  seed = 1,
): Promise<ConformanceProblem[]> {
  const problems: ConformanceProblem[] = [];
  const bytes = Buffer.from(`ocikit contract blob ${seed} `.repeat(200));
  const descriptor: Descriptor = {
    mediaType: 'application/octet-stream',
    digest: digestOf(bytes),
    size: bytes.byteLength,
  };
  const other = Buffer.from(bytes);
  other[0] = (other[0] ?? 0) ^ 1;

  await expectFailure(problems, 'put with a wrong digest', ['DIGEST_MISMATCH'], () =>
    provider.put(descriptor, other),
  );
  await expectFailure(problems, 'put of a truncated source', ['SIZE_MISMATCH'], () =>
    provider.put(descriptor, Readable.from([bytes.subarray(0, 100)])),
  );
  await expectFailure(problems, 'put of a too long source', ['SIZE_EXCEEDED'], () =>
    provider.put(descriptor, Buffer.concat([bytes, Buffer.from('!')])),
  );
  if (await provider.has(descriptor.digest))
    problems.push({ subject: 'failed puts', message: 'a failed put committed' });

  await expectFailure(problems, 'get of an absent blob', ['BLOB_NOT_FOUND'], () =>
    provider.get(descriptor.digest),
  );
  await expectFailure(problems, 'stat of an absent blob', ['BLOB_NOT_FOUND'], () =>
    provider.stat(descriptor.digest),
  );

  const writers = Array.from({ length: 8 }, (_, i) =>
    provider.put(descriptor, Readable.from([bytes.subarray(0, 7 * i), bytes.subarray(7 * i)])),
  );
  const settled = await Promise.allSettled(writers);
  if (settled.some((result) => result.status === 'rejected')) {
    problems.push({ subject: 'concurrent puts', message: 'a concurrent put of the same blob failed' });
  }
  const back = await readAll(await provider.get(descriptor.digest, { verify: true }));
  if (!back.equals(bytes)) problems.push({ subject: descriptor.digest, message: 'get returned other bytes' });
  if ((await provider.stat(descriptor.digest)).size !== bytes.byteLength) {
    problems.push({ subject: descriptor.digest, message: 'stat size differs' });
  }
  let listed = 0;
  for await (const digest of provider.list()) if (digest === descriptor.digest) listed++;
  if (listed !== 1) problems.push({ subject: descriptor.digest, message: `listed ${listed} times` });
  if (!(await provider.delete(descriptor.digest)))
    problems.push({ subject: descriptor.digest, message: 'delete said absent' });
  if (await provider.has(descriptor.digest))
    problems.push({ subject: descriptor.digest, message: 'still present after delete' });
  return problems;
}
