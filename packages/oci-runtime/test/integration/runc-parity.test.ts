import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxRootfs } from '../../src/testing/busybox-rootfs.js';
import { canRunContainers, ensureCli, hasRunc, runTool, runtimeCommand, tempDir } from './helpers.js';

const enabled = canRunContainers && hasRunc;
if (!enabled) console.log('skipping runc parity tests: needs root and runc');

describe.skipIf(!enabled)('parity with runc', () => {
  const tmp = tempDir('ocikit-parity-');
  const tools = {
    runc: (...args: string[]) => runTool(['runc', '--root', join(tmp.dir, 'runc-root'), ...args], tmp.dir),
    ocikit: (...args: string[]) =>
      runTool([...runtimeCommand, '--root', join(tmp.dir, 'ocikit-root'), ...args], tmp.dir),
  };
  const started: [keyof typeof tools, string][] = [];

  /** A bundle whose config is what `runc spec` writes, edited to run `args` without a terminal. */
  function bundle(name: string, args: string[]): string {
    const dir = join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    buildBusyboxRootfs(join(dir, 'rootfs'));
    execFileSync('runc', ['spec', '--bundle', dir]);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.process.terminal = false;
    config.process.args = args;
    config.hostname = 'parity';
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  }

  beforeAll(() => ensureCli());
  afterAll(() => {
    for (const [tool, id] of started) tools[tool]('delete', '--force', id);
    tmp.cleanup();
  });

  it('gives the same in-container view and exit code', () => {
    const script = [
      'echo $$',
      'hostname',
      "ip -o link | cut -d' ' -f2,3",
      'while read k v; do case $k in Cap*|NoNewPrivs:|Seccomp:) echo $k $v;; esac; done < /proc/self/status',
      'ulimit -n',
      'ulimit -Hn',
      'id',
      "cut -d' ' -f5,9 /proc/self/mountinfo",
      'ls -l /dev | cut -c1-10',
      'ls /dev',
      'touch /x 2>/dev/null || echo rootfs-readonly',
      'exit 5',
    ].join('; ');
    const dir = bundle('view', ['sh', '-c', script]);
    const runc = tools.runc('run', '--bundle', dir, 'view');
    const ours = tools.ocikit('run', '--bundle', dir, 'view');
    expect(runc.code).toBe(5);
    expect(ours.code).toBe(runc.code);
    expect(ours.stderr).toBe(runc.stderr);
    expect(ours.stdout).toBe(runc.stdout);
    expect(ours.stdout).toContain('rootfs-readonly');
  });

  it('writes SELinux labels only where the host has SELinux (runc 1.1 fails instead: EINVAL on the mount)', () => {
    const dir = bundle('labels', [
      'sh',
      '-c',
      'cat /proc/self/mountinfo; cat /proc/self/attr/current 2>/dev/null; true',
    ]);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2';
    config.linux.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2';
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const ours = tools.ocikit('run', '--bundle', dir, 'labels');
    expect(ours.code, ours.stderr).toBe(0);
    if (existsSync('/sys/fs/selinux/enforce')) {
      expect(ours.stdout).toContain('context="system_u:object_r:container_file_t:s0:c1,c2"');
      expect(ours.stdout).toContain('system_u:system_r:container_t:s0:c1,c2');
    } else {
      console.log('SELinux is absent here: checking that the labels are skipped');
      expect(ours.stdout).not.toContain('context=');
      expect(ours.stdout).not.toContain('container_t');
    }
  });

  it('prints state and list JSON with the same keys and types', () => {
    const dir = bundle('state', ['sleep', '1000']);
    for (const tool of ['runc', 'ocikit'] as const) {
      started.push([tool, `st-${tool}`]);
      expect(tools[tool]('create', '--bundle', dir, `st-${tool}`).code).toBe(0);
    }
    const shape = (text: string) =>
      Object.entries(JSON.parse(text) as Record<string, unknown>).map(([key, value]) => [key, typeof value]);
    const runcState = tools.runc('state', 'st-runc');
    const ourState = tools.ocikit('state', 'st-ocikit');
    expect(shape(ourState.stdout)).toEqual(shape(runcState.stdout));
    expect(JSON.parse(ourState.stdout).status).toBe(JSON.parse(runcState.stdout).status);
    const runcList = JSON.parse(tools.runc('list', '--format', 'json').stdout) as Record<string, unknown>[];
    const ourList = JSON.parse(tools.ocikit('list', '--format', 'json').stdout) as Record<string, unknown>[];
    expect(ourList.map((item) => Object.keys(item))).toEqual(runcList.map((item) => Object.keys(item)));
    expect(ourList[0]?.owner).toBe(runcList[0]?.owner);
    for (const tool of ['runc', 'ocikit'] as const) {
      expect(tools[tool]('start', `st-${tool}`).code).toBe(0);
      expect(JSON.parse(tools[tool]('state', `st-${tool}`).stdout).status).toBe('running');
      expect(tools[tool]('delete', `st-${tool}`).code).toBe(1);
      expect(tools[tool]('delete', '--force', `st-${tool}`).code).toBe(0);
      expect(tools[tool]('state', `st-${tool}`).code).toBe(1);
    }
  });

  it('exits 137 from a foreground run killed with SIGKILL, like runc', async () => {
    const dir = bundle('kill', ['sleep', '1000']);
    const codes: Record<string, number | null> = {};
    for (const tool of ['runc', 'ocikit'] as const) {
      const argv =
        tool === 'runc'
          ? ['runc', '--root', join(tmp.dir, 'runc-root'), 'run', '--bundle', dir, 'k']
          : [...runtimeCommand, '--root', join(tmp.dir, 'ocikit-root'), 'run', '--bundle', dir, 'k'];
      started.push([tool, 'k']);
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let i = 0; i < 500; i++) {
        const state = tools[tool]('state', 'k');
        if (state.code === 0 && JSON.parse(state.stdout).status === 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(tools[tool]('kill', 'k', 'KILL').code).toBe(0);
      codes[tool] = await exited;
    }
    expect(codes.ocikit).toBe(137);
    expect(codes.ocikit).toBe(codes.runc);
  });

  it('fails the same way on a missing container and a missing rootfs', () => {
    for (const tool of ['runc', 'ocikit'] as const) {
      expect(tools[tool]('state', 'missing').code).toBe(1);
      expect(tools[tool]('kill', 'missing').code).toBe(1);
      expect(tools[tool]('delete', 'missing').code).toBe(1);
      expect(tools[tool]('delete', '--force', 'missing').code).toBe(0);
    }
    const dir = bundle('norootfs', ['true']);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.root.path = 'nowhere';
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    for (const tool of ['runc', 'ocikit'] as const) {
      expect(tools[tool]('create', '--bundle', dir, 'nr').code).toBe(1);
      expect(tools[tool]('state', 'nr').code).toBe(1);
    }
  });
});
