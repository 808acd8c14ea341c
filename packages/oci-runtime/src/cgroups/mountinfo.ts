/**
 * Finding cgroup hierarchies: /proc/self/mountinfo parsing (pure) and the v1 hierarchy list for a
 * cgroupfs root.
 */

/** The v1 controllers the kernel knows (named hierarchies appear as `name=<x>`). */
export const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'cpuset',
  'cpu',
  'cpuacct',
  'blkio',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'perf_event',
  'net_prio',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

/** One mount of a cgroup file system. */
export interface CgroupMount {
  /** Where it is mounted. */
  mountpoint: string;
  /** The cgroup (inside the hierarchy) that appears at the mountpoint; `/` unless in a cgroup namespace or bind mount. */
  root: string;
  fstype: 'cgroup' | 'cgroup2';
  /** v1: the controllers and `name=` of the hierarchy; v2: empty. */
  controllers: string[];
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Parses /proc/<pid>/mountinfo and returns its cgroup and cgroup2 mounts, in file order. */
export function parseCgroupMounts(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (separator < 6) continue;
    const fstype = fields[separator + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const superOptions = (fields[separator + 3] ?? '').split(',');
    mounts.push({
      mountpoint: unescapeMountField(fields[4] ?? ''),
      root: unescapeMountField(fields[3] ?? '/'),
      fstype,
      controllers:
        fstype === 'cgroup'
          ? superOptions.filter((option) => V1_CONTROLLERS.has(option) || option.startsWith('name='))
          : [],
    });
  }
  return mounts;
}

/** True when `path` is `base` or inside it (both absolute, normalised). */
export function isWithin(path: string, base: string): boolean {
  if (base === '/') return path.startsWith('/');
  return path === base || path.startsWith(`${base}/`);
}
