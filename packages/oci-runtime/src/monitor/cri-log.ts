import { RuntimeError } from '../errors.js';

/** One record of a Kubernetes CRI container log: `<timestamp> <stream> <F|P> <content>`. */
export interface CriLogRecord {
  /** RFC 3339 with fractional seconds, as written (not re-formatted). */
  timestamp: string;
  stream: 'stdout' | 'stderr';
  /** `F`: the record ends a line; `P`: the line continues in the next record of the same stream. */
  tag: 'F' | 'P';
  content: string;
}

/** A whole line put back together from {@link CriLogRecord}s. */
export interface CriLogLine {
  /** The timestamp of the line's last record. */
  timestamp: string;
  stream: 'stdout' | 'stderr';
  text: string;
  /** False when the log ended while the line was still partial (the stream stopped without a newline). */
  complete: boolean;
}

const recordPattern =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$/s;

/**
 * Parses CRI log text into records. Pure. A final line without a newline is ignored (a writer may be in
 * the middle of it). Throws {@link RuntimeError} `INVALID_ARGUMENT` naming the line number of a record
 * that does not have the CRI shape.
 */
export function parseCriLog(text: string): CriLogRecord[] {
  const records: CriLogRecord[] = [];
  let start = 0;
  let lineNumber = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    if (end < 0) break;
    lineNumber++;
    const line = text.slice(start, end);
    start = end + 1;
    const match = recordPattern.exec(line);
    if (match === null) {
      throw new RuntimeError('INVALID_ARGUMENT', `parse cri log: line ${lineNumber} is not a cri record`);
    }
    records.push({
      timestamp: match[1]!,
      stream: match[2] as 'stdout' | 'stderr',
      tag: match[3] as 'F' | 'P',
      content: match[4]!,
    });
  }
  return records;
}

/**
 * Joins partial records into lines, per stream (records of stdout and stderr may interleave). Pure.
 * Lines come out in the order their last record appears; a line still partial at the end comes last
 * with `complete: false`.
 */
export function assembleCriLines(records: readonly CriLogRecord[]): CriLogLine[] {
  const lines: CriLogLine[] = [];
  const pending: Record<'stdout' | 'stderr', string[]> = { stdout: [], stderr: [] };
  const lastTimestamp: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  for (const record of records) {
    pending[record.stream].push(record.content);
    lastTimestamp[record.stream] = record.timestamp;
    if (record.tag === 'F') {
      lines.push({
        timestamp: record.timestamp,
        stream: record.stream,
        text: pending[record.stream].join(''),
        complete: true,
      });
      pending[record.stream] = [];
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    if (pending[stream].length > 0) {
      lines.push({
        timestamp: lastTimestamp[stream],
        stream,
        text: pending[stream].join(''),
        complete: false,
      });
    }
  }
  return lines;
}
