import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../src/state/container-record.js';
import { isProcessAlive, readProcStat } from '../../src/state/process-status.js';
import { assertContainerId, StateStore } from '../../src/state/state-store.js';

const dir = mkdtempSync(join(tmpdir(), 'ocikit-state-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string): ContainerRecord => ({
  ociVersion: '1.2.0',
  id,
  pid: 123,
  status: 'created',
  bundle: '/b',
  rootfs: '/b/rootfs',
  created: '2024-01-01T00:00:00.000000000Z',
  owner: '',
  pidStartTime: '42',
  cgroupPath: '/x',
});

describe('StateStore', () => {
  const store = new StateStore(join(dir, 'root'));

  it('claims an id once, writes and reads records, lists and removes', async () => {
    await store.claim('a');
    await expect(store.claim('a')).rejects.toMatchObject({ code: 'CONTAINER_EXISTS', path: 'a' });
    await store.write(record('a'));
    await store.claim('b');
    await store.write(record('b'));
    await store.claim('no-record-yet');
    expect(await store.read('a')).toEqual(record('a'));
    expect(await store.list()).toEqual(['a', 'b']);
    await store.remove('a');
    await expect(store.read('a')).rejects.toMatchObject({ code: 'CONTAINER_NOT_FOUND' });
    expect(await store.list()).toEqual(['b']);
    expect(store.fifoPath('b')).toBe(join(dir, 'root', 'b', 'exec.fifo'));
  });

  it('lists nothing for a root that does not exist', async () => {
    expect(await new StateStore(join(dir, 'absent')).list()).toEqual([]);
  });

  it('rejects ids runc rejects', () => {
    for (const bad of ['', '.', '..', 'a/b', '../x', 'a b', 'x\n']) {
      expect(() => assertContainerId(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    for (const good of ['a', 'A-1_b.c+d', '0123']) expect(() => assertContainerId(good)).not.toThrow();
  });
});

describe('process status', () => {
  it('reads /proc/<pid>/stat of this process and detects a reused pid by start time', () => {
    const stat = readProcStat(process.pid);
    expect(stat?.state).toMatch(/^[RS]$/);
    expect(stat?.ppid).toBe(process.ppid);
    expect(isProcessAlive(process.pid, stat?.startTime ?? '')).toBe(true);
    expect(isProcessAlive(process.pid, '1')).toBe(false);
    expect(readProcStat(0)).toBeUndefined();
    expect(isProcessAlive(2 ** 30, '')).toBe(false);
  });
});
