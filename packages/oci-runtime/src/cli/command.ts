import type { ContainerRuntime } from '../container/runtime.js';
import type { FlagSpec, ParsedArgs } from './args.js';
import type { CliOutput, LogSettings } from './output.js';

/** What every subcommand gets: global settings, output, and the runtime (made on first use). */
export interface CliContext {
  root: string;
  log: LogSettings;
  output: CliOutput;
  systemdCgroup: boolean;
  rootless: string | undefined;
  runtime(): ContainerRuntime;
}

/** One subcommand: its flags, usage text and handler, which returns the exit code. */
export interface Command {
  name: string;
  /** `<container-id> [command options]` … */
  usage: string;
  description: string;
  flags: readonly FlagSpec[];
  /** Parse flags only up to the first positional (urfave/cli); default true. */
  stopAtPositional?: boolean;
  run(context: CliContext, args: ParsedArgs): Promise<number>;
}
