import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunContainers, ensureCli, makeBundle, runTool, runtimeCommand, tempDir } from './helpers.js';

const v1 = existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes');
const enabled = canRunContainers && v1;
if (!enabled)
  console.log('skipping cgroup CLI tests: needs root and cgroup v1 memory/pids/freezer hierarchies');

describe.skipIf(!enabled)('ocikit-runtime cgroup commands', () => {
  const tmp = tempDir('ocikit-cgroups-');
  const root = join(tmp.dir, 'state');
  const cli = (...args: string[]) => runTool([...runtimeCommand, '--root', root, ...args], tmp.dir);
  const id = 'cg1';
  const file = (controller: string, name: string) =>
    readFileSync(`/sys/fs/cgroup/${controller}/${id}/${name}`, 'utf8').trim();

  beforeAll(() => {
    ensureCli();
    const bundle = makeBundle(join(tmp.dir, 'b'), ['sh', '-c', 'sleep 1000 & sleep 1000'], (spec) => {
      spec.linux = {
        ...spec.linux,
        resources: { ...spec.linux?.resources, memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } },
      };
    });
    const created = cli('create', '--bundle', bundle, id);
    if (created.code !== 0) throw new Error(created.stderr);
    expect(cli('start', id).code).toBe(0);
  });
  afterAll(() => {
    cli('delete', '--force', id);
    tmp.cleanup();
  });

  it('applies the spec resources to the container cgroup', () => {
    expect(file('memory', 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(file('pids', 'pids.max')).toBe('50');
  });

  it('lists the processes with ps (json and table)', async () => {
    const initPid = JSON.parse(cli('state', id).stdout).pid as number;
    let pids: number[] = [];
    for (let i = 0; i < 100 && pids.length < 2; i++) {
      pids = JSON.parse(cli('ps', '--format', 'json', id).stdout) as number[];
      if (pids.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(pids).toContain(initPid);
    expect(pids).toHaveLength(2);
    const table = cli('ps', id).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^UID\s+PID\s+PPID/);
    expect(table.slice(1)).toHaveLength(2);
    expect(table.slice(1).every((line) => line.includes('sleep 1000'))).toBe(true);
  });

  it('updates resources from flags and from a JSON document on stdin', () => {
    expect(cli('update', '--memory', '32M', '--pids-limit', '20', id).code).toBe(0);
    expect(file('memory', 'memory.limit_in_bytes')).toBe(String(32 * 1024 * 1024));
    expect(file('pids', 'pids.max')).toBe('20');
    const fromStdin = runTool([...runtimeCommand, '--root', root, 'update', '-r', '-', id], tmp.dir, {
      input: JSON.stringify({ pids: { limit: 30 } }),
    });
    expect(fromStdin.code).toBe(0);
    expect(file('pids', 'pids.max')).toBe('30');
  });

  it('pauses and resumes', () => {
    expect(cli('pause', id).code).toBe(0);
    expect(JSON.parse(cli('state', id).stdout).status).toBe('paused');
    expect(file('freezer', 'freezer.state')).toBe('FROZEN');
    expect(cli('pause', id).code).toBe(1);
    expect(cli('resume', id).code).toBe(0);
    expect(JSON.parse(cli('state', id).stdout).status).toBe('running');
    expect(cli('resume', id).code).toBe(1);
  });

  it('prints one stats event with events --stats', () => {
    const result = cli('events', '--stats', id);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0] as string);
    expect(event).toMatchObject({ type: 'stats', id });
    expect(event.data.pids.current).toBe(2);
    expect(event.data.memory.usage.limit).toBe(32 * 1024 * 1024);
  });

  it('kill --all signals every process and delete removes the cgroup', async () => {
    expect(cli('kill', '--all', id, 'KILL').code).toBe(0);
    for (let i = 0; i < 200 && JSON.parse(cli('state', id).stdout).status !== 'stopped'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(JSON.parse(cli('state', id).stdout).status).toBe('stopped');
    expect(cli('delete', id).code).toBe(0);
    for (const controller of ['memory', 'pids', 'freezer', 'cpu']) {
      expect(existsSync(`/sys/fs/cgroup/${controller}/${id}`)).toBe(false);
    }
  });

  it('streams stats and an oom event with events --interval', async () => {
    const bundle = makeBundle(
      join(tmp.dir, 'oom'),
      ['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; tail /dev/zero; sleep 1000'],
      (spec) => {
        spec.linux = {
          ...spec.linux,
          resources: {
            ...spec.linux?.resources,
            memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 },
          },
        };
      },
    );
    expect(cli('run', '-d', '--bundle', bundle, 'oom1').code).toBe(0);
    const events = spawn(
      runtimeCommand[0] as string,
      [...runtimeCommand.slice(1), '--root', root, 'events', '--interval', '200ms', 'oom1'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    try {
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) => {
        let buffer = '';
        events.stdout.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          for (const line of lines) {
            const event = JSON.parse(line) as { type: string; id: string };
            seen.push(event.type);
            // The watcher is running: let the container allocate until the OOM killer fires.
            if (seen.length === 1) writeFileSync(join(bundle, 'rootfs', 'tmp', 'go'), '');
            if (event.type === 'oom') resolve();
          }
        });
        events.on('exit', () => reject(new Error(`events exited early after ${seen.join(',')}`)));
      });
      expect(seen[0]).toBe('stats');
      expect(seen).toContain('oom');
    } finally {
      events.kill('SIGKILL');
      cli('delete', '--force', 'oom1');
    }
    expect(existsSync('/sys/fs/cgroup/memory/oom1')).toBe(false);
  });
});
