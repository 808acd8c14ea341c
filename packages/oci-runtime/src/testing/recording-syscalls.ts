import type {
  MonitoredSpawnResult,
  MonitorSpawn,
  ProcessExit,
  SpawnPlan,
  SpawnResult,
  SyncMessage,
  Syscalls,
} from '../syscalls.js';

/** One recorded call: the method name and its arguments. */
export interface RecordedCall {
  method: keyof Syscalls;
  args: unknown[];
}

/** An injected failure: an Error with a numeric `errno` like the addon's. */
export function syscallError(syscall: string, errno: number, code: string): Error {
  return Object.assign(new Error(`${syscall}: ${code}`), { errno, code, syscall });
}

/**
 * A {@link Syscalls} double for unit tests: it records every call, answers `syncRecv` from a scripted
 * queue of child messages, and throws a failure set with {@link RecordingSyscalls.failOn}. No I/O,
 * no processes; fds are small fake numbers.
 */
export class RecordingSyscalls implements Syscalls {
  readonly calls: RecordedCall[] = [];
  /** Messages the fake child sends, in order; `null` means it closed the socket. */
  readonly script: (SyncMessage | null)[] = [];
  /** What `waitPid` / `tryWaitPid` answer. */
  exit: ProcessExit = { exitCode: 0, signal: null };
  /** The pid `spawnMonitored` reports for the monitor. */
  monitorPid = 3999;
  #nextFd = 100;
  #nextPid = 4000;
  readonly #failures = new Map<keyof Syscalls, Error>();

  /** Makes the next calls of `method` throw `error` (until cleared with `undefined`). */
  failOn(method: keyof Syscalls, error: Error | undefined): void {
    if (error === undefined) this.#failures.delete(method);
    else this.#failures.set(method, error);
  }

  /** The recorded calls of one method. */
  callsOf(method: keyof Syscalls): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  #record(method: keyof Syscalls, args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.#failures.get(method);
    if (failure !== undefined) throw failure;
  }

  spawn(plan: SpawnPlan): SpawnResult {
    this.#record('spawn', [plan]);
    return { pid: this.#nextPid++, syncFd: this.#nextFd++ };
  }

  /** Records the call; the monitor is as fake as the child (`monitorPid` is `monitorPid` below). */
  spawnMonitored(plan: SpawnPlan, monitor: MonitorSpawn): MonitoredSpawnResult {
    this.#record('spawnMonitored', [plan, monitor]);
    return {
      pid: this.#nextPid++,
      syncFd: this.#nextFd++,
      monitorPid: this.monitorPid,
      adoptFd: this.#nextFd++,
      reportFd: this.#nextFd++,
    };
  }

  async syncRecv(fd: number): Promise<SyncMessage | null> {
    this.#record('syncRecv', [fd]);
    return this.script.length === 0 ? null : (this.script.shift() ?? null);
  }

  syncSend(fd: number, type: number, value?: number, text?: string): void {
    this.#record('syncSend', text === undefined ? [fd, type, value ?? 0] : [fd, type, value ?? 0, text]);
  }

  async waitPid(pid: number): Promise<ProcessExit> {
    this.#record('waitPid', [pid]);
    return this.exit;
  }

  tryWaitPid(pid: number): ProcessExit | null {
    this.#record('tryWaitPid', [pid]);
    return this.exit;
  }

  openFd(path: string, flags: number, mode?: number): number {
    this.#record('openFd', [path, flags, mode ?? 0]);
    return this.#nextFd++;
  }

  closeFd(fd: number): void {
    this.#record('closeFd', [fd]);
  }

  mkfifo(path: string, mode: number): void {
    this.#record('mkfifo', [path, mode]);
  }

  connectUnix(path: string): number {
    this.#record('connectUnix', [path]);
    return this.#nextFd++;
  }

  listenUnix(path: string): number {
    this.#record('listenUnix', [path]);
    return this.#nextFd++;
  }

  async acceptFd(listenFd: number): Promise<number> {
    this.#record('acceptFd', [listenFd]);
    return this.#nextFd++;
  }

  attachDeviceProgram(cgroupDirectory: string, program: Uint8Array, license: string): void {
    this.#record('attachDeviceProgram', [cgroupDirectory, program, license]);
  }
}
