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
import { buildBusyboxRootfs } from '../../src/testing/busybox-rootfs.js';

/** The Debian `containerd` package's binaries are present (scripts/setup.sh installs them). */
export const hasContainerd = [
  '/usr/bin/containerd',
  '/usr/bin/ctr',
  '/usr/bin/containerd-shim-runc-v2',
].every((file) => existsSync(file));

/** umoci builds the test image's OCI layout (installed by the brief's peers list). */
export const hasUmoci = spawnSync('umoci', ['--version'], { stdio: 'ignore' }).status === 0;

/** Result of one `ctr` call. */
export interface CtrResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private containerd: its own root, state, sockets and namespace under one temp directory. */
export interface ContainerdHarness {
  /** The temp directory holding everything (removed by `stop`). */
  dir: string;
  /** The gRPC socket (`ctr -a`). */
  address: string;
  /** The containerd namespace the tests use (also the cgroup parent ctr chooses: `/<namespace>/<id>`). */
  namespace: string;
  /** The state root the shim passes to the runtime binary as `--root` (`ctr run --runc-root`). */
  runtimeRoot: string;
  /** Where ctr keeps its IO FIFOs (`--fifo-dir`). */
  fifoDir: string;
  /** containerd's own log (debug level; the shim's log lines are forwarded into it). */
  logFile: string;
  /** The containerd process. */
  process: ChildProcess;
  /** Runs `ctr -a <address> -n <namespace> ...args` synchronously (30 s limit). */
  ctr(args: readonly string[]): CtrResult;
  /** The last `lines` lines of containerd's log, for failure messages. */
  logTail(lines?: number): string;
  /** Kills containerd and its shims, deletes leftover containers, unmounts and removes everything. */
  stop(cleanupRuntime?: (root: string, id: string) => void): Promise<void>;
}

// Plugins this harness does not use: CRI (it would want CNI and a pause image), snapshotters other than
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

function configToml(dir: string, address: string): string {
  const quote = (value: string) => JSON.stringify(value);
  return [
    'version = 2',
    `root = ${quote(join(dir, 'root'))}`,
    `state = ${quote(join(dir, 'state'))}`,
    // 0: containerd leaves its own oom_score_adj alone. A negative value would need CAP_SYS_RESOURCE,
    // which root lacks on this machine; the shim then sets itself to containerd's score + 1, which only
    // raises the value and so needs no capability.
    'oom_score = 0',
    `disabled_plugins = [${disabledPlugins.map(quote).join(', ')}]`,
    '[grpc]',
    `  address = ${quote(address)}`,
    '[ttrpc]',
    `  address = ${quote(`${address}.ttrpc`)}`,
    '[debug]',
    '  level = "debug"',
    '[plugins]',
    '  [plugins."io.containerd.monitor.v1.cgroups"]',
    '    no_prometheus = true',
    '',
  ].join('\n');
}

/** Mount points under `dir` in this mount namespace, deepest (last mounted) first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .reverse();
}

/** Pids of processes whose command line mentions `needle` (shims carry `-address <socket>`). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (commandLine.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
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

/** The directories under /run/containerd that the shim creates whatever containerd's `state` says. */
const hardCodedRunDirectories = ['/run/containerd/s', '/run/containerd'];

/**
 * Starts containerd with a private root, state, socket and log under a new temp directory and waits
 * until it answers `ctr version` (10 s). Rejects with the log's tail when it does not come up.
 */
export async function startContainerd(prefix = 'ocikit-containerd-'): Promise<ContainerdHarness> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const address = join(dir, 'containerd.sock');
  const namespace = `ocikit-test-${process.pid}`;
  const runtimeRoot = join(dir, 'runtime-root');
  const fifoDir = join(dir, 'fifo');
  const logFile = join(dir, 'containerd.log');
  const configFile = join(dir, 'config.toml');
  mkdirSync(runtimeRoot);
  mkdirSync(fifoDir);
  writeFileSync(configFile, configToml(dir, address));
  const createdRunDirectories = hardCodedRunDirectories.filter((path) => !existsSync(path));

  const logFd = openSync(logFile, 'a');
  const child = spawn('/usr/bin/containerd', ['--config', configFile], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
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
  const ctr = (args: readonly string[]): CtrResult => {
    const result = spawnSync('/usr/bin/ctr', ['-a', address, '-n', namespace, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return {
      code: result.status ?? 128,
      stdout: result.stdout ?? '',
      stderr: result.stderr ?? (result.error?.message as string | undefined) ?? '',
    };
  };

  const stop = async (cleanupRuntime?: (root: string, id: string) => void): Promise<void> => {
    // The gentle way first, so each shim deletes its container and its socket and exits.
    if (exited === undefined) {
      const quick = (args: readonly string[]) =>
        spawnSync('/usr/bin/ctr', ['-a', address, '-n', namespace, ...args], {
          stdio: 'ignore',
          timeout: 10_000,
        });
      const tasks = spawnSync('/usr/bin/ctr', ['-a', address, '-n', namespace, 'tasks', 'ls', '-q'], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      for (const id of (tasks.stdout ?? '').split('\n').filter(Boolean))
        quick(['tasks', 'delete', '--force', id]);
      const containers = spawnSync(
        '/usr/bin/ctr',
        ['-a', address, '-n', namespace, 'containers', 'ls', '-q'],
        {
          encoding: 'utf8',
          timeout: 10_000,
        },
      );
      for (const id of (containers.stdout ?? '').split('\n').filter(Boolean))
        quick(['containers', 'delete', id]);
    }
    // Shims outlive containerd by design, so find the stragglers by the socket address they were given.
    const shims = processesMentioning(address);
    const shimSockets = shims.map((pid) => shimSocketOf(pid, address)).filter((path) => path !== undefined);
    if (exited === undefined) child.kill('SIGTERM');
    for (const pid of shims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitGone([...(child.pid === undefined ? [] : [child.pid]), ...shims], 5_000);
    if (child.pid !== undefined && alive(child.pid)) child.kill('SIGKILL');
    // Containers the shims left behind: the runtime removes them (and their cgroups) itself.
    const runtimeNamespaceRoot = join(runtimeRoot, namespace);
    if (cleanupRuntime !== undefined && existsSync(runtimeNamespaceRoot)) {
      for (const id of readdirSync(runtimeNamespaceRoot)) cleanupRuntime(runtimeNamespaceRoot, id);
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
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited !== undefined) {
      const tail = logTail();
      await stop();
      throw new Error(`${exited}:\n${tail}`);
    }
    if (existsSync(address) && ctr(['version']).code === 0) return harness;
    if (Date.now() > deadline) {
      const tail = logTail();
      await stop();
      throw new Error(`containerd did not answer on ${address} within 10 s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Builds a one-layer busybox image (static /bin/busybox and its applet links) as an OCI layout with
 * umoci, tagged `latest`, and packs it as an OCI archive (`tar` of the layout) at `<dir>/busybox.tar`.
 * `ctr images import --base-name NAME` then names it `NAME:latest`. No network.
 */
export function buildBusyboxImageArchive(dir: string): string {
  const rootfs = buildBusyboxRootfs(join(dir, 'image-rootfs'));
  const layout = join(dir, 'image-layout');
  const image = `${layout}:latest`;
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', image]);
  execFileSync('umoci', ['insert', '--image', image, rootfs, '/']);
  execFileSync('umoci', [
    'config',
    '--image',
    image,
    '--config.cmd',
    'sh',
    '--config.env',
    'PATH=/bin:/usr/bin',
  ]);
  execFileSync('umoci', ['gc', '--layout', layout]);
  const archive = join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}

/**
 * Writes an executable wrapper `<dir>/ocikit-runtime` that runs `command` (the runtime's argv prefix, e.g.
 * the native front end) with its arguments and appends each call's arguments (one line) to
 * `<dir>/runtime-calls.log`, so a test can tell which runtime the shim really ran. Returns the wrapper's
 * path.
 */
export function writeRuntimeWrapper(
  dir: string,
  command: readonly string[],
): { wrapper: string; callLog: string } {
  const wrapper = join(dir, 'ocikit-runtime');
  const callLog = join(dir, 'runtime-calls.log');
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  writeFileSync(
    wrapper,
    ['#!/bin/sh', `echo "$*" >> ${quote(callLog)}`, `exec ${command.map(quote).join(' ')} "$@"`, ''].join(
      '\n',
    ),
  );
  chmodSync(wrapper, 0o755);
  return { wrapper, callLog };
}
