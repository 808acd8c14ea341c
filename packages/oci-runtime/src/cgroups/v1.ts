/**
 * The cgroup v1 provider: one directory per mounted hierarchy (cpu and cpuacct may be separate mounts
 * or one, `name=systemd` is joined too). Write order and edge cases follow runc's libcontainer/cgroups/fs.
 */
import { posix } from 'node:path';
import { RuntimeError } from '../errors.js';
import {
  cgroupFailed,
  collectPids,
  makeDirectories,
  readOptional,
  readText,
  removeTree,
  signalPids,
  sleep,
  writeValue,
} from './cgroup-files.js';
import { assertHugepageSize, pidsMaxValue, rdmaMaxValue } from './conversions.js';
import { DeviceEmulator, deviceRuleLine } from './devices-emulator.js';
import type { CgroupFileSystem } from './file-system.js';
import type {
  CgroupManager,
  CgroupWaitOptions,
  FreezerState,
  OomEvent,
  OomEventsOptions,
} from './manager.js';
import { type CgroupMount, isWithin, parseCgroupMounts, V1_CONTROLLERS } from './mountinfo.js';
import { pollOomKills } from './oom-events.js';
import {
  parseBlkioStat,
  parseCpuacctUsageAll,
  parseFlatKeyed,
  parseNumberList,
  parseProcCgroup,
} from './parse.js';
import { cgroupDirectory, checkCgroupsPath, resolveCgroupsPath } from './paths.js';
import type { CgroupBlockIo, CgroupCpu, CgroupMemory, CgroupResources } from './resources.js';
import {
  type CgroupBlkioEntry,
  type CgroupMemoryEntry,
  type CgroupStats,
  emptyCgroupStats,
} from './stats.js';

/** One v1 hierarchy and this cgroup's directory in it. */
export interface V1Hierarchy {
  /** The controllers bound to it (`cpu`, `cpuacct`; `name=systemd` for a named one). */
  controllers: readonly string[];
  mountpoint: string;
  mountRoot: string;
  /** This cgroup's absolute directory inside the hierarchy. */
  directory: string;
}

/** Construction options of {@link V1CgroupManager} (already resolved by `createCgroupManager`). */
export interface V1CgroupManagerInit {
  path: string;
  root: string;
  procRoot: string;
  fileSystem: CgroupFileSystem;
}

// USER_HZ: cpuacct.stat counts in clock ticks, which are 100 per second on every Linux ABI.
const NANOSECONDS_PER_TICK = 10_000_000;

/**
 * Finds the v1 hierarchies under `root`: the `cgroup` mounts of mountinfo whose mountpoint lies under
 * it, or, when there are none (a fixture tree), its sub-directories named after controllers
 * (`cpu`, `cpu,cpuacct`, `systemd` for `name=systemd`; symlinks are aliases and skipped).
 */
export async function discoverV1Mounts(
  fileSystem: CgroupFileSystem,
  root: string,
  procRoot: string,
): Promise<CgroupMount[]> {
  const mountinfo = await readOptional(fileSystem, posix.join(procRoot, 'self/mountinfo'));
  const seen = new Set<string>();
  const mounts: CgroupMount[] = [];
  for (const mount of parseCgroupMounts(mountinfo ?? '')) {
    if (mount.fstype !== 'cgroup' || mount.controllers.length === 0) continue;
    if (!isWithin(mount.mountpoint, root) || mount.mountpoint === root) continue;
    const id = [...mount.controllers].sort().join(',');
    if (seen.has(id)) continue;
    seen.add(id);
    mounts.push(mount);
  }
  if (mounts.length > 0) return mounts;
  let entries: { name: string; isDirectory: boolean }[];
  try {
    entries = await fileSystem.readdir(root);
  } catch (error) {
    throw cgroupFailed(`list cgroup root ${root}`, root, error);
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!entry.isDirectory) continue;
    const parts = entry.name.split(',');
    const controllers = parts.every((part) => V1_CONTROLLERS.has(part))
      ? parts
      : entry.name === 'systemd'
        ? ['name=systemd']
        : [];
    if (controllers.length === 0) continue;
    mounts.push({ mountpoint: posix.join(root, entry.name), root: '/', fstype: 'cgroup', controllers });
  }
  return mounts;
}

/** The cgroup v1 {@link CgroupManager}. Construction does no I/O. */
export class V1CgroupManager implements CgroupManager {
  readonly version = 1 as const;
  readonly path: string;
  readonly #root: string;
  readonly #procRoot: string;
  readonly #fs: CgroupFileSystem;
  readonly #notes: string[] = [];
  #layout: Promise<V1Hierarchy[]> | undefined;

  constructor(init: V1CgroupManagerInit) {
    checkCgroupsPath(init.path);
    this.path = init.path;
    this.#root = init.root;
    this.#procRoot = init.procRoot;
    this.#fs = init.fileSystem;
  }

  get notes(): readonly string[] {
    return this.#notes;
  }

  /** The hierarchies found and this cgroup's directory in each (resolved once, on first use). */
  hierarchies(): Promise<V1Hierarchy[]> {
    this.#layout ??= this.#resolve();
    return this.#layout;
  }

  async #resolve(): Promise<V1Hierarchy[]> {
    const mounts = await discoverV1Mounts(this.#fs, this.#root, this.#procRoot);
    if (mounts.length === 0) {
      throw new RuntimeError('CGROUP_UNSUPPORTED', `no cgroup v1 hierarchy is mounted under ${this.#root}`, {
        path: this.#root,
      });
    }
    const own = this.path.startsWith('/')
      ? []
      : parseProcCgroup(await readText(this.#fs, posix.join(this.#procRoot, 'self/cgroup')));
    return mounts.map((mount) => {
      const caller = own.find((entry) => entry.controllers.some((name) => mount.controllers.includes(name)));
      const cgroup = resolveCgroupsPath(this.path, caller?.path ?? '/');
      if (cgroup === '/' || cgroup === mount.root) {
        throw new RuntimeError('INVALID_ARGUMENT', `cgroups path "${this.path}" names the hierarchy root`, {
          path: 'linux.cgroupsPath',
        });
      }
      return {
        controllers: mount.controllers,
        mountpoint: mount.mountpoint,
        mountRoot: mount.root,
        directory: cgroupDirectory(mount.mountpoint, mount.root, cgroup),
      };
    });
  }

  async directories(): Promise<ReadonlyMap<string, string>> {
    const map = new Map<string, string>();
    for (const hierarchy of await this.hierarchies()) {
      for (const controller of hierarchy.controllers) map.set(controller, hierarchy.directory);
    }
    return map;
  }

  async #directory(controller: string): Promise<string | undefined> {
    return (await this.hierarchies()).find((hierarchy) => hierarchy.controllers.includes(controller))
      ?.directory;
  }

  async #require(controller: string, setting: string): Promise<string> {
    const directory = await this.#directory(controller);
    if (directory === undefined) {
      throw new RuntimeError(
        'CGROUP_UNSUPPORTED',
        `set ${setting}: the ${controller} controller is not mounted under ${this.#root}`,
        { path: `linux.resources.${setting}` },
      );
    }
    return directory;
  }

  async create(): Promise<void> {
    for (const hierarchy of await this.hierarchies()) {
      await makeDirectories(this.#fs, hierarchy.mountpoint, hierarchy.directory);
      if (!hierarchy.controllers.includes('cpuset')) continue;
      // A new cpuset cgroup starts with empty cpus/mems and refuses tasks until they are filled in:
      // copy them down level by level from the first ancestor that has them.
      const levels = posix.relative(hierarchy.mountpoint, hierarchy.directory).split('/');
      let current = hierarchy.mountpoint;
      for (const level of levels) {
        const parent = current;
        current = posix.join(current, level);
        await this.#copyCpuset(current, parent);
      }
    }
  }

  async #copyCpuset(path: string, parent: string): Promise<void> {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const current = (await readOptional(this.#fs, posix.join(path, file)))?.trim();
      if (current === undefined || current !== '') continue;
      const inherited = (await readText(this.#fs, posix.join(parent, file))).trim();
      if (inherited !== '') await writeValue(this.#fs, posix.join(path, file), inherited);
    }
  }

  async addProcess(pid: number): Promise<void> {
    if (!Number.isInteger(pid) || pid <= 0) {
      throw new RuntimeError('INVALID_ARGUMENT', `add process: invalid pid ${pid}`);
    }
    for (const hierarchy of await this.hierarchies()) {
      await writeValue(this.#fs, posix.join(hierarchy.directory, 'cgroup.procs'), String(pid));
    }
  }

  async set(resources: CgroupResources): Promise<void> {
    if (resources.unified !== undefined && Object.keys(resources.unified).length > 0) {
      throw new RuntimeError(
        'CGROUP_UNSUPPORTED',
        'set unified: cgroup v2 files cannot be set on cgroup v1',
        {
          path: 'linux.resources.unified',
        },
      );
    }
    const cpu = resources.cpu;
    if (cpu?.cpus || cpu?.mems) {
      const directory = await this.#require('cpuset', 'cpu.cpus');
      if (cpu.cpus) await writeValue(this.#fs, posix.join(directory, 'cpuset.cpus'), cpu.cpus);
      if (cpu.mems) await writeValue(this.#fs, posix.join(directory, 'cpuset.mems'), cpu.mems);
    }
    if (resources.devices !== undefined) await this.#setDevices(resources.devices);
    if (resources.memory !== undefined) await this.#setMemory(resources.memory);
    if (cpu !== undefined) await this.#setCpu(cpu);
    if (resources.pids?.limit !== undefined) {
      const directory = await this.#require('pids', 'pids');
      await writeValue(this.#fs, posix.join(directory, 'pids.max'), pidsMaxValue(resources.pids.limit));
    }
    if (resources.blockIO !== undefined) await this.#setBlockIo(resources.blockIO);
    for (const hugepage of resources.hugepageLimits ?? []) {
      assertHugepageSize(hugepage.pageSize);
      const directory = await this.#require('hugetlb', 'hugepageLimits');
      const value = String(hugepage.limit);
      await writeValue(this.#fs, posix.join(directory, `hugetlb.${hugepage.pageSize}.limit_in_bytes`), value);
      const reserved = posix.join(directory, `hugetlb.${hugepage.pageSize}.rsvd.limit_in_bytes`);
      if (await this.#fs.exists(reserved)) await writeValue(this.#fs, reserved, value);
    }
    const network = resources.network;
    if (network?.classID !== undefined) {
      const directory = await this.#require('net_cls', 'network.classID');
      await writeValue(this.#fs, posix.join(directory, 'net_cls.classid'), String(network.classID));
    }
    for (const priority of network?.priorities ?? []) {
      const directory = await this.#require('net_prio', 'network.priorities');
      await writeValue(
        this.#fs,
        posix.join(directory, 'net_prio.ifpriomap'),
        `${priority.name} ${priority.priority}`,
      );
    }
    for (const [device, limits] of Object.entries(resources.rdma ?? {})) {
      const line = rdmaMaxValue(device, limits);
      if (line === undefined) continue;
      const directory = await this.#require('rdma', 'rdma');
      await writeValue(this.#fs, posix.join(directory, 'rdma.max'), line);
    }
  }

  async #setDevices(rules: NonNullable<CgroupResources['devices']>): Promise<void> {
    const target = DeviceEmulator.fromRules(rules);
    const directory = await this.#require('devices', 'devices');
    const list = await readOptional(this.#fs, posix.join(directory, 'devices.list'));
    // Without a readable list, assume the worst (allow-all) so the transition starts with a reset.
    const current = list === undefined ? new DeviceEmulator(true) : DeviceEmulator.fromList(list);
    for (const rule of current.transitionTo(target)) {
      const file = rule.allow ? 'devices.allow' : 'devices.deny';
      await writeValue(this.#fs, posix.join(directory, file), deviceRuleLine(rule));
    }
  }

  async #setMemory(memory: CgroupMemory): Promise<void> {
    const fields = Object.entries(memory).filter(([, value]) => value !== undefined);
    if (fields.length === 0) return;
    const directory = await this.#require('memory', 'memory');
    const file = (name: string): string => posix.join(directory, name);
    const limit = memory.limit ?? 0;
    let swap = memory.swap ?? 0;
    if (memory.checkBeforeUpdate === true && limit > 0) {
      const usage = Number((await readText(this.#fs, file('memory.usage_in_bytes'))).trim());
      if (limit < usage) {
        throw new RuntimeError(
          'CGROUP_FAILED',
          `set memory.limit: rejecting ${limit}, below the current usage ${usage} (checkBeforeUpdate)`,
          { path: file('memory.limit_in_bytes') },
        );
      }
    }
    // Unlimited memory without an explicit swap means unlimited memory+swap too (if swap is accounted).
    if (limit === -1 && swap === 0 && (await this.#fs.exists(file('memory.memsw.limit_in_bytes')))) swap = -1;
    const setLimit = async (): Promise<void> => {
      if (limit === 0) return;
      try {
        await writeValue(this.#fs, file('memory.limit_in_bytes'), String(limit));
      } catch (error) {
        if ((error as RuntimeError).errno === 'EBUSY') {
          const usage = (await readOptional(this.#fs, file('memory.usage_in_bytes')))?.trim();
          throw new RuntimeError(
            'CGROUP_FAILED',
            `set memory.limit to ${limit}: the kernel refused (EBUSY), current usage is ${usage ?? 'unknown'}`,
            { path: file('memory.limit_in_bytes'), errno: 'EBUSY', cause: error },
          );
        }
        throw error;
      }
    };
    const setSwap = async (): Promise<void> => {
      if (swap !== 0) await writeValue(this.#fs, file('memory.memsw.limit_in_bytes'), String(swap));
    };
    // memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes after every single write, so the
    // order depends on whether the limits grow or shrink (runc's setMemoryAndSwap).
    if (limit !== 0 && swap !== 0) {
      const current = Number((await readText(this.#fs, file('memory.limit_in_bytes'))).trim());
      if (swap === -1 || current < swap) {
        await setSwap();
        await setLimit();
      } else {
        await setLimit();
        await setSwap();
      }
    } else {
      await setLimit();
      await setSwap();
    }
    if (memory.reservation !== undefined && memory.reservation !== 0) {
      await writeValue(this.#fs, file('memory.soft_limit_in_bytes'), String(memory.reservation));
    }
    if (memory.kernel !== undefined && memory.kernel !== 0) {
      this.#notes.push(
        'memory.kernel ignored: kernel memory limits are deprecated (kmem accounting is global)',
      );
    }
    if (memory.kernelTCP !== undefined && memory.kernelTCP !== 0) {
      await writeValue(this.#fs, file('memory.kmem.tcp.limit_in_bytes'), String(memory.kernelTCP));
    }
    if (memory.disableOOMKiller !== undefined) {
      await writeValue(this.#fs, file('memory.oom_control'), memory.disableOOMKiller ? '1' : '0');
    }
    if (memory.swappiness !== undefined && memory.swappiness !== -1) {
      if (memory.swappiness < 0 || memory.swappiness > 100) {
        throw new RuntimeError(
          'INVALID_ARGUMENT',
          `set memory.swappiness: ${memory.swappiness} is not in 0..100`,
          {
            path: 'linux.resources.memory.swappiness',
          },
        );
      }
      await writeValue(this.#fs, file('memory.swappiness'), String(memory.swappiness));
    }
    if (memory.useHierarchy !== undefined) {
      await writeValue(this.#fs, file('memory.use_hierarchy'), memory.useHierarchy ? '1' : '0');
    }
  }

  async #setCpu(cpu: CgroupCpu): Promise<void> {
    const wanted = cpu.shares || cpu.period || cpu.quota || cpu.burst !== undefined || cpu.idle !== undefined;
    const realtime = cpu.realtimePeriod || cpu.realtimeRuntime;
    if (!wanted && !realtime) return;
    const directory = await this.#require('cpu', 'cpu');
    const file = (name: string): string => posix.join(directory, name);
    if (cpu.shares) {
      await writeValue(this.#fs, file('cpu.shares'), String(cpu.shares));
      // The kernel clamps shares silently; read back to report the clamp as an error, as runc does.
      const applied = Number((await readText(this.#fs, file('cpu.shares'))).trim());
      if (cpu.shares > applied) {
        throw new RuntimeError('INVALID_ARGUMENT', `set cpu.shares: the maximum allowed is ${applied}`, {
          path: 'linux.resources.cpu.shares',
        });
      }
      if (cpu.shares < applied) {
        throw new RuntimeError('INVALID_ARGUMENT', `set cpu.shares: the minimum allowed is ${applied}`, {
          path: 'linux.resources.cpu.shares',
        });
      }
    }
    let pendingPeriod: string | undefined;
    if (cpu.period) {
      try {
        await writeValue(this.#fs, file('cpu.cfs_period_us'), String(cpu.period));
      } catch (error) {
        // A smaller period can be refused (EINVAL) while the old quota/new period exceeds the parent's
        // bandwidth; retry after the quota is written.
        if ((error as RuntimeError).errno !== 'EINVAL' || !cpu.quota) throw error;
        pendingPeriod = String(cpu.period);
      }
    }
    let pendingBurst: string | undefined;
    if (cpu.burst !== undefined) {
      try {
        await writeValue(this.#fs, file('cpu.cfs_burst_us'), String(cpu.burst));
      } catch (error) {
        const errno = (error as RuntimeError).errno;
        if (errno === 'ENOENT' && cpu.burst === 0) {
          // Kernels without burst support: 0 is the only value, nothing to do.
        } else if (errno === 'EINVAL' && cpu.quota) {
          pendingBurst = String(cpu.burst);
        } else {
          throw error;
        }
      }
    }
    if (cpu.quota) {
      await writeValue(this.#fs, file('cpu.cfs_quota_us'), String(cpu.quota));
      if (pendingPeriod !== undefined) await writeValue(this.#fs, file('cpu.cfs_period_us'), pendingPeriod);
      if (pendingBurst !== undefined) await writeValue(this.#fs, file('cpu.cfs_burst_us'), pendingBurst);
    }
    if (cpu.idle !== undefined) await writeValue(this.#fs, file('cpu.idle'), String(cpu.idle));
    if (cpu.realtimePeriod) await writeValue(this.#fs, file('cpu.rt_period_us'), String(cpu.realtimePeriod));
    if (cpu.realtimeRuntime) {
      await writeValue(this.#fs, file('cpu.rt_runtime_us'), String(cpu.realtimeRuntime));
    }
  }

  async #setBlockIo(blockIo: CgroupBlockIo): Promise<void> {
    const throttles: [keyof CgroupBlockIo, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ];
    const anything =
      blockIo.weight ||
      blockIo.leafWeight ||
      (blockIo.weightDevice?.length ?? 0) > 0 ||
      throttles.some(([field]) => ((blockIo[field] as unknown[] | undefined)?.length ?? 0) > 0);
    if (!anything) return;
    const directory = await this.#require('blkio', 'blockIO');
    const file = (name: string): string => posix.join(directory, name);
    // With the BFQ scheduler (no CFQ on current kernels) the weight files carry a `bfq.` prefix.
    const prefix = (await this.#fs.exists(file('blkio.weight'))) ? 'blkio.' : 'blkio.bfq.';
    if (blockIo.weight) await writeValue(this.#fs, file(`${prefix}weight`), String(blockIo.weight));
    if (blockIo.leafWeight) await writeValue(this.#fs, file('blkio.leaf_weight'), String(blockIo.leafWeight));
    for (const device of blockIo.weightDevice ?? []) {
      if (device.weight !== undefined) {
        await writeValue(
          this.#fs,
          file(`${prefix}weight_device`),
          `${device.major}:${device.minor} ${device.weight}`,
        );
      }
      if (device.leafWeight !== undefined) {
        await writeValue(
          this.#fs,
          file('blkio.leaf_weight_device'),
          `${device.major}:${device.minor} ${device.leafWeight}`,
        );
      }
    }
    for (const [field, name] of throttles) {
      for (const device of (blockIo[field] as CgroupBlockIo['throttleReadBpsDevice']) ?? []) {
        await writeValue(this.#fs, file(name), `${device.major}:${device.minor} ${device.rate}`);
      }
    }
  }

  async stats(): Promise<CgroupStats> {
    const stats = emptyCgroupStats();
    const read = async (controller: string, name: string): Promise<string | undefined> => {
      const directory = await this.#directory(controller);
      return directory === undefined ? undefined : readOptional(this.#fs, posix.join(directory, name));
    };
    const number = (text: string | undefined): number => {
      const value = Number(text?.trim() ?? '0');
      return Number.isFinite(value) ? value : 0;
    };

    const usage = stats.cpu.usage;
    usage.total = number(await read('cpuacct', 'cpuacct.usage'));
    usage.percpu = parseNumberList((await read('cpuacct', 'cpuacct.usage_percpu')) ?? '');
    const all = await read('cpuacct', 'cpuacct.usage_all');
    if (all !== undefined) {
      const split = parseCpuacctUsageAll(all);
      usage.percpu_user = split.user;
      usage.percpu_kernel = split.kernel;
    }
    const ticks = parseFlatKeyed((await read('cpuacct', 'cpuacct.stat')) ?? '');
    usage.user = (ticks.user ?? 0) * NANOSECONDS_PER_TICK;
    usage.kernel = (ticks.system ?? 0) * NANOSECONDS_PER_TICK;
    const cpuStat = parseFlatKeyed((await read('cpu', 'cpu.stat')) ?? '');
    stats.cpu.throttling = {
      periods: cpuStat.nr_periods ?? 0,
      throttledPeriods: cpuStat.nr_throttled ?? 0,
      throttledTime: cpuStat.throttled_time ?? 0,
    };

    const memoryStat = await read('memory', 'memory.stat');
    if (memoryStat !== undefined) {
      stats.memory.raw = parseFlatKeyed(memoryStat);
      stats.memory.cache = stats.memory.raw.cache ?? 0;
      const entry = async (infix: string): Promise<CgroupMemoryEntry> => {
        const prefix = infix === '' ? 'memory.' : `memory.${infix}.`;
        return {
          usage: number(await read('memory', `${prefix}usage_in_bytes`)),
          max: number(await read('memory', `${prefix}max_usage_in_bytes`)),
          failcnt: number(await read('memory', `${prefix}failcnt`)),
          limit: number(await read('memory', `${prefix}limit_in_bytes`)),
        };
      };
      stats.memory.usage = await entry('');
      stats.memory.swap = await entry('memsw');
      stats.memory.kernel = await entry('kmem');
      stats.memory.kernelTCP = await entry('kmem.tcp');
    }

    stats.pids.current = number(await read('pids', 'pids.current'));
    const pidsMax = (await read('pids', 'pids.max'))?.trim();
    stats.pids.limit = pidsMax === undefined || pidsMax === 'max' ? 0 : number(pidsMax);

    await this.#blkioStats(stats, read);

    const hugetlbDirectory = await this.#directory('hugetlb');
    if (hugetlbDirectory !== undefined) {
      for (const entry of await this.#fs.readdir(hugetlbDirectory).catch(() => [])) {
        const match = /^hugetlb\.([0-9]+[KMGTP]B)\.limit_in_bytes$/.exec(entry.name);
        if (match?.[1] === undefined) continue;
        const size = match[1];
        stats.hugetlb[size] = {
          usage: number(await read('hugetlb', `hugetlb.${size}.usage_in_bytes`)),
          max: number(await read('hugetlb', `hugetlb.${size}.max_usage_in_bytes`)),
          failcnt: number(await read('hugetlb', `hugetlb.${size}.failcnt`)),
        };
      }
    }
    return stats;
  }

  async #blkioStats(
    stats: CgroupStats,
    read: (controller: string, name: string) => Promise<string | undefined>,
  ): Promise<void> {
    type Field = keyof CgroupStats['blkio'];
    // Like runc: use the first family whose first file has entries (BFQ debug, BFQ, CFQ, throttle).
    const families: [string, Field][][] = [
      [
        ['blkio.bfq.sectors_recursive', 'sectorsRecursive'],
        ['blkio.bfq.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
        ['blkio.bfq.io_serviced_recursive', 'ioServicedRecursive'],
        ['blkio.bfq.io_queued_recursive', 'ioQueueRecursive'],
        ['blkio.bfq.io_service_time_recursive', 'ioServiceTimeRecursive'],
        ['blkio.bfq.io_wait_time_recursive', 'ioWaitTimeRecursive'],
        ['blkio.bfq.io_merged_recursive', 'ioMergedRecursive'],
        ['blkio.bfq.time_recursive', 'ioTimeRecursive'],
      ],
      [
        ['blkio.bfq.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
        ['blkio.bfq.io_serviced_recursive', 'ioServicedRecursive'],
      ],
      [
        ['blkio.sectors_recursive', 'sectorsRecursive'],
        ['blkio.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
        ['blkio.io_serviced_recursive', 'ioServicedRecursive'],
        ['blkio.io_queued_recursive', 'ioQueueRecursive'],
        ['blkio.io_service_time_recursive', 'ioServiceTimeRecursive'],
        ['blkio.io_wait_time_recursive', 'ioWaitTimeRecursive'],
        ['blkio.io_merged_recursive', 'ioMergedRecursive'],
        ['blkio.time_recursive', 'ioTimeRecursive'],
      ],
      [
        ['blkio.throttle.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
        ['blkio.throttle.io_serviced_recursive', 'ioServicedRecursive'],
      ],
      [
        ['blkio.throttle.io_service_bytes', 'ioServiceBytesRecursive'],
        ['blkio.throttle.io_serviced', 'ioServicedRecursive'],
      ],
    ];
    for (const family of families) {
      const parsed: [Field, CgroupBlkioEntry[]][] = [];
      for (const [index, [name, field]] of family.entries()) {
        const text = await read('blkio', name);
        const entries = text === undefined ? [] : parseBlkioStat(text);
        if (index === 0 && entries.length === 0) break;
        parsed.push([field, entries]);
      }
      if (parsed.length === 0) continue;
      for (const [field, entries] of parsed) stats.blkio[field] = entries;
      return;
    }
  }

  async pids(): Promise<number[]> {
    const hierarchies = await this.hierarchies();
    const preferred = ['freezer', 'pids', 'memory', 'devices', 'cpu'];
    const chosen =
      preferred
        .map((name) => hierarchies.find((hierarchy) => hierarchy.controllers.includes(name)))
        .find((hierarchy) => hierarchy !== undefined) ?? hierarchies[0];
    return chosen === undefined ? [] : collectPids(this.#fs, chosen.directory);
  }

  async #freezerFile(): Promise<string> {
    const directory = await this.#directory('freezer');
    if (directory === undefined) {
      throw new RuntimeError(
        'CGROUP_UNSUPPORTED',
        `freeze: the freezer controller is not mounted under ${this.#root}`,
        {
          path: this.#root,
        },
      );
    }
    return posix.join(directory, 'freezer.state');
  }

  async freeze(options: CgroupWaitOptions = {}): Promise<void> {
    const file = await this.#freezerFile();
    // A task in an uninterruptible sleep (e.g. vfork parent) can keep the cgroup FREEZING forever;
    // thawing and trying again gets past it (runc's freezer retry loop).
    for (let attempt = 0; attempt < 20; attempt++) {
      await writeValue(this.#fs, file, 'FROZEN');
      for (let poll = 0; poll < 50; poll++) {
        const state = (await readText(this.#fs, file)).trim();
        if (state === 'FROZEN') return;
        await sleep(poll < 10 ? 1 : 10, options.signal);
      }
      await writeValue(this.#fs, file, 'THAWED');
      await sleep(10, options.signal);
    }
    throw new RuntimeError('CGROUP_FAILED', `freeze ${file}: the cgroup stayed FREEZING`, { path: file });
  }

  async thaw(): Promise<void> {
    await writeValue(this.#fs, await this.#freezerFile(), 'THAWED');
  }

  async freezerState(): Promise<FreezerState> {
    const state = (await readText(this.#fs, await this.#freezerFile())).trim();
    return state === 'FROZEN' ? 'frozen' : state === 'FREEZING' ? 'freezing' : 'thawed';
  }

  async oomKillCount(): Promise<number> {
    const directory = await this.#directory('memory');
    if (directory === undefined) return 0;
    const text = await readOptional(this.#fs, posix.join(directory, 'memory.oom_control'));
    return text === undefined ? 0 : (parseFlatKeyed(text).oom_kill ?? 0);
  }

  oomEvents(options: OomEventsOptions = {}): AsyncIterable<OomEvent> {
    const readCount = async (): Promise<number | undefined> => {
      const directory = await this.#directory('memory');
      if (directory === undefined) return undefined;
      const text = await readOptional(this.#fs, posix.join(directory, 'memory.oom_control'));
      return text === undefined ? undefined : (parseFlatKeyed(text).oom_kill ?? 0);
    };
    return pollOomKills(readCount, options);
  }

  async killAll(signal: number): Promise<void> {
    let frozen = false;
    const freezer = await this.#directory('freezer');
    if (freezer !== undefined) {
      // A cgroup that is gone has no tasks left to signal.
      if (!(await this.#fs.exists(freezer))) return;
      await this.freeze();
      frozen = true;
    }
    try {
      signalPids(await this.pids(), signal);
    } finally {
      if (frozen) await this.thaw();
    }
  }

  async destroy(options: CgroupWaitOptions = {}): Promise<void> {
    for (const hierarchy of await this.hierarchies()) {
      await removeTree(this.#fs, hierarchy.directory, { signal: options.signal });
    }
  }
}
