import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../src/container/runtime.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { OpenFlag, type SpawnPlan, SyncMessageType } from '../../src/syscalls.js';
import { RecordingSyscalls } from '../../src/testing/recording-syscalls.js';

const dir = mkdtempSync(join(tmpdir(), 'ocikit-runtime-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bundle(name: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, 'rootfs'), { recursive: true });
  const spec = defaultSpec();
  spec.process = { ...spec.process!, terminal: false, args: ['sleep', '1'] };
  writeFileSync(join(path, 'config.json'), JSON.stringify(spec));
  return path;
}

describe('ContainerRuntime.create over a recording Syscalls', () => {
  it('prepares the fifo and the plan, follows the protocol and records the container', async () => {
    const sys = new RecordingSyscalls();
    // The fake container pid is this process: alive, so the record reads as created.
    sys.script.push(
      { type: SyncMessageType.pid, value: process.pid, text: '' },
      { type: SyncMessageType.hooks, value: 0, text: '' },
      { type: SyncMessageType.ready, value: process.pid, text: '' },
    );
    const root = join(dir, 'state1');
    const runtime = new ContainerRuntime({ root, syscalls: sys, cgroups: false });
    const state = await runtime.create('c1', bundle('b1'), { pidFile: join(dir, 'c1.pid') });
    expect(state).toMatchObject({
      id: 'c1',
      pid: process.pid,
      status: 'created',
      rootfs: join(dir, 'b1', 'rootfs'),
    });
    expect(sys.callsOf('mkfifo')[0]?.args).toEqual([join(root, 'c1', 'exec.fifo'), 0o622]);
    const fifoOpen = sys.callsOf('openFd')[0];
    expect(fifoOpen?.args.slice(0, 2)).toEqual([join(root, 'c1', 'exec.fifo'), OpenFlag.PATH]);
    const plan = sys.callsOf('spawn')[0]?.args[0] as SpawnPlan;
    expect(plan.execFifoFd).toBe(100);
    expect(plan.rootfs).toBe(join(dir, 'b1', 'rootfs'));
    expect(plan.args).toEqual(['sleep', '1']);
    expect(plan.stdio).toBeUndefined();
    // every fd the runtime opened is closed again
    const opened = [100, 101];
    expect(
      sys
        .callsOf('closeFd')
        .map((call) => call.args[0])
        .sort(),
    ).toEqual(opened);
    expect(readFileSync(join(dir, 'c1.pid'), 'utf8')).toBe(String(process.pid));
    const onDisk = JSON.parse(readFileSync(join(root, 'c1', 'state.json'), 'utf8'));
    expect(onDisk).toMatchObject({ id: 'c1', status: 'created', pid: process.pid, cgroupPath: '' });
    // The status is derived: the fake made no fifo, so the live pid reads as running until one exists.
    expect((await runtime.state('c1')).status).toBe('running');
    writeFileSync(join(root, 'c1', 'exec.fifo'), '');
    expect((await runtime.state('c1')).status).toBe('created');
    expect(await runtime.list()).toHaveLength(1);
  });

  it('removes the state directory when the child reports an error', async () => {
    const sys = new RecordingSyscalls();
    sys.script.push({ type: SyncMessageType.error, value: 2, text: 'mount target proc' });
    const root = join(dir, 'state2');
    const runtime = new ContainerRuntime({ root, syscalls: sys, cgroups: false });
    await expect(runtime.create('c2', bundle('b2'))).rejects.toMatchObject({ code: 'MOUNT_FAILED' });
    expect(existsSync(join(root, 'c2'))).toBe(false);
    expect(sys.callsOf('closeFd')).toHaveLength(2);
  });

  it('refuses a terminal without a console socket before touching the kernel', async () => {
    const sys = new RecordingSyscalls();
    const path = bundle('b3');
    const spec = JSON.parse(readFileSync(join(path, 'config.json'), 'utf8'));
    spec.process.terminal = true;
    writeFileSync(join(path, 'config.json'), JSON.stringify(spec));
    const runtime = new ContainerRuntime({ root: join(dir, 'state3'), syscalls: sys, cgroups: false });
    await expect(runtime.create('c3', path)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(sys.calls).toEqual([]);
  });
});
