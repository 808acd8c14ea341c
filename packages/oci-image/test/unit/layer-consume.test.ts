import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { isOciImageError } from '../../src/errors.js';
import { type LayerEntryHeader, type ReadLayerOptions, readLayer } from '../../src/layer/read-layer.js';
import { consumeLayer } from '../../src/layer/tar-parser.js';
import { tarBuilder } from '../../src/testing/tar-builder.js';

/*
 * consumeLayer (the callback engine behind applyLayer) has its own tar parser; readLayer iterates with
 * tar-stream. Both must see the same entries, content, digests and errors for any input, so every case
 * here runs through both and compares what they report.
 */

function describeEntry(header: LayerEntryHeader, content: string): string {
  return JSON.stringify({
    ...header,
    xattrs: [...header.xattrs].map(([name, value]) => [name, value.toString('hex')]),
    content,
  });
}

function split(blob: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < blob.length; offset += size) {
    parts.push(blob.subarray(offset, offset + size));
  }
  return parts;
}

async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    return JSON.stringify({ ok: await run() });
  } catch (error) {
    return JSON.stringify({ error: (error as { code?: unknown }).code ?? (error as Error).message });
  }
}

function viaReader(blob: Buffer, size: number, options: ReadLayerOptions): Promise<string> {
  return outcome(async () => {
    const entries: string[] = [];
    const reader = readLayer(Readable.from(split(blob, size)), options);
    for await (const entry of reader) {
      const hash = createHash('sha256');
      for await (const chunk of entry.body) {
        hash.update(chunk);
      }
      entries.push(describeEntry(entry.header, hash.digest('hex')));
    }
    return { entries, result: reader.result };
  });
}

function viaConsume(blob: Buffer, size: number, options: ReadLayerOptions): Promise<string> {
  return outcome(async () => {
    const entries: string[] = [];
    const result = await consumeLayer(Readable.from(split(blob, size)), options, (header) => {
      const hash = createHash('sha256');
      const done = (): void => {
        entries.push(describeEntry(header, hash.digest('hex')));
      };
      if (header.type === 'fifo') {
        // An asynchronous entry: the parser must wait for it.
        return new Promise<void>((resolve) => {
          setTimeout(() => {
            done();
            resolve();
          }, 1);
        });
      }
      if (header.type === 'directory') {
        done();
        return undefined;
      }
      return { write: (chunk: Buffer) => hash.update(chunk), end: done, abandon: () => undefined };
    });
    return { entries, result };
  });
}

async function expectSame(blob: Buffer, options: ReadLayerOptions = {}): Promise<string> {
  const expected = await viaReader(blob, 1 << 20, options);
  for (const size of [1 << 20, 512, 100, 7]) {
    expect(await viaConsume(blob, size, options), `chunks of ${size}`).toBe(expected);
  }
  return expected;
}

function sampleTar(): Buffer {
  return tarBuilder()
    .directory('etc/', { mode: 0o755, uid: 1, gid: 2 })
    .file('etc/hosts', '127.0.0.1 localhost\n', { mode: 0o644 })
    .file('bin/tool', randomBytes(5000), {
      mode: 0o4755,
      xattrs: { 'security.capability': Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0]), 'user.text': 'ünï' },
    })
    .file(`${'deep/'.repeat(40)}file`, 'long name', { pax: { mtime: '1700000000.25', atime: '1700000001' } })
    .symlink('link', `${'target/'.repeat(30)}x`)
    .hardlink('hard', 'etc/hosts')
    .fifo('pipe', { mode: 0o600 })
    .file('empty', '')
    .whiteout('etc/gone')
    .opaque('bin')
    .toBuffer();
}

describe('consumeLayer reads layers as readLayer does', () => {
  it('sees the same entries, content and digests, whatever the chunking', async () => {
    const tar = sampleTar();
    const same = await expectSame(tar, { expected: { digest: digestOf(tar), size: tar.length } });
    expect(same).toContain('"ok"');
    const gzip = zlib.gzipSync(tar);
    await expectSame(gzip, { compression: 'auto', expected: { digest: digestOf(gzip) } });
  });

  it('fails the same way on truncated, corrupt and mismatched input', async () => {
    const tar = sampleTar();
    for (const cut of [100, 512, 700, 1024 + 100, 3000, tar.length - 1024]) {
      await expectSame(tar.subarray(0, cut));
    }
    const bad = Buffer.from(tar);
    bad[600] = (bad[600] ?? 0) ^ 0xff;
    await expectSame(bad);
    await expectSame(Buffer.from('not a tar at all '.repeat(64)));
    await expectSame(Buffer.alloc(0));
    await expectSame(tar, { expected: { digest: digestOf('other'), size: tar.length } });
    await expectSame(tar, { expected: { digest: digestOf(tar), size: tar.length - 1 } });
    const truncated = await viaConsume(tar.subarray(0, 1024 + 100), 512, {});
    expect(truncated).toContain('LAYER_TRUNCATED');
  });

  it('decodes every header field the same way, garbage included', async () => {
    const tar = tarBuilder()
      .file('a', 'one', { mode: 0o640, uid: 1000, gid: 1000 })
      .file('b', 'two', { pax: { path: 'renamed', 'SCHILY.xattr.user.x': 'y' } })
      .toBuffer();
    const values = [0x00, 0x20, 0x2b, 0x2d, 0x30, 0x37, 0x38, 0x09, 0x80, 0xff, 0x41, 0x2f];
    // Every value at the start of each field (where signs, spaces and base-256 markers matter), and
    // one value at every fifth byte elsewhere.
    const fieldStarts = [0, 100, 108, 116, 124, 136, 156, 157, 257, 263, 265, 297, 329, 337, 345];
    const mutations: [number, number][] = [];
    for (const field of fieldStarts) {
      for (const value of values) {
        mutations.push([field, value]);
      }
    }
    for (let field = 1; field < 512; field += 5) {
      mutations.push([field, values[field % values.length] as number]);
    }
    let cases = 0;
    // The first two blocks are the header of `a` and its content; the third the pax header of `b`.
    for (const start of [0, 1024]) {
      for (const [field, value] of mutations) {
        if (field >= 148 && field < 156) {
          continue;
        }
        const mutated = Buffer.from(tar);
        mutated[start + field] = value;
        let sum = 8 * 0x20;
        for (let index = 0; index < 512; index += 1) {
          if (index < 148 || index >= 156) {
            sum += mutated[start + index] as number;
          }
        }
        mutated.write(`${sum.toString(8).padStart(6, '0')}\0 `, start + 148, 8, 'latin1');
        const expected = await viaReader(mutated, 1 << 20, {});
        expect(await viaConsume(mutated, 1 << 20, {}), `byte ${field} = ${value} of block ${start}`).toBe(
          expected,
        );
        cases += 1;
      }
    }
    expect(cases).toBeGreaterThan(500);
  });

  it('passes a handler error through and reports an abort as ABORTED', async () => {
    const tar = sampleTar();
    const boom = new Error('handler failed');
    const seen = await consumeLayer(Readable.from([tar]), {}, () => {
      throw boom;
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(seen).toBe(boom);
    const controller = new AbortController();
    const aborted = await consumeLayer(Readable.from(split(tar, 512)), { signal: controller.signal }, () => {
      controller.abort();
      return undefined;
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isOciImageError(aborted, 'ABORTED')).toBe(true);
  });
});
