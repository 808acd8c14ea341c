import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../state/process-status.js';
import { buildBusyboxRootfs } from './busybox-rootfs.js';

// A private containerd for integration tests and the benchmark: Debian's containerd 1.6 package with its
// own root, state, sockets and namespace under one temp directory, driven through `ctr`.

const containerdBinary = '/usr/bin/containerd';
const ctrBinary = '/usr/bin/ctr';
const shimBinary = '/usr/bin/containerd-shim-runc-v2';

/**
 * True when the Debian `containerd` package's binaries (containerd, ctr, containerd-shim-runc-v2) are
 * installed under /usr/bin. Checks the file system on every call; never throws.
 */
export function hasContainerd(): boolean {
  return [containerdBinary, ctrBinary, shimBinary].every((file) => existsSync(file));
}

/** True when `umoci --version` runs and exits 0 (umoci builds the image archive). Never throws. */
export function hasUmoci(): boolean {
  return spawnSync('umoci', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** What one `ctr` call returned: its exit status (128 when it did not exit normally) and its output. */
export interface CtrResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** containerd's `[debug] level`. */
export type ContainerdLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** Options of {@link startContainerd}; every field has a default. */
export interface ContainerdHarnessOptions {
  /** Prefix of the temp directory's name under `os.tmpdir()`; default `ocikit-containerd-`. */
  prefix?: string | undefined;
  /** The containerd namespace `ctr` uses; default `ocikit-test-<pid>`. Also the cgroup parent ctr picks. */
  namespace?: string | undefined;
  /**
   * containerd's log level; default `info`. At `debug` containerd also starts shims with `-debug` and
   * their runtime calls show up in {@link ContainerdHarness.logTail}: useful for a test's failure
   * messages, but it changes what a benchmark measures.
   */
  logLevel?: ContainerdLogLevel | undefined;
  /** How long to wait for containerd to answer `ctr version`; default 10 000 ms. */
  startTimeoutMs?: number | undefined;
  /** Aborting while containerd starts stops it, removes everything and rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * Called by {@link ContainerdHarness.stop} for each container a killed shim left in the runtime's state
 * root: `root` is `<runtimeRoot>/<namespace>` (what the shim passed as `--root`), `id` the container.
 * It should run the runtime's `delete --force`, which also removes the container's cgroups.
 */
export type RuntimeCleanup = (root: string, id: string) => void;

/**
 * A running private containerd. Everything it writes lives under `dir`, except the shim sockets that
 * containerd 1.6 always puts under /run/containerd/s; `stop` removes all of it.
 */
export interface ContainerdHarness {
  /** The temp directory holding root, state, sockets, config and log (removed by `stop`). */
  readonly dir: string;
  /** The gRPC socket (`ctr -a`); the ttrpc socket is beside it with a `.ttrpc` suffix. */
  readonly address: string;
  /** The containerd namespace (`ctr -n`; `ctr run` also uses it as the cgroup parent: `/<namespace>/<id>`). */
  readonly namespace: string;
  /** A directory for the runtime's state, for `ctr run --runc-root`; the shim appends `/<namespace>`. */
  readonly runtimeRoot: string;
  /** A directory for ctr's IO FIFOs, for `ctr run|tasks exec --fifo-dir` (keeps them out of /run). */
  readonly fifoDir: string;
  /** containerd's stdout and stderr (the shims' log lines are forwarded into it). */
  readonly logFile: string;
  /** The containerd process. */
  readonly process: ChildProcess;
  /**
   * Runs `ctr -a <address> -n <namespace> ...args` synchronously (30 s limit). Never throws: a failure
   * is a non-zero `code` with ctr's stderr.
   */
  ctr(args: readonly string[]): CtrResult;
  /** The last `lines` (default 40) lines of containerd's log, for failure messages; '' when unreadable. */
  logTail(lines?: number): string;
  /**
   * Deletes tasks and containers through ctr, stops containerd (SIGTERM, SIGKILL after 5 s), SIGKILLs
   * the shims started for this socket, lets `cleanupRuntime` remove containers they left behind, then
   * removes shim sockets, mounts under `dir`, the namespace's cgroups, `dir` itself and the /run
   * directories it created. Never rejects; safe to call twice (the second call waits for the first).
   * Not abortable: it is the cleanup and is bounded by its own timeouts.
   */
  stop(cleanupRuntime?: RuntimeCleanup): Promise<void>;
  /** The same as `stop()` without a runtime cleanup, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

// Plugins the harness does not use: CRI (it would want CNI and a pause image), snapshotters other than
// overlayfs/native, tracing, the opt directory.
const disabledPlugins = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.internal.v1.opt',
  'io.containerd.tracing.processor.v1.otlp',
];

/** The directories under /run/containerd that the shim creates whatever containerd's `state` says. */
const hardCodedRunDirectories = ['/run/containerd/s', '/run/containerd'];

function configToml(dir: string, address: string, logLevel: ContainerdLogLevel): string {
  const quote = (value: string) => JSON.stringify(value);
  return [
    'version = 2',
    `root = ${quote(join(dir, 'root'))}`,
    `state = ${quote(join(dir, 'state'))}`,
    // 0: containerd leaves its own oom_score_adj alone. A negative value would need CAP_SYS_RESOURCE,
    // which root may lack (it does on the development VM); the shim then sets itself to containerd's
    // score + 1, which only raises the value and so needs no capability.
    'oom_score = 0',
    `disabled_plugins = [${disabledPlugins.map(quote).join(', ')}]`,
    '[grpc]',
    `  address = ${quote(address)}`,
    '[ttrpc]',
    `  address = ${quote(`${address}.ttrpc`)}`,
    '[debug]',
    `  level = ${quote(logLevel)}`,
    '[plugins]',
    '  [plugins."io.containerd.monitor.v1.cgroups"]',
    '    no_prometheus = true',
    '',
  ].join('\n');
}

/**
 * Pids of the processes (other than this one) whose command line contains every one of `needles`. The
 * command line is read from /proc/PID/cmdline, so arguments are separated by NUL characters: a needle
 * such as `-id\0name\0` matches one argument and its value exactly. Processes that exit while being
 * read are skipped; never throws.
 */
export function findProcesses(...needles: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (needles.every((needle) => commandLine.includes(needle))) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Mount points at or under `dir` in this mount namespace, deepest (last mounted) first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .reverse();
}

const alive = (pid: number): boolean => isProcessAlive(pid, '');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
}

/**
 * The socket a shim listens on: containerd 1.6 names it `/run/containerd/s/<sha256 of
 * "<containerd address>/<namespace>/<id>">` whatever its configured state directory (runtime/v2/shim
 * SocketAddress). A killed shim leaves it behind.
 */
function shimSocketOf(pid: number, address: string): string | undefined {
  let words: string[];
  try {
    words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  const flag = (name: string) => {
    const at = words.indexOf(name);
    return at < 0 ? undefined : words[at + 1];
  };
  const namespace = flag('-namespace');
  const id = flag('-id');
  if (namespace === undefined || id === undefined) return undefined;
  const hash = createHash('sha256')
    .update(join(address, namespace, id))
    .digest('hex');
  return join('/run/containerd/s', hash);
}

/**
 * Starts containerd with a private root, state, sockets, namespace and log under a new temp directory
 * (see {@link ContainerdHarnessOptions} for the defaults) and resolves once it answers `ctr version`.
 * Needs root and {@link hasContainerd}. When containerd exits, does not answer in time or the signal
 * aborts, it stops what it started, removes the directory and rejects (with containerd's log tail).
 */
export async function startContainerd(options: ContainerdHarnessOptions = {}): Promise<ContainerdHarness> {
  options.signal?.throwIfAborted();
  const namespace = options.namespace ?? `ocikit-test-${process.pid}`;
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'ocikit-containerd-'));
  const address = join(dir, 'containerd.sock');
  const runtimeRoot = join(dir, 'runtime-root');
  const fifoDir = join(dir, 'fifo');
  const logFile = join(dir, 'containerd.log');
  const configFile = join(dir, 'config.toml');
  let logFd: number | undefined;
  let child: ChildProcess;
  const createdRunDirectories = hardCodedRunDirectories.filter((path) => !existsSync(path));
  try {
    mkdirSync(runtimeRoot);
    mkdirSync(fifoDir);
    writeFileSync(configFile, configToml(dir, address, options.logLevel ?? 'info'));
    logFd = openSync(logFile, 'a');
    child = spawn(containerdBinary, ['--config', configFile], { stdio: ['ignore', logFd, logFd] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `containerd exited (${code ?? signal})`;
  });
  child.on('error', (error) => {
    exited = `containerd did not start: ${error.message}`;
  });

  const logTail = (lines = 40): string => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const ctrWithin = (args: readonly string[], timeout: number): CtrResult => {
    const result = spawnSync(ctrBinary, ['-a', address, '-n', namespace, ...args], {
      encoding: 'utf8',
      timeout,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return {
      code: result.status ?? 128,
      stdout: result.stdout ?? '',
      stderr: result.stderr || result.error?.message || '',
    };
  };
  const ctr = (args: readonly string[]): CtrResult => ctrWithin(args, 30_000);

  const cleanUp = async (cleanupRuntime?: RuntimeCleanup): Promise<void> => {
    // The gentle way first, so each shim deletes its container and its socket and exits.
    if (exited === undefined) {
      const listed = (kind: string) =>
        ctrWithin([kind, 'ls', '-q'], 10_000).stdout.split('\n').filter(Boolean);
      for (const id of listed('tasks')) ctrWithin(['tasks', 'delete', '--force', id], 10_000);
      for (const id of listed('containers')) ctrWithin(['containers', 'delete', id], 10_000);
    }
    // Shims outlive containerd by design, so find the stragglers by the socket address they were given.
    const shims = findProcesses(address);
    const shimSockets = shims.map((pid) => shimSocketOf(pid, address)).filter((path) => path !== undefined);
    if (exited === undefined) child.kill('SIGTERM');
    for (const pid of shims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitGone([...(child.pid === undefined ? [] : [child.pid]), ...shims], 5_000);
    if (child.pid !== undefined && alive(child.pid)) child.kill('SIGKILL');
    // Containers the shims left behind: the runtime removes them (and their cgroups) itself.
    const runtimeNamespaceRoot = join(runtimeRoot, namespace);
    if (cleanupRuntime !== undefined && existsSync(runtimeNamespaceRoot)) {
      for (const id of readdirSync(runtimeNamespaceRoot)) {
        try {
          cleanupRuntime(runtimeNamespaceRoot, id);
        } catch {
          // the rest of the cleanup still has to run
        }
      }
    }
    for (const socket of shimSockets) rmSync(socket, { force: true });
    for (const point of mountsUnder(dir)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
    for (const controller of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
      try {
        rmdirSync(join('/sys/fs/cgroup', controller, namespace));
      } catch {
        // not there, or (when a container escaped cleanup) busy
      }
    }
    rmSync(dir, { recursive: true, force: true });
    for (const path of createdRunDirectories) {
      try {
        rmdirSync(path);
      } catch {
        // not empty: someone else uses it now
      }
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = (cleanupRuntime?: RuntimeCleanup): Promise<void> => {
    stopping ??= cleanUp(cleanupRuntime).catch(() => {
      // best effort: a cleanup step that fails must not hide the test's own result
    });
    return stopping;
  };

  const harness: ContainerdHarness = {
    dir,
    address,
    namespace,
    runtimeRoot,
    fifoDir,
    logFile,
    process: child,
    ctr,
    logTail,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (options.signal?.aborted) {
      await stop();
      throw options.signal.reason;
    }
    if (exited !== undefined) {
      const tail = logTail();
      await stop();
      throw new Error(`start containerd: ${exited}:\n${tail}`);
    }
    if (existsSync(address) && ctrWithin(['version'], 5_000).code === 0) return harness;
    if (Date.now() > deadline) {
      const tail = logTail();
      await stop();
      throw new Error(`start containerd: no answer on ${address} within ${timeoutMs} ms:\n${tail}`);
    }
    await sleep(100);
  }
}

/**
 * Builds a one-layer busybox image with umoci (`cmd` `sh`, `PATH=/bin:/usr/bin`) in an OCI layout under
 * `dir`, tagged `latest`, and packs the layout as an OCI archive at `<dir>/busybox.tar`, whose path it
 * returns; `ctr images import --base-name NAME` then names the image `NAME:latest`. The layer is
 * `rootfs` when given, else a rootfs made by `buildBusyboxRootfs` at `<dir>/image-rootfs`. Synchronous,
 * no network; throws when umoci or tar fails (what it wrote stays under `dir` for the caller to remove).
 */
export function buildBusyboxImageArchive(dir: string, rootfs?: string): string {
  const layerRoot = rootfs ?? buildBusyboxRootfs(join(dir, 'image-rootfs'));
  const layout = join(dir, 'image-layout');
  const image = `${layout}:latest`;
  execFileSync('umoci', ['init', '--layout', layout], { stdio: 'pipe' });
  execFileSync('umoci', ['new', '--image', image], { stdio: 'pipe' });
  execFileSync('umoci', ['insert', '--image', image, layerRoot, '/'], { stdio: 'pipe' });
  execFileSync(
    'umoci',
    ['config', '--image', image, '--config.cmd', 'sh', '--config.env', 'PATH=/bin:/usr/bin'],
    { stdio: 'pipe' },
  );
  execFileSync('umoci', ['gc', '--layout', layout], { stdio: 'pipe' });
  const archive = join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.'], { stdio: 'pipe' });
  return archive;
}

/** Options of {@link writeRuntimeWrapper}. */
export interface RuntimeWrapperOptions {
  /**
   * A file to which the wrapper appends each call's arguments (one line per call), so a test can tell
   * which subcommands the shim really ran. Default: no log (nothing is added to each call's cost).
   */
  callLog?: string | undefined;
}

/**
 * Writes an executable shell script `<dir>/ocikit-runtime`, for `ctr run --runc-binary`, that execs the
 * runtime with the arguments it was given, and returns its path. `command` is either the runtime's argv
 * prefix (e.g. `[frontEnd]` or `[node, cli]`), or a single JavaScript entry file run with this process's
 * Node binary (`process.execPath`). Synchronous; overwrites an existing wrapper.
 */
export function writeRuntimeWrapper(
  dir: string,
  command: string | readonly string[],
  options: RuntimeWrapperOptions = {},
): string {
  const argv = typeof command === 'string' ? [process.execPath, command] : command;
  if (argv.length === 0) throw new Error('write runtime wrapper: the command is empty');
  const wrapper = join(dir, 'ocikit-runtime');
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  const lines = ['#!/bin/sh'];
  if (options.callLog !== undefined) lines.push(`echo "$*" >> ${quote(options.callLog)}`);
  lines.push(`exec ${argv.map(quote).join(' ')} "$@"`, '');
  writeFileSync(wrapper, lines.join('\n'));
  chmodSync(wrapper, 0o755);
  return wrapper;
}
