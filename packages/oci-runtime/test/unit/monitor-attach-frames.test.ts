import { describe, expect, it } from 'vitest';
import { AttachFrameDecoder } from '../../src/monitor/attach.js';

function frame(id: number, text: string): Buffer {
  const data = Buffer.from(text);
  const header = Buffer.alloc(5);
  header[0] = id;
  header.writeUInt32BE(data.length, 1);
  return Buffer.concat([header, data]);
}

describe('AttachFrameDecoder', () => {
  it('decodes frames split at every byte boundary', () => {
    const wire = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops'), frame(1, '')]);
    const decoder = new AttachFrameDecoder();
    const frames = [];
    for (let index = 0; index < wire.length; index++)
      frames.push(...decoder.push(wire.subarray(index, index + 1)));
    expect(frames.map((item) => `${item.stream}:${item.data.toString()}`)).toEqual([
      'stdout:hello\n',
      'stderr:oops',
      'stdout:',
    ]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('keeps an incomplete frame for later', () => {
    const decoder = new AttachFrameDecoder();
    const wire = frame(2, 'abcdef');
    expect(decoder.push(wire.subarray(0, 7))).toEqual([]);
    expect(decoder.pendingBytes).toBe(7);
    expect(decoder.push(wire.subarray(7)).map((item) => item.data.toString())).toEqual(['abcdef']);
  });

  it('rejects an unknown stream id and an oversized frame with MONITOR_FAILED', () => {
    expect(() => new AttachFrameDecoder().push(frame(3, 'x'))).toThrow(
      expect.objectContaining({ code: 'MONITOR_FAILED' }),
    );
    const huge = Buffer.from([1, 0x7f, 0, 0, 0]);
    expect(() => new AttachFrameDecoder().push(huge)).toThrow(
      expect.objectContaining({ code: 'MONITOR_FAILED' }),
    );
  });
});
