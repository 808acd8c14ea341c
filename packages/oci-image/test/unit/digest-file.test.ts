import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestFile, digestOf, isOciImageError, layout, verifyFile } from '../../src/index.js';

let workspace: string;

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-digest-file-'));
});

afterAll(() => {
  fs.rmSync(workspace, { recursive: true, force: true });
});

function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  );
}

/** Writes `content` to a new file of the workspace and returns its path. */
function fileWith(name: string, content: Buffer): string {
  const file = path.join(workspace, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('digestFile and verifyFile', () => {
  // Sizes around the 1 MiB read buffer: empty, tiny, exactly one buffer, one byte more, several buffers.
  it.each([0, 5, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12_345])(
    'digest %i bytes as digestOf does, by path and by open handle',
    async (size) => {
      const content = randomBytes(size);
      const file = fileWith(`content-${size}`, content);
      expect(await digestFile(file)).toEqual({ digest: digestOf(content), size });
      expect((await digestFile(file, 'sha512')).digest).toBe(digestOf(content, 'sha512'));
      const handle = await open(file, 'r');
      try {
        // Read from the start even when the handle's own position moved; the handle stays open.
        await handle.read(Buffer.alloc(1), 0, 1, null);
        expect((await digestFile(handle)).digest).toBe(digestOf(content));
        await verifyFile(handle, { digest: digestOf(content), size });
        expect((await handle.stat()).size).toBe(size);
      } finally {
        await handle.close();
      }
    },
  );

  it('fails with DIGEST_MISMATCH, SIZE_MISMATCH and SIZE_EXCEEDED', async () => {
    const content = randomBytes(3 * (1 << 20));
    const file = fileWith('mismatch', content);
    const wrong = digestOf('something else');
    expect(isOciImageError(await failure(verifyFile(file, { digest: wrong })), 'DIGEST_MISMATCH')).toBe(true);
    const short = await failure(verifyFile(file, { digest: digestOf(content), size: content.length + 1 }));
    expect(isOciImageError(short, 'SIZE_MISMATCH')).toBe(true);
    const long = await failure(verifyFile(file, { digest: digestOf(content), size: 10 }));
    expect(isOciImageError(long, 'SIZE_EXCEEDED')).toBe(true);
    await verifyFile(file, { digest: digestOf(content), size: content.length });
  });

  it('fails with ABORTED and passes file-system errors through', async () => {
    const file = fileWith('abort', randomBytes(4 * (1 << 20)));
    const controller = new AbortController();
    controller.abort();
    const aborted = await failure(digestFile(file, 'sha256', { signal: controller.signal }));
    expect(isOciImageError(aborted, 'ABORTED')).toBe(true);
    const missing = await failure(digestFile(path.join(workspace, 'no-such-file')));
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('LayoutProvider.verify', () => {
  it('checks a stored blob, and reports a corrupted, missing or symlinked one', async () => {
    const provider = await layout.create(path.join(workspace, 'layout'));
    const content = randomBytes(2 * (1 << 20) + 7);
    const digest = digestOf(content);
    await provider.put({ mediaType: 'application/octet-stream', digest, size: content.length }, content);
    expect(await provider.verify(digest)).toEqual({ size: content.length });
    expect(await provider.verify(digest, { size: content.length })).toEqual({ size: content.length });
    const wrongSize = await failure(provider.verify(digest, { size: content.length - 1 }));
    expect(isOciImageError(wrongSize, 'SIZE_EXCEEDED')).toBe(true);

    const corrupted = Buffer.from(content);
    corrupted[12_345] = (corrupted[12_345] ?? 0) ^ 1;
    fs.writeFileSync(provider.blobPath(digest), corrupted);
    expect(isOciImageError(await failure(provider.verify(digest)), 'DIGEST_MISMATCH')).toBe(true);

    const absent = digestOf('absent');
    expect(isOciImageError(await failure(provider.verify(absent)), 'BLOB_NOT_FOUND')).toBe(true);

    const outside = fileWith('outside-blob', Buffer.from('outside'));
    const linked = digestOf('outside');
    fs.symlinkSync(outside, provider.blobPath(linked));
    expect(isOciImageError(await failure(provider.verify(linked)), 'INVALID_LAYOUT')).toBe(true);
  });
});
