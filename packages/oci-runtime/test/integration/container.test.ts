import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../src/container/runtime.js';
import { nativeSyscalls } from '../../src/native.js';
import { canRunContainers, makeBundle, mountsUnder, tempDir } from './helpers.js';

if (!canRunContainers) console.log('skipping container integration tests: not root');

describe.skipIf(!canRunContainers)('container lifecycle (library)', () => {
  const tmp = tempDir('ocikit-container-');
  const runtime = new ContainerRuntime({ root: join(tmp.dir, 'state'), syscalls: nativeSyscalls() });
  afterAll(async () => {
    for (const state of await runtime.list().catch(() => [])) {
      await runtime.delete(state.id, { force: true }).catch(() => undefined);
    }
    tmp.cleanup();
  });

  it('creates, starts and deletes a container whose init is pid 1 with its own hostname and network', async () => {
    const dir = join(tmp.dir, 'c1');
    const bundle = makeBundle(dir, [
      'sh',
      '-c',
      'echo pid=$$; echo host=$(hostname); ip -o link | grep -c . ; ip -o link; cat /proc/self/mountinfo | wc -l',
    ]);
    const outPath = join(dir, 'out.txt');
    const out = openSync(outPath, 'w');
    let created: Awaited<ReturnType<ContainerRuntime['create']>>;
    try {
      created = await runtime.create('c1', bundle, { stdio: [null, out, out] });
    } finally {
      closeSync(out);
    }
    expect(created.status).toBe('created');
    expect(created.pid).toBeGreaterThan(0);
    expect((await runtime.state('c1')).status).toBe('created');
    await runtime.start('c1');
    const exit = await runtime.waitChild(created.pid);
    expect(exit.exitCode).toBe(0);
    expect((await runtime.state('c1')).status).toBe('stopped');
    const text = readFileSync(outPath, 'utf8');
    expect(text).toContain('pid=1\n');
    expect(text).toContain('host=ocikit-test\n');
    const lines = text.split('\n');
    expect(lines[2]).toBe('1');
    expect(lines[3]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    await runtime.delete('c1');
    await expect(runtime.state('c1')).rejects.toMatchObject({ code: 'CONTAINER_NOT_FOUND' });
    expect(mountsUnder(bundle)).toEqual([]);
  });
});
