/**
 * The cgroup v2 provider: one directory in the unified hierarchy. Conversions from the v1-flavoured
 * runtime-spec values and the write order follow runc's libcontainer/cgroups/fs2.
 */
import { posix } from 'node:path';
import { RuntimeError } from '../errors.js';
import {
  collectPids,
  errnoOf,
  makeDirectory,
  readOptional,
  readText,
  removeTree,
  signalPids,
  sleep,
  writeValue,
} from './cgroup-files.js';
import {
  assertHugepageSize,
  blkioWeightToIoWeight,
  CGROUP_V2_MAX,
  cpuMaxValue,
  cpuSharesToWeight,
  memorySwapToV2,
  parseCgroupNumber,
  pidsMaxValue,
  rdmaMaxValue,
  v2LimitValue,
} from './conversions.js';
import type { CgroupFileSystem } from './file-system.js';
import type {
  AttachDeviceProgram,
  CgroupManager,
  CgroupWaitOptions,
  FreezerState,
  OomEvent,
  OomEventsOptions,
} from './manager.js';
import { parseCgroupMounts } from './mountinfo.js';
import { pollOomKills } from './oom-events.js';
import { parseFlatKeyed, parseIoStat, parseProcCgroup } from './parse.js';
import { cgroupDirectory, checkCgroupsPath, resolveCgroupsPath } from './paths.js';
import type { CgroupBlockIo, CgroupCpu, CgroupMemory, CgroupResources } from './resources.js';
import { type CgroupStats, emptyCgroupStats } from './stats.js';
import { compileDeviceFilter, DEVICE_FILTER_LICENSE } from './v2-devices-bpf.js';

/** Construction options of {@link V2CgroupManager} (already resolved by `createCgroupManager`). */
export interface V2CgroupManagerInit {
  path: string;
  root: string;
  procRoot: string;
  fileSystem: CgroupFileSystem;
  attachDeviceProgram?: AttachDeviceProgram | undefined;
}

const SIGKILL = 9;

/** The cgroup v2 {@link CgroupManager}. Construction does no I/O. */
export class V2CgroupManager implements CgroupManager {
  readonly version = 2 as const;
  readonly path: string;
  readonly #root: string;
  readonly #procRoot: string;
  readonly #fs: CgroupFileSystem;
  readonly #attach: AttachDeviceProgram | undefined;
  readonly #notes: string[] = [];
  #resolved: Promise<string> | undefined;

  constructor(init: V2CgroupManagerInit) {
    checkCgroupsPath(init.path);
    this.path = init.path;
    this.#root = init.root;
    this.#procRoot = init.procRoot;
    this.#fs = init.fileSystem;
    this.#attach = init.attachDeviceProgram;
  }

  get notes(): readonly string[] {
    return this.#notes;
  }

  /** This cgroup's absolute directory (resolved once, on first use). */
  directory(): Promise<string> {
    this.#resolved ??= this.#resolve();
    return this.#resolved;
  }

  async #resolve(): Promise<string> {
    // The mount root matters inside a cgroup namespace or for a bind mount of a sub-tree.
    const mountinfo = await readOptional(this.#fs, posix.join(this.#procRoot, 'self/mountinfo'));
    const mount = parseCgroupMounts(mountinfo ?? '').find(
      (entry) => entry.fstype === 'cgroup2' && entry.mountpoint === this.#root,
    );
    const mountRoot = mount?.root ?? '/';
    let caller = '/';
    if (!this.path.startsWith('/')) {
      const own = parseProcCgroup(await readText(this.#fs, posix.join(this.#procRoot, 'self/cgroup')));
      caller = own.find((entry) => entry.hierarchyId === 0 && entry.controllers.length === 0)?.path ?? '/';
    }
    const cgroup = resolveCgroupsPath(this.path, caller);
    if (cgroup === '/' || cgroup === mountRoot) {
      throw new RuntimeError('INVALID_ARGUMENT', `cgroups path "${this.path}" names the hierarchy root`, {
        path: 'linux.cgroupsPath',
      });
    }
    return cgroupDirectory(this.#root, mountRoot, cgroup);
  }

  async directories(): Promise<ReadonlyMap<string, string>> {
    return new Map([['', await this.directory()]]);
  }

  async #file(name: string): Promise<string> {
    return posix.join(await this.directory(), name);
  }

  async create(): Promise<void> {
    const directory = await this.directory();
    const available = ((await readOptional(this.#fs, posix.join(this.#root, 'cgroup.controllers'))) ?? '')
      .trim()
      .split(/\s+/)
      .filter((name) => name !== '');
    const levels = posix.relative(this.#root, directory).split('/');
    let current = this.#root;
    for (const part of levels) {
      // Each parent must delegate the controllers to its children before the child can use them.
      if (available.length > 0) await this.#enableControllers(current, available);
      current = posix.join(current, part);
      await makeDirectory(this.#fs, current);
    }
  }

  async #enableControllers(directory: string, controllers: readonly string[]): Promise<void> {
    const file = posix.join(directory, 'cgroup.subtree_control');
    const enabled = new Set(((await readOptional(this.#fs, file)) ?? '').trim().split(/\s+/));
    const missing = controllers.filter((name) => !enabled.has(name));
    if (missing.length === 0) return;
    try {
      await this.#fs.writeFile(file, missing.map((name) => `+${name}`).join(' '));
    } catch {
      // One refused controller fails the whole write; enable what can be enabled, one by one. A
      // controller left off shows up later as a missing file when set() needs it.
      for (const name of missing) {
        try {
          await this.#fs.writeFile(file, `+${name}`);
        } catch (error) {
          this.#notes.push(
            `controller ${name} not enabled in ${directory}: ${errnoOf(error) ?? String(error)}`,
          );
        }
      }
    }
  }

  async addProcess(pid: number): Promise<void> {
    if (!Number.isInteger(pid) || pid <= 0) {
      throw new RuntimeError('INVALID_ARGUMENT', `add process: invalid pid ${pid}`);
    }
    await writeValue(this.#fs, await this.#file('cgroup.procs'), String(pid));
  }

  async set(resources: CgroupResources): Promise<void> {
    const directory = await this.directory();
    const file = (name: string): string => posix.join(directory, name);
    const cpu = resources.cpu;
    if (cpu?.cpus) await writeValue(this.#fs, file('cpuset.cpus'), cpu.cpus);
    if (cpu?.mems) await writeValue(this.#fs, file('cpuset.mems'), cpu.mems);
    if (cpu !== undefined) await this.#setCpu(cpu, file);
    if (resources.memory !== undefined) await this.#setMemory(resources.memory, file);
    if (resources.pids?.limit !== undefined) {
      await writeValue(this.#fs, file('pids.max'), pidsMaxValue(resources.pids.limit));
    }
    if (resources.blockIO !== undefined) await this.#setIo(resources.blockIO, file);
    for (const hugepage of resources.hugepageLimits ?? []) {
      assertHugepageSize(hugepage.pageSize);
      const value = String(hugepage.limit);
      await writeValue(this.#fs, file(`hugetlb.${hugepage.pageSize}.max`), value);
      const reserved = file(`hugetlb.${hugepage.pageSize}.rsvd.max`);
      if (await this.#fs.exists(reserved)) await writeValue(this.#fs, reserved, value);
    }
    for (const [device, limits] of Object.entries(resources.rdma ?? {})) {
      const line = rdmaMaxValue(device, limits);
      if (line !== undefined) await writeValue(this.#fs, file('rdma.max'), line);
    }
    if (resources.network?.classID !== undefined || (resources.network?.priorities?.length ?? 0) > 0) {
      this.#notes.push('network ignored: net_cls and net_prio do not exist on cgroup v2');
    }
    if (resources.devices !== undefined) {
      const program = compileDeviceFilter(resources.devices);
      if (this.#attach !== undefined) await this.#attach(directory, program, DEVICE_FILTER_LICENSE);
      else this.#notes.push('devices not enforced: no eBPF loader (attachDeviceProgram) was provided');
    }
    // unified goes last so that it can override any converted value, as in runc.
    for (const [name, value] of Object.entries(resources.unified ?? {})) {
      if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(name) || name.includes('..')) {
        throw new RuntimeError('INVALID_ARGUMENT', `set unified: "${name}" is not a cgroup file name`, {
          path: `linux.resources.unified.${name}`,
        });
      }
      await writeValue(this.#fs, file(name), value);
    }
  }

  async #setCpu(cpu: CgroupCpu, file: (name: string) => string): Promise<void> {
    if (cpu.realtimePeriod || cpu.realtimeRuntime) {
      throw new RuntimeError(
        'CGROUP_UNSUPPORTED',
        'set cpu.realtime*: cgroup v2 has no real-time group scheduling',
        {
          path: 'linux.resources.cpu.realtimeRuntime',
        },
      );
    }
    const weight = cpuSharesToWeight(cpu.shares ?? 0);
    if (weight !== 0) await writeValue(this.#fs, file('cpu.weight'), String(weight));
    if (cpu.idle !== undefined) await writeValue(this.#fs, file('cpu.idle'), String(cpu.idle));
    if (cpu.burst !== undefined) await writeValue(this.#fs, file('cpu.max.burst'), String(cpu.burst));
    const max = cpuMaxValue(cpu.quota, cpu.period);
    if (max !== undefined) await writeValue(this.#fs, file('cpu.max'), max);
  }

  async #setMemory(memory: CgroupMemory, file: (name: string) => string): Promise<void> {
    const limit = memory.limit ?? 0;
    if (memory.checkBeforeUpdate === true && limit > 0) {
      const usage = parseCgroupNumber((await readOptional(this.#fs, file('memory.current'))) ?? '0');
      if (limit < usage) {
        throw new RuntimeError(
          'CGROUP_FAILED',
          `set memory.limit: rejecting ${limit}, below the current usage ${usage} (checkBeforeUpdate)`,
          { path: file('memory.max') },
        );
      }
    }
    const swap = memorySwapToV2(memory.swap ?? 0, limit);
    let swapValue = v2LimitValue(swap);
    // memory == memory+swap: no swap at all, which is 0 (an empty write would mean "unset").
    if (swapValue === undefined && swap === 0 && (memory.swap ?? 0) > 0) swapValue = '0';
    if (swapValue !== undefined) {
      try {
        await writeValue(this.#fs, file('memory.swap.max'), swapValue);
      } catch (error) {
        // Without swap accounting there is no memory.swap.max: "no limit" and "no swap" both hold.
        const ignorable =
          (swapValue === 'max' || swapValue === '0') && (error as RuntimeError).errno === 'ENOENT';
        if (!ignorable) throw error;
      }
    }
    const max = v2LimitValue(limit);
    if (max !== undefined) await writeValue(this.#fs, file('memory.max'), max);
    const low = v2LimitValue(memory.reservation);
    if (low !== undefined) await writeValue(this.#fs, file('memory.low'), low);
    const ignored: [keyof CgroupMemory, string][] = [
      ['kernel', 'kernel memory limits are deprecated'],
      ['kernelTCP', 'cgroup v2 has no separate TCP memory limit'],
      ['swappiness', 'cgroup v2 has no per-cgroup swappiness'],
      ['disableOOMKiller', 'cgroup v2 cannot disable the OOM killer'],
      ['useHierarchy', 'cgroup v2 is always hierarchical'],
    ];
    for (const [field, reason] of ignored) {
      const value = memory[field];
      if (
        value !== undefined &&
        value !== 0 &&
        value !== false &&
        !(field === 'swappiness' && value === -1)
      ) {
        this.#notes.push(`memory.${field} ignored: ${reason}`);
      }
    }
  }

  async #setIo(blockIo: CgroupBlockIo, file: (name: string) => string): Promise<void> {
    const usesWeight = Boolean(blockIo.weight) || (blockIo.weightDevice?.length ?? 0) > 0;
    // With BFQ, io.bfq.weight takes the blkio scale (1..1000) directly; io.weight needs the conversion.
    const bfq = usesWeight && (await this.#fs.exists(file('io.bfq.weight')));
    if (blockIo.weight) {
      if (bfq) await writeValue(this.#fs, file('io.bfq.weight'), String(blockIo.weight));
      else await writeValue(this.#fs, file('io.weight'), String(blkioWeightToIoWeight(blockIo.weight)));
    }
    if (blockIo.leafWeight) this.#notes.push('blockIO.leafWeight ignored: cgroup v2 has no leaf weights');
    for (const device of blockIo.weightDevice ?? []) {
      if (device.weight === undefined) continue;
      const id = `${device.major}:${device.minor}`;
      if (bfq) await writeValue(this.#fs, file('io.bfq.weight'), `${id} ${device.weight}`);
      else await writeValue(this.#fs, file('io.weight'), `${id} ${blkioWeightToIoWeight(device.weight)}`);
    }
    const throttles: [keyof CgroupBlockIo, string][] = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ];
    for (const [field, key] of throttles) {
      for (const device of (blockIo[field] as CgroupBlockIo['throttleReadBpsDevice']) ?? []) {
        await writeValue(this.#fs, file('io.max'), `${device.major}:${device.minor} ${key}=${device.rate}`);
      }
    }
  }

  async stats(): Promise<CgroupStats> {
    const stats = emptyCgroupStats();
    const directory = await this.directory();
    const read = (name: string): Promise<string | undefined> =>
      readOptional(this.#fs, posix.join(directory, name));

    const cpuStat = parseFlatKeyed((await read('cpu.stat')) ?? '');
    stats.cpu.usage.total = (cpuStat.usage_usec ?? 0) * 1000;
    stats.cpu.usage.user = (cpuStat.user_usec ?? 0) * 1000;
    stats.cpu.usage.kernel = (cpuStat.system_usec ?? 0) * 1000;
    stats.cpu.throttling = {
      periods: cpuStat.nr_periods ?? 0,
      throttledPeriods: cpuStat.nr_throttled ?? 0,
      throttledTime: (cpuStat.throttled_usec ?? 0) * 1000,
    };

    const memoryStat = await read('memory.stat');
    if (memoryStat !== undefined) {
      stats.memory.raw = parseFlatKeyed(memoryStat);
      stats.memory.cache = stats.memory.raw.file ?? 0;
      const events = parseFlatKeyed((await read('memory.events')) ?? '');
      const usage = {
        usage: parseCgroupNumber((await read('memory.current')) ?? '0'),
        limit: parseCgroupNumber((await read('memory.max')) ?? 'max'),
        max: parseCgroupNumber((await read('memory.peak')) ?? '0'),
        failcnt: events.max ?? 0,
      };
      stats.memory.usage = usage;
      // v1 reports memory+swap; add the memory figures to v2's swap-only ones to match.
      const swapLimit = parseCgroupNumber((await read('memory.swap.max')) ?? 'max');
      stats.memory.swap = {
        usage: parseCgroupNumber((await read('memory.swap.current')) ?? '0') + usage.usage,
        limit:
          swapLimit === CGROUP_V2_MAX || usage.limit === CGROUP_V2_MAX
            ? CGROUP_V2_MAX
            : swapLimit + usage.limit,
        max: 0,
        failcnt: parseFlatKeyed((await read('memory.swap.events')) ?? '').max ?? 0,
      };
    }

    stats.pids.current = parseCgroupNumber((await read('pids.current')) ?? '0');
    const pidsMax = (await read('pids.max'))?.trim();
    stats.pids.limit = pidsMax === undefined || pidsMax === 'max' ? 0 : parseCgroupNumber(pidsMax);

    const io = parseIoStat((await read('io.stat')) ?? '');
    stats.blkio.ioServiceBytesRecursive = io.serviceBytes;
    stats.blkio.ioServicedRecursive = io.serviced;

    for (const entry of await this.#fs.readdir(directory).catch(() => [])) {
      const match = /^hugetlb\.([0-9]+[KMGTP]B)\.current$/.exec(entry.name);
      if (match?.[1] === undefined) continue;
      const size = match[1];
      stats.hugetlb[size] = {
        usage: parseCgroupNumber((await read(`hugetlb.${size}.current`)) ?? '0'),
        max: 0,
        failcnt: parseFlatKeyed((await read(`hugetlb.${size}.events`)) ?? '').max ?? 0,
      };
    }
    return stats;
  }

  async pids(): Promise<number[]> {
    return collectPids(this.#fs, await this.directory());
  }

  async freeze(options: CgroupWaitOptions = {}): Promise<void> {
    await writeValue(this.#fs, await this.#file('cgroup.freeze'), '1');
    const events = await this.#file('cgroup.events');
    // The kernel reports completion as "frozen 1" in cgroup.events once every task has stopped.
    for (let poll = 0; poll < 1000; poll++) {
      if (parseFlatKeyed(await readText(this.#fs, events)).frozen === 1) return;
      await sleep(poll < 10 ? 1 : 10, options.signal);
    }
    throw new RuntimeError('CGROUP_FAILED', `freeze ${events}: the cgroup did not report frozen`, {
      path: events,
    });
  }

  async thaw(): Promise<void> {
    await writeValue(this.#fs, await this.#file('cgroup.freeze'), '0');
  }

  async freezerState(): Promise<FreezerState> {
    const wanted = (await readOptional(this.#fs, await this.#file('cgroup.freeze')))?.trim();
    if (wanted === undefined || wanted === '0') return 'thawed';
    const events = parseFlatKeyed((await readOptional(this.#fs, await this.#file('cgroup.events'))) ?? '');
    return events.frozen === 1 ? 'frozen' : 'freezing';
  }

  async oomKillCount(): Promise<number> {
    const text = await readOptional(this.#fs, await this.#file('memory.events'));
    return text === undefined ? 0 : (parseFlatKeyed(text).oom_kill ?? 0);
  }

  oomEvents(options: OomEventsOptions = {}): AsyncIterable<OomEvent> {
    const readCount = async (): Promise<number | undefined> => {
      const directory = await this.directory();
      const text = await readOptional(this.#fs, posix.join(directory, 'memory.events'));
      if (text !== undefined) return parseFlatKeyed(text).oom_kill ?? 0;
      // No memory controller: keep waiting while the cgroup exists.
      return (await this.#fs.exists(directory)) ? 0 : undefined;
    };
    return pollOomKills(readCount, options);
  }

  async killAll(signal: number): Promise<void> {
    // A cgroup that is gone has no tasks left to signal.
    if (!(await this.#fs.exists(await this.directory()))) return;
    const killFile = await this.#file('cgroup.kill');
    // cgroup.kill (Linux 5.14) SIGKILLs the whole subtree atomically, no freezing needed.
    if (signal === SIGKILL && (await this.#fs.exists(killFile))) {
      await writeValue(this.#fs, killFile, '1');
      return;
    }
    const canFreeze = await this.#fs.exists(await this.#file('cgroup.freeze'));
    if (canFreeze) await this.freeze();
    try {
      signalPids(await this.pids(), signal);
    } finally {
      if (canFreeze) await this.thaw();
    }
  }

  async destroy(options: CgroupWaitOptions = {}): Promise<void> {
    await removeTree(this.#fs, await this.directory(), { signal: options.signal });
  }
}
