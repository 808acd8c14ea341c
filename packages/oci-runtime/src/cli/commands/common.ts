import { UsageError } from '../args.js';

/** The container ID positional; throws a usage error naming the command when it is missing. */
export function requireId(command: string, positionals: readonly string[], max = 1): string {
  const id = positionals[0];
  if (id === undefined || id === '') {
    throw new UsageError(`"${command}" requires a minimum of 1 argument`);
  }
  if (positionals.length > max) {
    throw new UsageError(`"${command}" requires a maximum of ${max} argument${max === 1 ? '' : 's'}`);
  }
  return id;
}

/** The exit code of a process: its status, or 128 + the signal that killed it (as a shell reports it). */
export function exitCodeOf(exit: { exitCode: number | null; signal: number | null }): number {
  if (exit.exitCode !== null) return exit.exitCode;
  return 128 + (exit.signal ?? 0);
}
