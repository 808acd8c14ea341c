import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { formatLogRecord } from '../../src/cli/output.js';
import { RuntimeError } from '../../src/errors.js';

describe('JSON log records carry the error code', () => {
  it('adds code and path to JSON records only', () => {
    const time = new Date('2024-01-02T03:04:05.678Z');
    const fields = { code: 'CONTAINER_NOT_FOUND', path: 'x' };
    expect(JSON.parse(formatLogRecord('error', 'gone', 'json', time, fields))).toEqual({
      level: 'error',
      msg: 'gone',
      time: '2024-01-02T03:04:05Z',
      code: 'CONTAINER_NOT_FOUND',
      path: 'x',
    });
    expect(formatLogRecord('error', 'gone', 'text', time, fields)).toBe(
      'time="2024-01-02T03:04:05Z" level=error msg="gone"\n',
    );
  });

  it('lets a caller of the CLI recover the RuntimeError code from stderr', async () => {
    let stderr = '';
    const code = await runCli(
      ['--root', '/nonexistent-ocikit-root', '--log-format', 'json', 'state', 'abc'],
      {
        out: () => undefined,
        err: (text) => {
          stderr += text;
        },
      },
    );
    expect(code).toBe(1);
    const record = JSON.parse(stderr) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 'error', code: 'CONTAINER_NOT_FOUND', path: 'abc' });
    expect(new RuntimeError('CONTAINER_NOT_FOUND', 'x').code).toBe(record.code);
  });
});
