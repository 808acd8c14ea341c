/**
 * `ocikit-runtime`: a runc-compatible command line over {@link ContainerRuntime}. Bundled into one
 * file (`dist/cli-body.cjs`, run by `dist/cli.cjs`); zod and the seccomp compiler load only on the paths that need them.
 */
import { existsSync } from 'node:fs';
import { syncCgroupFileSystem } from '../cgroups/node-file-system.js';
import { ContainerRuntime, type ContainerRuntimeOptions } from '../container/runtime.js';
import { isRuntimeError, RuntimeError } from '../errors.js';
import { type FlagSpec, flagBool, flagString, formatFlags, parseArgs, UsageError } from './args.js';
import type { CliContext, Command } from './command.js';
import { execCommand } from './commands/exec.js';
import {
  checkpointCommand,
  eventsCommand,
  featuresCommand,
  psCommand,
  restoreCommand,
  specCommand,
  updateCommand,
} from './commands/info.js';
import {
  createCommand,
  deleteCommand,
  killCommand,
  listCommand,
  pauseCommand,
  resumeCommand,
  runCommand,
  startCommand,
  stateCommand,
} from './commands/lifecycle.js';
import { type CliOutput, type LogSettings, processOutput, reportError } from './output.js';

/** The name, version and spec version `--version` prints. */
export const cliVersion = {
  name: 'ocikit-runtime',
  version: '0.1.0',
  commit: 'unknown',
  spec: '1.2.0',
} as const;

const globalFlags: FlagSpec[] = [
  { name: 'debug', kind: 'bool', usage: 'enable debug logging' },
  { name: 'log', kind: 'string', usage: "set the log file to write runc logs to (default is '/dev/stderr')" },
  { name: 'log-format', kind: 'string', usage: "set the log format ('text' (default), or 'json')" },
  {
    name: 'root',
    kind: 'string',
    usage: 'root directory for storage of container state (default: "/run/ocikit-runtime")',
  },
  {
    name: 'cgroup-root',
    kind: 'string',
    usage:
      'cgroupfs mount point holding the containers\' cgroups (ocikit extension; default "/sys/fs/cgroup")',
  },
  { name: 'criu', kind: 'string', usage: 'path to the criu binary used for checkpoint and restore' },
  { name: 'systemd-cgroup', kind: 'bool', usage: 'enable systemd cgroup support' },
  { name: 'rootless', kind: 'string', usage: "ignore cgroup permission errors ('true', 'false', or 'auto')" },
  { name: 'help', aliases: ['h'], kind: 'bool', usage: 'show help' },
  { name: 'version', aliases: ['v'], kind: 'bool', usage: 'print the version' },
];

/** Every subcommand, in help order. */
export const commands: readonly Command[] = [
  checkpointCommand,
  createCommand,
  deleteCommand,
  eventsCommand,
  execCommand,
  killCommand,
  listCommand,
  pauseCommand,
  psCommand,
  restoreCommand,
  resumeCommand,
  runCommand,
  specCommand,
  startCommand,
  stateCommand,
  updateCommand,
  featuresCommand,
];

/** The default state root. */
export const defaultRoot = '/run/ocikit-runtime';

function mainHelp(): string {
  const names = commands.map((c) => `   ${c.name.padEnd(12)}${c.description}`).join('\n');
  return `NAME:\n   ${cliVersion.name} - Open Container Initiative runtime\n\nUSAGE:\n   ${cliVersion.name} [global options] command [command options] [arguments...]\n\nVERSION:\n   ${cliVersion.version}\n\nCOMMANDS:\n${names}\n\nGLOBAL OPTIONS:\n${formatFlags(globalFlags)}\n`;
}

function commandHelp(command: Command): string {
  const options = command.flags.length === 0 ? '' : `\n\nOPTIONS:\n${formatFlags(command.flags)}`;
  return `NAME:\n   ${cliVersion.name} ${command.name} - ${command.description}\n\nUSAGE:\n   ${cliVersion.name} ${command.name} [command options] ${command.usage}${options}\n`;
}

function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Runs the CLI with `argv` (without node and the script) and returns the exit code. Never throws:
 * errors are reported like runc (logrus format on stderr, or to --log) with exit code 1. `runtimeOptions`
 * replaces options of the {@link ContainerRuntime} the commands use (tests and the code-cache training
 * run give it other syscalls or cgroup managers).
 */
export async function runCli(
  argv: readonly string[],
  output: CliOutput = processOutput,
  runtimeOptions: Partial<ContainerRuntimeOptions> = {},
): Promise<number> {
  const log: LogSettings = { format: 'text', debug: false };
  try {
    const global = parseArgs(argv, globalFlags);
    log.file = flagString(global, 'log');
    const format = flagString(global, 'log-format', 'text');
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log-format: ${format}`);
    log.format = format;
    log.debug = flagBool(global, 'debug');
    if (flagBool(global, 'version')) {
      output.out(
        `${cliVersion.name} version ${cliVersion.version}\ncommit: ${cliVersion.commit}\nspec: ${cliVersion.spec}\n`,
      );
      return 0;
    }
    const [name, ...rest] = global.positionals;
    if (name === undefined || flagBool(global, 'help') || name === 'help') {
      const topic = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
      output.out(topic === undefined ? mainHelp() : commandHelp(topic));
      return 0;
    }
    const command = commands.find((c) => c.name === name);
    if (command === undefined) throw new UsageError(`No help topic for '${name}'`);
    const helpFlag: FlagSpec = { name: 'help', aliases: ['h'], kind: 'bool', usage: 'show help' };
    const args = parseArgs(rest, [...command.flags, helpFlag], command.stopAtPositional ?? true);
    if (flagBool(args, 'help')) {
      output.out(commandHelp(command));
      return 0;
    }
    const systemdCgroup = flagBool(global, 'systemd-cgroup');
    if (systemdCgroup) {
      throw new RuntimeError(
        'NOT_SUPPORTED',
        systemdRunning()
          ? 'systemd cgroup driver is not supported by ocikit-runtime (use the cgroupfs driver)'
          : 'systemd cgroup flag passed, but systemd support for managing cgroups is not available',
      );
    }
    const root = flagString(global, 'root', defaultRoot);
    const cgroupRoot = flagString(global, 'cgroup-root');
    let runtime: ContainerRuntime | undefined;
    const context: CliContext = {
      root,
      log,
      output,
      systemdCgroup,
      rootless: flagString(global, 'rootless'),
      runtime: () => {
        // One container per process: blocking cgroupfs calls save a thread-pool round trip per file.
        runtime ??= new ContainerRuntime({
          root,
          cgroupRoot,
          cgroupFileSystem: syncCgroupFileSystem,
          ...runtimeOptions,
        });
        return runtime;
      },
    };
    return await command.run(context, args);
  } catch (error) {
    const message =
      error instanceof UsageError || isRuntimeError(error) || error instanceof Error
        ? error.message
        : String(error);
    // JSON records also carry the stable code, so a library caller running the CLI can rethrow it.
    const fields = isRuntimeError(error) ? { code: error.code, path: error.path } : undefined;
    reportError(output, log, message, fields);
    return 1;
  }
}
