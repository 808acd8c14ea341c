import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adoptMonitorArguments, defaultMonitorBinary, monitorArguments } from '../../src/monitor/monitor.js';

describe('monitorArguments', () => {
  it('maps every option to the monitor flags, the command last after --', () => {
    expect(
      monitorArguments(
        {
          command: ['runc', 'create', 'id'],
          exitFile: '/run/x/exit',
          pidFile: '/run/x/pid',
          logPath: '/var/log/x.log',
          logFormat: 'cri',
          logMaxLine: 4096,
          timeoutCreate: 1.5,
          drainTimeout: 0,
          preserveFds: [7, 8],
          foreground: true,
        },
        5,
      ),
    ).toEqual([
      '--exit-file',
      '/run/x/exit',
      '--pid-file',
      '/run/x/pid',
      '--log',
      '/var/log/x.log',
      '--log-format',
      'cri',
      '--log-max-line',
      '4096',
      '--timeout-create',
      '1.5',
      '--drain-timeout',
      '0',
      '--preserve-fds',
      '2',
      '--sync-fd',
      '5',
      '--foreground',
      '--',
      'runc',
      'create',
      'id',
    ]);
  });

  it('maps the attach socket and the two stdin modes', () => {
    const base = { command: ['x'], exitFile: 'e', pidFile: 'p', attachSocket: '/run/a.sock' };
    expect(monitorArguments({ ...base, stdin: true }, 3)).toEqual([
      '--exit-file',
      'e',
      '--pid-file',
      'p',
      '--sync-fd',
      '3',
      '--attach-socket',
      '/run/a.sock',
      '--stdin',
      '--',
      'x',
    ]);
    expect(monitorArguments({ ...base, stdin: true, stdinOnce: true }, 3)).toContain('--stdin-once');
    expect(monitorArguments({ ...base, stdin: true, stdinOnce: true }, 3)).not.toContain('--stdin');
  });

  it('leaves out what was not asked for', () => {
    expect(monitorArguments({ command: ['true'], exitFile: 'e', pidFile: 'p' }, 3)).toEqual([
      '--exit-file',
      'e',
      '--pid-file',
      'p',
      '--sync-fd',
      '3',
      '--',
      'true',
    ]);
  });

  it('rejects an empty command and bad numbers with INVALID_ARGUMENT', () => {
    expect(() => monitorArguments({ command: [], exitFile: 'e', pidFile: 'p' }, 3)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() =>
      monitorArguments({ command: ['x'], exitFile: 'e', pidFile: 'p', timeoutCreate: -1 }, 3),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() =>
      monitorArguments({ command: ['x'], exitFile: 'e', pidFile: 'p', logMaxLine: 10 }, 3),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('defaultMonitorBinary', () => {
  it('points into the package build directory', () => {
    const packageRoot = path.resolve(import.meta.dirname, '../..');
    expect(defaultMonitorBinary()).toBe(path.join(packageRoot, 'build', 'Release', 'ocikit-monitor'));
  });
});

describe('adoptMonitorArguments', () => {
  it('maps the output and attach options, without command, pid file or create timeout', () => {
    expect(
      adoptMonitorArguments({
        exitFile: '/run/x/exit',
        logPath: '/var/log/x.log',
        logFormat: 'cri',
        logMaxLine: 4096,
        drainTimeout: 1,
        attachSocket: '/run/x/attach',
        stdinOnce: true,
      }),
    ).toEqual([
      '--exit-file',
      '/run/x/exit',
      '--log',
      '/var/log/x.log',
      '--log-format',
      'cri',
      '--log-max-line',
      '4096',
      '--drain-timeout',
      '1',
      '--attach-socket',
      '/run/x/attach',
      '--stdin-once',
    ]);
    expect(adoptMonitorArguments({ exitFile: '/e' })).toEqual(['--exit-file', '/e']);
    expect(() => adoptMonitorArguments({ exitFile: '/e', logMaxLine: 10 })).toThrow(/logMaxLine/);
  });
});
