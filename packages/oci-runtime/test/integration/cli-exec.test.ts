import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunContainers, cliPath, ensureCli, makeBundle, runTool, tempDir } from './helpers.js';

if (!canRunContainers) console.log('skipping CLI exec tests: not root');

describe.skipIf(!canRunContainers)('ocikit-runtime exec, --preserve-fds and --no-pivot', () => {
  const tmp = tempDir('ocikit-exec-');
  const root = join(tmp.dir, 'state');
  const cli = (...args: string[]) => runTool(['node', cliPath, '--root', root, ...args], tmp.dir);

  beforeAll(() => {
    ensureCli();
    const bundle = makeBundle(join(tmp.dir, 'b'), ['sleep', '1000'], (spec) => {
      spec.linux = {
        ...spec.linux,
        seccomp: {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
        },
      };
    });
    const created = cli('create', '--bundle', bundle, 'ex');
    if (created.code !== 0) throw new Error(created.stderr);
    expect(cli('start', 'ex').code).toBe(0);
  });
  afterAll(() => {
    cli('delete', '--force', 'ex');
    tmp.cleanup();
  });

  it('runs a process with env, user and the container seccomp filter, returning its exit code', () => {
    const result = cli(
      'exec',
      '--env',
      'FOO=bar',
      '--user',
      '1000:1000',
      'ex',
      'sh',
      '-c',
      'mkdir /tmp/x 2>/dev/null || echo denied; echo $FOO; id -u; id -g; hostname; exit 9',
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('denied\nbar\n1000\n1000\nocikit-test\n');
    expect(result.code).toBe(9);
  });

  it('detaches with -d and writes the pid file', async () => {
    const pidFile = join(tmp.dir, 'exec.pid');
    const result = cli('exec', '-d', '--pid-file', pidFile, 'ex', 'sleep', '1000');
    expect(result.code).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    const pids = JSON.parse(cli('ps', '--format', 'json', 'ex').stdout) as number[];
    expect(pids).toContain(pid);
  });

  it('takes a process.json with -p', () => {
    const file = join(tmp.dir, 'process.json');
    writeFileSync(
      file,
      JSON.stringify({
        args: ['sh', '-c', 'echo from-json $PWD'],
        cwd: '/tmp',
        user: { uid: 0, gid: 0 },
        env: ['PATH=/bin'],
      }),
    );
    const result = cli('exec', '-p', file, 'ex');
    expect(result.stdout).toBe('from-json /tmp\n');
    expect(result.code).toBe(0);
  });

  it('passes --preserve-fds to the container and works with --no-pivot', () => {
    const bundle = makeBundle(join(tmp.dir, 'fds'), [
      'sh',
      '-c',
      'echo to-fd3 >&3; echo $(cat /proc/self/mountinfo | wc -l)',
    ]);
    const extraPath = join(tmp.dir, 'fd3.txt');
    const outPath = join(tmp.dir, 'fds.out');
    const extra = openSync(extraPath, 'w');
    const out = openSync(outPath, 'w');
    try {
      const result = spawnSync(
        'node',
        [cliPath, '--root', root, 'run', '--preserve-fds', '1', '--no-pivot', '--bundle', bundle, 'fds'],
        { stdio: ['ignore', out, 'inherit', extra] },
      );
      expect(result.status).toBe(0);
    } finally {
      closeSync(extra);
      closeSync(out);
    }
    expect(readFileSync(extraPath, 'utf8')).toBe('to-fd3\n');
    expect(Number(readFileSync(outPath, 'utf8'))).toBeGreaterThan(5);
  });

  it('relays a terminal in the foreground for exec -t and for run with terminal: true', () => {
    const exec = cli('exec', '-t', 'ex', 'sh', '-c', 'tty; echo via-pty; exit 6');
    expect(exec.code).toBe(6);
    expect(exec.stdout).toMatch(/^\/dev\/pts\/\d+\r\nvia-pty\r\n$/);
    const bundle = makeBundle(join(tmp.dir, 'tty'), ['sh', '-c', 'tty; echo run-pty'], (spec) => {
      (spec.process as NonNullable<typeof spec.process>).terminal = true;
    });
    const run = cli('run', '--bundle', bundle, 'runtty');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('/dev/pts/0\r\nrun-pty\r\n');
  });

  it('refuses exec into a missing container', () => {
    const result = cli('exec', 'nope', 'true');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('does not exist');
  });
});
