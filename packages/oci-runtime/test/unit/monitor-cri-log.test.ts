import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { assembleCriLines, parseCriLog } from '../../src/monitor/cri-log.js';

describe('parseCriLog', () => {
  it('parses records with their stream, tag and content (spaces kept)', () => {
    const text =
      '2024-05-01T10:00:00.123456789Z stdout F hello  world \n' +
      '2024-05-01T10:00:00.2+02:00 stderr P part\n' +
      '2024-05-01T10:00:01Z stderr F \n';
    expect(parseCriLog(text)).toEqual([
      { timestamp: '2024-05-01T10:00:00.123456789Z', stream: 'stdout', tag: 'F', content: 'hello  world ' },
      { timestamp: '2024-05-01T10:00:00.2+02:00', stream: 'stderr', tag: 'P', content: 'part' },
      { timestamp: '2024-05-01T10:00:01Z', stream: 'stderr', tag: 'F', content: '' },
    ]);
  });

  it('ignores a last line that has no newline yet', () => {
    const text = '2024-05-01T10:00:00.1Z stdout F done\n2024-05-01T10:00:00.2Z stdout F hal';
    expect(parseCriLog(text).map((record) => record.content)).toEqual(['done']);
  });

  it('rejects a line that is not a record with INVALID_ARGUMENT naming the line', () => {
    const text = '2024-05-01T10:00:00.1Z stdout F ok\nnot a record\n';
    let caught: unknown;
    try {
      parseCriLog(text);
    } catch (error) {
      caught = error;
    }
    expect(isRuntimeError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toContain('line 2');
  });

  it('rejects an unknown stream or tag', () => {
    expect(() => parseCriLog('2024-05-01T10:00:00.1Z stdin F x\n')).toThrow(/line 1/);
    expect(() => parseCriLog('2024-05-01T10:00:00.1Z stdout X x\n')).toThrow(/line 1/);
  });
});

describe('assembleCriLines', () => {
  it('joins partial records per stream even when streams interleave', () => {
    const records = parseCriLog(
      [
        '2024-05-01T10:00:00.1Z stdout P ab',
        '2024-05-01T10:00:00.2Z stderr F oops',
        '2024-05-01T10:00:00.3Z stdout P cd',
        '2024-05-01T10:00:00.4Z stdout F ef',
        '2024-05-01T10:00:00.5Z stderr P tail',
        '',
      ].join('\n'),
    );
    expect(assembleCriLines(records)).toEqual([
      { timestamp: '2024-05-01T10:00:00.2Z', stream: 'stderr', text: 'oops', complete: true },
      { timestamp: '2024-05-01T10:00:00.4Z', stream: 'stdout', text: 'abcdef', complete: true },
      { timestamp: '2024-05-01T10:00:00.5Z', stream: 'stderr', text: 'tail', complete: false },
    ]);
  });
});
