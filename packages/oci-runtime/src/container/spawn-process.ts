import { constants } from 'node:os';
import { RuntimeError, type RuntimeErrorCode } from '../errors.js';
import {
  type SpawnPlan,
  type SpawnResult,
  type SyncMessage,
  SyncMessageType,
  type Syscalls,
} from '../syscalls.js';

/** Steps the parent takes while the child waits (all optional). */
export interface SpawnCallbacks {
  /** Stage 1 created its user namespace: write `/proc/<pid>/uid_map` and `gid_map` now. */
  onUserns?: ((stage1Pid: number) => Promise<void>) | undefined;
  /**
   * The container process exists (host pid) and waits: join cgroups, record the pid. A string
   * returned is sent with GO: the state the child's startContainer hooks read on stdin.
   */
  onPid?: ((pid: number) => Promise<string | undefined>) | undefined;
  /** Mounts are done, pivot_root is next: run prestart / createRuntime / createContainer hooks. */
  onHooks?: ((pid: number) => Promise<void>) | undefined;
}

/** Options of {@link spawnContainerProcess}. */
export interface SpawnOptions extends SpawnCallbacks {
  /** After READY, wait for the sync socket to close (execve done) to catch exec errors; no exec fifo then. */
  waitForExec?: boolean | undefined;
  /**
   * Makes stage 1 instead of `sys.spawn` (a monitored create uses `sys.spawnMonitored`). Stage 1 is then
   * not this process's child: it is never waited for here.
   */
  spawn?: ((plan: SpawnPlan) => SpawnResult) | undefined;
  signal?: AbortSignal | undefined;
}

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

/** Turns an error message of the child into a typed error, by what failed. */
export function childError(message: SyncMessage): RuntimeError {
  const errno = errnoNames.get(message.value);
  let text = message.text;
  let code: RuntimeErrorCode = 'SYSCALL_FAILED';
  if (text.startsWith('mount-escape: ')) {
    code = 'MOUNT_ESCAPE';
    text = `${text.slice('mount-escape: '.length)}: a symlink leads out of the rootfs`;
  } else if (text.startsWith('join namespace')) code = 'NAMESPACE_PATH_INVALID';
  else if (/^(mount|remount|bind|mask|set propagation|reopen mount|pivot_root|move rootfs)/.test(text))
    code = 'MOUNT_FAILED';
  else if (text.startsWith('startContainer hook timed out')) code = 'HOOK_TIMEOUT';
  else if (text.startsWith('startContainer hook')) code = 'HOOK_FAILED';
  const reason = errno === undefined ? `errno ${message.value}` : `${errno}`;
  return new RuntimeError(code, `container init: ${text}: ${reason}`, { errno, path: undefined });
}

/**
 * Clones a container process for `plan` and drives the sync protocol with it until it is ready
 * (waiting on the exec fifo, or — with `waitForExec` — past execve). Returns the container process's
 * host pid. On any failure the child is killed and reaped before the error is thrown.
 */
export async function spawnContainerProcess(
  sys: Syscalls,
  plan: SpawnPlan,
  options: SpawnOptions = {},
): Promise<number> {
  const ownChild = options.spawn === undefined;
  const { pid: stage1, syncFd } = options.spawn === undefined ? sys.spawn(plan) : options.spawn(plan);
  // Someone else's child (the monitor's) is reaped by them.
  let stage1Reaped = !ownChild;
  let pid = 0;
  let readySeen = false;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const message = await sys.syncRecv(syncFd);
      if (message === null) {
        if (pid !== 0 && options.waitForExec && readySeen) return pid;
        throw new RuntimeError('SYSCALL_FAILED', 'container init exited before it was ready');
      }
      switch (message.type) {
        case SyncMessageType.userns:
          await options.onUserns?.(stage1);
          sys.syncSend(syncFd, SyncMessageType.usernsDone);
          break;
        case SyncMessageType.pid:
          pid = message.value;
          if (ownChild) await sys.waitPid(stage1);
          stage1Reaped = true;
          sys.syncSend(syncFd, SyncMessageType.go, 0, await options.onPid?.(pid));
          break;
        case SyncMessageType.hooks:
          await options.onHooks?.(pid);
          sys.syncSend(syncFd, SyncMessageType.hooksDone);
          break;
        case SyncMessageType.ready:
          if (!options.waitForExec) return pid;
          readySeen = true;
          break;
        case SyncMessageType.error:
          throw childError(message);
        default:
          throw new RuntimeError('SYSCALL_FAILED', `container init sent an unknown message ${message.type}`);
      }
    }
  } catch (error) {
    try {
      sys.syncSend(syncFd, SyncMessageType.abort);
    } catch {
      // the child may be gone already
    }
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await sys.waitPid(pid).catch(() => undefined);
    }
    if (!stage1Reaped) await sys.waitPid(stage1).catch(() => undefined);
    throw error;
  } finally {
    sys.closeFd(syncFd);
  }
}
