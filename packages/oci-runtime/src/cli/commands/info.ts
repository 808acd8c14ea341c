import { createReadStream, existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupResources } from '../../cgroups/resources.js';
import { sleep } from '../../container/timestamps.js';
import { RuntimeError } from '../../errors.js';
import { flagBool, flagString, parseDuration, parseSize, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { requireId } from './common.js';

/** `spec`: writes runc's default config.json into the bundle. */
export const specCommand: Command = {
  name: 'spec',
  usage: '',
  description: 'create a new specification file',
  flags: [
    { name: 'bundle', aliases: ['b'], kind: 'string', usage: 'path to the root of the bundle directory' },
    { name: 'rootless', kind: 'bool', usage: 'generate a configuration for a rootless container' },
  ],
  async run(context, args) {
    const { defaultSpec } = await import('../../spec/default-spec.js');
    const { serializeRuntimeSpec } = await import('../../spec/serialize.js');
    const bundle = flagString(args, 'bundle', '.');
    const file = join(bundle, 'config.json');
    if (existsSync(file))
      throw new RuntimeError('INVALID_ARGUMENT', 'File config.json exists. Remove it first', { path: file });
    await writeFile(file, serializeRuntimeSpec(defaultSpec({ rootless: flagBool(args, 'rootless') })));
    context.output.out('');
    return 0;
  },
};

/** `features`: what this runtime supports, in the layout of runc's `features`. */
export const featuresCommand: Command = {
  name: 'features',
  usage: '',
  description: 'show the enabled features',
  flags: [],
  async run(context) {
    const config = await import('../../spec/config.js');
    const { allCapabilities } = await import('../../spec/capabilities.js');
    const features = {
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.2.0',
      hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
      mountOptions: [
        'async',
        'atime',
        'bind',
        'defaults',
        'dev',
        'diratime',
        'dirsync',
        'exec',
        'lazytime',
        'loud',
        'mand',
        'noatime',
        'nodev',
        'nodiratime',
        'noexec',
        'nolazytime',
        'nomand',
        'norelatime',
        'nostrictatime',
        'nosuid',
        'nosymfollow',
        'private',
        'rbind',
        'relatime',
        'remount',
        'ro',
        'rprivate',
        'rshared',
        'rslave',
        'runbindable',
        'rw',
        'shared',
        'silent',
        'slave',
        'strictatime',
        'suid',
        'symfollow',
        'sync',
        'tmpcopyup',
        'unbindable',
      ],
      linux: {
        namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
        capabilities: [...allCapabilities],
        cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
        seccomp: {
          enabled: true,
          actions: [...config.seccompActions],
          operators: [...config.seccompOperators],
          archs: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64'],
        },
        apparmor: { enabled: existsSync('/sys/kernel/security/apparmor') },
        selinux: { enabled: true },
      },
      annotations: { 'org.opencontainers.runc.checkpoint.enabled': 'false' },
    };
    context.output.out(`${JSON.stringify(features, null, '    ')}\n`);
    return 0;
  },
};

/** `ps`: the container's processes, as JSON pids or filtered `ps` output. */
export const psCommand: Command = {
  name: 'ps',
  usage: '<container-id> [ps options]',
  description: 'ps displays the processes running inside a container',
  flags: [
    {
      name: 'format',
      aliases: ['f'],
      kind: 'string',
      usage: 'select one of: table or json (default: "table")',
    },
  ],
  async run(context, args) {
    const id = requireId('ps', args.positionals, Number.POSITIVE_INFINITY);
    const pids = await context.runtime().pids(id);
    const format = flagString(args, 'format', 'table');
    if (format === 'json') {
      context.output.out(`${JSON.stringify(pids)}\n`);
      return 0;
    }
    if (format !== 'table') throw new UsageError(`invalid format option ${JSON.stringify(format)}`);
    const psArgs = args.positionals.length > 1 ? args.positionals.slice(1) : ['-ef'];
    // Loaded here: node:child_process costs every other command start-up time for nothing.
    const { runPs } = await import('./run-ps.js');
    const text = await runPs(psArgs);
    const lines = text.split('\n');
    const header = lines[0] ?? '';
    const pidIndex = header.trim().split(/\s+/).indexOf('PID');
    if (pidIndex < 0) throw new RuntimeError('INVALID_ARGUMENT', "couldn't find PID field in ps output");
    const wanted = new Set(pids.map(String));
    const out = [header];
    for (const line of lines.slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (wanted.has(fields[pidIndex] ?? '')) out.push(line);
    }
    context.output.out(`${out.join('\n')}\n`);
    return 0;
  },
};

/** `events`: stats (once with --stats, else every --interval) and OOM events as JSON lines. */
export const eventsCommand: Command = {
  name: 'events',
  usage: '<container-id>',
  description: 'display container events such as OOM notifications, cpu, memory, and IO usage statistics',
  flags: [
    { name: 'interval', kind: 'string', usage: 'set the stats collection interval (default: 5s)' },
    { name: 'stats', kind: 'bool', usage: "display the container's stats then exit" },
  ],
  async run(context, args) {
    const id = requireId('events', args.positionals);
    const runtime = context.runtime();
    const interval = parseDuration(flagString(args, 'interval', '5s'));
    const print = (event: unknown): void => context.output.out(`${JSON.stringify(event)}\n`);
    if (flagBool(args, 'stats')) {
      print({ type: 'stats', id, data: await runtime.stats(id) });
      return 0;
    }
    const cgroup = await runtime.cgroupOf(id);
    const controller = new AbortController();
    const oom = (async () => {
      for await (const _event of cgroup.oomEvents({ signal: controller.signal })) print({ type: 'oom', id });
    })().catch(() => undefined);
    try {
      for (;;) {
        const state = await runtime.state(id);
        if (state.status === 'stopped') break;
        print({ type: 'stats', id, data: await runtime.stats(id) });
        await sleep(interval);
      }
    } finally {
      controller.abort();
      await oom;
    }
    return 0;
  },
};

const updateFlags = [
  ['blkio-weight', 'Specifies per cgroup weight, range is from 10 to 1000'],
  ['cpu-period', 'CPU CFS period to be used for hardcapping (in usecs). 0 to use system default'],
  ['cpu-quota', 'CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period'],
  ['cpu-rt-period', 'CPU realtime period to be used for hardcapping (in usecs)'],
  ['cpu-rt-runtime', 'CPU realtime hardcap limit (in usecs)'],
  ['cpu-share', 'CPU shares (relative weight vs. other containers)'],
  ['cpuset-cpus', 'CPU(s) to use'],
  ['cpuset-mems', 'Memory node(s) to use'],
  ['kernel-memory', 'Kernel memory limit (in bytes)'],
  ['kernel-memory-tcp', 'Kernel memory limit (in bytes) for tcp buffer'],
  ['memory', 'Memory limit (in bytes)'],
  ['memory-reservation', 'Memory reservation or soft_limit (in bytes)'],
  ['memory-swap', "Total memory usage (memory + swap); set '-1' to enable unlimited swap"],
  ['pids-limit', 'Maximum number of pids allowed in the container'],
  ['l3-cache-schema', 'The string of Intel RDT/CAT L3 cache schema'],
  ['mem-bw-schema', 'The string of Intel RDT/MBA memory bandwidth schema'],
] as const;

function int(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`invalid value for --${flag}: ${JSON.stringify(text)}`);
  return Number(text);
}

/** `update`: new cgroup resources from -r (file or `-`) or flags. */
export const updateCommand: Command = {
  name: 'update',
  usage: '<container-id>',
  description: 'update container resource constraints',
  flags: [
    {
      name: 'resources',
      aliases: ['r'],
      kind: 'string',
      usage: "path to the file containing the resources to update or '-' to read from the standard input",
    },
    ...updateFlags.map(([name, usage]) => ({ name, kind: 'string' as const, usage })),
  ],
  async run(context, args) {
    const id = requireId('update', args.positionals);
    let resources: CgroupResources = {};
    const file = flagString(args, 'resources');
    if (file !== undefined) {
      const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      const { linuxResourcesSchema, parseWithSchema } = await import('../../spec/config.js');
      resources = parseWithSchema(
        linuxResourcesSchema,
        JSON.parse(text),
        'update resources',
      ) as CgroupResources;
    }
    const get = (name: string): string | undefined => flagString(args, name);
    const memory = { ...(resources.memory ?? {}) };
    const cpu = { ...(resources.cpu ?? {}) };
    const set = (name: string, apply: (value: string) => void): void => {
      const value = get(name);
      if (value !== undefined) apply(value);
    };
    set('memory', (value) => {
      memory.limit = parseSize(value);
    });
    set('memory-reservation', (value) => {
      memory.reservation = parseSize(value);
    });
    set('memory-swap', (value) => {
      memory.swap = parseSize(value);
    });
    set('kernel-memory', (value) => {
      memory.kernel = parseSize(value);
    });
    set('kernel-memory-tcp', (value) => {
      memory.kernelTCP = parseSize(value);
    });
    set('cpu-share', (value) => {
      cpu.shares = int(value, 'cpu-share');
    });
    set('cpu-quota', (value) => {
      cpu.quota = int(value, 'cpu-quota');
    });
    set('cpu-period', (value) => {
      cpu.period = int(value, 'cpu-period');
    });
    set('cpu-rt-period', (value) => {
      cpu.realtimePeriod = int(value, 'cpu-rt-period');
    });
    set('cpu-rt-runtime', (value) => {
      cpu.realtimeRuntime = int(value, 'cpu-rt-runtime');
    });
    set('cpuset-cpus', (value) => {
      cpu.cpus = value;
    });
    set('cpuset-mems', (value) => {
      cpu.mems = value;
    });
    if (Object.keys(memory).length > 0) resources.memory = memory;
    if (Object.keys(cpu).length > 0) resources.cpu = cpu;
    set('pids-limit', (value) => {
      resources.pids = { limit: int(value, 'pids-limit') };
    });
    set('blkio-weight', (value) => {
      resources.blockIO = { ...(resources.blockIO ?? {}), weight: int(value, 'blkio-weight') };
    });
    if (get('l3-cache-schema') !== undefined || get('mem-bw-schema') !== undefined) {
      throw new RuntimeError('NOT_SUPPORTED', 'Intel RDT is not supported');
    }
    await context.runtime().update(id, resources);
    return 0;
  },
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream('', { fd: 0, autoClose: false })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function notSupported(name: string, description: string): Command {
  return {
    name,
    usage: '<container-id>',
    description,
    flags: [],
    stopAtPositional: false,
    async run() {
      throw new RuntimeError(
        'NOT_SUPPORTED',
        `${name} is not supported: CRIU integration is not implemented`,
      );
    },
  };
}

/** `checkpoint` / `restore`: refused (no CRIU integration). */
export const checkpointCommand = notSupported('checkpoint', 'checkpoint a running container');
export const restoreCommand = notSupported('restore', 'restore a container from a previous checkpoint');
