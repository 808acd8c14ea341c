import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RuntimeError } from '../../errors.js';
import { parseSignal } from '../../spec/signals.js';
import type { ContainerState } from '../../state/container-record.js';
import { type FlagSpec, flagBool, flagInt, flagString, UsageError } from '../args.js';
import type { CliContext, Command } from '../command.js';
import type { ConsoleReceiver } from '../console-proxy.js';
import { reportWarning, tabulate } from '../output.js';
import { exitCodeOf, requireId } from './common.js';

const createFlags: FlagSpec[] = [
  {
    name: 'bundle',
    aliases: ['b'],
    kind: 'string',
    value: 'value',
    usage: 'path to the root of the bundle directory, defaults to the current directory',
  },
  {
    name: 'console-socket',
    kind: 'string',
    usage:
      "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
  },
  { name: 'pid-file', kind: 'string', usage: 'specify the file to write the process id to' },
  { name: 'no-pivot', kind: 'bool', usage: 'do not use pivot root to jail process inside rootfs' },
  { name: 'no-new-keyring', kind: 'bool', usage: 'do not create a new session keyring for the container' },
  {
    name: 'preserve-fds',
    kind: 'string',
    usage: 'Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)',
  },
];

function warnAll(context: CliContext, warnings: readonly string[]): void {
  for (const warning of warnings) reportWarning(context.output, context.log, warning);
}

async function createFrom(
  context: CliContext,
  id: string,
  args: Parameters<Command['run']>[1],
  consoleSocket?: string,
) {
  return context.runtime().create(id, flagString(args, 'bundle', process.cwd()), {
    consoleSocket: consoleSocket ?? flagString(args, 'console-socket'),
    pidFile: flagString(args, 'pid-file'),
    noPivot: flagBool(args, 'no-pivot'),
    preserveFds: flagInt(args, 'preserve-fds', 0),
  });
}

/** `create`: the container waits on the exec fifo until `start`. */
export const createCommand: Command = {
  name: 'create',
  usage: '<container-id>',
  description: 'create a container',
  flags: createFlags,
  async run(context, args) {
    const id = requireId('create', args.positionals);
    await createFrom(context, id, args);
    return 0;
  },
};

/** `start`: releases a created container. */
export const startCommand: Command = {
  name: 'start',
  usage: '<container-id>',
  description: 'executes the user defined process in a created container',
  flags: [],
  async run(context, args) {
    const id = requireId('start', args.positionals);
    const result = await context.runtime().start(id);
    warnAll(context, result.warnings);
    return 0;
  },
};

const forwardedSignals: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
];

/** `run`: create + start, and in the foreground wait and exit with the container's code. */
export const runCommand: Command = {
  name: 'run',
  usage: '<container-id>',
  description: 'create and run a container',
  flags: [
    ...createFlags,
    { name: 'detach', aliases: ['d'], kind: 'bool', usage: "detach from the container's process" },
    { name: 'keep', kind: 'bool', usage: 'do not delete the container after it exits' },
  ],
  async run(context, args) {
    const id = requireId('run', args.positionals);
    const runtime = context.runtime();
    const detach = flagBool(args, 'detach');
    let consoleSocket = flagString(args, 'console-socket');
    const bundle = resolve(flagString(args, 'bundle', process.cwd()));
    let terminal = false;
    try {
      terminal = /"terminal"\s*:\s*true/.test(readFileSync(join(bundle, 'config.json'), 'utf8'));
    } catch {
      // create reports the missing bundle
    }
    let receiver: ConsoleReceiver | undefined;
    if (terminal && consoleSocket === undefined && !detach) {
      // runc allocates the console itself in the foreground: receive the master on a private socket.
      // Loaded only for a terminal: it pulls in node:tty and node:os.
      const { openConsoleReceiver } = await import('../console-proxy.js');
      receiver = await openConsoleReceiver();
      consoleSocket = receiver.socketPath;
    }
    let state: ContainerState;
    try {
      state = await createFrom(context, id, args, consoleSocket);
    } catch (error) {
      await receiver?.close();
      throw error;
    }
    const relay: ((signal: NodeJS.Signals) => void) | undefined = detach
      ? undefined
      : (signal) => {
          try {
            process.kill(state.pid, signal);
          } catch {
            // gone
          }
        };
    if (relay !== undefined) for (const signal of forwardedSignals) process.on(signal, relay);
    try {
      const result = await runtime.start(id);
      warnAll(context, result.warnings);
    } catch (error) {
      await runtime.delete(id, { force: true }).catch(() => undefined);
      throw error;
    }
    if (detach) return 0;
    const proxy = receiver?.master.then(async (fd) => (await import('../console-proxy.js')).proxyConsole(fd));
    const exit = await runtime.waitChild(state.pid);
    await proxy?.catch(() => undefined);
    await receiver?.close();
    if (relay !== undefined) for (const signal of forwardedSignals) process.off(signal, relay);
    if (!flagBool(args, 'keep')) {
      const result = await runtime.delete(id, { force: true });
      warnAll(context, result.warnings);
    }
    return exitCodeOf(exit);
  },
};

/** `state`: the runtime-spec state as indented JSON. */
export const stateCommand: Command = {
  name: 'state',
  usage: '<container-id>',
  description: 'output the state of a container',
  flags: [],
  async run(context, args) {
    const id = requireId('state', args.positionals);
    const state = await context.runtime().state(id);
    context.output.out(`${JSON.stringify(state, null, '  ')}\n`);
    return 0;
  },
};

/** This process's user name from /etc/passwd, or `#<uid>` (what runc shows for a record without an owner). */
function currentUserName(): string {
  const uid = process.getuid?.() ?? 0;
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[2] === String(uid)) return fields[0] ?? '';
    }
  } catch {
    // no passwd: fall back to the number
  }
  return `#${uid}`;
}

/** `list`: a table or a JSON array of the containers under the root. */
export const listCommand: Command = {
  name: 'list',
  usage: '',
  description: 'lists containers started by runc with the given root',
  flags: [
    {
      name: 'format',
      aliases: ['f'],
      kind: 'string',
      usage: 'select one of: table or json (default: "table")',
    },
    { name: 'quiet', aliases: ['q'], kind: 'bool', usage: 'display only container IDs' },
  ],
  async run(context, args) {
    const states = await context.runtime().list();
    // Looked up once for all the rows that need it, not once per row.
    let userName: string | undefined;
    const ownerName = (owner: string): string => {
      if (owner !== '') return owner;
      userName ??= currentUserName();
      return userName;
    };
    const format = flagString(args, 'format', 'table');
    if (flagBool(args, 'quiet')) {
      for (const state of states) context.output.out(`${state.id}\n`);
      return 0;
    }
    if (format === 'json') {
      const items = states.map((s) => ({
        ociVersion: s.ociVersion,
        id: s.id,
        pid: s.pid,
        status: s.status,
        bundle: s.bundle,
        rootfs: s.rootfs,
        created: s.created,
        owner: ownerName(s.owner),
      }));
      context.output.out(`${JSON.stringify(items.length === 0 ? null : items)}\n`);
      return 0;
    }
    if (format !== 'table') throw new UsageError(`invalid format option ${JSON.stringify(format)}`);
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
    for (const s of states)
      rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, ownerName(s.owner)]);
    context.output.out(tabulate(rows));
    return 0;
  },
};

/** `kill`: a signal to the init, or with --all to every process. */
export const killCommand: Command = {
  name: 'kill',
  usage: '<container-id> [signal]',
  description: "kill sends the specified signal (default: SIGTERM) to the container's init process",
  flags: [
    {
      name: 'all',
      aliases: ['a'],
      kind: 'bool',
      usage: 'send the specified signal to all processes inside the container',
    },
  ],
  async run(context, args) {
    const id = requireId('kill', args.positionals, 2);
    const signal = parseSignal(args.positionals[1] ?? 'SIGTERM');
    await context.runtime().kill(id, signal, { all: flagBool(args, 'all') });
    return 0;
  },
};

/** `delete`: removes a stopped (or with --force any) container. */
export const deleteCommand: Command = {
  name: 'delete',
  usage: '<container-id>',
  description: 'delete any resources held by the container often used with detached container',
  flags: [
    {
      name: 'force',
      aliases: ['f'],
      kind: 'bool',
      usage: 'Forcibly deletes the container if it is still running (uses SIGKILL)',
    },
  ],
  async run(context, args) {
    const id = requireId('delete', args.positionals);
    try {
      const result = await context.runtime().delete(id, { force: flagBool(args, 'force') });
      warnAll(context, result.warnings);
    } catch (error) {
      // runc: deleting a missing container with --force is not an error.
      if (flagBool(args, 'force') && error instanceof RuntimeError && error.code === 'CONTAINER_NOT_FOUND')
        return 0;
      throw error;
    }
    return 0;
  },
};

/** `pause`: freezes every process of the container. */
export const pauseCommand: Command = {
  name: 'pause',
  usage: '<container-id>',
  description: 'pause suspends all processes inside the container',
  flags: [],
  async run(context, args) {
    await context.runtime().pause(requireId('pause', args.positionals));
    return 0;
  },
};

/** `resume`: thaws a paused container. */
export const resumeCommand: Command = {
  name: 'resume',
  usage: '<container-id>',
  description: 'resumes all processes that have been previously paused',
  flags: [],
  async run(context, args) {
    await context.runtime().resume(requireId('resume', args.positionals));
    return 0;
  },
};
