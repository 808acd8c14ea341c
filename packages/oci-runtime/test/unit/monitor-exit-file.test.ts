import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { parseExitStatus, readExitFile, waitForExit } from '../../src/monitor/exit-file.js';

let directory = '';
beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'ocikit-exit-file-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isRuntimeError(error) ? error.code : 'not a RuntimeError';
  }
  return undefined;
}

describe('parseExitStatus', () => {
  it('reads a normal exit and a signal death', () => {
    expect(
      parseExitStatus('{"pid":12,"exitCode":7,"signal":null,"exitedAt":"2024-05-01T10:00:00.000000001Z"}'),
    ).toEqual({ pid: 12, exitCode: 7, signal: null, exitedAt: '2024-05-01T10:00:00.000000001Z' });
    expect(parseExitStatus('{"pid":3,"exitCode":137,"signal":9,"exitedAt":"x"}\n').signal).toBe(9);
  });

  it('rejects text that is not an exit status with MONITOR_FAILED', () => {
    expect(codeOf(() => parseExitStatus('{"pid":1'))).toBe('MONITOR_FAILED');
    expect(codeOf(() => parseExitStatus('{"pid":1,"exitCode":300,"signal":null,"exitedAt":"x"}'))).toBe(
      'MONITOR_FAILED',
    );
    expect(codeOf(() => parseExitStatus('{"pid":1,"exitCode":0,"exitedAt":"x"}'))).toBe('MONITOR_FAILED');
  });
});

describe('readExitFile', () => {
  it('resolves undefined while the file does not exist', async () => {
    await expect(readExitFile(path.join(directory, 'absent.json'))).resolves.toBeUndefined();
  });

  it('names the file in the error for malformed content', async () => {
    const file = path.join(directory, 'bad.json');
    await writeFile(file, 'garbage');
    await expect(readExitFile(file)).rejects.toMatchObject({ code: 'MONITOR_FAILED', path: file });
  });
});

describe('waitForExit', () => {
  it('resolves once the file appears by rename', async () => {
    const file = path.join(directory, 'later.json');
    const waiting = waitForExit(file, { pollMs: 5000, signal: AbortSignal.timeout(20_000) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeFile(`${file}.tmp`, '{"pid":5,"exitCode":0,"signal":null,"exitedAt":"t"}');
    await rename(`${file}.tmp`, file);
    await expect(waiting).resolves.toEqual({ pid: 5, exitCode: 0, signal: null, exitedAt: 't' });
  });

  it('finds a file that already exists', async () => {
    const file = path.join(directory, 'early.json');
    await writeFile(file, '{"pid":6,"exitCode":1,"signal":null,"exitedAt":"t"}');
    await expect(waitForExit(file)).resolves.toMatchObject({ pid: 6, exitCode: 1 });
  });

  it('rejects with ABORTED when the signal fires', async () => {
    const controller = new AbortController();
    const waiting = waitForExit(path.join(directory, 'never.json'), { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
