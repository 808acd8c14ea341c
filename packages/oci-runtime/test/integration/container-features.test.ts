import { chmodSync, closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../src/container/runtime.js';
import { nativeSyscalls } from '../../src/native.js';
import type { RuntimeSpec } from '../../src/spec/config.js';
import {
  canRunContainers,
  makeBundle,
  mountsUnder,
  runToEnd as runContainerToEnd,
  tempDir,
} from './helpers.js';

if (!canRunContainers) console.log('skipping container feature tests: not root');

describe.skipIf(!canRunContainers)('container features (library)', () => {
  const tmp = tempDir('ocikit-features-');
  // The mapped root of the user-namespace test must be able to reach the bundle.
  chmodSync(tmp.dir, 0o755);
  const runtime = new ContainerRuntime({ root: join(tmp.dir, 'state'), syscalls: nativeSyscalls() });
  afterAll(async () => {
    for (const state of await runtime.list().catch(() => [])) {
      await runtime.delete(state.id, { force: true }).catch(() => undefined);
    }
    tmp.cleanup();
  });

  /** Runs a container to completion with stdout+stderr in a file; returns exit code and output. */
  const runToEnd = (id: string, script: string, edit?: (spec: RuntimeSpec) => void) =>
    runContainerToEnd(runtime, tmp.dir, id, script, edit);

  it('maps users in a new user namespace', async () => {
    const { exit, output } = await runToEnd(
      'userns',
      'cat /proc/self/uid_map /proc/self/gid_map; id -u',
      (spec) => {
        spec.linux?.namespaces?.push({ type: 'user' });
        spec.linux = {
          ...spec.linux,
          uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
          gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        };
      },
    );
    expect(output).toBe(`${'         0     100000      65536\n'.repeat(2)}0\n`);
    expect(exit.exitCode).toBe(0);
  });

  it('applies capabilities, rlimits and no_new_privs', async () => {
    const script =
      'while read k v; do case $k in CapEff:|CapBnd:|NoNewPrivs:) echo $k $v;; esac; done < /proc/self/status; ulimit -n; ulimit -Hn';
    const { output } = await runToEnd('caps', script, (spec) => {
      const process = spec.process as NonNullable<RuntimeSpec['process']>;
      process.noNewPrivileges = true;
      process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 600 }];
      process.capabilities = {
        bounding: ['CAP_KILL', 'CAP_CHOWN'],
        effective: ['CAP_KILL'],
        permitted: ['CAP_KILL'],
        inheritable: [],
        ambient: [],
      };
    });
    // CAP_KILL is bit 5, CAP_CHOWN bit 0.
    expect(output).toBe('CapEff: 0000000000000020\nCapBnd: 0000000000000021\nNoNewPrivs: 1\n512\n600\n');
  });

  it('sets oom_score_adj from the parent, and a refused negative value fails create', async () => {
    const { output } = await runToEnd('oomadj', 'cat /proc/self/oom_score_adj', (spec) => {
      (spec.process as NonNullable<RuntimeSpec['process']>).oomScoreAdj = 500;
    });
    expect(output).toBe('500\n');
    const bundle = makeBundle(join(tmp.dir, 'oomneg'), ['true'], (spec) => {
      (spec.process as NonNullable<RuntimeSpec['process']>).oomScoreAdj = -500;
    });
    // Root here lacks CAP_SYS_RESOURCE, so lowering the score is refused; elsewhere it succeeds.
    const result = await runtime.create('oomneg', bundle).then(
      async (state) => {
        await runtime.delete('oomneg', { force: true });
        return state;
      },
      (error: unknown) => error,
    );
    if (result instanceof Error) {
      expect(result).toMatchObject({ code: 'SYSCALL_FAILED', path: 'process.oomScoreAdj' });
      expect(existsSync(join(tmp.dir, 'state', 'oomneg'))).toBe(false);
    } else {
      expect(result).toMatchObject({ status: 'created' });
    }
  });

  it('masks and write-protects paths and sets sysctls', async () => {
    const script = [
      'wc -c < /proc/keys',
      'ls /sys/firmware | wc -l',
      'grep " /proc/sys " /proc/self/mounts | grep -c "ro,"',
      'cat /proc/sys/net/ipv4/ip_forward',
      '(echo 0 > /proc/sys/net/ipv4/ip_forward) 2>/dev/null && echo writable || echo readonly',
    ].join('; ');
    const { output } = await runToEnd('mask', script, (spec) => {
      spec.linux = { ...spec.linux, sysctl: { 'net.ipv4.ip_forward': '1' } };
    });
    expect(output).toBe('0\n0\n1\n1\nreadonly\n');
  });

  it('loads a seccomp filter: a denied mkdir fails with EPERM', async () => {
    const { output } = await runToEnd(
      'seccomp',
      'mkdir /tmp/blocked || echo failed; ls /tmp; echo end',
      (spec) => {
        spec.linux = {
          ...spec.linux,
          seccomp: {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
          },
        };
      },
    );
    expect(output).toContain('Operation not permitted');
    expect(output).toContain('failed\n');
    expect(output).toMatch(/failed\nend\n$/);
  });

  it('sends a working pty master over the console socket', async () => {
    const dir = join(tmp.dir, 'tty');
    const bundle = makeBundle(dir, ['sh', '-c', 'tty; echo hello-from-tty'], (spec) => {
      (spec.process as NonNullable<RuntimeSpec['process']>).terminal = true;
    });
    const sys = nativeSyscalls();
    const socketPath = join(dir, 'console.sock');
    const listenFd = sys.listenUnix(socketPath);
    try {
      const masterPromise = sys.acceptFd(listenFd);
      const { pid } = await runtime.create('tty', bundle, { consoleSocket: socketPath });
      const master = await masterPromise;
      await runtime.start('tty');
      let text = '';
      const buffer = Buffer.alloc(4096);
      try {
        for (;;) {
          const n = readSync(master, buffer);
          if (n <= 0) break;
          text += buffer.subarray(0, n).toString();
          if (text.includes('hello-from-tty')) break;
        }
      } catch {
        // EIO once the slave side is closed
      }
      closeSync(master);
      expect((await runtime.waitChild(pid)).exitCode).toBe(0);
      expect(text).toMatch(/\/dev\/pts\/0\r?\n/);
      expect(text).toContain('hello-from-tty');
      await runtime.delete('tty');
    } finally {
      sys.closeFd(listenFd);
    }
  });

  it('exec joins every namespace and the cgroup of the init', async () => {
    const dir = join(tmp.dir, 'exec');
    const bundle = makeBundle(dir, ['sleep', '1000']);
    const { pid } = await runtime.create('exec', bundle);
    await runtime.start('exec');
    const outPath = join(dir, 'exec-out.txt');
    const out = openSync(outPath, 'w');
    let execPid: number;
    try {
      execPid = await runtime.exec(
        'exec',
        {
          args: ['sh', '-c', 'hostname; cat /proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"; exit 7'],
          cwd: '/',
          user: { uid: 0, gid: 0 },
          env: ['PATH=/bin'],
        },
        { stdio: [null, out, out] },
      );
    } finally {
      closeSync(out);
    }
    expect((await runtime.waitChild(execPid)).exitCode).toBe(7);
    const lines = readFileSync(outPath, 'utf8').split('\n');
    expect(lines[0]).toBe('ocikit-test');
    expect(lines[1]).toBe('sleep\u00001000\u0000');
    // init, the exec'd sh, and its pipeline (ls, grep) are the only processes in the pid namespace
    expect(Number(lines[2])).toBeLessThanOrEqual(4);
    expect(await runtime.pids('exec')).toContain(pid);
    await runtime.delete('exec', { force: true });
  });

  it('runs hooks in order with the state on stdin', async () => {
    const dir = join(tmp.dir, 'hooks');
    const log = join(dir, 'hooks.log');
    const hookScript = join(dir, 'hook.sh');
    const bundle = makeBundle(dir, ['true'], (spec) => {
      const hook = (phase: string) => ({ path: hookScript, args: ['hook.sh', phase, log] });
      spec.hooks = {
        prestart: [hook('prestart')],
        createRuntime: [hook('createRuntime')],
        createContainer: [hook('createContainer')],
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /start-hook.json'] }],
        poststart: [hook('poststart')],
        poststop: [hook('poststop')],
      };
    });
    writeFileSync(hookScript, '#!/bin/sh\nread -r state\necho "$1 $state" >> "$2"\n');
    chmodSync(hookScript, 0o755);
    const { pid } = await runtime.create('hooks', bundle);
    await runtime.start('hooks');
    await runtime.waitChild(pid);
    await runtime.delete('hooks');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual([
      'prestart',
      'createRuntime',
      'createContainer',
      'poststart',
      'poststop',
    ]);
    const states = lines.map(
      (line) => JSON.parse(line.slice(line.indexOf(' ') + 1)) as { id: string; status: string; pid: number },
    );
    expect(states.every((state) => state.id === 'hooks')).toBe(true);
    expect(states.map((state) => state.status)).toEqual([
      'creating',
      'creating',
      'creating',
      'running',
      'stopped',
    ]);
    expect(states[0]?.pid).toBe(pid);
    const startState = JSON.parse(readFileSync(join(bundle, 'rootfs', 'start-hook.json'), 'utf8'));
    expect(startState).toMatchObject({ id: 'hooks', pid, status: 'created' });
  });

  it('a failing createRuntime hook fails create and leaves nothing behind', async () => {
    const dir = join(tmp.dir, 'badhook');
    const bundle = makeBundle(dir, ['true'], (spec) => {
      spec.hooks = { createRuntime: [{ path: '/bin/false' }] };
    });
    await expect(runtime.create('badhook', bundle)).rejects.toMatchObject({ code: 'HOOK_FAILED' });
    expect(existsSync(join(tmp.dir, 'state', 'badhook'))).toBe(false);
    expect(existsSync('/sys/fs/cgroup/pids/badhook')).toBe(false);
    expect(mountsUnder(bundle)).toEqual([]);
  });

  it('a hook past its timeout fails with HOOK_TIMEOUT', async () => {
    const dir = join(tmp.dir, 'slowhook');
    const bundle = makeBundle(dir, ['true'], (spec) => {
      spec.hooks = { prestart: [{ path: '/bin/sleep', args: ['sleep', '5'], timeout: 1 }] };
    });
    await expect(runtime.create('slowhook', bundle)).rejects.toMatchObject({ code: 'HOOK_TIMEOUT' });
    expect(existsSync(join(tmp.dir, 'state', 'slowhook'))).toBe(false);
  });
});
