import { spawn } from 'node:child_process';
import { existsSync, read, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../errors.js';

/** Options for {@link startMonitor}; see native/monitor/monitor.c for the monitor's own contract. */
export interface StartMonitorOptions {
  /** The create command, e.g. `['runc', 'create', '--bundle', b, '--pid-file', p, id]`. */
  command: readonly string[];
  /** Where the monitor records the container's exit status (written by rename). */
  exitFile: string;
  /** Where `command` writes the container init's pid. */
  pidFile: string;
  /** The container's stdout and stderr go here; without it they are read and dropped. */
  logPath?: string;
  /** `raw` (default): bytes as they come; `cri`: Kubernetes CRI log records. */
  logFormat?: 'raw' | 'cri';
  /** CRI line limit in bytes before a line is split into partial records (monitor default 16384). */
  logMaxLine?: number;
  /** The monitor executable (default `<package>/build/Release/ocikit-monitor`). */
  binary?: string;
  /** Working directory of the monitor and of `command`. */
  cwd?: string;
  /** Environment of the monitor and of `command` (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Seconds `command` may run before it is killed and the start fails (default: no limit). */
  timeoutCreate?: number;
  /** Seconds to wait for other holders of the output pipes after the init exits (monitor default 2). */
  drainTimeout?: number;
  /** File descriptors of this process handed to `command` as fds 3, 4, … (pair with `--preserve-fds`). */
  preserveFds?: readonly number[];
  /** Keep the monitor as the direct child instead of daemonizing it (tests, supervisors). */
  foreground?: boolean;
  /** A unix socket path where clients get live output and may write stdin (see attachContainer). */
  attachSocket?: string;
  /** Give the container a stdin pipe fed by attach clients (default: /dev/null). */
  stdin?: boolean;
  /** Like `stdin`, and close it when the first attach client ends its input (CRI StdinOnce). */
  stdinOnce?: boolean;
  signal?: AbortSignal;
}

/** A started monitor: the container exists and is watched. */
export interface MonitorStarted {
  /** The container init's pid, read from the pid file. */
  pid: number;
  /** The pid of the monitor process that will write the exit file. */
  monitorPid: number;
}

/** Details kept as the `cause` of a `MONITOR_FAILED` error when the create command failed. */
export interface MonitorFailureDetails {
  /** The create command's exit status (128 + signal when killed), or the monitor's own status. */
  exitCode: number;
  /** The last 4 KiB the create command wrote to stderr (or the monitor's own diagnostics). */
  stderr: string;
}

const syncLineLimit = 64 * 1024;
const stderrLimit = 8 * 1024;

let cachedPackageRoot: string | undefined;

function moduleDirectory(): string {
  // The CommonJS bundle has __dirname; the ES module build and the TypeScript sources have import.meta.
  if (typeof __dirname === 'string') return __dirname;
  return path.dirname(fileURLToPath(import.meta.url));
}

function packageRoot(): string {
  if (cachedPackageRoot !== undefined) return cachedPackageRoot;
  let directory = moduleDirectory();
  for (;;) {
    const manifest = path.join(directory, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
        if (parsed.name === '@ocikit/oci-runtime') {
          cachedPackageRoot = directory;
          return directory;
        }
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    const parent = path.dirname(directory);
    if (parent === directory) {
      throw new RuntimeError(
        'MONITOR_FAILED',
        'find monitor binary: package root of @ocikit/oci-runtime not found',
      );
    }
    directory = parent;
  }
}

/**
 * The default monitor executable, `<package root>/build/Release/ocikit-monitor` (built by node-gyp).
 * Does not check that it exists. Throws {@link RuntimeError} `MONITOR_FAILED` if the package root cannot
 * be found from this module's location.
 */
export function defaultMonitorBinary(): string {
  return path.join(packageRoot(), 'build', 'Release', 'ocikit-monitor');
}

/**
 * This package's bundled CLI, `<package root>/dist/cli.cjs` (built by tsup), for a `startMonitor` create
 * command. Does not check that it exists. Throws {@link RuntimeError} `MONITOR_FAILED` if the
 * package root cannot be found from this module's location.
 */
export function defaultCliPath(): string {
  return path.join(packageRoot(), 'dist', 'cli.cjs');
}

/**
 * The monitor's argument list for `options` with the sync pipe at `syncFd`. Pure; exported for tests and
 * for callers that start the monitor their own way. Throws {@link RuntimeError} `INVALID_ARGUMENT` for an
 * empty command or out-of-range numbers.
 */
export function monitorArguments(options: StartMonitorOptions, syncFd: number): string[] {
  if (options.command.length === 0 || options.command[0] === '') {
    throw new RuntimeError('INVALID_ARGUMENT', 'start monitor: command is empty');
  }
  const args = ['--exit-file', options.exitFile, '--pid-file', options.pidFile];
  args.push(
    ...outputArguments(options),
    ...secondsArgument('timeout-create', options.timeoutCreate),
    ...secondsArgument('drain-timeout', options.drainTimeout),
  );
  const preserved = options.preserveFds?.length ?? 0;
  if (preserved > 0) args.push('--preserve-fds', String(preserved));
  args.push('--sync-fd', String(syncFd));
  args.push(...attachArguments(options));
  if (options.foreground === true) args.push('--foreground');
  args.push('--', ...options.command);
  return args;
}

/** The monitor options of a container it adopts (see {@link adoptMonitorArguments}). */
export type AdoptMonitorOptions = Pick<
  StartMonitorOptions,
  | 'exitFile'
  | 'logPath'
  | 'logFormat'
  | 'logMaxLine'
  | 'drainTimeout'
  | 'attachSocket'
  | 'stdin'
  | 'stdinOnce'
>;

/**
 * The monitor's argument list for adopt mode (`Syscalls.spawnMonitored` adds the fd options). Pure.
 * Throws {@link RuntimeError} `INVALID_ARGUMENT` for out-of-range numbers.
 */
export function adoptMonitorArguments(options: AdoptMonitorOptions): string[] {
  return [
    '--exit-file',
    options.exitFile,
    ...outputArguments(options),
    ...secondsArgument('drain-timeout', options.drainTimeout),
    ...attachArguments(options),
  ];
}

function secondsArgument(name: string, value: number | undefined): string[] {
  if (value === undefined) return [];
  if (!Number.isFinite(value) || value < 0) {
    throw new RuntimeError('INVALID_ARGUMENT', `start monitor: ${name} must be a non-negative number`);
  }
  return [`--${name}`, String(value)];
}

function outputArguments(options: AdoptMonitorOptions): string[] {
  const args: string[] = [];
  if (options.logPath !== undefined) args.push('--log', options.logPath);
  if (options.logFormat !== undefined) args.push('--log-format', options.logFormat);
  if (options.logMaxLine !== undefined) {
    if (!Number.isInteger(options.logMaxLine) || options.logMaxLine < 64) {
      throw new RuntimeError('INVALID_ARGUMENT', 'start monitor: logMaxLine must be an integer >= 64');
    }
    args.push('--log-max-line', String(options.logMaxLine));
  }
  return args;
}

function attachArguments(options: AdoptMonitorOptions): string[] {
  const args: string[] = [];
  if (options.attachSocket !== undefined) args.push('--attach-socket', options.attachSocket);
  if (options.stdinOnce === true) args.push('--stdin-once');
  else if (options.stdin === true) args.push('--stdin');
  return args;
}

interface SyncMessage {
  pid?: unknown;
  monitorPid?: unknown;
  error?: unknown;
  exitCode?: unknown;
  stderr?: unknown;
}

function failure(message: string, details: MonitorFailureDetails): RuntimeError {
  const tail = details.stderr.trim();
  return new RuntimeError('MONITOR_FAILED', tail === '' ? message : `${message}: ${tail}`, {
    cause: details,
  });
}

/** How errors about a monitor's one-line JSON answer are worded by each of its two readers. */
interface AnswerWords {
  /** Prefixes the error of an answer that reports a failure (`<prefix>: <reason>`). */
  prefix: string;
  /** Names the answer in the error for one that is not JSON. */
  unreadable: string;
  /** The reason used when the answer carries neither pids nor an error. */
  unexpected: string;
}

const startAnswerWords: AnswerWords = {
  prefix: 'start monitor',
  unreadable: 'start monitor: unreadable sync message',
  unexpected: 'unexpected sync message',
};

const adoptAnswerWords: AnswerWords = {
  prefix: 'create: monitor',
  unreadable: 'create: unreadable monitor answer',
  unexpected: 'unexpected answer',
};

/**
 * Decodes the monitor's answer line: the pids on `{"pid":N,"monitorPid":M}`, else throws
 * `MONITOR_FAILED` (carrying the reported exit code and stderr as {@link MonitorFailureDetails}).
 */
function parseAnswer(line: string, words: AnswerWords): MonitorStarted {
  let message: SyncMessage;
  try {
    message = JSON.parse(line) as SyncMessage;
  } catch (error) {
    throw new RuntimeError('MONITOR_FAILED', `${words.unreadable} ${JSON.stringify(line)}`, {
      cause: error,
    });
  }
  if (typeof message.pid === 'number' && typeof message.monitorPid === 'number') {
    return { pid: message.pid, monitorPid: message.monitorPid };
  }
  const reason = typeof message.error === 'string' ? message.error : words.unexpected;
  throw failure(`${words.prefix}: ${reason}`, {
    exitCode: typeof message.exitCode === 'number' ? message.exitCode : 1,
    stderr: typeof message.stderr === 'string' ? message.stderr : '',
  });
}

/**
 * Starts a monitor that runs `options.command` (a container "create"), and resolves once the container
 * exists: the command exited 0 and its pid file was read. The monitor daemonizes (unless `foreground`),
 * so it and the container outlive this process; the exit status lands in `options.exitFile`.
 * Rejects with {@link RuntimeError} `MONITOR_FAILED` (message ends with the command's stderr, `cause` is
 * {@link MonitorFailureDetails}) when the command fails or the monitor cannot start, `INVALID_ARGUMENT`
 * for bad options, and `ABORTED` when `signal` fires first — a container may then exist all the same.
 */
export function startMonitor(options: StartMonitorOptions): Promise<MonitorStarted> {
  const { signal } = options;
  const preserved = options.preserveFds ?? [];
  const syncFd = 3 + preserved.length;
  const args = monitorArguments(options, syncFd);
  if (signal?.aborted) {
    return Promise.reject(new RuntimeError('ABORTED', 'start monitor: aborted', { cause: signal.reason }));
  }
  const binary = options.binary ?? defaultMonitorBinary();

  return new Promise<MonitorStarted>((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', ...preserved, 'pipe'],
    });
    const syncStream = child.stdio[syncFd] as Readable | null;
    let syncText = '';
    let stderrText = '';
    let settled = false;

    const cleanUp = (): void => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      syncStream?.destroy();
      child.stderr?.destroy();
      child.unref();
    };
    const settleWithError = (error: RuntimeError): void => {
      if (settled) return;
      cleanUp();
      reject(error);
    };
    const onAbort = (): void => {
      if (settled) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      settleWithError(new RuntimeError('ABORTED', 'start monitor: aborted', { cause: signal?.reason }));
    };
    const interpret = (line: string): void => {
      let started: MonitorStarted;
      try {
        started = parseAnswer(line, startAnswerWords);
      } catch (error) {
        settleWithError(error as RuntimeError);
        return;
      }
      if (settled) return;
      cleanUp();
      resolve(started);
    };

    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error: NodeJS.ErrnoException) => {
      settleWithError(
        new RuntimeError('MONITOR_FAILED', `start monitor: run ${binary}: ${error.message}`, {
          path: binary,
          errno: error.code,
          cause: error,
        }),
      );
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderrText.length < stderrLimit) stderrText += chunk.slice(0, stderrLimit - stderrText.length);
    });
    syncStream?.setEncoding('utf8');
    syncStream?.on('data', (chunk: string) => {
      syncText += chunk;
      const newline = syncText.indexOf('\n');
      if (newline >= 0) {
        interpret(syncText.slice(0, newline));
      } else if (syncText.length > syncLineLimit) {
        settleWithError(new RuntimeError('MONITOR_FAILED', 'start monitor: sync message too long'));
      }
    });
    syncStream?.on('error', () => {
      // The 'close' handler reports what is known.
    });
    child.on('close', (code, killedBy) => {
      if (settled) return;
      if (syncText.trim() !== '') {
        interpret(syncText.trim());
        return;
      }
      const exitCode = code ?? 128;
      settleWithError(
        failure(
          `start monitor: monitor ended without reporting (${code === null ? `signal ${killedBy}` : `status ${code}`})`,
          {
            exitCode,
            stderr: stderrText,
          },
        ),
      );
    });
  });
}

/**
 * Reads the one-line JSON answer a monitor writes on its sync fd (here: the report fd of a monitored
 * spawn) and closes nothing. Resolves the pids on `{"pid":N,"monitorPid":M}`; rejects with
 * {@link RuntimeError} `MONITOR_FAILED` on an error answer or when the fd ends without one, `ABORTED`
 * when `signal` fires.
 */
export async function readMonitorAnswer(fd: number, signal?: AbortSignal): Promise<MonitorStarted> {
  const buffer = Buffer.alloc(4096);
  let text = '';
  for (;;) {
    signal?.throwIfAborted();
    const got = await new Promise<number>((resolve, reject) => {
      read(fd, buffer, 0, buffer.length, null, (error, bytesRead) =>
        error ? reject(error) : resolve(bytesRead),
      );
    }).catch((error: NodeJS.ErrnoException) => {
      throw new RuntimeError('MONITOR_FAILED', `read monitor answer: ${error.message}`, {
        errno: error.code,
        cause: error,
      });
    });
    if (got > 0) text += buffer.toString('utf8', 0, got);
    const newline = text.indexOf('\n');
    if (newline >= 0 || got === 0 || text.length > syncLineLimit) {
      const line = (newline >= 0 ? text.slice(0, newline) : text).trim();
      if (line === '') {
        throw new RuntimeError('MONITOR_FAILED', 'create: the monitor ended without answering');
      }
      return parseAnswer(line, adoptAnswerWords);
    }
  }
}

/**
 * Asks the monitor `monitorPid` to reopen its log file (after the log was renamed for rotation; CRI
 * ReopenContainerLog). Checks first that the process is a monitor (its command line has `--exit-file`),
 * so a recycled pid is not signalled. Throws {@link RuntimeError} `MONITOR_FAILED` when it is not or the
 * signal cannot be sent, `ABORTED` when `signal` fires.
 */
export async function reopenLog(monitorPid: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  if (!Number.isInteger(monitorPid) || monitorPid <= 0) {
    throw new RuntimeError('INVALID_ARGUMENT', `reopen log: bad monitor pid ${monitorPid}`);
  }
  let commandLine: string[];
  try {
    const raw = await readFile(`/proc/${monitorPid}/cmdline`, { encoding: 'utf8', signal: options.signal });
    commandLine = raw.split('\0');
  } catch (error) {
    if ((error as Error).name === 'AbortError') {
      throw new RuntimeError('ABORTED', 'reopen log: aborted', { cause: error });
    }
    throw new RuntimeError('MONITOR_FAILED', `reopen log: monitor ${monitorPid} is not running`, {
      errno: (error as NodeJS.ErrnoException).code,
      cause: error,
    });
  }
  const separator = commandLine.indexOf('--');
  const own = separator < 0 ? commandLine : commandLine.slice(0, separator);
  if (!own.includes('--exit-file')) {
    throw new RuntimeError('MONITOR_FAILED', `reopen log: process ${monitorPid} is not an ocikit monitor`);
  }
  try {
    process.kill(monitorPid, 'SIGUSR1');
  } catch (error) {
    throw new RuntimeError(
      'MONITOR_FAILED',
      `reopen log: signal monitor ${monitorPid}: ${(error as Error).message}`,
      {
        errno: (error as NodeJS.ErrnoException).code,
        cause: error,
      },
    );
  }
}
