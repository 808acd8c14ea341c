import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setAttributeSync } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { isOciImageError } from '../../src/errors.js';
import { applyLayer } from '../../src/layer/apply-layer.js';
import { tarBuilder } from '../../src/testing/tar-builder.js';

/*
 * What the callback-driven apply engine must get right beyond the shared applyLayer tests: files are
 * created with their final mode only when neither the umask nor a default ACL could change it, content
 * split at any byte boundary lands intact, and an asynchronous entry at the very end of a tar without
 * end-of-archive blocks completes before applyLayer resolves.
 */

let workspace: string;
let counter = 0;

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-apply-engine-'));
});

afterAll(() => {
  fs.rmSync(workspace, { recursive: true, force: true });
});

function freshRoot(): string {
  counter += 1;
  const root = path.join(workspace, `root-${counter}`);
  fs.mkdirSync(root);
  return root;
}

function modeOf(file: string): number {
  return fs.lstatSync(file).mode & 0o7777;
}

/** Splits `blob` into chunks of `size` bytes. */
function chunks(blob: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < blob.length; offset += size) {
    parts.push(blob.subarray(offset, offset + size));
  }
  return parts;
}

// A POSIX default ACL (user::rwx, group::r-x, other::---): files created below it get group and other
// bits from the ACL, not from the umask.
const defaultAcl = Buffer.from('0200000001000700ffffffff04000500ffffffff20000000ffffffff', 'hex');

function supportsDefaultAcl(): boolean {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-acl-probe-'));
  try {
    setAttributeSync(probe, 'system.posix_acl_default', defaultAcl);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

const aclSupported = supportsDefaultAcl();
if (!aclSupported) {
  console.log('apply-layer-engine: the temp file system has no POSIX ACLs; the default-ACL case is skipped');
}

const modes = [0o644, 0o666, 0o600, 0o000, 0o755, 0o777, 0o4755, 0o2755, 0o1777, 0o640];

function modeLayer(): Buffer {
  const builder = tarBuilder().directory('d/', { mode: 0o755 });
  for (const mode of modes) {
    builder.file(`d/m${mode.toString(8)}`, 'x', { mode });
  }
  return builder.toBuffer();
}

describe('applyLayer engine: file modes', () => {
  it.each(['022', '077', '000', '027'])('gives files their exact mode with umask %s', async (octal) => {
    const umask = Number.parseInt(octal, 8);
    const root = freshRoot();
    const previous = process.umask(umask);
    try {
      await applyLayer(root, Readable.from([modeLayer()]));
    } finally {
      process.umask(previous);
    }
    for (const mode of modes) {
      expect(modeOf(path.join(root, `d/m${mode.toString(8)}`)), `mode ${mode.toString(8)}`).toBe(mode);
    }
  });

  it.skipIf(!aclSupported)('gives files their exact mode below a directory with a default ACL', async () => {
    const root = freshRoot();
    setAttributeSync(root, 'system.posix_acl_default', defaultAcl);
    // The layer also sets a default ACL on a directory of its own before writing into it.
    const blob = tarBuilder()
      .file('top', 'x', { mode: 0o644 })
      .directory('acl/', { mode: 0o755, xattrs: { 'system.posix_acl_default': defaultAcl } })
      .file('acl/inner', 'y', { mode: 0o666 })
      .toBuffer();
    await applyLayer(root, Readable.from([blob]));
    expect(modeOf(path.join(root, 'top'))).toBe(0o644);
    expect(modeOf(path.join(root, 'acl/inner'))).toBe(0o666);
  });
});

describe('applyLayer engine: streaming', () => {
  it('writes content split at every kind of boundary intact, and digests it', async () => {
    const big = randomBytes(70_000);
    const builder = tarBuilder()
      .file('a', 'small')
      .file('empty', '')
      .file('big', big)
      .symlink('link', 'a')
      .file('long/'.repeat(30) + 'name', 'deep', { pax: { mtime: '1700000000.5' } });
    const blob = builder.toBuffer();
    for (const size of [1, 7, 511, 513, 4096]) {
      const root = freshRoot();
      const result = await applyLayer(root, Readable.from(chunks(blob, size)));
      expect(result.diffId).toBe(digestOf(blob));
      expect(fs.readFileSync(path.join(root, 'a'), 'utf8')).toBe('small');
      expect(fs.readFileSync(path.join(root, 'empty'), 'utf8')).toBe('');
      expect(fs.readFileSync(path.join(root, 'big')).equals(big)).toBe(true);
      expect(fs.readlinkSync(path.join(root, 'link'))).toBe('a');
      const deep = path.join(root, `${'long/'.repeat(30)}name`);
      expect(fs.readFileSync(deep, 'utf8')).toBe('deep');
      expect(fs.lstatSync(deep).mtimeMs).toBe(1_700_000_000_500);
    }
  });

  it('finishes a fifo (made by a child process) at the very end of a tar without end-of-archive blocks', async () => {
    const root = freshRoot();
    const blob = tarBuilder().file('first', '1').fifo('last', { mode: 0o640 }).toBuffer({ end: false });
    await applyLayer(root, Readable.from([blob]));
    const stats = fs.lstatSync(path.join(root, 'last'));
    expect(stats.isFIFO()).toBe(true);
    expect(stats.mode & 0o7777).toBe(0o640);
  });

  it('reports a tar that ends inside a header block as LAYER_TRUNCATED', async () => {
    const blob = tarBuilder().file('a', 'x').file('b', 'y').toBuffer();
    const error = await applyLayer(freshRoot(), Readable.from([blob.subarray(0, 1024 + 100)])).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(isOciImageError(error, 'LAYER_TRUNCATED')).toBe(true);
  });
});
