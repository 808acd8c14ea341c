/**
 * Real containers for the less common process settings: a new time namespace with clock offsets
 * (also seen by `exec`), `linux.personality`, and cgroup v2 device rules enforced by the eBPF program
 * the addon loads (on a cgroup2 file system mounted in a temp dir, as this host is hybrid).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../src/container/runtime.js';
import type { Process, RuntimeSpec } from '../../src/spec/config.js';
import { canRunContainers, makeBundle, runToEnd as runContainerToEnd, tempDir } from './helpers.js';

const TEN_DAYS = 86_400 * 10;
const hasTimeNamespace = (() => {
  try {
    readlinkSync('/proc/self/ns/time');
    return true;
  } catch {
    return false;
  }
})();
const cgroup2Known = readFileSync('/proc/filesystems', 'utf8').includes('cgroup2');

if (!canRunContainers) console.log('runtime-namespaces-extra tests skipped: not root');
else if (!hasTimeNamespace) console.log('time namespace tests skipped: the kernel has no time namespaces');
if (process.arch !== 'x64') console.log('personality test skipped: LINUX32 is checked on x86_64 only');
if (!cgroup2Known) console.log('device cgroup tests skipped: the kernel has no cgroup2 file system');

const tmp = tempDir('ocikit-ns-extra-');
const suffix = randomBytes(4).toString('hex');
const runtimes: ContainerRuntime[] = [];

function hostUptime(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

function processOf(spec: RuntimeSpec): Process {
  return spec.process as Process;
}

/** Runs `script` in a fresh container to completion; returns the exit code and stdout+stderr. */
async function runToEnd(
  runtime: ContainerRuntime,
  id: string,
  script: string,
  edit?: (spec: RuntimeSpec) => void,
): Promise<{ exitCode: number | null; output: string }> {
  const { exit, output } = await runContainerToEnd(runtime, tmp.dir, id, script, edit);
  return { exitCode: exit.exitCode, output };
}

/** Runs `script` with `exec` in a running container; returns the exit code and output. */
async function execToEnd(
  runtime: ContainerRuntime,
  id: string,
  script: string,
): Promise<{ exitCode: number | null; output: string }> {
  const outPath = join(tmp.dir, `${id}-exec-${randomBytes(3).toString('hex')}.txt`);
  const out = openSync(outPath, 'w');
  let pid: number;
  try {
    pid = await runtime.exec(
      id,
      { args: ['sh', '-c', script], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
      { stdio: [null, out, out] },
    );
  } finally {
    closeSync(out);
  }
  const exit = await runtime.waitChild(pid);
  return { exitCode: exit.exitCode, output: readFileSync(outPath, 'utf8') };
}

afterAll(async () => {
  for (const runtime of runtimes) {
    for (const state of await runtime.list().catch(() => [])) {
      await runtime.delete(state.id, { force: true }).catch(() => undefined);
    }
  }
  tmp.cleanup();
});

describe.skipIf(!canRunContainers)('time namespace and personality', () => {
  const runtime = new ContainerRuntime({ root: join(tmp.dir, 'state') });
  runtimes.push(runtime);

  it.skipIf(!hasTimeNamespace)(
    'a new time namespace shifts the clocks by linux.timeOffsets, also for exec',
    async () => {
      const hostNamespace = readlinkSync('/proc/self/ns/time');
      const before = hostUptime();
      const dir = join(tmp.dir, 'timens');
      const bundle = makeBundle(dir, ['sleep', '1000'], (spec) => {
        spec.linux?.namespaces?.push({ type: 'time' });
        spec.linux = {
          ...spec.linux,
          timeOffsets: {
            monotonic: { secs: TEN_DAYS, nanosecs: 0 },
            boottime: { secs: TEN_DAYS, nanosecs: 500 },
          },
        };
      });
      const id = `timens-${suffix}`;
      await runtime.create(id, bundle);
      await runtime.start(id);
      const script = 'cat /proc/uptime; readlink /proc/self/ns/time; cat /proc/self/timens_offsets';
      const inside = await execToEnd(runtime, id, script);
      // The init itself, seen from the host, is in the same (new) time namespace as the exec.
      const initNamespace = readlinkSync(`/proc/${(await runtime.state(id)).pid}/ns/time`);
      await runtime.delete(id, { force: true });
      const after = hostUptime();

      expect(inside.exitCode).toBe(0);
      const [uptime, namespace, ...offsets] = inside.output.trim().split('\n');
      const seconds = Number(uptime?.split(' ')[0]);
      // /proc/uptime follows CLOCK_BOOTTIME, shifted by the boottime offset.
      expect(seconds).toBeGreaterThanOrEqual(before + TEN_DAYS);
      expect(seconds).toBeLessThanOrEqual(after + TEN_DAYS + 1);
      expect(namespace).toMatch(/^time:\[\d+\]$/);
      expect(namespace).not.toBe(hostNamespace);
      expect(namespace).toBe(initNamespace);
      expect(offsets.map((line) => line.trim().split(/\s+/).join(' '))).toEqual([
        `monotonic ${TEN_DAYS} 0`,
        `boottime ${TEN_DAYS} 500`,
      ]);
    },
  );

  it.skipIf(!hasTimeNamespace)('without a time namespace the clocks are the host’s', async () => {
    const hostNamespace = readlinkSync('/proc/self/ns/time');
    const before = hostUptime();
    const { exitCode, output } = await runToEnd(
      runtime,
      `no-timens-${suffix}`,
      'cat /proc/uptime; readlink /proc/self/ns/time',
    );
    const after = hostUptime();
    expect(exitCode).toBe(0);
    const [uptime, namespace] = output.trim().split('\n');
    const seconds = Number(uptime?.split(' ')[0]);
    expect(seconds).toBeGreaterThanOrEqual(before);
    expect(seconds).toBeLessThanOrEqual(after);
    expect(namespace).toBe(hostNamespace);
  });

  it.skipIf(process.arch !== 'x64')('linux.personality LINUX32 makes uname report i686', async () => {
    const linux32 = await runToEnd(runtime, `personality32-${suffix}`, 'uname -m', (spec) => {
      spec.linux = { ...spec.linux, personality: { domain: 'LINUX32' } };
    });
    expect(linux32).toEqual({ exitCode: 0, output: 'i686\n' });
    const linux = await runToEnd(runtime, `personality64-${suffix}`, 'uname -m', (spec) => {
      spec.linux = { ...spec.linux, personality: { domain: 'LINUX' } };
    });
    expect(linux).toEqual({ exitCode: 0, output: 'x86_64\n' });
  });
});

/** Policy (field 41) and nice (field 19) of a /proc/<pid>/stat line. */
function policyAndNice(stat: string): { policy: number; nice: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state).
  return { policy: Number(fields[41 - 3]), nice: Number(fields[19 - 3]) };
}

describe.skipIf(!canRunContainers)('process.scheduler and process.ioPriority', () => {
  const runtime = new ContainerRuntime({ root: join(tmp.dir, 'state-sched') });
  runtimes.push(runtime);
  const script = 'cat /proc/self/stat; ionice -p $$';

  it('applies sched_setattr and ioprio_set to the init, and exec applies its own', async () => {
    const id = `sched-${suffix}`;
    const dir = join(tmp.dir, id);
    const bundle = makeBundle(dir, ['sh', '-c', `${script}; sleep 1000`], (spec) => {
      processOf(spec).scheduler = { policy: 'SCHED_BATCH', nice: 7 };
      processOf(spec).ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 };
    });
    const outPath = join(dir, 'out.txt');
    const out = openSync(outPath, 'w');
    try {
      await runtime.create(id, bundle, { stdio: [null, out, out] });
    } finally {
      closeSync(out);
    }
    await runtime.start(id);
    // Wait until the init has written both lines (the file is ours; no timing is asserted).
    let initLines: string[] = [];
    for (let tries = 0; tries < 200 && initLines.length < 2; tries++) {
      initLines = readFileSync(outPath, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
      if (initLines.length < 2) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(policyAndNice(initLines[0] ?? '')).toEqual({ policy: 3, nice: 7 });
    expect(initLines[1]).toBe('best-effort: prio 6');

    const dir2 = join(tmp.dir, `${id}-exec.txt`);
    const execOut = openSync(dir2, 'w');
    let pid: number;
    try {
      pid = await runtime.exec(
        id,
        {
          args: ['sh', '-c', script],
          cwd: '/',
          user: { uid: 0, gid: 0 },
          env: ['PATH=/bin'],
          scheduler: { policy: 'SCHED_IDLE' },
          ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 },
        },
        { stdio: [null, execOut, execOut] },
      );
    } finally {
      closeSync(execOut);
    }
    expect((await runtime.waitChild(pid)).exitCode).toBe(0);
    const execLines = readFileSync(dir2, 'utf8').trim().split('\n');
    expect(policyAndNice(execLines[0] ?? '').policy).toBe(5);
    expect(execLines[1]).toBe('idle');
    await runtime.delete(id, { force: true });
  });

  it('leaves the scheduler and I/O priority alone when the spec has none', async () => {
    const { exitCode, output } = await runToEnd(runtime, `sched-none-${suffix}`, script);
    expect(exitCode).toBe(0);
    const [stat, ionice] = output.trim().split('\n');
    expect(policyAndNice(stat ?? '')).toEqual(policyAndNice(readFileSync('/proc/self/stat', 'utf8')));
    expect(ionice).toMatch(/^(none|best-effort): prio \d$/);
  });
});

describe.skipIf(!canRunContainers || !cgroup2Known)('cgroup v2 device rules (eBPF)', () => {
  const mountpoint = join(tmp.dir, 'cgroup2');
  let mounted = false;
  const runtime = new ContainerRuntime({ root: join(tmp.dir, 'state-v2'), cgroupRoot: mountpoint });
  runtimes.push(runtime);

  beforeAll(() => {
    mkdirSync(mountpoint);
    execFileSync('mount', ['-t', 'cgroup2', 'none', mountpoint]);
    mounted = true;
  });
  afterAll(async () => {
    for (const state of await runtime.list().catch(() => [])) {
      await runtime.delete(state.id, { force: true }).catch(() => undefined);
    }
    if (mounted) execFileSync('umount', [mountpoint]);
  });

  // /dev/fuse (c 10:229) opens for root without side effects and is not among the default devices.
  // mknod is allowed by the default rules; opening the node is what the device program decides.
  const probe = [
    'mknod /tmp/fuse c 10 229',
    // A failed redirection ends the shell on a special built-in: open in a subshell.
    'if (: < /tmp/fuse); then echo fuse-open; fi',
    'echo hello > /dev/null && echo null-write',
    'cat /dev/null && echo null-read',
    'head -c 4 /dev/zero | wc -c',
  ].join('; ');
  function withMknod(spec: RuntimeSpec): void {
    const caps = ['CAP_MKNOD', 'CAP_DAC_OVERRIDE'];
    processOf(spec).capabilities = {
      bounding: caps,
      effective: caps,
      permitted: caps,
      inheritable: [],
      ambient: [],
    };
  }

  it('denies a device outside the rules with EPERM and allows the default devices', async () => {
    const { exitCode, output } = await runToEnd(runtime, `dev-deny-${suffix}`, probe, (spec) => {
      withMknod(spec);
      spec.linux = { ...spec.linux, cgroupsPath: `/ocikit-dev-deny-${suffix}` };
    });
    expect(output).toBe("sh: can't open /tmp/fuse: Operation not permitted\nnull-write\nnull-read\n4\n");
    expect(exitCode).toBe(0);
  });

  it('allows a device a spec rule allows', async () => {
    const { exitCode, output } = await runToEnd(runtime, `dev-allow-${suffix}`, probe, (spec) => {
      withMknod(spec);
      spec.linux = {
        ...spec.linux,
        cgroupsPath: `/ocikit-dev-allow-${suffix}`,
        resources: {
          devices: [
            { allow: false, access: 'rwm' },
            { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
          ],
        },
      };
    });
    expect(output).toBe('fuse-open\nnull-write\nnull-read\n4\n');
    expect(exitCode).toBe(0);
  });

  it('update replaces the attached program instead of stacking a second one', async () => {
    const id = `dev-update-${suffix}`;
    const dir = join(tmp.dir, id);
    const bundle = makeBundle(dir, ['sleep', '1000'], (spec) => {
      withMknod(spec);
      spec.linux = { ...spec.linux, cgroupsPath: `/ocikit-dev-update-${suffix}` };
    });
    await runtime.create(id, bundle);
    await runtime.start(id);
    const check = 'mknod /tmp/fuse c 10 229 2>/dev/null; if (: < /tmp/fuse); then echo fuse-open; fi';
    const denied = await execToEnd(runtime, id, check);
    expect(denied.output).toBe("sh: can't open /tmp/fuse: Operation not permitted\n");
    // With both programs attached, the old one would still deny: the open works only if it was detached.
    await runtime.update(id, { devices: [{ allow: true, access: 'rwm' }] });
    const allowed = await execToEnd(runtime, id, check);
    expect(allowed.output).toBe('fuse-open\n');
    await runtime.update(id, {
      devices: [
        { allow: true, access: 'rwm' },
        { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
      ],
    });
    const deniedAgain = await execToEnd(runtime, id, check);
    expect(deniedAgain.output).toBe("sh: can't open /tmp/fuse: Operation not permitted\n");
    await runtime.delete(id, { force: true });
  });
});
