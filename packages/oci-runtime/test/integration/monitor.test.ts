import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { attachContainer } from '../../src/monitor/attach.js';
import { assembleCriLines, parseCriLog } from '../../src/monitor/cri-log.js';
import { readExitFile, waitForExit } from '../../src/monitor/exit-file.js';
import {
  defaultMonitorBinary,
  type MonitorFailureDetails,
  monitorArguments,
  reopenLog,
  type StartMonitorOptions,
  startMonitor,
} from '../../src/monitor/monitor.js';
import { isProcessAlive } from '../../src/state/process-status.js';

const run = promisify(execFile);
const packageRoot = path.resolve(import.meta.dirname, '../..');
const monitorSource = path.join(packageRoot, 'native', 'monitor', 'monitor.c');
const criRecord = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) [FP] .*$/;
const isRoot = process.getuid?.() === 0;
const runcPath = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc'].find((candidate) =>
  existsSync(candidate),
);
const busyboxPath = ['/bin/busybox', '/usr/bin/busybox'].find((candidate) => existsSync(candidate));

let workDirectory = '';
let binary = '';
let caseNumber = 0;
const containerPids = new Set<number>();
const monitorPids = new Set<number>();
const runcContainers: { root: string; id: string }[] = [];

interface Case {
  directory: string;
  exitFile: string;
  pidFile: string;
  logPath: string;
}

async function newCase(): Promise<Case> {
  caseNumber++;
  const directory = path.join(workDirectory, `case-${caseNumber}`);
  await mkdir(directory);
  return {
    directory,
    exitFile: path.join(directory, 'exit.json'),
    pidFile: path.join(directory, 'container.pid'),
    logPath: path.join(directory, 'container.log'),
  };
}

/**
 * A create command without a runtime: `sh` starts busybox sh on `script` in the background, writes its pid
 * and exits, leaving the script's process orphaned, so the monitor (a subreaper) inherits it.
 */
async function orphanCommand(at: Case, script: string): Promise<string[]> {
  const scriptFile = path.join(at.directory, 'container.sh');
  await writeFile(scriptFile, script);
  return ['sh', '-c', `${busyboxPath} sh "$0" & echo $! > "$1"`, scriptFile, at.pidFile];
}

async function start(options: StartMonitorOptions): Promise<{ pid: number; monitorPid: number }> {
  const started = await startMonitor({ binary, ...options });
  containerPids.add(started.pid);
  monitorPids.add(started.monitorPid);
  return started;
}

async function waitFor(condition: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const exitWait = () => ({ signal: AbortSignal.timeout(15_000), pollMs: 100 });

beforeAll(async () => {
  workDirectory = await mkdtemp(path.join(os.tmpdir(), 'ocikit-monitor-'));
  const built = defaultMonitorBinary();
  if (existsSync(built)) {
    binary = built;
  } else {
    binary = path.join(workDirectory, 'ocikit-monitor');
    await run('cc', ['-O2', '-Wall', '-Wextra', '-o', binary, monitorSource]);
    console.log(`monitor tests: ${built} is absent, compiled ${monitorSource} with cc into ${binary}`);
  }
});

afterAll(async () => {
  for (const container of runcContainers) {
    await run(runcPath!, ['--root', container.root, 'delete', '--force', container.id]).catch(
      () => undefined,
    );
  }
  for (const pid of containerPids) {
    if (isProcessAlive(pid, '')) process.kill(pid, 'SIGKILL');
  }
  // Monitors exit on their own once their container is gone; stop any that did not (only ours).
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const pid of monitorPids) {
    const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.includes(workDirectory)) process.kill(pid, 'SIGKILL');
  }
  await rm(workDirectory, { recursive: true, force: true });
});

describe('ocikit-monitor', () => {
  it.skipIf(busyboxPath === undefined)('records the exit code and both streams in a raw log', async () => {
    const at = await newCase();
    const command = await orphanCommand(at, 'echo out; echo err >&2; sleep 0.3; exit 7\n');
    const started = await start({ command, exitFile: at.exitFile, pidFile: at.pidFile, logPath: at.logPath });
    expect(started.pid).toBeGreaterThan(1);
    expect(started.monitorPid).not.toBe(started.pid);

    const status = await waitForExit(at.exitFile, exitWait());
    expect(status).toMatchObject({ pid: started.pid, exitCode: 7, signal: null });
    expect(status.exitedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const log = await readFile(at.logPath, 'utf8');
    expect(log.split('\n').sort()).toEqual(['', 'err', 'out']);
  });

  it.skipIf(busyboxPath === undefined)('writes CRI records naming the stream of each line', async () => {
    const at = await newCase();
    const command = await orphanCommand(at, 'echo out; echo err >&2; printf "crlf\\r\\n"; exit 0\n');
    await start({
      command,
      exitFile: at.exitFile,
      pidFile: at.pidFile,
      logPath: at.logPath,
      logFormat: 'cri',
    });
    await waitForExit(at.exitFile, exitWait());

    const text = await readFile(at.logPath, 'utf8');
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    for (const line of lines) expect(line).toMatch(criRecord);
    const records = parseCriLog(text);
    expect(records.map(({ stream, tag, content }) => `${stream} ${tag} ${content}`).sort()).toEqual([
      'stderr F err',
      'stdout F crlf',
      'stdout F out',
    ]);
  });

  it.skipIf(busyboxPath === undefined)(
    'cuts a 100 KiB line into P records ending in F, and ends an unterminated one with P',
    async () => {
      const at = await newCase();
      const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
      let long = '';
      for (let index = 0; long.length < 100 * 1024; index++) long += alphabet[index % alphabet.length];
      long = long.slice(0, 100 * 1024);
      const longFile = path.join(at.directory, 'long.txt');
      await writeFile(longFile, long);
      const command = await orphanCommand(
        at,
        `${busyboxPath} cat "${longFile}"; echo; ${busyboxPath} cat "${longFile}"\n`,
      );
      await start({
        command,
        exitFile: at.exitFile,
        pidFile: at.pidFile,
        logPath: at.logPath,
        logFormat: 'cri',
      });
      await waitForExit(at.exitFile, exitWait());

      const records = parseCriLog(await readFile(at.logPath, 'utf8'));
      expect(records.every((record) => record.stream === 'stdout' && record.content.length <= 16384)).toBe(
        true,
      );
      const firstEnd = records.findIndex((record) => record.tag === 'F');
      const first = records.slice(0, firstEnd + 1);
      expect(first.length).toBeGreaterThan(2);
      expect(first.slice(0, -1).every((record) => record.tag === 'P')).toBe(true);
      expect(first.map((record) => record.content).join('')).toBe(long);
      // The second copy has no newline: containerd writes what is pending at EOF as a partial record.
      const second = records.slice(firstEnd + 1);
      expect(second.every((record) => record.tag === 'P')).toBe(true);
      expect(assembleCriLines(records)).toEqual([
        expect.objectContaining({ text: long, complete: true }),
        expect.objectContaining({ text: long, complete: false }),
      ]);
    },
  );

  it.skipIf(busyboxPath === undefined)(
    'reports a container killed by SIGKILL as exit code 137, signal 9',
    async () => {
      const at = await newCase();
      const command = await orphanCommand(at, `exec ${busyboxPath} sleep 30\n`);
      const started = await start({ command, exitFile: at.exitFile, pidFile: at.pidFile });
      expect(await readExitFile(at.exitFile)).toBeUndefined();
      process.kill(started.pid, 'SIGKILL');
      await expect(waitForExit(at.exitFile, exitWait())).resolves.toMatchObject({
        pid: started.pid,
        exitCode: 137,
        signal: 9,
      });
    },
  );

  it.skipIf(busyboxPath === undefined)(
    'keeps the container and its monitor after the starting Node process exits',
    async () => {
      const at = await newCase();
      const goFile = path.join(at.directory, 'go');
      const command = await orphanCommand(
        at,
        `while [ ! -e "${goFile}" ]; do ${busyboxPath} sleep 0.05; done; echo late; exit 5\n`,
      );
      const args = monitorArguments(
        { command, exitFile: at.exitFile, pidFile: at.pidFile, logPath: at.logPath },
        3,
      );
      // A separate, short-lived Node process starts the monitor the way startMonitor does, then exits.
      const starter = `
      const { spawn } = require('node:child_process');
      const [binary, args] = JSON.parse(process.argv[1]);
      const child = spawn(binary, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
      let text = '';
      child.stdio[3].on('data', (chunk) => {
        text += chunk;
        if (text.includes('\\n')) { process.stdout.write(text); process.exit(0); }
      });`;
      const { stdout } = await run(process.execPath, ['-e', starter, JSON.stringify([binary, args])]);
      const started = JSON.parse(stdout) as { pid: number; monitorPid: number };
      containerPids.add(started.pid);
      monitorPids.add(started.monitorPid);

      // The starter has exited; the container and the monitor have not.
      expect(isProcessAlive(started.pid, '')).toBe(true);
      expect(isProcessAlive(started.monitorPid, '')).toBe(true);
      expect(await readExitFile(at.exitFile)).toBeUndefined();

      await writeFile(goFile, '');
      await expect(waitForExit(at.exitFile, exitWait())).resolves.toMatchObject({
        pid: started.pid,
        exitCode: 5,
      });
      expect(await readFile(at.logPath, 'utf8')).toBe('late\n');
    },
  );

  it('rejects with MONITOR_FAILED carrying the stderr of a failing create command', async () => {
    const at = await newCase();
    const failing = startMonitor({
      binary,
      command: ['sh', '-c', 'echo "cannot create: bundle missing" >&2; exit 1'],
      exitFile: at.exitFile,
      pidFile: at.pidFile,
      logPath: at.logPath,
    });
    const error: unknown = await failing.catch((caught: unknown) => caught);
    expect(isRuntimeError(error, 'MONITOR_FAILED')).toBe(true);
    expect((error as Error).message).toContain('cannot create: bundle missing');
    expect((error as Error).cause as MonitorFailureDetails).toMatchObject({ exitCode: 1 });
    expect(await readExitFile(at.exitFile)).toBeUndefined();
  });

  it('fails a create command that outlives --timeout-create', async () => {
    const at = await newCase();
    const error: unknown = await startMonitor({
      binary,
      command: ['sleep', '10'],
      exitFile: at.exitFile,
      pidFile: at.pidFile,
      timeoutCreate: 0.3,
    }).catch((caught: unknown) => caught);
    expect(isRuntimeError(error, 'MONITOR_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/timed out/);
    expect((error as Error).cause as MonitorFailureDetails).toMatchObject({ exitCode: 137 });
  });

  it('refuses adopt-mode argument mistakes with exit status 2 and a message', async () => {
    const binary = defaultMonitorBinary();
    const cases: [string[], RegExp][] = [
      [
        ['--exit-file', '/tmp/x', '--adopt-fd', '3', '--stdout-fd', '4', '--stderr-fd', '5', '--', 'true'],
        /no COMMAND/,
      ],
      [['--exit-file', '/tmp/x', '--adopt-fd', '3'], /needs --stdout-fd and --stderr-fd/],
      [
        ['--exit-file', '/tmp/x', '--adopt-fd', '3', '--stdout-fd', '4', '--stderr-fd', '5', '--stdin'],
        /--stdin-fd/,
      ],
      [['--exit-file', '/tmp/x', '--stdout-fd', '4', '--', 'true'], /need --adopt-fd/],
      [
        [
          '--exit-file',
          '/tmp/x',
          '--adopt-fd',
          '3',
          '--stdout-fd',
          '4',
          '--stderr-fd',
          '5',
          '--pid-file',
          '/tmp/p',
        ],
        /do not apply with --adopt-fd/,
      ],
    ];
    for (const [args, message] of cases) {
      const error = await run(binary, args).then(
        () => undefined,
        (failure: { code?: number; stderr?: string }) => failure,
      );
      expect(error?.code, args.join(' ')).toBe(2);
      expect(error?.stderr).toMatch(message);
    }
  });

  it('rejects with MONITOR_FAILED when the monitor binary does not exist', async () => {
    const at = await newCase();
    await expect(
      startMonitor({
        binary: path.join(at.directory, 'no-such-monitor'),
        command: ['true'],
        exitFile: at.exitFile,
        pidFile: at.pidFile,
      }),
    ).rejects.toMatchObject({ code: 'MONITOR_FAILED', errno: 'ENOENT' });
  });

  it.skipIf(busyboxPath === undefined)(
    'reopens the log on SIGUSR1 so output after a rename goes to the new file',
    async () => {
      const at = await newCase();
      const goFile = path.join(at.directory, 'go');
      const command = await orphanCommand(
        at,
        `echo before; while [ ! -e "${goFile}" ]; do ${busyboxPath} sleep 0.05; done; echo after\n`,
      );
      const started = await start({
        command,
        exitFile: at.exitFile,
        pidFile: at.pidFile,
        logPath: at.logPath,
      });
      await waitFor(async () => (await readFile(at.logPath, 'utf8')) === 'before\n', 'the first line');
      const rotated = `${at.logPath}.1`;
      await rename(at.logPath, rotated);
      await reopenLog(started.monitorPid);
      await waitFor(() => existsSync(at.logPath), 'the reopened log');
      await writeFile(goFile, '');
      await waitForExit(at.exitFile, exitWait());
      expect(await readFile(rotated, 'utf8')).toBe('before\n');
      expect(await readFile(at.logPath, 'utf8')).toBe('after\n');
    },
  );

  it.skipIf(busyboxPath === undefined)(
    'streams output to an attach client and feeds its input to stdin',
    async () => {
      const at = await newCase();
      const socketPath = path.join(at.directory, 'attach.sock');
      const scriptFile = path.join(at.directory, 'container.sh');
      await writeFile(scriptFile, `${busyboxPath} cat; echo stdin-closed >&2\n`);
      // dash gives a background job /dev/null as stdin: hand the pipe over through fd 3 instead.
      const command = [
        'sh',
        '-c',
        `exec 3<&0; ${busyboxPath} sh "$0" <&3 3<&- & echo $! > "$1"`,
        scriptFile,
        at.pidFile,
      ];
      await start({
        command,
        exitFile: at.exitFile,
        pidFile: at.pidFile,
        logPath: at.logPath,
        attachSocket: socketPath,
        stdinOnce: true,
      });
      const session = await attachContainer(socketPath, { signal: AbortSignal.timeout(15_000) });
      const collect = async (stream: NodeJS.ReadableStream): Promise<string> => {
        let text = '';
        for await (const chunk of stream) text += String(chunk);
        return text;
      };
      const stdout = collect(session.stdout);
      const stderr = collect(session.stderr);
      session.stdin.end('typed by the client\n');
      expect(await stdout).toBe('typed by the client\n');
      expect(await stderr).toBe('stdin-closed\n');
      // The monitor closes attach connections only after writing the exit file.
      await expect(readExitFile(at.exitFile)).resolves.toMatchObject({ exitCode: 0 });
      expect(await readFile(at.logPath, 'utf8')).toBe('typed by the client\nstdin-closed\n');
      expect(existsSync(socketPath)).toBe(false);
    },
  );

  it('refuses to signal a process that is not a monitor', async () => {
    await expect(reopenLog(process.pid)).rejects.toMatchObject({ code: 'MONITOR_FAILED' });
  });

  it.skipIf(busyboxPath === undefined)(
    'passes preserved fds to the create command and keeps no stray fds itself',
    async () => {
      const at = await newCase();
      const passedFile = path.join(at.directory, 'passed.txt');
      const { open } = await import('node:fs/promises');
      const handle = await open(passedFile, 'w');
      try {
        const scriptFile = path.join(at.directory, 'container.sh');
        await writeFile(scriptFile, `exec ${busyboxPath} sleep 30\n`);
        const started = await start({
          command: [
            'sh',
            '-c',
            `echo via-fd3 >&3; ${busyboxPath} sh "$0" & echo $! > "$1"`,
            scriptFile,
            at.pidFile,
          ],
          exitFile: at.exitFile,
          pidFile: at.pidFile,
          logPath: at.logPath,
          preserveFds: [handle.fd],
        });
        expect(await readFile(passedFile, 'utf8')).toBe('via-fd3\n');

        const fdDirectory = `/proc/${started.monitorPid}/fd`;
        const targets = await Promise.all(
          (await readdir(fdDirectory)).map((fd) => readlink(path.join(fdDirectory, fd))),
        );
        for (const target of targets) {
          expect(
            target === '/dev/null' ||
              target === 'anon_inode:[signalfd]' ||
              target === at.logPath ||
              target.startsWith('pipe:'),
            `unexpected monitor fd ${target}`,
          ).toBe(true);
        }
        expect(targets.filter((target) => target.startsWith('pipe:'))).toHaveLength(2);

        // Resident memory of an idle monitor: a sanity bound only, the benchmark prints the figure.
        const status = await readFile(`/proc/${started.monitorPid}/status`, 'utf8');
        const rssKiB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
        console.log(`monitor tests: idle monitor VmRSS ${rssKiB} KiB`);
        expect(rssKiB).toBeGreaterThan(0);
        expect(rssKiB).toBeLessThan(4 * 1024);

        process.kill(started.pid, 'SIGKILL');
        await expect(waitForExit(at.exitFile, exitWait())).resolves.toMatchObject({ exitCode: 137 });
      } finally {
        await handle.close();
      }
    },
  );
});

describe('ocikit-monitor with runc', () => {
  const reason =
    runcPath === undefined
      ? 'runc is not installed'
      : !isRoot
        ? 'runc create needs root'
        : busyboxPath === undefined
          ? 'busybox is missing'
          : '';
  if (reason !== '') console.log(`monitor tests: skipping the runc case: ${reason}`);

  it.skipIf(reason !== '')('monitors a busybox container created by runc', async () => {
    const at = await newCase();
    const bundle = path.join(at.directory, 'bundle');
    const rootfs = path.join(bundle, 'rootfs');
    const runcRoot = path.join(at.directory, 'runc-root');
    const id = `ocikit-monitor-test-${process.pid}`;
    await mkdir(path.join(rootfs, 'bin'), { recursive: true });
    await copyFile(busyboxPath!, path.join(rootfs, 'bin', 'busybox'));
    await chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'echo', 'sleep']) await symlink('busybox', path.join(rootfs, 'bin', applet));
    await run(runcPath!, ['spec'], { cwd: bundle });
    const config = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as {
      process: { args: string[]; terminal: boolean };
      root: { path: string };
    };
    config.process.args = ['sh', '-c', 'echo hello-from-runc; exit 3'];
    config.process.terminal = false;
    config.root.path = 'rootfs';
    await writeFile(path.join(bundle, 'config.json'), JSON.stringify(config));

    runcContainers.push({ root: runcRoot, id });
    const started = await start({
      command: [runcPath!, '--root', runcRoot, 'create', '--bundle', bundle, '--pid-file', at.pidFile, id],
      exitFile: at.exitFile,
      pidFile: at.pidFile,
      logPath: at.logPath,
      timeoutCreate: 20,
    });
    expect(started.pid).toBeGreaterThan(1);
    expect(await readExitFile(at.exitFile)).toBeUndefined();

    await run(runcPath!, ['--root', runcRoot, 'start', id]);
    await expect(waitForExit(at.exitFile, exitWait())).resolves.toMatchObject({
      pid: started.pid,
      exitCode: 3,
    });
    expect(await readFile(at.logPath, 'utf8')).toContain('hello-from-runc\n');
    await run(runcPath!, ['--root', runcRoot, 'delete', id]);
  });
});
