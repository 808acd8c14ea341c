import { spawn } from 'node:child_process';
import { RuntimeError } from './errors.js';
import type { Hook } from './spec/config.js';
import type { ContainerState } from './state/container-record.js';

/** Options of {@link runHook} / {@link runHooks}. */
export interface RunHookOptions {
  /** Names the lifecycle point in errors (`prestart`, `poststop`, …). */
  phase: string;
  /** Wraps the hook in `nsenter` into this pid's namespaces (createContainer hooks). */
  enterPid?: number | undefined;
  /** Namespace flags for nsenter (`-m`, `-u`, …); default mount, uts, ipc, net, pid. */
  enterFlags?: readonly string[] | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Runs one hook with the container state as JSON on stdin, its own `args` (argv[0] included) and `env`
 * (empty when absent). Throws `HOOK_TIMEOUT` when it outlives `timeout` seconds (it is killed), and
 * `HOOK_FAILED` when it cannot start or exits non-zero (the message carries its stderr).
 */
export function runHook(hook: Hook, state: ContainerState, options: RunHookOptions): Promise<void> {
  const args = hook.args ?? [hook.path];
  let file = hook.path;
  let argv = args.slice(1);
  let argv0 = args[0] ?? hook.path;
  if (options.enterPid !== undefined) {
    file = 'nsenter';
    argv0 = 'nsenter';
    const flags = options.enterFlags ?? ['-m', '-u', '-i', '-n', '-p'];
    argv = ['-t', String(options.enterPid), ...flags, '--', hook.path, ...args.slice(1)];
  }
  const env: Record<string, string> = {};
  for (const entry of hook.env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (options.enterPid !== undefined && env.PATH === undefined) env.PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      argv0,
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
      signal: options.signal,
    });
    let stderr = '';
    let timedOut = false;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    const timer =
      hook.timeout !== undefined && hook.timeout > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, hook.timeout * 1000)
        : undefined;
    child.stdin?.on('error', () => {
      // a hook that does not read its stdin closes the pipe early: not a failure
    });
    child.stdin?.end(JSON.stringify(state));
    child.on('error', (error) => {
      if (timer !== undefined) clearTimeout(timer);
      reject(
        new RuntimeError('HOOK_FAILED', `${options.phase} hook ${hook.path}: ${error.message}`, {
          path: hook.path,
          cause: error,
        }),
      );
    });
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (timedOut) {
        reject(
          new RuntimeError(
            'HOOK_TIMEOUT',
            `${options.phase} hook ${hook.path} timed out after ${hook.timeout}s`,
            {
              path: hook.path,
            },
          ),
        );
      } else if (code !== 0) {
        const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
        const detail = stderr.trim() === '' ? '' : `: ${stderr.trim()}`;
        reject(
          new RuntimeError('HOOK_FAILED', `${options.phase} hook ${hook.path} ${how}${detail}`, {
            path: hook.path,
          }),
        );
      } else {
        resolve();
      }
    });
  });
}

/** Runs hooks one after the other; the first failure stops the rest and is thrown. */
export async function runHooks(
  hooks: readonly Hook[] | undefined,
  state: ContainerState,
  options: RunHookOptions,
): Promise<void> {
  for (const hook of hooks ?? []) await runHook(hook, state, options);
}
