/**
 * The training run behind the CLI's V8 code cache (scripts/bundle-cli.mjs runs the CLI once with
 * `OCIKIT_CLI_PRIME=<empty temp dir>` and keeps the bytecode compiled by then). It goes through what a
 * real `create` runs — argument parsing, config.json parsing, seccomp compiling, init planning, the cgroup
 * manager, the sync protocol and the state store — and then `state`, `exec` and `list`, without root and without
 * touching the host: the syscalls are the recording double (no process is cloned), the cgroupfs lives
 * in memory, and everything else stays inside the temp directory. Nothing here is used at run time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCgroupManager } from '../cgroups/create.js';
import type { CgroupDirectoryEntry, CgroupFileSystem } from '../cgroups/file-system.js';
import { defaultSpec } from '../spec/default-spec.js';
import { SyncMessageType } from '../syscalls.js';
import { RecordingSyscalls } from '../testing/recording-syscalls.js';
import { runCli } from './main.js';
import type { CliOutput } from './output.js';

const controllers = ['cpu,cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'devices', 'freezer', 'hugetlb'];

/** A v1 cgroupfs in memory: every control file exists and takes any write; mountinfo lists the hierarchies. */
function memoryCgroupFileSystem(root: string, procRoot: string): CgroupFileSystem {
  const files = new Map<string, string>();
  const mountinfo = controllers
    .map((name, index) => {
      const mountpoint = `${root}/${name}`;
      return `${30 + index} 25 0:${30 + index} / ${mountpoint} rw,nosuid,nodev,noexec,relatime shared:${index} - cgroup cgroup rw,${name}`;
    })
    .join('\n');
  files.set(`${procRoot}/self/mountinfo`, `${mountinfo}\n`);
  files.set(`${procRoot}/self/cgroup`, controllers.map((name, index) => `${index + 1}:${name}:/`).join('\n'));
  return {
    async readFile(path: string): Promise<string> {
      return files.get(path) ?? (path.endsWith('cpuset.cpus') || path.endsWith('cpuset.mems') ? '0\n' : '');
    },
    async writeFile(path: string, data: string): Promise<void> {
      files.set(path, data);
    },
    async mkdir(path: string): Promise<boolean> {
      const existed = files.has(path);
      files.set(path, '');
      return !existed;
    },
    async rmdir(path: string): Promise<void> {
      files.delete(path);
    },
    async readdir(): Promise<CgroupDirectoryEntry[]> {
      return [];
    },
    async exists(): Promise<boolean> {
      return true;
    },
  };
}

/** A config.json with every part `create` handles: resources, rlimits, seccomp with argument rules. */
function trainingSpec(): string {
  const spec = defaultSpec();
  spec.process = { ...spec.process, terminal: false, args: ['true'] } as typeof spec.process;
  spec.linux = {
    ...spec.linux,
    resources: {
      ...spec.linux?.resources,
      memory: { limit: 268435456, reservation: 134217728 },
      cpu: { shares: 512, quota: 50000, period: 100000 },
      pids: { limit: 64 },
    },
    sysctl: { 'net.ipv4.ip_forward': '0' },
    seccomp: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'write', 'exit_group', 'execve', 'mmap', 'brk'], action: 'SCMP_ACT_ALLOW' },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }],
        },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      ],
    },
  } as typeof spec.linux;
  return JSON.stringify(spec);
}

/**
 * Runs the training and returns its exit code: 1 (with the CLI's error on stderr) when the `create` did
 * not go through, so that a build whose training broke fails instead of shipping a thin cache.
 */
export async function primeCli(work: string): Promise<number> {
  let errors = '';
  const silent: CliOutput = {
    out: () => undefined,
    err: (text) => {
      errors += text;
    },
  };
  const root = join(work, 'state');
  const bundle = join(work, 'bundle');
  mkdirSync(join(bundle, 'rootfs', 'proc'), { recursive: true });
  writeFileSync(join(bundle, 'config.json'), trainingSpec());
  const cgroupRoot = join(work, 'cgroup');
  const fileSystem = memoryCgroupFileSystem(cgroupRoot, join(work, 'proc'));
  const syscalls = new RecordingSyscalls();
  // The "container" is this process: its /proc entry exists, and nothing signals it below.
  syscalls.script.push(
    { type: SyncMessageType.pid, value: process.pid, text: '' },
    { type: SyncMessageType.hooks, value: 0, text: '' },
    { type: SyncMessageType.ready, value: 0, text: '' },
  );
  const options = {
    syscalls,
    cgroups: (path: string) =>
      createCgroupManager({ path, root: cgroupRoot, procRoot: join(work, 'proc'), version: 1, fileSystem }),
  };
  const global = ['--root', root];
  await runCli(['--version'], silent);
  const create = [...global, 'create', '--bundle', bundle, '--pid-file', join(work, 'pid'), 'c1'];
  if ((await runCli(create, silent, options)) !== 0) {
    process.stderr.write(`ocikit-runtime: the code-cache training run failed: ${errors}`);
    return 1;
  }
  await runCli([...global, 'state', 'c1'], silent, options);
  // exec (kubelet probes, `ctr task exec`): the process joins the "container", reaches execve, exits 0.
  syscalls.script.push(
    { type: SyncMessageType.pid, value: process.pid, text: '' },
    { type: SyncMessageType.ready, value: 0, text: '' },
    null,
  );
  if ((await runCli([...global, 'exec', 'c1', 'true'], silent, options)) !== 0) {
    process.stderr.write(`ocikit-runtime: the code-cache training run failed at exec: ${errors}`);
    return 1;
  }
  await runCli([...global, 'list'], silent, options);
  // An error report is part of the common path too.
  await runCli([...global, 'state', 'missing'], silent, options);
  return 0;
}
