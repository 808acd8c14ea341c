import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ContainerRuntime } from '../../src/container/runtime.js';
import type { RuntimeSpec } from '../../src/spec/config.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { buildBusyboxRootfs } from '../../src/testing/busybox-rootfs.js';

/** A bundle with a busybox rootfs and a runc-like default spec running `args`, no terminal. */
export function makeBundle(dir: string, args: string[], edit?: (spec: RuntimeSpec) => void): string {
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle, { recursive: true });
  buildBusyboxRootfs(join(bundle, 'rootfs'));
  const spec = defaultSpec();
  spec.process = { ...(spec.process as NonNullable<RuntimeSpec['process']>), terminal: false, args };
  spec.root = { path: 'rootfs', readonly: false };
  spec.hostname = 'ocikit-test';
  edit?.(spec);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  return bundle;
}

/**
 * Runs `sh -c script` in a fresh container (bundle under `<dir>/<id>`) to completion with stdout+stderr
 * in a file: create, start, wait, delete, and checks that no mount is left under the bundle.
 */
export async function runToEnd(
  runtime: ContainerRuntime,
  dir: string,
  id: string,
  script: string,
  edit?: (spec: RuntimeSpec) => void,
): Promise<{ exit: Awaited<ReturnType<ContainerRuntime['waitChild']>>; output: string; bundle: string }> {
  const bundle = makeBundle(join(dir, id), ['sh', '-c', script], edit);
  const outPath = join(dir, id, 'out.txt');
  const out = openSync(outPath, 'w');
  let pid: number;
  try {
    pid = (await runtime.create(id, bundle, { stdio: [null, out, out] })).pid;
  } finally {
    closeSync(out);
  }
  await runtime.start(id);
  const exit = await runtime.waitChild(pid);
  await runtime.delete(id);
  expect(mountsUnder(bundle)).toEqual([]);
  return { exit, output: readFileSync(outPath, 'utf8'), bundle };
}

/** A fresh temp dir (removed by the returned cleanup). */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The mount points of this (host) mount namespace that lie under `dir`. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(dir));
}

/** True when we are root with the kernel features the integration tests need. */
export const canRunContainers = process.getuid?.() === 0;

/** runc is installed (parity tests). */
export const hasRunc = (() => {
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The built CLI bundle; built with tsup on first use when missing. */
export const cliPath = join(__dirname, '..', '..', 'dist', 'cli.cjs');

/**
 * The native front end (`build/Release/ocikit-runtime`, native/cli): answers start/state/kill/delete
 * itself and execs `node dist/cli.cjs` for everything else. It is what containerd is given.
 */
export const frontEndPath = join(__dirname, '..', '..', 'build', 'Release', 'ocikit-runtime');

/** The command the CLI tests run as the runtime: the native front end (argv prefix). */
export const runtimeCommand: readonly string[] = [frontEndPath];

/** The TypeScript CLI run by Node directly, without the front end (argv prefix). */
export const nodeCliCommand: readonly string[] = [process.execPath, cliPath];

/**
 * Makes sure dist/cli.cjs and the native front end exist (the repo's setup builds both; a fresh checkout
 * may not have them).
 */
export function ensureCli(): void {
  const pkg = join(__dirname, '..', '..');
  if (!existsSync(cliPath)) execFileSync('pnpm', ['exec', 'tsup'], { cwd: pkg, stdio: 'ignore' });
  if (!existsSync(frontEndPath)) {
    execFileSync('pnpm', ['run', 'build:native'], { cwd: pkg, stdio: 'ignore', env: { ...process.env } });
  }
}

/** Result of one CLI run: exit code and what it wrote. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a runtime binary (`node dist/cli.cjs` or `runc`) with stdout/stderr going to real files, as a
 * shim does, so the container inherits them. Synchronous.
 */
export function runTool(
  command: string[],
  dir: string,
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const out = join(dir, `out-${process.hrtime.bigint()}`);
  const err = `${out}.err`;
  const outFd = openSync(out, 'w');
  const errFd = openSync(err, 'w');
  let code: number;
  try {
    const result = spawnSync(command[0] as string, command.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', outFd, errFd],
      input: options.input,
      timeout: 30_000,
    });
    code = result.status ?? 128 + (result.signal === null ? 0 : 9);
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
  const stdout = readFileSync(out, 'utf8');
  const stderr = readFileSync(err, 'utf8');
  rmSync(out, { force: true });
  rmSync(err, { force: true });
  return { code, stdout, stderr };
}
