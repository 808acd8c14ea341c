/**
 * cgroup v1 manager against the real kernel of this (hybrid v1) machine, as root: limits, membership,
 * pids.max against a fork loop, an OOM kill, freeze/thaw of a counting process, stats, killAll, destroy.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCgroupManager } from '../../src/cgroups/create.js';
import { detectCgroupVersionSync } from '../../src/cgroups/detect.js';
import type { CgroupManager } from '../../src/cgroups/manager.js';

const ROOT = '/sys/fs/cgroup';
const BUSYBOX = fileURLToPath(new URL('../../../../.cache/busybox-dynamic/bin/busybox', import.meta.url));
const isRoot = process.getuid?.() === 0;
const isV1 = detectCgroupVersionSync(ROOT) === 1 && existsSync(join(ROOT, 'memory', 'memory.limit_in_bytes'));
const skipReason = !isRoot
  ? 'not root'
  : !isV1
    ? 'this machine does not run cgroup v1 controllers under /sys/fs/cgroup'
    : !existsSync(BUSYBOX)
      ? `no dynamic busybox at ${BUSYBOX} (run scripts/setup.sh)`
      : undefined;
if (skipReason !== undefined) console.log(`cgroups-v1 integration skipped: ${skipReason}`);

const PATH = `/ocikit-test-${randomBytes(4).toString('hex')}`;
const children: ChildProcess[] = [];
// Sub-cgroups made by the tests: thawed in afterAll in case a test failed while one was frozen.
const subManagers: CgroupManager[] = [];
let manager: CgroupManager;
let scratch: string;

/** Starts a busybox shell that waits for one stdin line before running `script` (so it can be moved first). */
function gatedShell(script: string): ChildProcess {
  const child = spawn(BUSYBOX, ['sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function output(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { stdout: () => stdout, stderr: () => stderr };
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

const read = (controller: string, path: string, file: string): Promise<string> =>
  readFile(join(ROOT, controller, path, file), 'utf8').then((text) => text.trim());

describe.skipIf(skipReason !== undefined)('cgroup v1 manager on the real kernel', () => {
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ocikit-cgroup-v1-'));
    manager = createCgroupManager({ path: PATH, root: ROOT });
    await manager.create();
  });

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const sub of subManagers) await sub.thaw().catch(() => undefined);
    try {
      await manager?.killAll(9);
    } finally {
      await manager?.destroy();
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('uses the v1 manager and one directory per mounted controller (cpu and cpuacct apart)', async () => {
    expect(manager.version).toBe(1);
    const directories = await manager.directories();
    expect(directories.get('cpu')).toBe(join(ROOT, 'cpu', PATH));
    expect(directories.get('cpuacct')).toBe(join(ROOT, 'cpuacct', PATH));
    for (const directory of new Set(directories.values())) {
      expect((await stat(directory)).isDirectory()).toBe(true);
    }
  });

  it('applies memory, pids and cpu limits and moves a real process in', async () => {
    await manager.set({
      memory: { limit: 64 * 1024 * 1024, swap: 64 * 1024 * 1024 },
      pids: { limit: 50 },
      cpu: { quota: 50000, period: 100000, shares: 512 },
    });
    expect(await read('memory', PATH, 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(await read('memory', PATH, 'memory.memsw.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(await read('pids', PATH, 'pids.max')).toBe('50');
    expect(await read('cpu', PATH, 'cpu.cfs_quota_us')).toBe('50000');
    expect(await read('cpu', PATH, 'cpu.shares')).toBe('512');

    const sleeper = spawn(BUSYBOX, ['sleep', '30'], { stdio: 'ignore' });
    children.push(sleeper);
    const pid = sleeper.pid ?? 0;
    await manager.addProcess(pid);
    for (const controller of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids']) {
      expect((await read(controller, PATH, 'cgroup.procs')).split('\n')).toContain(String(pid));
    }
    expect(await manager.pids()).toContain(pid);
    const own = await readFile(`/proc/${pid}/cgroup`, 'utf8');
    expect(own).toContain(`:memory:${PATH}\n`);
    expect(own).toContain(`:cpu:${PATH}\n`);
  });

  it('pids.max=5 stops a fork loop', async () => {
    const limited = createCgroupManager({ path: `${PATH}/pids`, root: ROOT });
    subManagers.push(limited);
    await limited.create();
    await limited.set({ pids: { limit: 5 } });
    // 10 background sleeps: with the shell itself counted, at most 4 can start.
    const shell = gatedShell('n=0; while [ $n -lt 10 ]; do sleep 30 & n=$((n+1)); done; echo done; wait');
    const logs = output(shell);
    await limited.addProcess(shell.pid ?? 0);
    shell.stdin?.write('go\n');
    await until(
      async () => logs.stderr().includes("can't fork") || logs.stdout().includes('done'),
      'the fork loop',
    );
    const members = await limited.pids();
    expect(members.length).toBeLessThanOrEqual(5);
    expect(members.length).toBeGreaterThanOrEqual(2); // the shell and at least one sleep ran
    expect(logs.stdout()).not.toContain('done');
    expect(logs.stderr()).toContain("can't fork");
    expect(Number(await read('pids', `${PATH}/pids`, 'pids.current'))).toBeLessThanOrEqual(5);
    await limited.killAll(9);
    await until(async () => (await limited.pids()).length === 0, 'the pids cgroup to empty');
  });

  it('OOM-kills a memory hog in a 32 MB cgroup and reports it', async () => {
    const small = createCgroupManager({ path: `${PATH}/oom`, root: ROOT });
    subManagers.push(small);
    await small.create();
    await small.set({ memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } });
    const before = await small.oomKillCount();
    expect(before).toBe(0);
    const controller = new AbortController();
    const events = small.oomEvents({ signal: controller.signal, intervalMs: 20, since: before });
    const firstEvent = (async () => {
      for await (const event of events) return event;
      return undefined;
    })();
    // The string doubles until the shell needs more than 32 MB.
    const hog = gatedShell('x=0123456789abcdef; while true; do x="$x$x"; done');
    await small.addProcess(hog.pid ?? 0);
    hog.stdin?.write('go\n');
    const result = await exited(hog);
    expect(result.signal).toBe('SIGKILL');
    expect(await small.oomKillCount()).toBeGreaterThanOrEqual(1);
    const event = await firstEvent;
    controller.abort();
    expect(event?.type).toBe('oom');
    expect(event?.count).toBeGreaterThanOrEqual(1);
  });

  it('freezes a counting process and thaws it', async () => {
    const frozen = createCgroupManager({ path: `${PATH}/freeze`, root: ROOT });
    subManagers.push(frozen);
    await frozen.create();
    const counterFile = join(scratch, 'counter');
    const counter = gatedShell(`i=0; while true; do i=$((i+1)); echo $i >> ${counterFile}; sleep 0.02; done`);
    await frozen.addProcess(counter.pid ?? 0);
    counter.stdin?.write('go\n');
    const size = async (): Promise<number> => (existsSync(counterFile) ? (await stat(counterFile)).size : 0);
    await until(async () => (await size()) > 20, 'the counter to start');

    await frozen.freeze();
    expect(await frozen.freezerState()).toBe('frozen');
    const atFreeze = await size();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await size()).toBe(atFreeze);

    await frozen.thaw();
    expect(await frozen.freezerState()).toBe('thawed');
    await until(async () => (await size()) > atFreeze + 20, 'the counter to continue');

    const stats = await frozen.stats();
    expect(stats.cpu.usage.total).toBeGreaterThan(0);
    expect(stats.cpu.usage.percpu.length).toBeGreaterThan(0);
    expect(stats.memory.usage.usage).toBeGreaterThan(0);
    expect(stats.memory.raw).toHaveProperty('rss');
    expect(stats.pids.current).toBeGreaterThanOrEqual(1);
  });

  it('killAll then destroy removes every directory, children first', async () => {
    const parentStats = await manager.stats();
    expect(parentStats.memory.usage.usage).toBeGreaterThan(0);
    expect(parentStats.pids.limit).toBe(50);
    expect((await manager.pids()).length).toBeGreaterThan(0);
    await manager.killAll(9);
    await manager.destroy();
    const directories = await manager.directories();
    for (const directory of new Set(directories.values())) expect(existsSync(directory)).toBe(false);
    for (const child of ['pids', 'oom', 'freeze'])
      expect(existsSync(join(ROOT, 'memory', PATH, child))).toBe(false);
  });
});
