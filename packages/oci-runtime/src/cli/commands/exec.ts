import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Process } from '../../spec/config.js';
import { flagBool, flagInt, flagList, flagString, UsageError } from '../args.js';
import type { Command } from '../command.js';
import type { ConsoleReceiver } from '../console-proxy.js';
import { exitCodeOf, requireId } from './common.js';

function parseUser(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (m === null) throw new UsageError(`invalid --user ${JSON.stringify(text)}: expected uid[:gid]`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

/** `exec`: runs a new process inside a running container. */
export const execCommand: Command = {
  name: 'exec',
  usage: '<container-id> <command> [command options]  || -p process.json <container-id>',
  description: 'execute new process inside the container',
  flags: [
    {
      name: 'console-socket',
      kind: 'string',
      usage: 'path to an AF_UNIX socket which will receive the pty master',
    },
    { name: 'cwd', kind: 'string', usage: 'current working directory in the container' },
    { name: 'env', aliases: ['e'], kind: 'list', usage: 'set environment variables' },
    { name: 'tty', aliases: ['t'], kind: 'bool', usage: 'allocate a pseudo-TTY' },
    { name: 'user', aliases: ['u'], kind: 'string', usage: 'UID (format: <uid>[:<gid>])' },
    { name: 'additional-gids', aliases: ['g'], kind: 'list', usage: 'additional gids' },
    { name: 'process', aliases: ['p'], kind: 'string', usage: 'path to the process.json' },
    { name: 'detach', aliases: ['d'], kind: 'bool', usage: "detach from the container's process" },
    { name: 'pid-file', kind: 'string', usage: 'specify the file to write the process id to' },
    {
      name: 'process-label',
      kind: 'string',
      usage: 'set the asm process label for the process commonly used with selinux',
    },
    { name: 'apparmor', kind: 'string', usage: 'set the apparmor profile for the process' },
    { name: 'no-new-privs', kind: 'bool', usage: 'set the no new privileges value for the process' },
    {
      name: 'cap',
      aliases: ['c'],
      kind: 'list',
      usage: 'add a capability to the bounding set for the process',
    },
    { name: 'preserve-fds', kind: 'string', usage: 'Pass N additional file descriptors to the container' },
    { name: 'cgroup', kind: 'list', usage: 'run the process in an (existing) sub-cgroup(s)' },
    { name: 'ignore-paused', kind: 'bool', usage: 'allow exec in a paused container' },
  ],
  async run(context, args) {
    const id = args.positionals[0];
    if (id === undefined) throw new UsageError('"exec" requires a minimum of 1 argument');
    const { parseProcessQuick, parseRuntimeSpecQuick } = await import('../../spec/parse-quick.js');
    const runtime = context.runtime();
    let processSpec: Process;
    const processFile = flagString(args, 'process');
    if (processFile !== undefined) {
      requireId('exec', args.positionals);
      processSpec = await parseProcessQuick(await readFile(processFile, 'utf8'), processFile);
    } else {
      const command = args.positionals.slice(1);
      if (command.length === 0) throw new UsageError('exec: no command given (args must not be empty)');
      const state = await runtime.state(id);
      const configPath = join(state.bundle, 'config.json');
      const base = (await parseRuntimeSpecQuick(await readFile(configPath, 'utf8'), configPath)).process;
      if (base === undefined) throw new UsageError('exec: the container config has no process');
      processSpec = { ...base, args: command, terminal: flagBool(args, 'tty') };
      const env = flagList(args, 'env');
      if (env.length > 0) processSpec.env = [...(base.env ?? []), ...env];
      const cwd = flagString(args, 'cwd');
      if (cwd !== undefined) processSpec.cwd = cwd;
      const user = flagString(args, 'user');
      if (user !== undefined) processSpec.user = { ...processSpec.user, ...parseUser(user) };
      const gids = flagList(args, 'additional-gids').map(Number);
      if (gids.length > 0) processSpec.user = { ...processSpec.user, additionalGids: gids };
      const caps = flagList(args, 'cap');
      if (caps.length > 0) {
        const c = { ...(base.capabilities ?? {}) };
        c.bounding = [...(c.bounding ?? []), ...caps];
        c.effective = [...(c.effective ?? []), ...caps];
        c.permitted = [...(c.permitted ?? []), ...caps];
        c.inheritable = [...(c.inheritable ?? []), ...caps];
        processSpec.capabilities = c;
      }
      if (flagBool(args, 'no-new-privs')) processSpec.noNewPrivileges = true;
      const apparmor = flagString(args, 'apparmor');
      if (apparmor !== undefined) processSpec.apparmorProfile = apparmor;
      const label = flagString(args, 'process-label');
      if (label !== undefined) processSpec.selinuxLabel = label;
    }
    if (flagList(args, 'cgroup').length > 0) throw new UsageError('exec --cgroup is not supported');
    let consoleSocket = flagString(args, 'console-socket');
    let receiver: ConsoleReceiver | undefined;
    if (processSpec.terminal && consoleSocket === undefined && !flagBool(args, 'detach')) {
      // Loaded only for a terminal: it pulls in node:tty and node:os.
      const { openConsoleReceiver } = await import('../console-proxy.js');
      receiver = await openConsoleReceiver();
      consoleSocket = receiver.socketPath;
    }
    let pid: number;
    try {
      pid = await runtime.exec(id, processSpec, {
        consoleSocket,
        pidFile: flagString(args, 'pid-file'),
        preserveFds: flagInt(args, 'preserve-fds', 0),
        ignorePaused: flagBool(args, 'ignore-paused'),
      });
    } catch (error) {
      await receiver?.close();
      throw error;
    }
    if (flagBool(args, 'detach')) return 0;
    const proxy = receiver?.master.then(async (fd) => (await import('../console-proxy.js')).proxyConsole(fd));
    const exit = await runtime.waitChild(pid);
    await proxy?.catch(() => undefined);
    await receiver?.close();
    return exitCodeOf(exit);
  },
};
