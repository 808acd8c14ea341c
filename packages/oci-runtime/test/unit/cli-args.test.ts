import { describe, expect, it } from 'vitest';
import {
  flagBool,
  flagInt,
  flagList,
  flagString,
  parseArgs,
  parseDuration,
  parseSize,
  UsageError,
} from '../../src/cli/args.js';
import { runCli } from '../../src/cli/main.js';
import { formatLogRecord, tabulate } from '../../src/cli/output.js';

const specs = [
  { name: 'bundle', aliases: ['b'], kind: 'string', usage: '' },
  { name: 'detach', aliases: ['d'], kind: 'bool', usage: '' },
  { name: 'env', aliases: ['e'], kind: 'list', usage: '' },
  { name: 'preserve-fds', kind: 'string', usage: '' },
] as const;

describe('parseArgs', () => {
  it('takes long, short and = forms and stops at the first positional', () => {
    const args = parseArgs(
      ['-b', '/x', '--detach', '--env=A=1', '-e', 'B=2', 'id', '--not-a-flag', '-d'],
      specs,
    );
    expect(flagString(args, 'bundle')).toBe('/x');
    expect(flagBool(args, 'detach')).toBe(true);
    expect(flagList(args, 'env')).toEqual(['A=1', 'B=2']);
    expect(args.positionals).toEqual(['id', '--not-a-flag', '-d']);
  });

  it('reads --flag=false for booleans and -- as the end of flags', () => {
    const args = parseArgs(['--detach=false', '--', '-b'], specs);
    expect(flagBool(args, 'detach')).toBe(false);
    expect(args.positionals).toEqual(['-b']);
  });

  it('rejects unknown flags, missing values and bad numbers', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(
      new UsageError('flag provided but not defined: -nope'),
    );
    expect(() => parseArgs(['--bundle'], specs)).toThrow(UsageError);
    expect(() => parseArgs(['--detach=maybe'], specs)).toThrow(UsageError);
    expect(() => flagInt(parseArgs(['--preserve-fds', 'x'], specs), 'preserve-fds', 0)).toThrow(UsageError);
    expect(flagInt(parseArgs(['--preserve-fds', '2'], specs), 'preserve-fds', 0)).toBe(2);
  });

  it('parses Go durations and docker sizes', () => {
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5')).toThrow(UsageError);
    expect(() => parseDuration('5sx')).toThrow(UsageError);
    expect(parseSize('512')).toBe(512);
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('32M')).toBe(32 * 1024 * 1024);
    expect(parseSize('1GB')).toBe(1024 ** 3);
    expect(parseSize('-1')).toBe(-1);
    expect(() => parseSize('lots')).toThrow(UsageError);
  });
});

describe('CLI output', () => {
  it('formats log records like logrus', () => {
    const time = new Date('2024-01-02T03:04:05.678Z');
    expect(formatLogRecord('error', 'container "x" does not exist', 'text', time)).toBe(
      'time="2024-01-02T03:04:05Z" level=error msg="container \\"x\\" does not exist"\n',
    );
    expect(JSON.parse(formatLogRecord('error', 'boom', 'json', time))).toEqual({
      level: 'error',
      msg: 'boom',
      time: '2024-01-02T03:04:05Z',
    });
  });

  it('pads table columns like tabwriter (min 12, padding 3)', () => {
    expect(
      tabulate([
        ['ID', 'PID', 'STATUS'],
        ['a-very-long-id', '1', 'running'],
      ]),
    ).toBe('ID               PID         STATUS\na-very-long-id   1           running\n');
  });

  it('runs --version, help and reports unknown commands', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const output = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    expect(await runCli(['--version'], output)).toBe(0);
    expect(out.join('').split('\n')).toEqual([
      'ocikit-runtime version 0.1.0',
      'commit: unknown',
      'spec: 1.2.0',
      '',
    ]);
    expect(await runCli(['--help'], output)).toBe(0);
    expect(out.at(-1)).toContain('COMMANDS:');
    expect(await runCli(['state', '--help'], output)).toBe(0);
    expect(out.at(-1)).toContain('ocikit-runtime state');
    expect(await runCli(['frobnicate'], output)).toBe(1);
    expect(err.at(-1)).toMatch(/level=error msg="No help topic for 'frobnicate'"/);
    expect(await runCli(['--log-format', 'xml', 'list'], output)).toBe(1);
    expect(await runCli(['kill'], output)).toBe(1);
    expect(err.at(-1)).toContain('requires a minimum of 1 argument');
  });

  it('refuses checkpoint and the systemd cgroup driver with a clear message', async () => {
    const err: string[] = [];
    const output = { out: () => undefined, err: (t: string) => err.push(t) };
    expect(await runCli(['checkpoint', 'x'], output)).toBe(1);
    expect(err.at(-1)).toContain('checkpoint is not supported');
    expect(await runCli(['--systemd-cgroup', 'state', 'x'], output)).toBe(1);
    expect(err.at(-1)).toContain('systemd');
  });
});
