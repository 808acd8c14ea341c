/**
 * Containers whose cgroup lives on a cgroup2 mount, through the library (`cgroupRoot`) and the CLI
 * (`--cgroup-root`). This host is hybrid, so a cgroup2 file system mounted in a temp dir gives the v2
 * manager; cgroup.procs and cgroup.freeze work there without any controller.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../src/container/runtime.js';
import { canRunContainers, ensureCli, makeBundle, runTool, runtimeCommand, tempDir } from './helpers.js';

const cgroup2Known = readFileSync('/proc/filesystems', 'utf8').includes('cgroup2');
const skipReason = !canRunContainers
  ? 'not root'
  : !cgroup2Known
    ? 'the kernel has no cgroup2 file system'
    : undefined;
if (skipReason !== undefined) console.log(`container-cgroup-v2 tests skipped: ${skipReason}`);

const tmp = tempDir('ocikit-container-v2-');
const mountpoint = join(tmp.dir, 'cgroup2');
const root = join(tmp.dir, 'state');
const suffix = randomBytes(4).toString('hex');
let mounted = false;
const created: string[] = [];

function cgroupFile(path: string, file: string): string {
  return readFileSync(join(mountpoint, path, file), 'utf8');
}

beforeAll(() => {
  if (skipReason !== undefined) return;
  ensureCli();
  mkdirSync(mountpoint);
  execFileSync('mount', ['-t', 'cgroup2', 'none', mountpoint]);
  mounted = true;
});

afterAll(async () => {
  const runtime = new ContainerRuntime({ root, cgroupRoot: mountpoint });
  for (const id of created) await runtime.delete(id, { force: true }).catch(() => undefined);
  if (mounted) execFileSync('umount', [mountpoint]);
  tmp.cleanup();
});

describe.skipIf(skipReason !== undefined)('a container on a cgroup2 hierarchy', () => {
  it('joins the v2 cgroup, pauses and resumes through cgroup.freeze (library)', async () => {
    const id = `v2-lib-${suffix}`;
    const cgroupPath = `/ocikit-v2-lib-${suffix}`;
    const bundle = makeBundle(join(tmp.dir, 'lib'), ['sleep', '1000'], (spec) => {
      spec.linux = { ...spec.linux, cgroupsPath: cgroupPath };
    });
    const runtime = new ContainerRuntime({ root, cgroupRoot: mountpoint });
    created.push(id);
    const state = await runtime.create(id, bundle);
    expect((await runtime.cgroupOf(id)).version).toBe(2);
    expect(cgroupFile(cgroupPath, 'cgroup.procs').split('\n')).toContain(String(state.pid));
    await runtime.start(id);
    expect(await runtime.pids(id)).toEqual([state.pid]);

    await runtime.pause(id);
    expect(cgroupFile(cgroupPath, 'cgroup.freeze').trim()).toBe('1');
    expect((await runtime.state(id)).status).toBe('paused');
    await runtime.resume(id);
    expect(cgroupFile(cgroupPath, 'cgroup.freeze').trim()).toBe('0');
    expect((await runtime.state(id)).status).toBe('running');

    await runtime.delete(id, { force: true });
    expect(existsSync(join(mountpoint, cgroupPath))).toBe(false);
  });

  it('does the same through the CLI with --cgroup-root', () => {
    const id = `v2-cli-${suffix}`;
    const cgroupPath = `/ocikit-v2-cli-${suffix}`;
    const bundle = makeBundle(join(tmp.dir, 'cli'), ['sleep', '1000'], (spec) => {
      spec.linux = { ...spec.linux, cgroupsPath: cgroupPath };
    });
    const cli = (...args: string[]) =>
      runTool([...runtimeCommand, '--root', root, '--cgroup-root', mountpoint, ...args], tmp.dir);
    created.push(id);
    expect(cli('create', '--bundle', bundle, id).code).toBe(0);
    expect(cli('start', id).code).toBe(0);
    const pid = JSON.parse(cli('state', id).stdout).pid as number;
    expect(cgroupFile(cgroupPath, 'cgroup.procs').split('\n')).toContain(String(pid));

    expect(cli('pause', id).code).toBe(0);
    expect(cgroupFile(cgroupPath, 'cgroup.freeze').trim()).toBe('1');
    expect(JSON.parse(cli('state', id).stdout).status).toBe('paused');
    expect(cli('resume', id).code).toBe(0);
    expect(cgroupFile(cgroupPath, 'cgroup.freeze').trim()).toBe('0');
    expect(JSON.parse(cli('state', id).stdout).status).toBe('running');

    expect(cli('delete', '--force', id).code).toBe(0);
    expect(existsSync(join(mountpoint, cgroupPath))).toBe(false);
  });
});
