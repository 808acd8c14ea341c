/**
 * The only module that loads the native addon (`build/Release/ocikit_runtime.node`, built by node-gyp).
 * Everything else reaches the kernel through the {@link Syscalls} interface this module implements.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from './errors.js';
import type { MonitoredSpawnResult, SpawnPlan, Syscalls } from './syscalls.js';

/**
 * The addon exports the {@link Syscalls} calls (argument defaults are filled in below); spawnMonitored
 * takes the monitor's parts as separate arguments.
 */
type Addon = Omit<Syscalls, 'spawnMonitored'> & {
  spawnMonitored(plan: SpawnPlan, binary: string, args: string[], stdin: boolean): MonitoredSpawnResult;
};

let loaded: Addon | undefined;

/** The package root: one or two levels above this module (`src/`, `dist/`, or the bundled CLI `dist/cli-body.cjs`). */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..'), join(here, '..', '..'), here]) {
    if (existsSync(join(candidate, 'build', 'Release'))) return candidate;
  }
  return join(here, '..');
}

/** The directory holding the built native artifacts (`ocikit_runtime.node`, `ocikit-monitor`). */
export function nativeBuildDirectory(): string {
  return join(packageRoot(), 'build', 'Release');
}

function load(): Addon {
  if (loaded !== undefined) return loaded;
  const path = process.env.OCIKIT_RUNTIME_ADDON ?? join(nativeBuildDirectory(), 'ocikit_runtime.node');
  try {
    const require = createRequire(import.meta.url);
    loaded = require(path) as Addon;
  } catch (error) {
    throw new RuntimeError('NOT_SUPPORTED', `load native addon ${path}: ${(error as Error).message}`, {
      path,
      cause: error,
    });
  }
  return loaded;
}

/** The real {@link Syscalls}, backed by the addon; the addon is loaded on the first call, not on import. */
export function nativeSyscalls(): Syscalls {
  return {
    spawn: (plan) => load().spawn(plan),
    spawnMonitored: (plan, monitor) =>
      load().spawnMonitored(plan, monitor.binary, [...monitor.args], monitor.stdin),
    syncRecv: (fd) => load().syncRecv(fd),
    syncSend: (fd, type, value, text) => load().syncSend(fd, type, value ?? 0, text),
    waitPid: (pid) => load().waitPid(pid),
    tryWaitPid: (pid) => load().tryWaitPid(pid),
    openFd: (path, flags, mode) => load().openFd(path, flags, mode ?? 0),
    closeFd: (fd) => load().closeFd(fd),
    mkfifo: (path, mode) => load().mkfifo(path, mode),
    connectUnix: (path) => load().connectUnix(path),
    listenUnix: (path) => load().listenUnix(path),
    acceptFd: (fd) => load().acceptFd(fd),
    attachDeviceProgram: (directory, program, license) =>
      load().attachDeviceProgram(directory, program, license),
  };
}
