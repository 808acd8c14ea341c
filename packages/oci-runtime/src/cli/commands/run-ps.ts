import { execFile } from 'node:child_process';

/** Runs the host's `ps` with `args` and resolves its stdout; rejects when it cannot run or fails. */
export function runPs(args: readonly string[]): Promise<string> {
  return new Promise<string>((resolveText, reject) => {
    execFile('ps', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(error) : resolveText(stdout),
    );
  });
}
