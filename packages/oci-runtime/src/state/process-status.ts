import { readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says about a process. */
export interface ProcStat {
  /** The state letter (`R`, `S`, `Z`, …). */
  state: string;
  /** Field 22, start time in clock ticks after boot: with the pid it identifies the process. */
  startTime: string;
  ppid: number;
}

/** Reads /proc/<pid>/stat; undefined when there is no such process. Never throws. */
export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

/**
 * True when the process recorded as (`pid`, `startTime`) still runs: it exists, is not a zombie, and
 * has the same start time (so a reused pid does not count).
 */
export function isProcessAlive(pid: number, startTime: string): boolean {
  const stat = readProcStat(pid);
  if (stat === undefined) return false;
  if (stat.state === 'Z' || stat.state === 'X' || stat.state === 'x') return false;
  return startTime === '' || stat.startTime === startTime;
}
