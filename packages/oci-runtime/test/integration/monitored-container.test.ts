import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCgroupManager } from '../../src/cgroups/create.js';
import { ContainerRuntime } from '../../src/container/runtime.js';
import { parseCriLog } from '../../src/monitor/cri-log.js';
import { defaultMonitorBinary } from '../../src/monitor/monitor.js';
import { nativeBuildDirectory } from '../../src/native.js';
import { isProcessAlive, readProcStat } from '../../src/state/process-status.js';
import { findProcesses } from '../../src/testing/containerd-harness.js';
import { canRunContainers, ensureCli, makeBundle, tempDir } from './helpers.js';

const run = promisify(execFile);
const packageRoot = resolve(import.meta.dirname, '../..');
const monitorBuilt = existsSync(defaultMonitorBinary());
const canRun = canRunContainers && monitorBuilt;
if (!canRun) {
  console.log(
    `monitored-container tests skipped: ${canRunContainers ? `${defaultMonitorBinary()} is not built` : 'not root'}`,
  );
}

const tmp = tempDir('ocikit-monitored-');
const root = join(tmp.dir, 'state');
const ids: string[] = [];
const runtime = new ContainerRuntime({ root });

/**
 * Bundles a short script that uses the library (from src/) into one ES module, so that a plain `node`
 * process — not this test process — can create and start a container and then exit.
 */
async function buildStarterScript(): Promise<string> {
  const requireHere = createRequire(import.meta.url);
  const esbuild = createRequire(requireHere.resolve('tsup'))('esbuild') as {
    build(options: Record<string, unknown>): Promise<unknown>;
  };
  const entry = join(tmp.dir, 'starter.ts');
  const runtimeModule = join(packageRoot, 'src', 'container', 'runtime.ts');
  writeFileSync(
    entry,
    `import { ContainerRuntime } from ${JSON.stringify(runtimeModule)};
const [root, id, bundle, logPath, monitorBinary] = process.argv.slice(2);
const runtime = new ContainerRuntime({ root, monitorBinary });
await runtime.create(id, bundle, { monitor: { logPath, logFormat: 'cri' } });
await runtime.start(id);
process.stdout.write(JSON.stringify(await runtime.state(id)));
`,
  );
  const outfile = join(tmp.dir, 'starter.mjs');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  return outfile;
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

beforeAll(() => {
  if (canRun) ensureCli();
});

afterAll(async () => {
  for (const id of ids) {
    const record = await runtime.store.read(id).catch(() => undefined);
    await runtime.delete(id, { force: true }).catch(() => undefined);
    const monitorPid = record?.monitor?.pid;
    if (monitorPid !== undefined && isProcessAlive(monitorPid, record?.monitor?.startTime ?? '')) {
      try {
        process.kill(monitorPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  tmp.cleanup();
});

describe('a container under ocikit-monitor', () => {
  it.skipIf(!canRun)(
    'keeps running and keeps its exit code after the node process that started it has exited',
    async () => {
      const id = `mon-${process.pid}-a`;
      ids.push(id);
      const bundle = makeBundle(join(tmp.dir, 'a'), [
        'sh',
        '-c',
        'echo hi; while [ ! -e /go ]; do sleep 0.1; done; echo bye >&2; exit 4',
      ]);
      const logPath = join(tmp.dir, 'a.log');
      const starter = await buildStarterScript();
      const { stdout } = await run(
        process.execPath,
        [starter, root, id, bundle, logPath, defaultMonitorBinary()],
        {
          env: { ...process.env, OCIKIT_RUNTIME_ADDON: join(nativeBuildDirectory(), 'ocikit_runtime.node') },
        },
      );
      expect(JSON.parse(stdout)).toMatchObject({ id, status: 'running' });

      // A fresh runtime in this process, over the same root: the starter has exited by now.
      const observer = new ContainerRuntime({ root });
      const running = await observer.state(id);
      expect(running.status).toBe('running');
      const record = await observer.store.read(id);
      const monitor = record.monitor;
      expect(monitor).toMatchObject({ exitFile: join(root, id, 'exit.json'), logPath, logFormat: 'cri' });
      if (monitor === undefined) throw new Error('no monitor recorded');
      expect(isProcessAlive(monitor.pid, monitor.startTime)).toBe(true);
      // The init is the monitor's child now, not ours nor the starter's.
      expect(readProcStat(running.pid)?.ppid).toBe(monitor.pid);
      await expect(observer.exitStatus(id)).resolves.toBeUndefined();
      const cgroupDirectories = [
        ...(await createCgroupManager({ path: record.cgroupPath }).directories()).values(),
      ];
      expect(cgroupDirectories.length).toBeGreaterThan(0);
      for (const directory of cgroupDirectories) expect(existsSync(directory)).toBe(true);

      writeFileSync(join(bundle, 'rootfs', 'go'), '');
      const exit = await observer.waitExit(id, { signal: AbortSignal.timeout(30_000), pollMs: 100 });
      expect(exit).toMatchObject({ pid: running.pid, exitCode: 4, signal: null });
      expect((await observer.state(id)).status).toBe('stopped');
      await expect(observer.exitStatus(id)).resolves.toMatchObject({ exitCode: 4 });

      const lines = parseCriLog(await readFile(logPath, 'utf8'));
      expect(lines).toContainEqual(expect.objectContaining({ stream: 'stdout', tag: 'F', content: 'hi' }));
      expect(lines).toContainEqual(expect.objectContaining({ stream: 'stderr', tag: 'F', content: 'bye' }));

      await observer.delete(id);
      expect(isProcessAlive(monitor.pid, monitor.startTime)).toBe(false);
      expect(existsSync(join(root, id))).toBe(false);
      for (const directory of cgroupDirectories) expect(existsSync(directory)).toBe(false);
      await expect(observer.state(id)).rejects.toMatchObject({ code: 'CONTAINER_NOT_FOUND' });
    },
  );

  it.skipIf(!canRun)(
    'records a kill by signal as 128 + signal and delete --force stops the monitor',
    async () => {
      const id = `mon-${process.pid}-b`;
      ids.push(id);
      const bundle = makeBundle(join(tmp.dir, 'b'), ['sleep', '1000']);
      const pidFile = join(tmp.dir, 'b.pid');
      const created = await runtime.create(id, bundle, { monitor: {}, pidFile });
      expect(created.status).toBe('created');
      expect(await readFile(pidFile, 'utf8')).toBe(String(created.pid));
      await runtime.start(id);
      expect((await runtime.state(id)).status).toBe('running');
      await runtime.kill(id, 9);
      const exit = await runtime.waitExit(id, { signal: AbortSignal.timeout(30_000), pollMs: 100 });
      expect(exit).toMatchObject({ exitCode: 137, signal: 9 });
      expect((await runtime.state(id)).status).toBe('stopped');
      await runtime.delete(id);
      expect(existsSync(join(root, id))).toBe(false);
    },
  );

  it.skipIf(!canRun)('delete --force of a running monitored container leaves no monitor behind', async () => {
    const id = `mon-${process.pid}-c`;
    ids.push(id);
    const bundle = makeBundle(join(tmp.dir, 'c'), ['sleep', '1000']);
    await runtime.create(id, bundle, { monitor: { logPath: join(tmp.dir, 'c.log') } });
    await runtime.start(id);
    const monitor = (await runtime.store.read(id)).monitor;
    if (monitor === undefined) throw new Error('no monitor recorded');
    await runtime.delete(id, { force: true });
    await waitFor(async () => !isProcessAlive(monitor.pid, monitor.startTime), 'the monitor to exit');
    expect(existsSync(join(root, id))).toBe(false);
  });

  it.skipIf(!canRun)(
    'a create that fails inside the container leaves no monitor, state or cgroup behind',
    async () => {
      const id = `mon-${process.pid}-f`;
      const bundle = makeBundle(join(tmp.dir, 'f'), ['true']);
      const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
      config.mounts.push({ destination: '/broken', type: 'no-such-filesystem', source: 'none' });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
      const exitFile = join(tmp.dir, 'f-exit.json');
      await expect(runtime.create(id, bundle, { monitor: { exitFile } })).rejects.toMatchObject({
        code: 'MOUNT_FAILED',
      });
      expect(existsSync(join(root, id))).toBe(false);
      // The monitor was told that nothing was created, and went (its command line names the exit file).
      await waitFor(async () => findProcesses(exitFile).length === 0, 'the monitor to exit');
      expect(existsSync(exitFile)).toBe(false);
      const cgroupDirectories = [...(await createCgroupManager({ path: `/${id}` }).directories()).values()];
      for (const directory of cgroupDirectories) expect(existsSync(directory)).toBe(false);
    },
  );

  it.skipIf(!canRun)(
    'fails MONITOR_FAILED naming a missing monitor binary, before anything is made',
    async () => {
      const id = `mon-${process.pid}-g`;
      const bundle = makeBundle(join(tmp.dir, 'g'), ['true']);
      const missing = join(tmp.dir, 'no-such-monitor');
      const withoutMonitor = new ContainerRuntime({ root, monitorBinary: missing });
      await expect(withoutMonitor.create(id, bundle, { monitor: {} })).rejects.toMatchObject({
        code: 'MONITOR_FAILED',
        path: missing,
      });
      expect(existsSync(join(root, id))).toBe(false);
    },
  );

  it.skipIf(!canRun)('reports the error code of a failed create and leaves nothing behind', async () => {
    const id = `mon-${process.pid}-d`;
    await expect(runtime.create(id, join(tmp.dir, 'no-such-bundle'), { monitor: {} })).rejects.toMatchObject({
      code: 'BUNDLE_NOT_FOUND',
    });
    expect(existsSync(join(root, id))).toBe(false);
    await expect(runtime.waitExit(id)).rejects.toMatchObject({ code: 'CONTAINER_NOT_FOUND' });
  });

  it.skipIf(!canRun)('waitExit refuses a container created without a monitor', async () => {
    const id = `mon-${process.pid}-e`;
    ids.push(id);
    const bundle = makeBundle(join(tmp.dir, 'e'), ['true']);
    await runtime.create(id, bundle);
    await expect(runtime.waitExit(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await runtime.delete(id, { force: true });
  });
});
