/**
 * Builds cgroupfs-like fixture trees in a temp directory for the cgroup unit tests: the control files a
 * real kernel would show, with realistic contents, plus a fake /proc/self/{mountinfo,cgroup}.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A fixture: `root` is the cgroupfs root, `proc` the fake /proc; `remove()` deletes both. */
export interface CgroupFixture {
  base: string;
  root: string;
  proc: string;
  read(path: string): Promise<string>;
  write(path: string, content: string): Promise<void>;
  remove(): Promise<void>;
}

/** Creates `files` (path relative to root → content; a trailing `/` makes an empty directory). */
export async function makeFixture(
  files: Record<string, string>,
  procFiles: Record<string, string> = {},
): Promise<CgroupFixture> {
  const base = await mkdtemp(join(tmpdir(), 'ocikit-cgroup-fixture-'));
  const root = join(base, 'cgroup');
  const proc = join(base, 'proc');
  await mkdir(root, { recursive: true });
  await mkdir(join(proc, 'self'), { recursive: true });
  const put = async (path: string, content: string): Promise<void> => {
    if (path.endsWith('/')) {
      await mkdir(path, { recursive: true });
      return;
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  };
  for (const [path, content] of Object.entries(files)) await put(join(root, path), content);
  for (const [path, content] of Object.entries(procFiles))
    await put(join(proc, path), content.replaceAll('@ROOT@', root));
  return {
    base,
    root,
    proc,
    read: (path: string) => readFile(join(root, path), 'utf8'),
    write: (path: string, content: string) => writeFile(join(root, path), content),
    remove: () => rm(base, { recursive: true, force: true }),
  };
}

/** The files of one v1 cgroup directory per controller, as a 6.x kernel shows them. */
export function v1ControllerFiles(controller: string, directory: string): Record<string, string> {
  const files: Record<string, Record<string, string>> = {
    cpu: {
      'cpu.shares': '1024\n',
      'cpu.cfs_period_us': '100000\n',
      'cpu.cfs_quota_us': '-1\n',
      'cpu.cfs_burst_us': '0\n',
      'cpu.idle': '0\n',
      'cpu.rt_period_us': '1000000\n',
      'cpu.rt_runtime_us': '0\n',
      'cpu.stat': 'nr_periods 12\nnr_throttled 3\nthrottled_time 4500000\nnr_bursts 0\nburst_time 0\n',
    },
    cpuacct: {
      'cpuacct.usage': '123456789\n',
      'cpuacct.usage_percpu': '100000000 23456789 \n',
      'cpuacct.usage_all': 'cpu user system\n0 90000000 10000000\n1 20000000 3456789\n',
      'cpuacct.stat': 'user 11\nsystem 2\n',
    },
    cpuset: { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' },
    memory: {
      'memory.limit_in_bytes': '9223372036854771712\n',
      'memory.memsw.limit_in_bytes': '9223372036854771712\n',
      'memory.soft_limit_in_bytes': '9223372036854771712\n',
      'memory.kmem.tcp.limit_in_bytes': '9223372036854771712\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
      'memory.swappiness': '60\n',
      'memory.use_hierarchy': '1\n',
      'memory.usage_in_bytes': '4194304\n',
      'memory.max_usage_in_bytes': '8388608\n',
      'memory.failcnt': '2\n',
      'memory.memsw.usage_in_bytes': '4202496\n',
      'memory.memsw.max_usage_in_bytes': '8396800\n',
      'memory.memsw.failcnt': '0\n',
      'memory.kmem.usage_in_bytes': '65536\n',
      'memory.kmem.max_usage_in_bytes': '131072\n',
      'memory.kmem.limit_in_bytes': '9223372036854771712\n',
      'memory.kmem.failcnt': '0\n',
      'memory.kmem.tcp.usage_in_bytes': '0\n',
      'memory.kmem.tcp.max_usage_in_bytes': '0\n',
      'memory.kmem.tcp.failcnt': '0\n',
      'memory.stat':
        'cache 1048576\nrss 2097152\nrss_huge 0\nshmem 0\nmapped_file 4096\nswap 8192\npgfault 1234\ntotal_cache 1048576\ntotal_rss 2097152\n',
    },
    devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
    freezer: {
      'freezer.state': 'THAWED\n',
      'freezer.self_freezing': '0\n',
      'freezer.parent_freezing': '0\n',
    },
    blkio: {
      'blkio.bfq.weight': 'default 100\n',
      'blkio.bfq.weight_device': '',
      'blkio.throttle.read_bps_device': '',
      'blkio.throttle.write_bps_device': '',
      'blkio.throttle.read_iops_device': '',
      'blkio.throttle.write_iops_device': '',
      'blkio.bfq.io_service_bytes_recursive': '',
      'blkio.bfq.io_serviced_recursive': '',
      'blkio.throttle.io_service_bytes_recursive':
        '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n',
      'blkio.throttle.io_serviced_recursive':
        '8:0 Read 1\n8:0 Write 2\n8:0 Sync 3\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3\nTotal 3\n',
    },
    pids: { 'pids.max': 'max\n', 'pids.current': '3\n' },
    systemd: {},
  };
  const result: Record<string, string> = {
    [`${controller}/${directory}/cgroup.procs`]: '',
    [`${controller}/${directory}/tasks`]: '',
  };
  for (const [name, content] of Object.entries(files[controller] ?? {})) {
    result[`${controller}/${directory}/${name}`] = content;
  }
  return result;
}

/** The v1 controllers (one mount each, as on the test machine) and a named systemd hierarchy. */
export const V1_MOUNTS = [
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'blkio',
  'pids',
  'systemd',
];

/** A mountinfo text for `V1_MOUNTS` under `@ROOT@` (replaced by the fixture root), plus a cgroup2 at unified/. */
export function v1Mountinfo(): string {
  const lines = ['30 22 0:27 / @ROOT@ rw,relatime - tmpfs tmpfs rw,mode=755'];
  V1_MOUNTS.forEach((name, index) => {
    const option = name === 'systemd' ? 'name=systemd' : name;
    lines.push(`${31 + index} 30 0:${28 + index} / @ROOT@/${name} rw,relatime - cgroup cgroup rw,${option}`);
  });
  lines.push('40 30 0:37 / @ROOT@/unified rw,relatime - cgroup2 cgroup2 rw');
  lines.push('41 22 0:5 / /dev rw - devtmpfs udev rw');
  return `${lines.join('\n')}\n`;
}
