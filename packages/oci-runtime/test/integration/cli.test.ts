import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canRunContainers,
  ensureCli,
  makeBundle,
  mountsUnder,
  runTool,
  runtimeCommand,
  tempDir,
} from './helpers.js';

const [runCommand, ...runArgs] = runtimeCommand as [string, ...string[]];

if (!canRunContainers) console.log('skipping CLI integration tests: not root');

describe.skipIf(!canRunContainers)('ocikit-runtime CLI', () => {
  const tmp = tempDir('ocikit-cli-');
  const root = join(tmp.dir, 'state');
  const cli = (...args: string[]) => runTool([...runtimeCommand, '--root', root, ...args], tmp.dir);
  const ids: string[] = [];
  const cgroupLeft = (id: string) =>
    existsSync(`/sys/fs/cgroup/pids/${id}`) || existsSync(`/sys/fs/cgroup/memory/${id}`);

  beforeAll(() => ensureCli());
  afterAll(() => {
    for (const id of ids) cli('delete', '--force', id);
    tmp.cleanup();
  });

  it('prints three version lines', () => {
    const result = runTool([...runtimeCommand, '--version'], tmp.dir);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ocikit-runtime version \d+\.\d+\.\d+$/);
    expect(lines[1]).toMatch(/^commit: /);
    expect(lines[2]).toMatch(/^spec: 1\.\d+\.\d+$/);
  });

  it('run exits with the container exit code and the container writes to the CLI stdout', () => {
    const bundle = makeBundle(join(tmp.dir, 'run'), [
      'sh',
      '-c',
      'echo pid=$$ host=$(hostname); ip -o link | wc -l; exit 3',
    ]);
    ids.push('run1');
    const result = runTool([...runtimeCommand, '--root', root, 'run', '--bundle', bundle, 'run1'], tmp.dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('pid=1 host=ocikit-test\n1\n');
    // run deletes the container after it exits (no --keep)
    expect(cli('state', 'run1').code).toBe(1);
    expect(cgroupLeft('run1')).toBe(false);
    expect(mountsUnder(bundle)).toEqual([]);
  });

  it('create / state / start / kill / delete with runc-shaped state output', async () => {
    const bundle = makeBundle(join(tmp.dir, 'life'), ['sleep', '1000']);
    ids.push('life1');
    const pidFile = join(tmp.dir, 'life.pid');
    const created = cli('create', '--bundle', bundle, '--pid-file', pidFile, 'life1');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const state = JSON.parse(cli('state', 'life1').stdout) as Record<string, unknown>;
    expect(Object.keys(state)).toEqual([
      'ociVersion',
      'id',
      'pid',
      'status',
      'bundle',
      'rootfs',
      'created',
      'owner',
    ]);
    expect(state.status).toBe('created');
    expect(state.bundle).toBe(bundle);
    expect(state.rootfs).toBe(join(bundle, 'rootfs'));
    expect(readFileSync(pidFile, 'utf8')).toBe(String(state.pid));
    expect(String(state.created)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(cli('start', 'life1').code).toBe(0);
    expect(JSON.parse(cli('state', 'life1').stdout).status).toBe('running');
    const list = JSON.parse(cli('list', '--format', 'json').stdout) as Record<string, unknown>[];
    expect(list.map((item) => Object.keys(item))).toEqual([
      ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner'],
    ]);
    expect(cli('list', '-q').stdout).toBe('life1\n');
    const refused = cli('delete', 'life1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/level=error msg=".*not stopped/);
    expect(cli('kill', 'life1', 'KILL').code).toBe(0);
    for (let i = 0; i < 200 && JSON.parse(cli('state', 'life1').stdout).status !== 'stopped'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(JSON.parse(cli('state', 'life1').stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    const again = cli('kill', 'life1', 'TERM');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('container not running');
    expect(cli('delete', 'life1').code).toBe(0);
    expect(existsSync(join(root, 'life1'))).toBe(false);
    expect(cgroupLeft('life1')).toBe(false);
    expect(cli('list', '--format', 'json').stdout).toBe('null\n');
  });

  it('run in the foreground exits 137 when the container is killed with SIGKILL', async () => {
    const bundle = makeBundle(join(tmp.dir, 'sig'), ['sleep', '1000']);
    ids.push('sig1');
    const child = spawn(runCommand, [...runArgs, '--root', root, 'run', '--bundle', bundle, 'sig1'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 500; i++) {
      const state = cli('state', 'sig1');
      if (state.code === 0 && JSON.parse(state.stdout).status === 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(cli('kill', 'sig1', '9').code).toBe(0);
    expect(await exited).toBe(137);
  });

  it('run in the foreground relays SIGTERM to the container', async () => {
    const bundle = makeBundle(join(tmp.dir, 'relay'), [
      'sh',
      '-c',
      'trap "exit 42" TERM; touch /tmp/ready; while true; do sleep 0.1; done',
    ]);
    ids.push('relay1');
    const child = spawn(runCommand, [...runArgs, '--root', root, 'run', '--bundle', bundle, 'relay1'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 500 && !existsSync(join(bundle, 'rootfs', 'tmp', 'ready')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(42);
  });

  it('reports errors like runc: logrus text on stderr, exit 1, json with --log-format json', () => {
    const missing = cli('state', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^time="[^"]+" level=error msg="container nope does not exist"\n$/);
    const logFile = join(tmp.dir, 'log.json');
    const logged = runTool(
      [...runtimeCommand, '--root', root, '--log', logFile, '--log-format', 'json', 'state', 'nope'],
      tmp.dir,
    );
    expect(logged.code).toBe(1);
    expect(JSON.parse(readFileSync(logFile, 'utf8'))).toMatchObject({
      level: 'error',
      msg: 'container nope does not exist',
    });
    expect(cli('no-such-command').code).toBe(1);
    expect(cli('kill').code).toBe(1);
    expect(cli('create', '--bogus', 'x').stderr).toContain('flag provided but not defined: -bogus');
  });

  it('refuses a duplicate id and leaves the first container intact', () => {
    const bundle = makeBundle(join(tmp.dir, 'dup'), ['sleep', '1000']);
    ids.push('dup1');
    expect(cli('create', '--bundle', bundle, 'dup1').code).toBe(0);
    const second = cli('create', '--bundle', bundle, 'dup1');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('already exists');
    expect(JSON.parse(cli('state', 'dup1').stdout).status).toBe('created');
    expect(cli('delete', 'dup1').code).toBe(0);
    expect(cgroupLeft('dup1')).toBe(false);
  });

  it('writes a default spec and the features document', () => {
    const dir = join(tmp.dir, 'spec');
    mkdirSync(dir);
    expect(cli('spec', '--bundle', dir).code).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(spec.process.args).toEqual(['sh']);
    expect(cli('spec', '--bundle', dir).code).toBe(1);
    const features = JSON.parse(cli('features').stdout);
    expect(features.linux.namespaces).toContain('pid');
    expect(features.hooks).toContain('createRuntime');
  });
});
