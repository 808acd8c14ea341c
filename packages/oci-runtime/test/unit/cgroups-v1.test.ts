import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCgroupManager } from '../../src/cgroups/create.js';
import { detectCgroupVersion } from '../../src/cgroups/detect.js';
import type { CgroupResources } from '../../src/cgroups/resources.js';
import { V1CgroupManager } from '../../src/cgroups/v1.js';
import { isRuntimeError } from '../../src/errors.js';
import type { LinuxResources } from '../../src/spec/config.js';
import { recordingCgroupFileSystem } from '../../src/testing/recording-cgroup-fs.js';
import {
  type CgroupFixture,
  makeFixture,
  V1_MOUNTS,
  v1ControllerFiles,
  v1Mountinfo,
} from './cgroups-fixture.js';

const PATH = 'ocikit/abc';

function v1Tree(directory = PATH): Record<string, string> {
  const files: Record<string, string> = {
    'cpuset/cpuset.cpus': '0-1\n',
    'cpuset/cpuset.mems': '0\n',
    'unified/cgroup.controllers': '',
  };
  for (const name of V1_MOUNTS) {
    Object.assign(files, v1ControllerFiles(name, directory));
    // The intermediate level, created by the kernel with the same files.
    Object.assign(files, v1ControllerFiles(name, directory.split('/')[0] ?? ''));
  }
  return files;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(isRuntimeError(error) ? error.code : error).toBe(code);
    return error as Error;
  }
  throw new Error(`expected a RuntimeError ${code}`);
}

let fixture: CgroupFixture | undefined;
afterEach(async () => {
  await fixture?.remove();
  fixture = undefined;
});

async function v1Fixture(files = v1Tree(), proc: Record<string, string> = {}) {
  fixture = await makeFixture(files, { 'self/mountinfo': v1Mountinfo(), 'self/cgroup': '0::/\n', ...proc });
  const fileSystem = recordingCgroupFileSystem();
  const manager = createCgroupManager({
    path: `/${PATH}`,
    root: fixture.root,
    procRoot: fixture.proc,
    fileSystem,
  });
  return { fixture, fileSystem, manager };
}

describe('cgroup v1 manager on a fixture tree', () => {
  it('is chosen for a hybrid root (no cgroup.controllers at the top) and finds each mount', async () => {
    const { fixture, manager } = await v1Fixture();
    expect(await detectCgroupVersion(fixture.root)).toBe(1);
    expect(manager.version).toBe(1);
    expect(manager).toBeInstanceOf(V1CgroupManager);
    const directories = await manager.directories();
    expect(directories.get('cpu')).toBe(join(fixture.root, 'cpu', PATH));
    expect(directories.get('cpuacct')).toBe(join(fixture.root, 'cpuacct', PATH));
    expect(directories.get('name=systemd')).toBe(join(fixture.root, 'systemd', PATH));
    expect(directories.has('')).toBe(false); // the empty cgroup2 at unified/ is not used
    expect(directories.size).toBe(V1_MOUNTS.length);
  });

  it('set() writes exactly the runc values, in runc order', async () => {
    const { fixture, fileSystem, manager } = await v1Fixture();
    const resources: CgroupResources = {
      cpu: {
        shares: 512,
        quota: 50000,
        period: 100000,
        burst: 1000,
        idle: 0,
        cpus: '0',
        mems: '0',
        realtimePeriod: 1000000,
        realtimeRuntime: 950000,
      },
      memory: {
        limit: 33554432,
        swap: 67108864,
        reservation: 16777216,
        kernel: 1000,
        kernelTCP: 8388608,
        swappiness: 10,
        disableOOMKiller: true,
      },
      pids: { limit: 5 },
      blockIO: {
        weight: 500,
        weightDevice: [{ major: 8, minor: 0, weight: 600 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
      },
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 136, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      ],
    };
    await manager.set(resources);
    const d = (controller: string, file: string): string => `${controller}/${PATH}/${file}`;
    expect(fileSystem.writes(fixture.root)).toEqual([
      [d('cpuset', 'cpuset.cpus'), '0'],
      [d('cpuset', 'cpuset.mems'), '0'],
      [d('devices', 'devices.deny'), 'a *:* rwm'],
      [d('devices', 'devices.allow'), 'c 1:3 rwm'],
      [d('devices', 'devices.allow'), 'c 136:* rwm'],
      // The current limit is unlimited (above the new memsw), so memory goes first.
      [d('memory', 'memory.limit_in_bytes'), '33554432'],
      [d('memory', 'memory.memsw.limit_in_bytes'), '67108864'],
      [d('memory', 'memory.soft_limit_in_bytes'), '16777216'],
      [d('memory', 'memory.kmem.tcp.limit_in_bytes'), '8388608'],
      [d('memory', 'memory.oom_control'), '1'],
      [d('memory', 'memory.swappiness'), '10'],
      [d('cpu', 'cpu.shares'), '512'],
      [d('cpu', 'cpu.cfs_period_us'), '100000'],
      [d('cpu', 'cpu.cfs_burst_us'), '1000'],
      [d('cpu', 'cpu.cfs_quota_us'), '50000'],
      [d('cpu', 'cpu.idle'), '0'],
      [d('cpu', 'cpu.rt_period_us'), '1000000'],
      [d('cpu', 'cpu.rt_runtime_us'), '950000'],
      [d('pids', 'pids.max'), '5'],
      // BFQ: no blkio.weight here, so the bfq-prefixed files are used.
      [d('blkio', 'blkio.bfq.weight'), '500'],
      [d('blkio', 'blkio.bfq.weight_device'), '8:0 600'],
      [d('blkio', 'blkio.throttle.read_bps_device'), '8:0 1048576'],
      [d('blkio', 'blkio.throttle.write_iops_device'), '8:16 100'],
    ]);
    expect(await fixture.read(d('memory', 'memory.memsw.limit_in_bytes'))).toBe('67108864');
    expect(manager.notes).toEqual([expect.stringContaining('memory.kernel ignored')]);
  });

  it('writes memsw before the memory limit when raising limits, and for unlimited', async () => {
    const { fixture, fileSystem, manager } = await v1Fixture();
    await fixture.write(`memory/${PATH}/memory.limit_in_bytes`, '33554432\n');
    await manager.set({ memory: { limit: 67108864, swap: 134217728 } });
    await manager.set({ memory: { limit: -1 } });
    expect(fileSystem.writes(join(fixture.root, 'memory', PATH))).toEqual([
      ['memory.memsw.limit_in_bytes', '134217728'],
      ['memory.limit_in_bytes', '67108864'],
      ['memory.memsw.limit_in_bytes', '-1'],
      ['memory.limit_in_bytes', '-1'],
    ]);
  });

  it('retries cpu.cfs_period_us after the quota when the kernel refuses it first (EINVAL)', async () => {
    fixture = await makeFixture(v1Tree(), { 'self/mountinfo': v1Mountinfo() });
    let refused = false;
    const fileSystem = recordingCgroupFileSystem({
      failWrite: (path) => {
        if (path.endsWith('cpu.cfs_period_us') && !refused) {
          refused = true;
          return 'EINVAL';
        }
        return undefined;
      },
    });
    const manager = createCgroupManager({
      path: `/${PATH}`,
      root: fixture.root,
      procRoot: fixture.proc,
      fileSystem,
    });
    await manager.set({ cpu: { quota: 10000, period: 20000 } });
    expect(fileSystem.writes(join(fixture.root, 'cpu', PATH))).toEqual([
      ['cpu.cfs_period_us', '20000'],
      ['cpu.cfs_quota_us', '10000'],
      ['cpu.cfs_period_us', '20000'],
    ]);
  });

  it('reports a refused memory limit with the usage (EBUSY → CGROUP_FAILED)', async () => {
    fixture = await makeFixture(v1Tree(), { 'self/mountinfo': v1Mountinfo() });
    const fileSystem = recordingCgroupFileSystem({
      failWrite: (path) => (path.endsWith('memory.limit_in_bytes') ? 'EBUSY' : undefined),
    });
    const manager = createCgroupManager({
      path: `/${PATH}`,
      root: fixture.root,
      procRoot: fixture.proc,
      fileSystem,
    });
    const error = await expectCode(manager.set({ memory: { limit: 4096 } }), 'CGROUP_FAILED');
    expect(error.message).toContain('current usage is 4194304');
  });

  it('refuses a limit below the usage with checkBeforeUpdate', async () => {
    const { manager, fileSystem } = await v1Fixture();
    await expectCode(manager.set({ memory: { limit: 4096, checkBeforeUpdate: true } }), 'CGROUP_FAILED');
    expect(fileSystem.writes()).toEqual([]);
  });

  it('refuses unified keys, unmounted controllers and bad values with typed errors', async () => {
    const { manager } = await v1Fixture();
    await expectCode(manager.set({ unified: { 'memory.high': '1G' } }), 'CGROUP_UNSUPPORTED');
    await manager.set({ unified: {} }); // empty is fine
    const hugetlb = await expectCode(
      manager.set({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] }),
      'CGROUP_UNSUPPORTED',
    );
    expect(hugetlb.message).toContain('hugetlb controller is not mounted');
    await expectCode(manager.set({ hugepageLimits: [{ pageSize: '2 MB', limit: 1 }] }), 'INVALID_ARGUMENT');
    await expectCode(manager.set({ memory: { swappiness: 101 } }), 'INVALID_ARGUMENT');
    // A control file the kernel does not have is CGROUP_UNSUPPORTED, not a created file.
    await expectCode(manager.set({ blockIO: { leafWeight: 200 } }), 'CGROUP_UNSUPPORTED');
  });

  it('reports the cpu.shares clamp the kernel applied', async () => {
    fixture = await makeFixture(v1Tree(), { 'self/mountinfo': v1Mountinfo() });
    const real = recordingCgroupFileSystem();
    // The kernel stores at most 262144: emulate by rewriting what was written.
    const fileSystem = {
      ...real,
      async writeFile(path: string, data: string) {
        await real.writeFile(
          path,
          path.endsWith('cpu.shares') ? String(Math.min(Number(data), 262144)) : data,
        );
      },
    };
    const manager = createCgroupManager({
      path: `/${PATH}`,
      root: fixture.root,
      procRoot: fixture.proc,
      fileSystem,
    });
    const error = await expectCode(manager.set({ cpu: { shares: 500000 } }), 'INVALID_ARGUMENT');
    expect(error.message).toContain('maximum allowed is 262144');
  });

  it('writes hugetlb, net_cls, net_prio and rdma files when those hierarchies exist', async () => {
    const files = v1Tree();
    for (const [name, content] of Object.entries({
      'hugetlb.2MB.limit_in_bytes': '9223372036854771712\n',
      'hugetlb.2MB.rsvd.limit_in_bytes': '9223372036854771712\n',
      'hugetlb.2MB.usage_in_bytes': '2097152\n',
      'hugetlb.2MB.max_usage_in_bytes': '4194304\n',
      'hugetlb.2MB.failcnt': '1\n',
    })) {
      files[`hugetlb/${PATH}/${name}`] = content;
    }
    files[`net_cls,net_prio/${PATH}/net_cls.classid`] = '0\n';
    files[`net_cls,net_prio/${PATH}/net_prio.ifpriomap`] = 'lo 0\n';
    files[`rdma/${PATH}/rdma.max`] = '';
    // No mountinfo entries under the root: the hierarchies are found by directory name.
    fixture = await makeFixture(files, { 'self/mountinfo': '' });
    const fileSystem = recordingCgroupFileSystem();
    const manager = createCgroupManager({
      path: `/${PATH}`,
      root: fixture.root,
      procRoot: fixture.proc,
      fileSystem,
    });
    expect((await manager.directories()).get('net_prio')).toBe(join(fixture.root, 'net_cls,net_prio', PATH));
    await manager.set({
      hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
      network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 5 }] },
      rdma: { mlx5_0: { hcaHandles: 3, hcaObjects: 1000 } },
    });
    expect(fileSystem.writes(fixture.root)).toEqual([
      [`hugetlb/${PATH}/hugetlb.2MB.limit_in_bytes`, '4194304'],
      [`hugetlb/${PATH}/hugetlb.2MB.rsvd.limit_in_bytes`, '4194304'],
      [`net_cls,net_prio/${PATH}/net_cls.classid`, '1048577'],
      [`net_cls,net_prio/${PATH}/net_prio.ifpriomap`, 'eth0 5'],
      [`rdma/${PATH}/rdma.max`, 'mlx5_0 hca_handle=3 hca_object=1000'],
    ]);
    const stats = await manager.stats();
    expect(stats.hugetlb).toEqual({ '2MB': { usage: 2097152, max: 4194304, failcnt: 1 } });
  });

  it('parses stats from the v1 files', async () => {
    const { fixture, manager } = await v1Fixture();
    await fixture.write(`pids/${PATH}/pids.max`, '64\n');
    const stats = await manager.stats();
    expect(stats.cpu.usage).toEqual({
      total: 123456789,
      percpu: [100000000, 23456789],
      percpu_user: [90000000, 20000000],
      percpu_kernel: [10000000, 3456789],
      user: 110000000,
      kernel: 20000000,
    });
    expect(stats.cpu.throttling).toEqual({ periods: 12, throttledPeriods: 3, throttledTime: 4500000 });
    expect(stats.memory.cache).toBe(1048576);
    expect(stats.memory.raw.rss).toBe(2097152);
    expect(stats.memory.usage).toEqual({
      usage: 4194304,
      max: 8388608,
      failcnt: 2,
      limit: Number(9223372036854771712n),
    });
    expect(stats.memory.swap.usage).toBe(4202496);
    expect(stats.memory.kernel.max).toBe(131072);
    expect(stats.pids).toEqual({ current: 3, limit: 64 });
    // The BFQ files are empty, so the throttle family is reported (as runc does).
    expect(stats.blkio.ioServiceBytesRecursive.slice(0, 2)).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 0, op: 'Write', value: 8192 },
    ]);
    expect(stats.blkio.ioServicedRecursive).toHaveLength(6);
    expect(stats.hugetlb).toEqual({});
  });

  it('create() makes every level and copies cpuset.cpus/mems down', async () => {
    const { fixture, fileSystem, manager } = await v1Fixture();
    await manager.create();
    expect(fileSystem.writes(join(fixture.root, 'cpuset'))).toEqual([
      ['ocikit/cpuset.cpus', '0-1'],
      ['ocikit/cpuset.mems', '0'],
      [`${PATH}/cpuset.cpus`, '0-1'],
      [`${PATH}/cpuset.mems`, '0'],
    ]);
    expect(fileSystem.calls.filter((call) => call.op === 'mkdir')).toHaveLength(2 * V1_MOUNTS.length);
  });

  it('adds a pid to every hierarchy, lists pids recursively and freezes through freezer.state', async () => {
    const files = v1Tree();
    files[`freezer/${PATH}/cgroup.procs`] = '42\n7\n';
    files[`freezer/${PATH}/child/cgroup.procs`] = '99\n';
    const { fixture, fileSystem, manager } = await v1Fixture(files);
    await manager.addProcess(1234);
    expect(fileSystem.writes(fixture.root).map(([path]) => path.split('/')[0])).toEqual(V1_MOUNTS);
    expect(
      fileSystem.writes().every(([path, data]) => path.endsWith('/cgroup.procs') && data === '1234'),
    ).toBe(true);
    // The fixture file holds what was written last (a kernel would list all members).
    await fixture.write(`freezer/${PATH}/cgroup.procs`, '42\n7\n');
    expect(await manager.pids()).toEqual([7, 42, 99]);
    expect(await manager.freezerState()).toBe('thawed');
    await manager.freeze(); // the fixture echoes FROZEN back at once
    expect(await manager.freezerState()).toBe('frozen');
    await manager.thaw();
    expect(await fixture.read(`freezer/${PATH}/freezer.state`)).toBe('THAWED');
    await expectCode(manager.addProcess(-1), 'INVALID_ARGUMENT');
  });

  it('counts OOM kills from memory.oom_control and yields an event per increase', async () => {
    fixture = await makeFixture(v1Tree(), { 'self/mountinfo': v1Mountinfo() });
    // Learn when the poller has taken its baseline reading, so the bump below is seen as an increase.
    let baselineTaken: () => void = () => {};
    const baseline = new Promise<void>((resolve) => {
      baselineTaken = resolve;
    });
    const real = recordingCgroupFileSystem();
    const fileSystem = {
      ...real,
      async readFile(path: string) {
        const text = await real.readFile(path);
        if (path.endsWith('memory.oom_control')) baselineTaken();
        return text;
      },
    };
    const manager = createCgroupManager({
      path: `/${PATH}`,
      root: fixture.root,
      procRoot: fixture.proc,
      fileSystem,
    });
    const controller = new AbortController();
    const iterator = manager.oomEvents({ signal: controller.signal, intervalMs: 5 })[Symbol.asyncIterator]();
    const next = iterator.next();
    await baseline;
    expect(await manager.oomKillCount()).toBe(0);
    await fixture.write(`memory/${PATH}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(await next).toEqual({ done: false, value: { type: 'oom', count: 2 } });
    expect(await manager.oomKillCount()).toBe(2);
    controller.abort();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('resolves a relative path under the caller cgroup of each hierarchy', async () => {
    const proc = {
      'self/cgroup': '9:name=systemd:/\n4:memory:/process_api/x\n2:cpuacct:/\n1:cpu:/\n0::/\n',
    };
    const { fixture } = await v1Fixture(v1Tree(), proc);
    const manager = createCgroupManager({ path: 'rel', root: fixture.root, procRoot: fixture.proc });
    const directories = await manager.directories();
    expect(directories.get('memory')).toBe(join(fixture.root, 'memory/process_api/x/rel'));
    expect(directories.get('cpu')).toBe(join(fixture.root, 'cpu/rel'));
    expect(manager.path).toBe('rel');
  });

  it('refuses the systemd driver and a path naming the root', async () => {
    const { fixture } = await v1Fixture();
    expect(() => createCgroupManager({ path: '/x', systemd: true })).toThrow(
      /systemd cgroup driver not supported/,
    );
    try {
      createCgroupManager({ path: 'system.slice:ocikit:abc', root: fixture.root });
      expect.unreachable();
    } catch (error) {
      expect(isRuntimeError(error, 'CGROUP_UNSUPPORTED')).toBe(true);
    }
    const rootManager = createCgroupManager({ path: '/', root: fixture.root, procRoot: fixture.proc });
    await expectCode(rootManager.create(), 'INVALID_ARGUMENT');
  });

  it('destroy() removes child cgroups first and ignores missing directories', async () => {
    fixture = await makeFixture({ 'memory/': '', 'pids/': '' }, { 'self/mountinfo': '' });
    const fileSystem = recordingCgroupFileSystem();
    const manager = createCgroupManager({
      path: `/${PATH}`,
      root: fixture.root,
      procRoot: fixture.proc,
      fileSystem,
    });
    await manager.create();
    await fileSystem.mkdir(join(fixture.root, 'memory', PATH, 'sub'));
    await manager.destroy();
    expect(
      fileSystem.calls
        .filter((call) => call.op === 'rmdir')
        .map((call) => call.path.slice(fixture!.root.length)),
    ).toEqual([`/memory/${PATH}/sub`, `/memory/${PATH}`, `/pids/${PATH}`]);
    expect(await readdir(join(fixture.root, 'memory', 'ocikit'))).toEqual([]);
    await manager.destroy(); // again: nothing left, no error
  });

  it('accepts the runtime-spec LinuxResources type as is', () => {
    const spec: LinuxResources = { memory: { limit: 1 }, pids: { limit: 2 }, devices: [{ allow: false }] };
    const resources: CgroupResources = spec;
    expect(resources.pids?.limit).toBe(2);
  });
});
