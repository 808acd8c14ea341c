import {
  accessSync,
  constants,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { createCgroupManager } from '../cgroups/create.js';
import type { CgroupFileSystem } from '../cgroups/file-system.js';
import type { CgroupManager } from '../cgroups/manager.js';
import type { CgroupResources } from '../cgroups/resources.js';
import type { CgroupStats } from '../cgroups/stats.js';
import { isRuntimeError, RuntimeError } from '../errors.js';
import type { RunHookOptions } from '../hooks.js';
import type { ExitStatus } from '../monitor/exit-file.js';
import { nativeSyscalls } from '../native.js';
import type { Hook, Process, RuntimeSpec } from '../spec/config.js';
import { parseRuntimeSpecQuick } from '../spec/parse-quick.js';
import type {
  ContainerRecord,
  ContainerState,
  ContainerStatus,
  MonitorRecord,
} from '../state/container-record.js';
import { isProcessAlive, readProcStat } from '../state/process-status.js';
import { StateStore } from '../state/state-store.js';
import {
  type MonitoredSpawnResult,
  type MonitorSpawn,
  namespaceCloneFlags,
  namespaceProcNames,
  OpenFlag,
  type ProcessExit,
  type SpawnPlan,
  type SpawnResult,
  type Syscalls,
} from '../syscalls.js';
import { buildInitPlan, type CgroupBind, planNamespaces } from './init-plan.js';
import { buildProcessPlan } from './process-plan.js';
import { spawnContainerProcess } from './spawn-process.js';
import { rfc3339Nano, sleep } from './timestamps.js';

/** The runtime-spec version written into `state` output. */
export const runtimeOciVersion = '1.2.0';

/** Makes the cgroup manager of a container's cgroupsPath. */
export type CgroupManagerFactory = (path: string) => CgroupManager;

/** A compiled seccomp filter: `struct sock_filter[]` bytes and SECCOMP_FILTER_FLAG_* bits. */
export interface SeccompProgram {
  program: Uint8Array;
  flags: number;
}

/** Options of {@link ContainerRuntime}. */
export interface ContainerRuntimeOptions {
  /** The state root (runc's `--root`). */
  root: string;
  /** The kernel boundary; default the native addon (loaded on first use), a recording fake in unit tests. */
  syscalls?: Syscalls | undefined;
  /**
   * Cgroup managers; default the cgroupfs manager of `/sys/fs/cgroup`. `false`: containers get no
   * cgroup (and pause/ps/update/events refuse).
   */
  cgroups?: CgroupManagerFactory | false | undefined;
  /** Compiles `linux.seccomp` to a BPF program; default this package's compiler (loaded lazily). */
  compileSeccomp?:
    | ((
        profile: NonNullable<NonNullable<RuntimeSpec['linux']>['seccomp']>,
      ) => SeccompProgram | Promise<SeccompProgram>)
    | undefined;
  /** Parses config.json text; default `parseRuntimeSpecQuick`, which loads zod only to word an error. */
  parseSpec?: ((text: string, file: string) => RuntimeSpec | Promise<RuntimeSpec>) | undefined;
  /**
   * The file operations of the default cgroup managers (default: asynchronous node:fs;
   * `syncCgroupFileSystem` suits a short-lived process such as the CLI).
   */
  cgroupFileSystem?: CgroupFileSystem | undefined;
  /**
   * The cgroupfs root of the default cgroup managers (default `/sys/fs/cgroup`; a cgroup2 mount there
   * gives the v2 manager).
   */
  cgroupRoot?: string | undefined;
  /** The `ocikit-monitor` executable for monitored creates (default `<package>/build/Release/ocikit-monitor`). */
  monitorBinary?: string | undefined;
}

/**
 * Run the container under `ocikit-monitor` ({@link CreateOptions.monitor}): the monitor reaps the init,
 * owns its stdout/stderr (to a log) and records its exit status in a file, so the container and its exit
 * code outlive the Node process that created it.
 */
export interface MonitorOptions {
  /** The container's stdout and stderr go here; without it they are read and dropped. */
  logPath?: string | undefined;
  /** `raw` (default): bytes as they come; `cri`: Kubernetes CRI log records. */
  logFormat?: 'raw' | 'cri' | undefined;
  /** CRI line limit in bytes before a line is split into partial records (default 16384). */
  logMaxLine?: number | undefined;
  /** Where the exit status is written (default `<root>/<id>/exit.json`, removed by `delete`). */
  exitFile?: string | undefined;
  /** A unix socket where clients get live output and may write stdin (see `attachContainer`). */
  attachSocket?: string | undefined;
  /** Give the container a stdin pipe fed by attach clients (default: /dev/null). */
  stdin?: boolean | undefined;
  /** Like `stdin`, and close it when the first attach client ends its input (CRI StdinOnce). */
  stdinOnce?: boolean | undefined;
  /** Seconds to wait for other holders of the output pipes after the init exits (default 2). */
  drainTimeout?: number | undefined;
  /** Seconds the create may take before it is killed and fails (default: no limit). */
  timeoutCreate?: number | undefined;
}

/** Options of {@link ContainerRuntime.create}. */
export interface CreateOptions {
  /** The container's stdio (fds of this process); default: this process's own 0, 1, 2. */
  stdio?: (number | null)[] | undefined;
  consoleSocket?: string | undefined;
  pidFile?: string | undefined;
  noPivot?: boolean | undefined;
  preserveFds?: number | undefined;
  /**
   * Run the container under `ocikit-monitor` (see {@link MonitorOptions}); `stdio` and `preserveFds` do
   * not apply then (the monitor owns the container's stdio).
   */
  monitor?: MonitorOptions | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of {@link ContainerRuntime.waitExit}. */
export interface WaitExitOptions {
  signal?: AbortSignal | undefined;
  /** How often the monitor's liveness and the exit file are looked at (default 250 ms). */
  pollMs?: number | undefined;
}

/** Options of {@link ContainerRuntime.exec}. */
export interface ExecOptions {
  stdio?: (number | null)[] | undefined;
  consoleSocket?: string | undefined;
  pidFile?: string | undefined;
  preserveFds?: number | undefined;
  /** Allow exec into a paused container. */
  ignorePaused?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of {@link ContainerRuntime.delete}. */
export interface DeleteOptions {
  /** Kill a running container (SIGKILL) instead of refusing. */
  force?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** Problems that did not stop an operation (poststart/poststop hook failures), in words. */
export interface LifecycleResult {
  warnings: string[];
}

/** Writes a small file (a pid file) by temp file and rename; blocking, like the state store's records. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function publicState(record: ContainerRecord, status: ContainerStatus): ContainerState {
  const state: ContainerState = {
    ociVersion: record.ociVersion,
    id: record.id,
    pid: status === 'stopped' ? 0 : record.pid,
    status,
    bundle: record.bundle,
    rootfs: record.rootfs,
    created: record.created,
    owner: record.owner,
  };
  if (record.annotations !== undefined && Object.keys(record.annotations).length > 0) {
    state.annotations = record.annotations;
  }
  return state;
}

/**
 * The spec's resources with the device cgroup rules runc always appends: mknod of anything, and use
 * of the default devices, /dev/pts/*, /dev/ptmx, /dev/console, /dev/net/tun and the spec's own devices.
 */
export function withDefaultDeviceRules(spec: RuntimeSpec): CgroupResources {
  const resources = { ...((spec.linux?.resources ?? {}) as CgroupResources) };
  const rules = [...(resources.devices ?? [])];
  rules.push({ allow: true, type: 'c', access: 'm' }, { allow: true, type: 'b', access: 'm' });
  for (const [major, minor] of [
    [1, 3],
    [1, 5],
    [1, 7],
    [1, 8],
    [1, 9],
    [5, 0],
    [5, 1],
    [5, 2],
    [10, 200],
  ] as const) {
    rules.push({ allow: true, type: 'c', major, minor, access: 'rwm' });
  }
  rules.push({ allow: true, type: 'c', major: 136, access: 'rwm' });
  for (const device of spec.linux?.devices ?? []) {
    if (device.type === 'c' || device.type === 'b' || device.type === 'u') {
      rules.push({
        allow: true,
        type: device.type === 'u' ? 'c' : device.type,
        major: device.major,
        minor: device.minor,
        access: 'rwm',
      });
    }
  }
  resources.devices = rules;
  return resources;
}

/**
 * Runs `hooks` like `runHooks`, loading the hook runner (and node:child_process with it) only when there
 * is a hook to run: `state`/`start`/`kill`/`delete` of the CLI stay quick to start.
 */
async function runHooks(
  hooks: readonly Hook[] | undefined,
  state: ContainerState,
  options: RunHookOptions,
): Promise<void> {
  if (hooks === undefined || hooks.length === 0) return;
  const { runHooks: run } = await import('../hooks.js');
  await run(hooks, state, options);
}

/** AppArmor is enabled on the host (else profiles are skipped, as runc does). */
function hostHasAppArmor(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/**
 * SELinux is enabled on the host: selinuxfs is mounted (else labels are skipped, as runc's go-selinux
 * does when it finds no selinuxfs).
 */
function hostHasSelinux(): boolean {
  return existsSync('/sys/fs/selinux/enforce');
}

/** Writes `/proc/<pid>/oom_score_adj` from the parent (lowering it needs CAP_SYS_RESOURCE). */
async function writeOomScoreAdj(pid: number, value: number): Promise<void> {
  try {
    await writeFile(`/proc/${pid}/oom_score_adj`, String(value));
  } catch (error) {
    throw new RuntimeError('SYSCALL_FAILED', `set oom_score_adj ${value}: ${(error as Error).message}`, {
      path: 'process.oomScoreAdj',
      errno: (error as NodeJS.ErrnoException).code,
      cause: error,
    });
  }
}

function idMapText(maps: readonly { containerID: number; hostID: number; size: number }[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/**
 * Completes a monitored create: tells the monitor the init's pid on the adopt pipe (closing it) and
 * reads its answer on the report pipe. Returns the monitor's pid. Throws `MONITOR_FAILED` when the
 * monitor refused the container (it is not its child) or is gone, `ABORTED` when `signal` fires.
 */
async function handOver(
  sys: Syscalls,
  monitored: MonitoredSpawnResult,
  pid: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  try {
    writeSync(monitored.adoptFd, `${pid}\n`);
  } finally {
    sys.closeFd(monitored.adoptFd);
  }
  const { readMonitorAnswer } = await import('../monitor/monitor.js');
  const answer = await readMonitorAnswer(monitored.reportFd, signal);
  if (answer.pid !== pid || answer.monitorPid !== monitored.monitorPid) {
    throw new RuntimeError(
      'MONITOR_FAILED',
      `create: the monitor answered for pid ${answer.pid} (monitor ${answer.monitorPid}), not ${pid} (monitor ${monitored.monitorPid})`,
    );
  }
  return answer.monitorPid;
}

/**
 * The container lifecycle over a state root: create / start / state / kill / delete / exec / pause /
 * resume / update / stats / pids / list, with hooks at the runtime-spec's points. Constructing does no
 * I/O. Every method throws `RuntimeError` with a stable code.
 */
export class ContainerRuntime {
  readonly store: StateStore;
  readonly #sys: Syscalls;
  readonly #cgroups: CgroupManagerFactory | undefined;
  readonly #options: ContainerRuntimeOptions;

  constructor(options: ContainerRuntimeOptions) {
    this.store = new StateStore(options.root);
    this.#sys = options.syscalls ?? nativeSyscalls();
    const cgroupRoot = options.cgroupRoot;
    this.#cgroups =
      options.cgroups === false
        ? undefined
        : (options.cgroups ??
          ((path) =>
            createCgroupManager({
              path,
              root: cgroupRoot,
              fileSystem: options.cgroupFileSystem,
              // v2 device rules are an eBPF program the addon loads and attaches.
              attachDeviceProgram: async (directory, program, license) =>
                this.#sys.attachDeviceProgram(directory, program, license),
            })));
    this.#options = options;
  }

  #cgroup(record: Pick<ContainerRecord, 'cgroupPath'>): CgroupManager | undefined {
    if (record.cgroupPath === '' || this.#cgroups === undefined) return undefined;
    return this.#cgroups(record.cgroupPath);
  }

  async #readSpec(bundle: string): Promise<RuntimeSpec> {
    const file = join(bundle, 'config.json');
    let text: string;
    try {
      // Blocking: a few kilobytes, read once per create, where a thread-pool round trip costs more.
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new RuntimeError('BUNDLE_NOT_FOUND', `read ${file}: ${(error as Error).message}`, {
        path: file,
        cause: error,
      });
    }
    if (this.#options.parseSpec !== undefined) return this.#options.parseSpec(text, file);
    return parseRuntimeSpecQuick(text, file);
  }

  /** The live status of a record: pid liveness (with start time), the exec fifo, the freezer. */
  async status(record: ContainerRecord): Promise<ContainerStatus> {
    if (record.pid <= 0) return record.status === 'creating' ? 'creating' : 'stopped';
    if (!isProcessAlive(record.pid, record.pidStartTime)) return 'stopped';
    if (record.monitor !== undefined && existsSync(record.monitor.exitFile)) return 'stopped';
    if (existsSync(this.store.fifoPath(record.id))) return 'created';
    const cgroup = this.#cgroup(record);
    if (cgroup !== undefined) {
      try {
        if ((await cgroup.freezerState()) !== 'thawed') return 'paused';
      } catch {
        // no freezer: cannot be paused
      }
    }
    return 'running';
  }

  /** The runtime-spec state of a container; throws `CONTAINER_NOT_FOUND`. */
  async state(id: string): Promise<ContainerState> {
    const record = await this.store.read(id);
    return publicState(record, await this.status(record));
  }

  /** The states of every container under the root, by ID. */
  async list(): Promise<ContainerState[]> {
    const states: ContainerState[] = [];
    for (const id of await this.store.list()) {
      try {
        states.push(await this.state(id));
      } catch (error) {
        if (!isRuntimeError(error, 'CONTAINER_NOT_FOUND')) throw error;
      }
    }
    return states;
  }

  /**
   * Creates a container from the bundle: its init runs everything up to the user process and waits on
   * the exec fifo. Throws `CONTAINER_EXISTS`, `BUNDLE_NOT_FOUND`, `ROOTFS_NOT_FOUND`, `INVALID_SPEC`,
   * `MOUNT_ESCAPE`, `NAMESPACE_PATH_INVALID`, `HOOK_FAILED`/`HOOK_TIMEOUT`, … and leaves no state
   * directory, cgroup or process behind when it fails.
   */
  async create(id: string, bundlePath: string, options: CreateOptions = {}): Promise<ContainerState> {
    const monitor = options.monitor;
    if (monitor !== undefined && (options.stdio !== undefined || (options.preserveFds ?? 0) > 0)) {
      throw new RuntimeError(
        'INVALID_ARGUMENT',
        'create: stdio and preserveFds do not apply with a monitor',
        {
          path: id,
        },
      );
    }
    const bundle = resolve(bundlePath);
    const spec = await this.#readSpec(bundle);
    const rootPath = spec.root?.path;
    if (rootPath === undefined)
      throw new RuntimeError('INVALID_SPEC', 'create: the spec has no root', { path: 'root' });
    const rootfs = isAbsolute(rootPath) ? rootPath : join(bundle, rootPath);
    if (!existsSync(rootfs) || !statSync(rootfs).isDirectory()) {
      throw new RuntimeError('ROOTFS_NOT_FOUND', `rootfs ${rootfs} does not exist or is not a directory`, {
        path: rootfs,
      });
    }
    if (spec.process?.terminal && options.consoleSocket === undefined) {
      throw new RuntimeError(
        'INVALID_ARGUMENT',
        'cannot allocate tty if runc will detach without setting console socket',
      );
    }
    if (!spec.process?.terminal && options.consoleSocket !== undefined) {
      throw new RuntimeError(
        'INVALID_ARGUMENT',
        'cannot use console socket if runc will not detach or allocate tty',
      );
    }
    const dir = await this.store.claim(id);
    const sys = this.#sys;
    const fds: number[] = [];
    let cgroup: CgroupManager | undefined;
    // A monitored create: the monitor process that cloned stage 1 and the fds to talk to it.
    let monitored: MonitoredSpawnResult | undefined;
    let adoptOpen = false;
    const record: ContainerRecord = {
      ociVersion: runtimeOciVersion,
      id,
      pid: 0,
      status: 'creating',
      bundle,
      rootfs,
      created: rfc3339Nano(),
      owner: '',
      annotations: spec.annotations,
      pidStartTime: '',
      cgroupPath: '',
      hooks:
        spec.hooks === undefined
          ? undefined
          : { poststart: spec.hooks.poststart, poststop: spec.hooks.poststop },
    };
    try {
      await this.store.write(record);
      const namespaces = planNamespaces(spec);
      if (this.#cgroups !== undefined) {
        record.cgroupPath = spec.linux?.cgroupsPath || `/${id}`;
        cgroup = this.#cgroups(record.cgroupPath);
        await cgroup.create();
      }
      const cgroupBinds: CgroupBind[] = [];
      if (cgroup !== undefined && cgroup.version === 1) {
        for (const [hierarchy, directory] of await cgroup.directories()) {
          const name = hierarchy.startsWith('name=') ? hierarchy.slice(5) : hierarchy;
          cgroupBinds.push({ source: directory, name });
        }
      }
      const plan: SpawnPlan = buildInitPlan(spec, {
        rootfs,
        apparmorEnabled: hostHasAppArmor(),
        selinuxEnabled: hostHasSelinux(),
        noPivot: options.noPivot,
        cgroupBinds,
        cgroupV2: cgroup?.version === 2,
      });
      plan.join = namespaces.joins.map((join) => {
        try {
          const fd = sys.openFd(join.path, OpenFlag.RDONLY);
          fds.push(fd);
          return { fd, type: namespaceCloneFlags[join.type] };
        } catch (error) {
          throw new RuntimeError(
            'NAMESPACE_PATH_INVALID',
            `open ${join.type} namespace ${join.path}: ${(error as Error).message}`,
            {
              path: join.path,
              cause: error,
            },
          );
        }
      });
      if (spec.linux?.seccomp !== undefined) {
        const compile =
          this.#options.compileSeccomp ??
          (async (profile) => (await import('../seccomp/compile.js')).compileSeccomp(profile));
        plan.seccomp = await compile(spec.linux.seccomp);
        record.seccomp = {
          program: Buffer.from(plan.seccomp.program).toString('base64'),
          flags: plan.seccomp.flags,
        };
      }
      const fifo = this.store.fifoPath(id);
      sys.mkfifo(fifo, 0o622);
      const fifoFd = sys.openFd(fifo, OpenFlag.PATH);
      fds.push(fifoFd);
      plan.execFifoFd = fifoFd;
      if (options.consoleSocket !== undefined) {
        const consoleFd = sys.connectUnix(options.consoleSocket);
        fds.push(consoleFd);
        plan.consoleFd = consoleFd;
      }
      plan.stdio = options.stdio;
      plan.preserveFds = options.preserveFds;
      let spawn: ((spawnPlan: SpawnPlan) => SpawnResult) | undefined;
      let signal = options.signal;
      if (monitor !== undefined) {
        const monitorSpawn = await this.#monitorSpawn(dir, monitor);
        record.monitor = monitorSpawn.record;
        spawn = (spawnPlan) => {
          monitored = sys.spawnMonitored(spawnPlan, monitorSpawn.spawn);
          adoptOpen = true;
          return monitored;
        };
        if (monitor.timeoutCreate !== undefined && monitor.timeoutCreate > 0) {
          const timeout = AbortSignal.timeout(Math.ceil(monitor.timeoutCreate * 1000));
          signal = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
        }
      }
      const hookState = (pid: number, status: ContainerStatus): ContainerState =>
        publicState({ ...record, pid }, status);
      const startHooks = spec.hooks?.startContainer ?? [];
      if (startHooks.length > 0) {
        plan.startHooks = startHooks.map((hook: Hook) => ({ ...hook, timeout: hook.timeout ?? 0 }));
      }
      const pid = await spawnContainerProcess(sys, plan, {
        signal,
        spawn,
        onUserns: async (stage1) => {
          await writeFile(`/proc/${stage1}/uid_map`, idMapText(spec.linux?.uidMappings ?? []));
          await writeFile(`/proc/${stage1}/gid_map`, idMapText(spec.linux?.gidMappings ?? []));
        },
        onPid: async (containerPid) => {
          record.pid = containerPid;
          record.pidStartTime = readProcStat(containerPid)?.startTime ?? '';
          await this.store.write(record);
          if (cgroup !== undefined) {
            await cgroup.addProcess(containerPid);
            await cgroup.set(withDefaultDeviceRules(spec));
          }
          const oomScoreAdj = spec.process?.oomScoreAdj;
          if (oomScoreAdj !== undefined) await writeOomScoreAdj(containerPid, oomScoreAdj);
          return plan.startHooks === undefined
            ? undefined
            : JSON.stringify(hookState(containerPid, 'created'));
        },
        onHooks: async (containerPid) => {
          const state = hookState(containerPid, 'creating');
          await runHooks(spec.hooks?.prestart, state, { phase: 'prestart', signal });
          await runHooks(spec.hooks?.createRuntime, state, {
            phase: 'createRuntime',
            signal,
          });
          const enterFlags = ['-m', '-u', '-i', '-n', '-p'];
          if (namespaces.newUserns) enterFlags.push('-U', '--preserve-credentials');
          await runHooks(spec.hooks?.createContainer, state, {
            phase: 'createContainer',
            enterPid: containerPid,
            enterFlags,
            signal,
          });
        },
      });
      // onPid recorded the pid and its start time already.
      record.status = 'created';
      record.sharedPidNamespace = (namespaces.cloneFlags & namespaceCloneFlags.pid) === 0;
      if (monitored !== undefined && record.monitor !== undefined) {
        adoptOpen = false;
        record.monitor.pid = await handOver(sys, monitored, pid, signal);
        record.monitor.startTime = readProcStat(record.monitor.pid)?.startTime ?? '';
      }
      await this.store.write(record);
      if (options.pidFile !== undefined) writeAtomic(resolve(options.pidFile), String(pid));
      return publicState(record, 'created');
    } catch (error) {
      // Closing the adopt pipe unwritten tells the monitor that nothing was created: it exits.
      if (monitored !== undefined && adoptOpen) {
        adoptOpen = false;
        sys.closeFd(monitored.adoptFd);
      }
      if (record.pid > 0) await this.#killAndWait(record.pid, record.pidStartTime, 5000);
      if (cgroup !== undefined) await cgroup.destroy().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    } finally {
      for (const fd of fds) sys.closeFd(fd);
      if (monitored !== undefined) {
        if (adoptOpen) sys.closeFd(monitored.adoptFd);
        sys.closeFd(monitored.reportFd);
      }
    }
  }

  /** The monitor half of a monitored create: its arguments and the record entry (pid filled in later). */
  async #monitorSpawn(
    directory: string,
    monitor: MonitorOptions,
  ): Promise<{ spawn: MonitorSpawn; record: MonitorRecord }> {
    const { adoptMonitorArguments, defaultMonitorBinary } = await import('../monitor/monitor.js');
    const exitFile = resolve(monitor.exitFile ?? join(directory, 'exit.json'));
    const logPath = monitor.logPath === undefined ? undefined : resolve(monitor.logPath);
    const attachSocket = monitor.attachSocket === undefined ? undefined : resolve(monitor.attachSocket);
    // A stale exit file (a reused path) would make the new container read as stopped.
    await rm(exitFile, { force: true });
    const args = adoptMonitorArguments({
      exitFile,
      logPath,
      logFormat: monitor.logFormat,
      logMaxLine: monitor.logMaxLine,
      drainTimeout: monitor.drainTimeout,
      attachSocket,
      stdin: monitor.stdin,
      stdinOnce: monitor.stdinOnce,
    });
    const binary = this.#options.monitorBinary ?? defaultMonitorBinary();
    try {
      accessSync(binary, constants.X_OK);
    } catch (error) {
      throw new RuntimeError('MONITOR_FAILED', `create: monitor ${binary} is not an executable`, {
        path: binary,
        errno: (error as NodeJS.ErrnoException).code,
        cause: error,
      });
    }
    return {
      spawn: {
        binary,
        args,
        stdin: monitor.stdin === true || monitor.stdinOnce === true,
      },
      record: {
        pid: 0,
        startTime: '',
        exitFile,
        logPath,
        logFormat: logPath === undefined ? undefined : (monitor.logFormat ?? 'raw'),
        attachSocket,
      },
    };
  }

  /**
   * How a monitored container's init ended, from the monitor's exit file; `undefined` while it has not
   * (or while the monitor drains its output). Works from any process over the same root, also after the
   * one that created the container has exited. Throws `CONTAINER_NOT_FOUND`, `INVALID_STATE` for a
   * container created without a monitor, `MONITOR_FAILED` for a malformed exit file.
   */
  async exitStatus(
    id: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<ExitStatus | undefined> {
    const monitor = this.#requireMonitor(await this.store.read(id));
    const { readExitFile } = await import('../monitor/exit-file.js');
    return readExitFile(monitor.exitFile, { signal: options.signal });
  }

  /**
   * Waits until a monitored container's init has exited and the monitor has recorded it, and resolves the
   * exit status. Throws `INVALID_STATE` for a container created without a monitor, `MONITOR_FAILED` when
   * the monitor is gone without writing the exit file, `ABORTED` when `signal` fires.
   */
  async waitExit(id: string, options: WaitExitOptions = {}): Promise<ExitStatus> {
    const monitor = this.#requireMonitor(await this.store.read(id));
    const { readExitFile, waitForExit } = await import('../monitor/exit-file.js');
    const pollMs = options.pollMs ?? 250;
    const monitorGone = new AbortController();
    const watchdog = setInterval(() => {
      if (!isProcessAlive(monitor.pid, monitor.startTime)) monitorGone.abort();
    }, pollMs);
    const signals = [monitorGone.signal];
    if (options.signal !== undefined) signals.push(options.signal);
    try {
      return await waitForExit(monitor.exitFile, { signal: AbortSignal.any(signals), pollMs });
    } catch (error) {
      if (!monitorGone.signal.aborted || options.signal?.aborted) throw error;
      // The monitor may have written the file just before it exited.
      const status = await readExitFile(monitor.exitFile);
      if (status !== undefined) return status;
      throw new RuntimeError(
        'MONITOR_FAILED',
        `wait for ${id}: monitor ${monitor.pid} exited without recording the exit status`,
        { path: monitor.exitFile },
      );
    } finally {
      clearInterval(watchdog);
    }
  }

  /**
   * Asks a monitored container's monitor to reopen its log file (after rotation; CRI ReopenContainerLog).
   * Throws `INVALID_STATE` without a monitor, `MONITOR_FAILED` when the monitor is gone.
   */
  async reopenLog(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    const monitor = this.#requireMonitor(await this.store.read(id));
    if (!isProcessAlive(monitor.pid, monitor.startTime)) {
      throw new RuntimeError('MONITOR_FAILED', `reopen log of ${id}: the monitor is not running`, {
        path: id,
      });
    }
    const { reopenLog } = await import('../monitor/monitor.js');
    await reopenLog(monitor.pid, { signal: options.signal });
  }

  #requireMonitor(record: ContainerRecord): MonitorRecord {
    if (record.monitor === undefined) {
      throw new RuntimeError('INVALID_STATE', `container ${record.id} was not created with a monitor`, {
        path: record.id,
      });
    }
    return record.monitor;
  }

  /** After the init is gone: lets the monitor finish (drain, write the exit file), then makes sure it is gone. */
  async #stopMonitor(monitor: MonitorRecord, signal?: AbortSignal): Promise<void> {
    for (let waited = 0; isProcessAlive(monitor.pid, monitor.startTime); waited += 20) {
      if (waited >= monitorGraceMs) {
        await this.#killAndWait(monitor.pid, monitor.startTime, 5000, signal);
        return;
      }
      await sleep(20, signal);
    }
  }

  /** SIGKILLs the process (gone already is fine), then {@link #waitGone}s it. */
  async #killAndWait(
    pid: number,
    startTime: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    return this.#waitGone(pid, startTime, timeoutMs, signal);
  }

  /** Waits (polling /proc) until the process is gone or a zombie; reaps it when it is our child. */
  async #waitGone(pid: number, startTime: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    for (let waited = 0; ; waited += 10) {
      try {
        this.#sys.tryWaitPid(pid);
      } catch {
        // not our child: its own parent reaps it
      }
      if (!isProcessAlive(pid, startTime)) return true;
      if (waited >= timeoutMs) return false;
      await sleep(10, signal);
    }
  }

  /**
   * Starts a `created` container: opens the exec fifo so the init goes on to execve, then runs the
   * poststart hooks (a failing one is a warning). Throws `INVALID_STATE` for any other status.
   */
  async start(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<LifecycleResult> {
    const record = await this.store.read(id);
    const status = await this.status(record);
    if (status !== 'created') {
      throw new RuntimeError(
        'INVALID_STATE',
        status === 'stopped'
          ? 'cannot start a container that has stopped'
          : `cannot start an already ${status} container`,
        { path: id },
      );
    }
    const fifo = this.store.fifoPath(id);
    // If the init dies while we wait in open(), open the fifo for writing ourselves to get unstuck.
    const watchdog = setInterval(() => {
      if (!isProcessAlive(record.pid, record.pidStartTime)) {
        try {
          this.#sys.closeFd(this.#sys.openFd(fifo, OpenFlag.WRONLY | OpenFlag.NONBLOCK));
        } catch {
          // no reader (yet): try again
        }
      }
    }, 100);
    let byte = 0;
    try {
      const handle = await open(fifo, 'r');
      try {
        const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, null);
        byte = bytesRead;
      } finally {
        await handle.close();
      }
    } finally {
      clearInterval(watchdog);
    }
    await rm(fifo, { force: true });
    if (byte === 0) {
      throw new RuntimeError(
        'CONTAINER_NOT_RUNNING',
        `start ${id}: the container init exited before it was started`,
        {
          path: id,
        },
      );
    }
    record.status = 'running';
    await this.store.write(record);
    const warnings: string[] = [];
    try {
      await runHooks(record.hooks?.poststart, publicState(record, 'running'), {
        phase: 'poststart',
        signal: options.signal,
      });
    } catch (error) {
      warnings.push((error as Error).message);
    }
    return { warnings };
  }

  /**
   * Sends `signal` to the init (or with `all` to every process of the container's cgroup).
   * Throws `CONTAINER_NOT_RUNNING` for a stopped container.
   */
  async kill(id: string, signal: number, options: { all?: boolean | undefined } = {}): Promise<void> {
    const record = await this.store.read(id);
    const status = await this.status(record);
    if (status === 'stopped' || status === 'creating') {
      throw new RuntimeError('CONTAINER_NOT_RUNNING', 'container not running', { path: id });
    }
    const cgroup = this.#cgroup(record);
    if (options.all && cgroup !== undefined) {
      await cgroup.killAll(signal);
      return;
    }
    try {
      process.kill(record.pid, signal);
    } catch (error) {
      throw new RuntimeError('SYSCALL_FAILED', `kill ${id}: ${(error as Error).message}`, {
        path: id,
        cause: error,
      });
    }
  }

  /**
   * Deletes a container: a `created` or `stopped` one always, a running or paused one only with
   * `force` (SIGKILL first). Removes the cgroup and the state directory, then runs poststop hooks
   * (failures become warnings). Throws `CONTAINER_NOT_STOPPED` without `force`.
   */
  async delete(id: string, options: DeleteOptions = {}): Promise<LifecycleResult> {
    const record = await this.store.read(id);
    const status = await this.status(record);
    if ((status === 'running' || status === 'paused') && !options.force) {
      throw new RuntimeError(
        'CONTAINER_NOT_STOPPED',
        `cannot delete container ${id} that is not stopped: ${status}`,
        {
          path: id,
        },
      );
    }
    const cgroup = this.#cgroup(record);
    if (status !== 'stopped' && record.pid > 0) {
      if (cgroup !== undefined) {
        await cgroup.killAll(9).catch(() => undefined);
        if (status === 'paused') await cgroup.thaw().catch(() => undefined);
      }
      if (!(await this.#killAndWait(record.pid, record.pidStartTime, 10_000, options.signal))) {
        throw new RuntimeError(
          'SYSCALL_FAILED',
          `delete ${id}: the container init did not die after SIGKILL`,
          { path: id },
        );
      }
    } else if (record.pid > 0) {
      try {
        this.#sys.tryWaitPid(record.pid);
      } catch {
        // not our child
      }
    }
    if (record.monitor !== undefined) await this.#stopMonitor(record.monitor, options.signal);
    if (cgroup !== undefined) await cgroup.destroy({ signal: options.signal });
    await this.store.remove(id);
    const warnings: string[] = [];
    try {
      await runHooks(record.hooks?.poststop, publicState(record, 'stopped'), { phase: 'poststop' });
    } catch (error) {
      warnings.push((error as Error).message);
    }
    return { warnings };
  }

  /** Waits for a container process that is a child of this process (`run` in the foreground). */
  waitChild(pid: number): Promise<ProcessExit> {
    return this.#sys.waitPid(pid);
  }

  /**
   * Runs another process in a running container: it joins every namespace of the init and its
   * cgroup, with its own user, capabilities, rlimits, env and cwd. Returns the host pid once the
   * process has called execve. Throws `CONTAINER_NOT_RUNNING` / `INVALID_STATE`.
   */
  async exec(id: string, processSpec: Process, options: ExecOptions = {}): Promise<number> {
    const record = await this.store.read(id);
    const status = await this.status(record);
    if (status === 'paused' && !options.ignorePaused) {
      throw new RuntimeError(
        'INVALID_STATE',
        'cannot exec in a paused container (use --ignore-paused to override)',
        {
          path: id,
        },
      );
    }
    if (status !== 'running' && status !== 'created' && status !== 'paused') {
      throw new RuntimeError('CONTAINER_NOT_RUNNING', 'cannot exec in a stopped container', { path: id });
    }
    if (processSpec.terminal && options.consoleSocket === undefined) {
      throw new RuntimeError(
        'INVALID_ARGUMENT',
        'cannot allocate tty if runc will detach without setting console socket',
      );
    }
    const sys = this.#sys;
    const fds: number[] = [];
    try {
      const join: { fd: number; type: number }[] = [];
      for (const type of ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'] as const) {
        const name = namespaceProcNames[type];
        const theirs = `/proc/${record.pid}/ns/${name}`;
        let same = false;
        try {
          const a = statSync(theirs);
          const b = statSync(`/proc/self/ns/${name}`);
          same = a.ino === b.ino && a.dev === b.dev;
        } catch {
          continue;
        }
        if (same) continue;
        const fd = sys.openFd(theirs, OpenFlag.RDONLY);
        fds.push(fd);
        join.push({ fd, type: namespaceCloneFlags[type] });
      }
      const plan: SpawnPlan = {
        mode: 1,
        join,
        ...buildProcessPlan(processSpec, {
          apparmorEnabled: hostHasAppArmor(),
          selinuxEnabled: hostHasSelinux(),
        }),
      };
      // Like runc, the container's seccomp filter applies to every process started in it.
      if (record.seccomp !== undefined) {
        plan.seccomp = {
          program: Buffer.from(record.seccomp.program, 'base64'),
          flags: record.seccomp.flags,
        };
      }
      plan.stdio = options.stdio;
      plan.preserveFds = options.preserveFds;
      if (options.consoleSocket !== undefined) {
        const consoleFd = sys.connectUnix(options.consoleSocket);
        fds.push(consoleFd);
        plan.consoleFd = consoleFd;
      }
      const cgroup = this.#cgroup(record);
      const pid = await spawnContainerProcess(sys, plan, {
        waitForExec: true,
        signal: options.signal,
        onPid: async (execPid) => {
          if (cgroup !== undefined) await cgroup.addProcess(execPid);
          if (processSpec.oomScoreAdj !== undefined) await writeOomScoreAdj(execPid, processSpec.oomScoreAdj);
          return undefined;
        },
      });
      if (options.pidFile !== undefined) writeAtomic(resolve(options.pidFile), String(pid));
      return pid;
    } finally {
      for (const fd of fds) sys.closeFd(fd);
    }
  }

  #requireCgroup(record: ContainerRecord): CgroupManager {
    const cgroup = this.#cgroup(record);
    if (cgroup === undefined) {
      throw new RuntimeError('CGROUP_UNSUPPORTED', `container ${record.id} has no cgroup`, {
        path: record.id,
      });
    }
    return cgroup;
  }

  /** Freezes a running container. Throws `CONTAINER_NOT_RUNNING` otherwise. */
  async pause(id: string): Promise<void> {
    const record = await this.store.read(id);
    const status = await this.status(record);
    if (status !== 'running' && status !== 'created') {
      throw new RuntimeError('CONTAINER_NOT_RUNNING', 'container not running', { path: id });
    }
    await this.#requireCgroup(record).freeze();
  }

  /** Thaws a paused container. Throws `INVALID_STATE` when it is not paused. */
  async resume(id: string): Promise<void> {
    const record = await this.store.read(id);
    const status = await this.status(record);
    if (status !== 'paused') throw new RuntimeError('INVALID_STATE', 'container not paused', { path: id });
    await this.#requireCgroup(record).thaw();
  }

  /** Applies resources to a container's cgroup (only the parts given). */
  async update(id: string, resources: CgroupResources): Promise<void> {
    const record = await this.store.read(id);
    if ((await this.status(record)) === 'stopped') {
      throw new RuntimeError('CONTAINER_NOT_RUNNING', 'container not running', { path: id });
    }
    await this.#requireCgroup(record).set(resources);
  }

  /** Every pid in the container's cgroup, ascending. */
  async pids(id: string): Promise<number[]> {
    const record = await this.store.read(id);
    if ((await this.status(record)) === 'stopped') return [];
    return this.#requireCgroup(record).pids();
  }

  /** The container's cgroup statistics. */
  async stats(id: string): Promise<CgroupStats> {
    const record = await this.store.read(id);
    return this.#requireCgroup(record).stats();
  }

  /** The container's cgroup manager (for OOM events); throws `CGROUP_UNSUPPORTED` without one. */
  async cgroupOf(id: string): Promise<CgroupManager> {
    return this.#requireCgroup(await this.store.read(id));
  }
}

/** How long `delete` lets a monitor drain and record the exit before it is killed. */
const monitorGraceMs = 10_000;
