/**
 * cgroup v2 manager against a real cgroup2 mount. On this hybrid host the cgroup2 hierarchy is empty of
 * the controllers bound to v1 (memory, cpu, pids, io, cpuset): what works without them is tested for
 * real (create/destroy, cgroup.procs, freeze, cgroup.kill, pids, cpu.stat, and hugetlb when offered);
 * resource writes for the missing controllers are covered by the fixture unit tests only.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCgroupManager } from '../../src/cgroups/create.js';
import type { CgroupManager } from '../../src/cgroups/manager.js';

const BUSYBOX = fileURLToPath(new URL('../../../../.cache/busybox-dynamic/bin/busybox', import.meta.url));
const isRoot = process.getuid?.() === 0;
const cgroup2Known = readFileSync('/proc/filesystems', 'utf8').includes('cgroup2');
const skipReason = !isRoot
  ? 'not root'
  : !cgroup2Known
    ? 'the kernel has no cgroup2 file system'
    : !existsSync(BUSYBOX)
      ? `no dynamic busybox at ${BUSYBOX} (run scripts/setup.sh)`
      : undefined;
if (skipReason !== undefined) console.log(`cgroups-v2 integration skipped: ${skipReason}`);

const PATH = `/ocikit-test-v2-${randomBytes(4).toString('hex')}`;
let mountpoint = '';
let mounted = false;
let scratch = '';
let controllers: string[] = [];
let subtreeBefore = '';
let manager: CgroupManager;
const children: ChildProcess[] = [];
// Sub-cgroups made by the tests: thawed in afterAll in case a test failed while one was frozen.
const subManagers: CgroupManager[] = [];

function gatedShell(script: string): ChildProcess {
  const child = spawn(BUSYBOX, ['sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// What this kernel's cgroup2 hierarchy offers (a fresh mount shows the same single hierarchy), read at
// collection time so skipIf can say why a part is skipped.
const unifiedControllers = '/sys/fs/cgroup/unified/cgroup.controllers';
const offered = existsSync(unifiedControllers)
  ? readFileSync(unifiedControllers, 'utf8').split(/\s+/).filter(Boolean)
  : ['memory', 'cpu', 'pids']; // a pure v2 host: the mount offers the usual domain controllers
const noDomainControllers = !['memory', 'cpu', 'pids'].every((name) => offered.includes(name));
if (skipReason === undefined && noDomainControllers) {
  console.log(
    `cgroups-v2 integration: memory/cpu/pids limits skipped on real cgroup2 — they are bound to cgroup v1 here (cgroup2 offers: "${offered.join(' ')}"); covered by the fixture unit tests`,
  );
}

describe.skipIf(skipReason !== undefined)('cgroup v2 manager on a real cgroup2 mount', () => {
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ocikit-cgroup-v2-'));
    mountpoint = join(scratch, 'cgroup2');
    await mkdir(mountpoint);
    execFileSync('mount', ['-t', 'cgroup2', 'none', mountpoint]);
    mounted = true;
    controllers = (await readFile(join(mountpoint, 'cgroup.controllers'), 'utf8'))
      .split(/\s+/)
      .filter(Boolean);
    subtreeBefore = (await readFile(join(mountpoint, 'cgroup.subtree_control'), 'utf8')).trim();
    manager = createCgroupManager({ path: PATH, root: mountpoint, procRoot: '/proc' });
    await manager.create();
  });

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const sub of subManagers) await sub.thaw().catch(() => undefined);
    try {
      await manager?.killAll(9);
      await manager?.destroy();
      // Give the root back the controllers it delegated before (create() enables what it offers).
      if (mounted) {
        const before = new Set(subtreeBefore.split(/\s+/).filter(Boolean));
        const now = (await readFile(join(mountpoint, 'cgroup.subtree_control'), 'utf8'))
          .split(/\s+/)
          .filter(Boolean);
        for (const name of now.filter((entry) => !before.has(entry))) {
          await writeFile(join(mountpoint, 'cgroup.subtree_control'), `-${name}`).catch(() => undefined);
        }
      }
    } finally {
      if (mounted) execFileSync('umount', [mountpoint]);
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('is detected as v2 at the mount and creates the directory', async () => {
    expect(manager.version).toBe(2);
    const directory = join(mountpoint, PATH);
    expect(await manager.directories()).toEqual(new Map([['', directory]]));
    expect((await stat(directory)).isDirectory()).toBe(true);
    // create() delegated every offered controller from the root.
    const subtree = (await readFile(join(mountpoint, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
    for (const name of controllers) expect(subtree).toContain(name);
  });

  it('moves a process in, lists it, and sees it in /proc/<pid>/cgroup', async () => {
    const sleeper = spawn(BUSYBOX, ['sleep', '30'], { stdio: 'ignore' });
    children.push(sleeper);
    const pid = sleeper.pid ?? 0;
    await manager.addProcess(pid);
    expect((await readFile(join(mountpoint, PATH, 'cgroup.procs'), 'utf8')).split('\n')).toContain(
      String(pid),
    );
    expect(await manager.pids()).toEqual([pid]);
    expect(await readFile(`/proc/${pid}/cgroup`, 'utf8')).toContain(`0::${PATH}\n`);
  });

  it('freezes a counting process through cgroup.freeze and thaws it; cpu.stat feeds stats()', async () => {
    const counterFile = join(scratch, 'counter');
    const child = createCgroupManager({ path: `${PATH}/freeze`, root: mountpoint });
    subManagers.push(child);
    await child.create();
    const counter = gatedShell(`i=0; while true; do i=$((i+1)); echo $i >> ${counterFile}; sleep 0.02; done`);
    await child.addProcess(counter.pid ?? 0);
    counter.stdin?.write('go\n');
    const size = async (): Promise<number> => (existsSync(counterFile) ? (await stat(counterFile)).size : 0);
    await until(async () => (await size()) > 20, 'the counter to start');

    await child.freeze();
    expect(await child.freezerState()).toBe('frozen');
    const atFreeze = await size();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await size()).toBe(atFreeze);
    await child.thaw();
    expect(await child.freezerState()).toBe('thawed');
    await until(async () => (await size()) > atFreeze + 20, 'the counter to continue');

    const stats = await child.stats();
    expect(stats.cpu.usage.total).toBeGreaterThan(0);
    expect(stats.cpu.usage.user + stats.cpu.usage.kernel).toBeGreaterThan(0);

    // killAll with a catchable signal goes through freeze → signal → thaw.
    await child.killAll(15);
    expect((await exited(counter)).signal).toBe('SIGTERM');
    await until(async () => (await child.pids()).length === 0, 'the freeze cgroup to empty');
  });

  it.skipIf(!offered.includes('hugetlb'))(
    'applies a hugetlb limit through the delegated hugetlb controller',
    async () => {
      await manager.set({ hugepageLimits: [{ pageSize: '2MB', limit: 4 * 1024 * 1024 }] });
      expect((await readFile(join(mountpoint, PATH, 'hugetlb.2MB.max'), 'utf8')).trim()).toBe(
        String(4 * 1024 * 1024),
      );
      const stats = await manager.stats();
      expect(stats.hugetlb['2MB']).toEqual({ usage: 0, max: 0, failcnt: 0 });
    },
  );

  it.skipIf(noDomainControllers)('applies memory, cpu and pids limits', async () => {
    await manager.set({
      memory: { limit: 64 * 1024 * 1024 },
      pids: { limit: 10 },
      cpu: { quota: 50000, period: 100000 },
    });
    expect((await readFile(join(mountpoint, PATH, 'memory.max'), 'utf8')).trim()).toBe(
      String(64 * 1024 * 1024),
    );
    expect((await readFile(join(mountpoint, PATH, 'pids.max'), 'utf8')).trim()).toBe('10');
    expect((await readFile(join(mountpoint, PATH, 'cpu.max'), 'utf8')).trim()).toBe('50000 100000');
  });

  it('reports a missing controller as CGROUP_UNSUPPORTED', async () => {
    const missing = ['memory', 'pids', 'cpu'].find((name) => !controllers.includes(name));
    if (missing === undefined) {
      // Every controller exists here: a v1-only knob must still be refused.
      await expect(manager.set({ cpu: { realtimeRuntime: 1000 } })).rejects.toMatchObject({
        code: 'CGROUP_UNSUPPORTED',
      });
      return;
    }
    const resources =
      missing === 'memory'
        ? { memory: { limit: 1 << 26 } }
        : missing === 'pids'
          ? { pids: { limit: 5 } }
          : { cpu: { shares: 512 } };
    await expect(manager.set(resources)).rejects.toMatchObject({ code: 'CGROUP_UNSUPPORTED' });
  });

  it('killAll(SIGKILL) uses cgroup.kill; destroy removes nested cgroups', async () => {
    const sleeper = gatedShell('sleep 30');
    await manager.addProcess(sleeper.pid ?? 0);
    sleeper.stdin?.write('go\n');
    await mkdir(join(mountpoint, PATH, 'nested'));
    await manager.killAll(9);
    expect((await exited(sleeper)).signal).toBe('SIGKILL');
    await until(async () => (await manager.pids()).length === 0, 'the cgroup to empty');
    await manager.destroy();
    expect(existsSync(join(mountpoint, PATH))).toBe(false);
    await manager.destroy(); // idempotent
    await manager.killAll(9); // nothing left to signal
  });
});
