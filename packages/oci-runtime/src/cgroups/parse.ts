/**
 * Pure parsers for the text formats of cgroupfs files (see the kernel's
 * Documentation/admin-guide/cgroup-v2.rst "Interface Files" and the v1 controller docs).
 */
import type { CgroupBlkioEntry } from './stats.js';

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** "flat keyed" files (`key value` per line: memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of lines(text)) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined) continue;
    const number = Number(value);
    if (Number.isFinite(number)) result[key] = number;
  }
  return result;
}

/** Space-separated numbers (cpuacct.usage_percpu). */
export function parseNumberList(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((field) => field !== '')
    .map(Number)
    .filter((value) => Number.isFinite(value));
}

/** `cgroup.procs` / `tasks`: one pid per line. */
export function parsePidList(text: string): number[] {
  return lines(text)
    .map((line) => Number.parseInt(line.trim(), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** cpuacct.usage_all: a `cpu user system` header, then one line per CPU (nanoseconds). */
export function parseCpuacctUsageAll(text: string): { user: number[]; kernel: number[] } {
  const user: number[] = [];
  const kernel: number[] = [];
  for (const line of lines(text).slice(1)) {
    const [, userTime, systemTime] = line.trim().split(/\s+/);
    user.push(Number(userTime ?? 0));
    kernel.push(Number(systemTime ?? 0));
  }
  return { user, kernel };
}

function parseDevice(field: string): { major: number; minor: number } | undefined {
  const match = /^(\d+):(\d+)$/.exec(field);
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/**
 * v1 blkio statistic files: `MAJ:MIN Op value` lines (or `MAJ:MIN value` for time/sectors), ending in a
 * `Total N` line that is skipped.
 */
export function parseBlkioStat(text: string): CgroupBlkioEntry[] {
  const entries: CgroupBlkioEntry[] = [];
  for (const line of lines(text)) {
    const fields = line.trim().split(/\s+/);
    const device = parseDevice(fields[0] ?? '');
    if (device === undefined) continue;
    if (fields.length === 3) {
      entries.push({ ...device, op: fields[1] ?? '', value: Number(fields[2]) });
    } else if (fields.length === 2) {
      entries.push({ ...device, op: '', value: Number(fields[1]) });
    }
  }
  return entries;
}

/** v2 io.stat (`MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. …`) as runc maps it: bytes and ios, Read/Write. */
export function parseIoStat(text: string): {
  serviceBytes: CgroupBlkioEntry[];
  serviced: CgroupBlkioEntry[];
} {
  const serviceBytes: CgroupBlkioEntry[] = [];
  const serviced: CgroupBlkioEntry[] = [];
  for (const line of lines(text)) {
    const [deviceField, ...pairs] = line.trim().split(/\s+/);
    const device = parseDevice(deviceField ?? '');
    if (device === undefined) continue;
    for (const pair of pairs) {
      const [key, raw] = pair.split('=');
      const value = Number(raw);
      if (!Number.isFinite(value)) continue;
      if (key === 'rbytes') serviceBytes.push({ ...device, op: 'Read', value });
      else if (key === 'wbytes') serviceBytes.push({ ...device, op: 'Write', value });
      else if (key === 'rios') serviced.push({ ...device, op: 'Read', value });
      else if (key === 'wios') serviced.push({ ...device, op: 'Write', value });
    }
  }
  return { serviceBytes, serviced };
}

/** One hierarchy line of /proc/<pid>/cgroup. */
export interface ProcCgroupEntry {
  hierarchyId: number;
  /** Controllers (`cpu`, `cpuacct`, `name=systemd`); empty for the v2 `0::` line. */
  controllers: string[];
  path: string;
}

/** /proc/<pid>/cgroup: `id:controller,list:path` per line. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of lines(text)) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    entries.push({
      hierarchyId: Number(line.slice(0, first)),
      controllers: list === '' ? [] : list.split(','),
      path: line.slice(second + 1),
    });
  }
  return entries;
}
