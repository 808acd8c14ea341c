import { appendFileSync, writeSync } from 'node:fs';

/**
 * Output of the CLI. It writes to fds 1 and 2 with writeSync rather than through process.stdout:
 * creating Node's stdout stream on a pipe switches the pipe to non-blocking mode, and the container
 * inherits that same open file description.
 */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

function writeAll(fd: number, text: string): void {
  const buffer = Buffer.from(text);
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(fd, buffer, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return;
    }
  }
}

/** The process's real stdout/stderr. */
export const processOutput: CliOutput = {
  out: (text) => writeAll(1, text),
  err: (text) => writeAll(2, text),
};

/** Where and how log records go (runc's --log / --log-format / --debug). */
export interface LogSettings {
  file?: string | undefined;
  format: 'text' | 'json';
  debug: boolean;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/** Extra fields of a JSON log record (an error's stable `code` and `path`); text records leave them out. */
export interface LogFields {
  code?: string | undefined;
  path?: string | undefined;
}

/** One log record in logrus's text or JSON layout (`fields` only in JSON). */
export function formatLogRecord(
  level: string,
  message: string,
  format: 'text' | 'json',
  time = new Date(),
  fields?: LogFields,
): string {
  const stamp = time.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (format === 'json') return `${JSON.stringify({ level, msg: message, time: stamp, ...fields })}\n`;
  return `time=${quote(stamp)} level=${level} msg=${quote(message)}\n`;
}

/**
 * Reports a fatal error like runc: with --log, the record goes to the log file and the bare message to
 * stderr; without, the formatted record goes to stderr.
 */
export function reportError(output: CliOutput, log: LogSettings, message: string, fields?: LogFields): void {
  if (log.file !== undefined) {
    try {
      appendFileSync(log.file, formatLogRecord('error', message, log.format, undefined, fields));
    } catch {
      // the log file is best effort; stderr still gets the message
    }
    output.err(`${message}\n`);
    return;
  }
  output.err(formatLogRecord('error', message, log.format, undefined, fields));
}

/** Writes a warning record (to the log file or stderr). */
export function reportWarning(output: CliOutput, log: LogSettings, message: string): void {
  if (log.file !== undefined) {
    try {
      appendFileSync(log.file, formatLogRecord('warning', message, log.format));
    } catch {
      // best effort
    }
    return;
  }
  output.err(formatLogRecord('warning', message, log.format));
}

/**
 * Formats rows like Go's tabwriter with minwidth 12, tabwidth 1, padding 3 and spaces (runc list/ps):
 * each column is as wide as its widest cell plus 3, at least 12; the last column is not padded.
 */
export function tabulate(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      if (index < row.length - 1) widths[index] = Math.max(widths[index] ?? 0, cell.length + 3, 12);
    });
  }
  return rows
    .map((row) =>
      row.map((cell, index) => (index < row.length - 1 ? cell.padEnd(widths[index] ?? 0) : cell)).join(''),
    )
    .map((line) => `${line}\n`)
    .join('');
}
