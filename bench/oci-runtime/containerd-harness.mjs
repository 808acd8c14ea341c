// A private containerd for the benchmark (a trimmed copy of
// packages/oci-runtime/test/integration/containerd-harness.ts, which the test suite uses): its own root,
// state, socket and namespace under one temp directory, plus a busybox image built with umoci.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const disabledPlugins = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.internal.v1.opt',
  'io.containerd.tracing.processor.v1.otlp',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids whose command line contains every one of `needles`. */
export function processesMentioning(...needles) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (needles.every((needle) => commandLine.includes(needle))) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Starts containerd (oom_score 0: root lacks CAP_SYS_RESOURCE here) and waits until it answers. */
export async function startContainerd() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-bench-containerd-'));
  const address = path.join(dir, 'containerd.sock');
  const namespace = `ocikit-bench-${process.pid}`;
  const runtimeRoot = path.join(dir, 'runtime-root');
  const fifoDir = path.join(dir, 'fifo');
  fs.mkdirSync(runtimeRoot);
  fs.mkdirSync(fifoDir);
  const q = JSON.stringify;
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = ${q(path.join(dir, 'root'))}`,
      `state = ${q(path.join(dir, 'state'))}`,
      'oom_score = 0',
      `disabled_plugins = [${disabledPlugins.map((name) => q(name)).join(', ')}]`,
      '[grpc]',
      `  address = ${q(address)}`,
      '[ttrpc]',
      `  address = ${q(`${address}.ttrpc`)}`,
      '[plugins]',
      '  [plugins."io.containerd.monitor.v1.cgroups"]',
      '    no_prometheus = true',
      '',
    ].join('\n'),
  );
  const createdRunDirectories = ['/run/containerd/s', '/run/containerd'].filter((p) => !fs.existsSync(p));
  const log = fs.openSync(path.join(dir, 'containerd.log'), 'a');
  const child = spawn('/usr/bin/containerd', ['--config', config], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  child.on('error', () => {
    exited = true;
  });

  const ctr = (args) => {
    const result = spawnSync('/usr/bin/ctr', ['-a', address, '-n', namespace, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: result.status ?? 128, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  };

  const stop = async (cleanupRuntime) => {
    if (!exited) {
      for (const id of ctr(['tasks', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
        ctr(['tasks', 'delete', '--force', id]);
      }
      for (const id of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
        ctr(['containers', 'delete', id]);
      }
    }
    const shims = processesMentioning(address);
    const sockets = shims.flatMap((pid) => {
      try {
        const words = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const flag = (name) => words[words.indexOf(name) + 1];
        const hash = createHash('sha256')
          .update(path.join(address, flag('-namespace'), flag('-id')))
          .digest('hex');
        return [path.join('/run/containerd/s', hash)];
      } catch {
        return [];
      }
    });
    if (!exited) child.kill('SIGTERM');
    for (const pid of shims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const deadline = Date.now() + 5_000;
    while ([child.pid, ...shims].some(alive) && Date.now() < deadline) await sleep(50);
    if (alive(child.pid)) child.kill('SIGKILL');
    const leftovers = path.join(runtimeRoot, namespace);
    if (cleanupRuntime && fs.existsSync(leftovers)) {
      for (const id of fs.readdirSync(leftovers)) cleanupRuntime(leftovers, id);
    }
    for (const socket of sockets) fs.rmSync(socket, { force: true });
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(`${dir}/`))
      .reverse();
    for (const point of mounts) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
    for (const controller of fs.readdirSync('/sys/fs/cgroup')) {
      try {
        fs.rmdirSync(path.join('/sys/fs/cgroup', controller, namespace));
      } catch {
        // absent or busy
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    for (const p of createdRunDirectories) {
      try {
        fs.rmdirSync(p);
      } catch {
        // in use by someone else
      }
    }
  };

  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(address) && ctr(['version']).code === 0)) {
    if (exited || Date.now() > deadline) {
      const tail = fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8').slice(-2000);
      await stop();
      throw new Error(`containerd did not start:\n${tail}`);
    }
    await sleep(100);
  }
  return { dir, address, namespace, runtimeRoot, fifoDir, ctr, stop };
}

/** A one-layer busybox OCI archive built with umoci from `rootfs`; import with `--base-name`. */
export function buildImageArchive(dir, rootfs) {
  const layout = path.join(dir, 'image-layout');
  const image = `${layout}:latest`;
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', image]);
  execFileSync('umoci', ['insert', '--image', image, rootfs, '/']);
  execFileSync('umoci', ['config', '--image', image, '--config.cmd', 'sh', '--config.env', 'PATH=/bin']);
  execFileSync('umoci', ['gc', '--layout', layout]);
  const archive = path.join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}

/** An executable `<dir>/ocikit-runtime` that runs `node <cli>` (for `ctr run --runc-binary`). */
export function writeRuntimeWrapper(dir, cli) {
  const wrapper = path.join(dir, 'ocikit-runtime');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${cli}' "$@"\n`);
  fs.chmodSync(wrapper, 0o755);
  return wrapper;
}
