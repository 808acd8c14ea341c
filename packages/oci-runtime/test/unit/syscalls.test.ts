import { describe, expect, it } from 'vitest';
import { childError, spawnContainerProcess } from '../../src/container/spawn-process.js';
import { isRuntimeError } from '../../src/errors.js';
import { type SpawnPlan, SyncMessageType } from '../../src/syscalls.js';
import { RecordingSyscalls, syscallError } from '../../src/testing/recording-syscalls.js';

const plan: SpawnPlan = { mode: 0, uid: 0, gid: 0, args: ['true'] };
const message = (type: number, value = 0, text = '') => ({ type, value, text });

describe('spawnContainerProcess over a recording Syscalls', () => {
  it('drives userns → pid → hooks → ready in order and closes the sync socket', async () => {
    const sys = new RecordingSyscalls();
    sys.script.push(
      message(SyncMessageType.userns, 4000),
      message(SyncMessageType.pid, 4242),
      message(SyncMessageType.hooks),
      message(SyncMessageType.ready, 4242),
    );
    const steps: string[] = [];
    const pid = await spawnContainerProcess(sys, plan, {
      onUserns: async (stage1) => {
        steps.push(`userns ${stage1}`);
      },
      onPid: async (containerPid) => {
        steps.push(`pid ${containerPid}`);
        return '{"state":1}';
      },
      onHooks: async () => {
        steps.push('hooks');
      },
    });
    expect(pid).toBe(4242);
    expect(steps).toEqual(['userns 4000', 'pid 4242', 'hooks']);
    const sends = sys.callsOf('syncSend').map((call) => call.args.slice(1));
    expect(sends).toEqual([
      [SyncMessageType.usernsDone, 0],
      [SyncMessageType.go, 0, '{"state":1}'],
      [SyncMessageType.hooksDone, 0],
    ]);
    // stage 1 is reaped once it reported the container pid
    expect(sys.callsOf('waitPid').map((call) => call.args[0])).toEqual([4000]);
    expect(sys.callsOf('closeFd').map((call) => call.args[0])).toEqual([100]);
    expect(sys.callsOf('spawn')[0]?.args[0]).toBe(plan);
  });

  it('turns a child error into a typed error and reaps both stages', async () => {
    const sys = new RecordingSyscalls();
    sys.script.push(
      message(SyncMessageType.pid, 4242),
      message(SyncMessageType.error, 40, 'mount-escape: mount target x'),
    );
    const failure = await spawnContainerProcess(sys, plan).catch((error: unknown) => error);
    expect(isRuntimeError(failure, 'MOUNT_ESCAPE')).toBe(true);
    expect((failure as { errno?: string }).errno).toBe('ELOOP');
    expect(sys.callsOf('syncSend').at(-1)?.args[1]).toBe(SyncMessageType.abort);
    expect(sys.callsOf('waitPid').map((call) => call.args[0])).toEqual([4000, 4242]);
    expect(sys.callsOf('closeFd')).toHaveLength(1);
  });

  it('fails when the child closes the socket before it is ready', async () => {
    const sys = new RecordingSyscalls();
    await expect(spawnContainerProcess(sys, plan)).rejects.toMatchObject({ code: 'SYSCALL_FAILED' });
    expect(sys.callsOf('waitPid').map((call) => call.args[0])).toEqual([4000]);
  });

  it('with waitForExec returns only after the socket closes past READY', async () => {
    const sys = new RecordingSyscalls();
    sys.script.push(message(SyncMessageType.pid, 7), message(SyncMessageType.ready, 7), null);
    expect(await spawnContainerProcess(sys, { ...plan, mode: 1 }, { waitForExec: true })).toBe(7);
    expect(sys.callsOf('syncRecv')).toHaveLength(3);
  });

  it('propagates an injected spawn failure without touching anything else', async () => {
    const sys = new RecordingSyscalls();
    sys.failOn('spawn', syscallError('clone', 11, 'EAGAIN'));
    await expect(spawnContainerProcess(sys, plan)).rejects.toThrow('clone: EAGAIN');
    expect(sys.calls.map((call) => call.method)).toEqual(['spawn']);
  });

  it('maps child error texts to codes', () => {
    expect(childError(message(SyncMessageType.error, 22, 'join namespace')).code).toBe(
      'NAMESPACE_PATH_INVALID',
    );
    expect(childError(message(SyncMessageType.error, 1, 'mount proc')).code).toBe('MOUNT_FAILED');
    expect(childError(message(SyncMessageType.error, 110, 'startContainer hook timed out: /x')).code).toBe(
      'HOOK_TIMEOUT',
    );
    expect(childError(message(SyncMessageType.error, 125, 'startContainer hook failed: /x')).code).toBe(
      'HOOK_FAILED',
    );
    const other = childError(
      message(SyncMessageType.error, 2, 'exec: executable file not found in $PATH: x'),
    );
    expect(other.code).toBe('SYSCALL_FAILED');
    expect(other.message).toBe('container init: exec: executable file not found in $PATH: x: ENOENT');
  });
});
