import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBusyboxImageArchive,
  type ContainerdHarness,
  hasContainerd,
  hasUmoci,
  startContainerd,
  writeRuntimeWrapper,
} from '../../src/testing/containerd-harness.js';
import { canRunContainers, ensureCli, runTool, runtimeCommand } from './helpers.js';

// containerd's io.containerd.runc.v2 shim drives ocikit-runtime through `BinaryName` (`ctr run
// --runc-binary`). Not skipped when containerd is missing: scripts/setup.sh installs it, and a missing
// containerd should fail loudly rather than hide the runtime's main compatibility claim.
if (!canRunContainers) console.log('skipping containerd integration tests: not root');

const image = 'ocikit.test/busybox:latest';

describe.skipIf(!canRunContainers)('containerd drives ocikit-runtime', () => {
  let harness: ContainerdHarness | undefined;
  let wrapper = '';
  let callLog = '';

  const ctd = (): ContainerdHarness => {
    if (harness === undefined) throw new Error('containerd did not start (see beforeAll)');
    return harness;
  };
  /** `ctr` arguments that make the task use ocikit-runtime with the harness's private directories. */
  const runtimeFlags = () => [
    '--runc-binary',
    wrapper,
    '--runc-root',
    ctd().runtimeRoot,
    '--fifo-dir',
    ctd().fifoDir,
  ];
  /** The runtime subcommands the shim ran so far for container `id` (from the wrapper's call log). */
  const subcommandsFor = (id: string): string[] => {
    if (!existsSync(callLog)) return [];
    const known = ['create', 'start', 'delete', 'kill', 'exec', 'ps', 'state', 'pause', 'resume'];
    return readFileSync(callLog, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => line.split(' '))
      .filter((words) => words.includes(id))
      .map((words) => words.find((word) => known.includes(word)) ?? '?');
  };

  /** The STATUS column of `ctr tasks ls` for `id` ('' when not listed). */
  const taskStatus = (id: string): string => {
    const line = ctd()
      .ctr(['tasks', 'ls'])
      .stdout.split('\n')
      .find((text) => text.startsWith(`${id} `));
    return line?.trim().split(/\s+/)[2] ?? '';
  };

  beforeAll(async () => {
    if (!hasContainerd()) {
      throw new Error('containerd, ctr or containerd-shim-runc-v2 missing: run scripts/setup.sh');
    }
    if (!hasUmoci()) throw new Error('umoci missing (it builds the test image): run scripts/setup.sh');
    ensureCli();
    // Debug level: the shim's runtime calls then appear in the log tails of failure messages.
    harness = await startContainerd({ logLevel: 'debug' });
    callLog = join(harness.dir, 'runtime-calls.log');
    wrapper = writeRuntimeWrapper(harness.dir, runtimeCommand, { callLog });
    const archive = buildBusyboxImageArchive(harness.dir);
    const imported = harness.ctr(['images', 'import', '--base-name', 'ocikit.test/busybox', archive]);
    if (imported.code !== 0) {
      throw new Error(`ctr images import failed: ${imported.stderr}\n${harness.logTail()}`);
    }
  });

  afterAll(async () => {
    await harness?.stop((root, id) => {
      runTool([...runtimeCommand, '--root', root, 'delete', '--force', id], harness?.dir ?? '/tmp');
    });
  });

  it('imports the umoci-built OCI archive under the base name', () => {
    const listed = ctd().ctr(['images', 'ls', '-q']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')).toContain(image);
  });

  it('ctr run --rm: the container writes through the shim and its exit code comes back', () => {
    const result = ctd().ctr([
      'run',
      '--rm',
      ...runtimeFlags(),
      image,
      'run1',
      'sh',
      '-c',
      'echo hello; exit 3',
    ]);
    expect(result.stdout, `${result.stderr}\n${ctd().logTail()}`).toBe('hello\n');
    expect(result.code).toBe(3);
    // The shim really ran ocikit-runtime, and --rm removed the container and the runtime's state.
    expect(subcommandsFor('run1')).toEqual(expect.arrayContaining(['create', 'start', 'delete']));
    expect(ctd().ctr(['containers', 'ls', '-q']).stdout).not.toContain('run1');
    expect(existsSync(join(ctd().runtimeRoot, ctd().namespace, 'run1'))).toBe(false);
  });

  it('ctr run -d, task ps, task exec, kill, delete', async () => {
    const id = 'detached1';
    const started = ctd().ctr(['run', '-d', ...runtimeFlags(), image, id, 'sleep', '300']);
    expect(started.code, `${started.stderr}\n${ctd().logTail()}`).toBe(0);

    const listed = ctd().ctr(['tasks', 'ls']);
    const row = listed.stdout.split('\n').find((line) => line.startsWith(`${id} `)) ?? '';
    const [, pidText, status] = row.trim().split(/\s+/);
    expect(status).toBe('RUNNING');
    const pid = Number(pidText);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\u0000300\u0000');

    // `task ps` goes through the runtime's `ps --format json`.
    const ps = ctd().ctr(['tasks', 'ps', id]);
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout.split('\n').map((line) => line.split(/\s+/)[0])).toContain(String(pid));

    const exec = ctd().ctr([
      'tasks',
      'exec',
      '--exec-id',
      'e1',
      '--fifo-dir',
      ctd().fifoDir,
      id,
      'sh',
      '-c',
      'echo from-exec; exit 5',
    ]);
    expect(exec.stdout, `${exec.stderr}\n${ctd().logTail()}`).toBe('from-exec\n');
    expect(exec.code).toBe(5);

    // pause / resume go through the runtime's freezer.
    const paused = ctd().ctr(['tasks', 'pause', id]);
    expect(paused.code, `${paused.stderr}\n${ctd().logTail()}`).toBe(0);
    expect(taskStatus(id)).toBe('PAUSED');
    const resumed = ctd().ctr(['tasks', 'resume', id]);
    expect(resumed.code, `${resumed.stderr}\n${ctd().logTail()}`).toBe(0);
    expect(taskStatus(id)).toBe('RUNNING');

    const killed = ctd().ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    expect(killed.code, killed.stderr).toBe(0);
    let state = '';
    for (let attempt = 0; attempt < 100 && state !== 'STOPPED'; attempt++) {
      state = taskStatus(id);
      if (state !== 'STOPPED') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('STOPPED');

    // ctr reports the exit status it got from the shim: 128 + SIGKILL.
    const deleted = ctd().ctr(['tasks', 'delete', id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stderr).toContain('exit code 137');
    const removed = ctd().ctr(['containers', 'delete', id]);
    expect(removed.code, removed.stderr).toBe(0);

    expect(subcommandsFor(id)).toEqual(
      expect.arrayContaining(['create', 'start', 'ps', 'exec', 'pause', 'resume', 'kill', 'delete']),
    );
    expect(existsSync(join(ctd().runtimeRoot, ctd().namespace, id))).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});
