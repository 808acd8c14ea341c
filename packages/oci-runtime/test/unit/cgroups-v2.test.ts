import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCgroupManager } from '../../src/cgroups/create.js';
import { detectCgroupVersion } from '../../src/cgroups/detect.js';
import { V2CgroupManager } from '../../src/cgroups/v2.js';
import { compileDeviceFilter, DEVICE_FILTER_LICENSE } from '../../src/cgroups/v2-devices-bpf.js';
import { isRuntimeError } from '../../src/errors.js';
import { runDeviceProgram } from '../../src/testing/ebpf-interpreter.js';
import { recordingCgroupFileSystem } from '../../src/testing/recording-cgroup-fs.js';
import { type CgroupFixture, makeFixture } from './cgroups-fixture.js';

const PATH = 'ocikit/abc';
const CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma misc\n';

function leafFiles(directory: string): Record<string, string> {
  const files: Record<string, string> = {
    'cgroup.procs': '',
    'cgroup.controllers': CONTROLLERS,
    'cgroup.subtree_control': '\n',
    'cgroup.freeze': '0\n',
    'cgroup.events': 'populated 1\nfrozen 0\n',
    'cgroup.kill': '',
    'cpu.weight': '100\n',
    'cpu.max': 'max 100000\n',
    'cpu.max.burst': '0\n',
    'cpu.idle': '0\n',
    'cpu.stat':
      'usage_usec 250000\nuser_usec 200000\nsystem_usec 50000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 3000\nnr_bursts 0\nburst_usec 0\n',
    'cpuset.cpus': '\n',
    'cpuset.mems': '\n',
    'memory.max': 'max\n',
    'memory.low': '0\n',
    'memory.high': 'max\n',
    'memory.swap.max': 'max\n',
    'memory.current': '4194304\n',
    'memory.peak': '8388608\n',
    'memory.swap.current': '8192\n',
    'memory.events': 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n',
    'memory.swap.events': 'high 0\nmax 0\nfail 0\n',
    'memory.stat': 'anon 2097152\nfile 1048576\nkernel 65536\nsock 0\nshmem 0\npgfault 99\n',
    'pids.max': 'max\n',
    'pids.current': '3\n',
    'io.weight': 'default 100\n',
    'io.max': '',
    'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
    'hugetlb.2MB.max': 'max\n',
    'hugetlb.2MB.rsvd.max': 'max\n',
    'hugetlb.2MB.current': '2097152\n',
    'hugetlb.2MB.events': 'max 3\n',
    'hugetlb.1GB.max': 'max\n',
    'hugetlb.1GB.current': '0\n',
    'hugetlb.1GB.events': 'max 0\n',
    'rdma.max': '',
  };
  return Object.fromEntries(
    Object.entries(files).map(([name, content]) => [`${directory}/${name}`, content]),
  );
}

function v2Tree(): Record<string, string> {
  return {
    'cgroup.controllers': CONTROLLERS,
    'cgroup.subtree_control': '\n',
    'cgroup.procs': '1\n',
    'ocikit/cgroup.controllers': CONTROLLERS,
    'ocikit/cgroup.subtree_control': '\n',
    'ocikit/cgroup.procs': '',
    ...leafFiles(PATH),
  };
}

let fixture: CgroupFixture | undefined;
afterEach(async () => {
  await fixture?.remove();
  fixture = undefined;
});

async function v2Fixture(
  files = v2Tree(),
  extra: Parameters<typeof createCgroupManager>[0] extends infer O ? Partial<O> : never = {},
) {
  fixture = await makeFixture(files, {
    'self/mountinfo': '40 30 0:37 / @ROOT@ rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n',
    'self/cgroup': '0::/user.slice/session\n',
  });
  const fileSystem = recordingCgroupFileSystem();
  const manager = createCgroupManager({
    path: `/${PATH}`,
    root: fixture.root,
    procRoot: fixture.proc,
    fileSystem,
    ...extra,
  });
  return { fixture, fileSystem, manager };
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

describe('cgroup v2 manager on a fixture tree', () => {
  it('is detected from cgroup.controllers at the root', async () => {
    const { fixture, manager } = await v2Fixture();
    expect(await detectCgroupVersion(fixture.root)).toBe(2);
    expect(manager.version).toBe(2);
    expect(manager).toBeInstanceOf(V2CgroupManager);
    expect(await manager.directories()).toEqual(new Map([['', join(fixture.root, PATH)]]));
  });

  it('set() converts and writes the v2 files', async () => {
    const attached: [string, Buffer, string][] = [];
    const { fixture, fileSystem, manager } = await v2Fixture(v2Tree(), {
      attachDeviceProgram: async (directory, program, license) => {
        attached.push([directory, program, license]);
      },
    });
    const devices = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    ];
    await manager.set({
      cpu: { shares: 1024, quota: 50000, period: 100000, burst: 1000, idle: 0, cpus: '0-1', mems: '0' },
      memory: { limit: 33554432, swap: 67108864, reservation: 16777216, swappiness: 10, kernel: 1 },
      pids: { limit: 5 },
      blockIO: {
        weight: 500,
        weightDevice: [{ major: 8, minor: 0, weight: 1000 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
      },
      hugepageLimits: [
        { pageSize: '2MB', limit: 4194304 },
        { pageSize: '1GB', limit: 0 },
      ],
      rdma: { mlx5_0: { hcaHandles: 3 } },
      network: { classID: 1 },
      devices,
      unified: { 'memory.high': '30000000', 'cpu.weight': '77' },
    });
    expect(fileSystem.writes(join(fixture.root, PATH))).toEqual([
      ['cpuset.cpus', '0-1'],
      ['cpuset.mems', '0'],
      ['cpu.weight', '39'],
      ['cpu.idle', '0'],
      ['cpu.max.burst', '1000'],
      ['cpu.max', '50000 100000'],
      ['memory.swap.max', '33554432'],
      ['memory.max', '33554432'],
      ['memory.low', '16777216'],
      ['pids.max', '5'],
      ['io.weight', '4950'],
      ['io.weight', '8:0 10000'],
      ['io.max', '8:0 rbps=1048576'],
      ['io.max', '8:0 wbps=2097152'],
      ['io.max', '8:16 riops=100'],
      ['io.max', '8:16 wiops=200'],
      ['hugetlb.2MB.max', '4194304'],
      ['hugetlb.2MB.rsvd.max', '4194304'],
      ['hugetlb.1GB.max', '0'],
      ['rdma.max', 'mlx5_0 hca_handle=3'],
      ['memory.high', '30000000'],
      ['cpu.weight', '77'],
    ]);
    expect(attached).toHaveLength(1);
    const [directory, program, license] = attached[0] ?? [];
    expect(directory).toBe(join(fixture.root, PATH));
    expect(license).toBe(DEVICE_FILTER_LICENSE);
    expect(program?.equals(compileDeviceFilter(devices))).toBe(true);
    expect(
      runDeviceProgram(program ?? Buffer.alloc(0), { type: 'c', major: 1, minor: 3, access: 'rw' }),
    ).toBe(1);
    expect(manager.notes).toEqual([
      expect.stringContaining('memory.kernel ignored'),
      expect.stringContaining('memory.swappiness ignored'),
      expect.stringContaining('network ignored'),
    ]);
  });

  it('uses io.bfq.weight with the blkio scale when BFQ is there', async () => {
    const files = v2Tree();
    files[`${PATH}/io.bfq.weight`] = 'default 100\n';
    const { fixture, fileSystem, manager } = await v2Fixture(files);
    await manager.set({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] } });
    expect(fileSystem.writes(join(fixture.root, PATH))).toEqual([
      ['io.bfq.weight', '500'],
      ['io.bfq.weight', '8:0 300'],
    ]);
  });

  it('handles unlimited memory and swap the way runc does', async () => {
    const { fixture, fileSystem, manager } = await v2Fixture();
    await manager.set({ memory: { limit: -1 } });
    await manager.set({ memory: { limit: 33554432, swap: 33554432 } });
    await manager.set({ cpu: { quota: -1 } });
    await manager.set({ pids: { limit: -1 } });
    expect(fileSystem.writes(join(fixture.root, PATH))).toEqual([
      ['memory.swap.max', 'max'],
      ['memory.max', 'max'],
      ['memory.swap.max', '0'],
      ['memory.max', '33554432'],
      ['cpu.max', 'max'],
      ['pids.max', 'max'],
    ]);
  });

  it('records a note when no eBPF loader is given, and refuses what v2 cannot do', async () => {
    const { manager, fileSystem } = await v2Fixture();
    await manager.set({ devices: [{ allow: true }] });
    expect(manager.notes).toEqual([expect.stringContaining('devices not enforced')]);
    await expectCode(manager.set({ cpu: { realtimeRuntime: 1000 } }), 'CGROUP_UNSUPPORTED');
    await expectCode(manager.set({ unified: { '../../etc/passwd': 'x' } }), 'INVALID_ARGUMENT');
    await expectCode(manager.set({ unified: { 'nosuch.file': '1' } }), 'CGROUP_UNSUPPORTED');
    await expectCode(manager.set({ memory: { swap: 1000 } }), 'INVALID_ARGUMENT');
    await expectCode(manager.set({ devices: [{ allow: true, type: 'q' }] }), 'INVALID_ARGUMENT');
    expect(fileSystem.writes().map(([path]) => path.split('/').pop())).toEqual(['nosuch.file']);
  });

  it('swap left unset without swap accounting is not an error', async () => {
    const files = v2Tree();
    delete files[`${PATH}/memory.swap.max`];
    const { fixture, fileSystem, manager } = await v2Fixture(files);
    await manager.set({ memory: { limit: 1048576, swap: 1048576 } });
    expect(fileSystem.writes(join(fixture.root, PATH))).toEqual([
      ['memory.swap.max', '0'],
      ['memory.max', '1048576'],
    ]);
    await expectCode(manager.set({ memory: { limit: 1048576, swap: 2097152 } }), 'CGROUP_UNSUPPORTED');
  });

  it('create() enables the root controllers in each parent, not in the leaf', async () => {
    const { fixture, fileSystem, manager } = await v2Fixture({
      'cgroup.controllers': 'cpu memory pids\n',
      'cgroup.subtree_control': 'memory\n',
      'cgroup.procs': '1\n',
    });
    await manager.create();
    expect(
      fileSystem.calls.map((call) => [
        call.op,
        call.path.slice(fixture.root.length),
        'data' in call ? call.data : '',
      ]),
    ).toEqual([
      ['write', '/cgroup.subtree_control', '+cpu +pids'],
      ['mkdir', '/ocikit', ''],
      // ocikit/cgroup.subtree_control does not exist on the fixture (a kernel would create it), so the
      // grouped write fails and each controller is tried alone; the failures become notes.
      ['write', '/ocikit/cgroup.subtree_control', '+cpu +memory +pids'],
      ['write', '/ocikit/cgroup.subtree_control', '+cpu'],
      ['write', '/ocikit/cgroup.subtree_control', '+memory'],
      ['write', '/ocikit/cgroup.subtree_control', '+pids'],
      ['mkdir', `/${PATH}`, ''],
    ]);
    expect(manager.notes).toHaveLength(3);
  });

  it('parses stats from the v2 files', async () => {
    const { manager } = await v2Fixture();
    const stats = await manager.stats();
    expect(stats.cpu.usage).toEqual({
      total: 250000000,
      percpu: [],
      percpu_kernel: [],
      percpu_user: [],
      user: 200000000,
      kernel: 50000000,
    });
    expect(stats.cpu.throttling).toEqual({ periods: 10, throttledPeriods: 4, throttledTime: 3000000 });
    expect(stats.memory.cache).toBe(1048576);
    expect(stats.memory.raw.anon).toBe(2097152);
    expect(stats.memory.usage).toEqual({ usage: 4194304, limit: 2 ** 64, max: 8388608, failcnt: 5 });
    expect(stats.memory.swap).toEqual({ usage: 4194304 + 8192, limit: 2 ** 64, max: 0, failcnt: 0 });
    expect(stats.pids).toEqual({ current: 3, limit: 0 });
    expect(stats.blkio.ioServiceBytesRecursive).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 0, op: 'Write', value: 8192 },
    ]);
    expect(stats.hugetlb).toEqual({
      '1GB': { usage: 0, max: 0, failcnt: 0 },
      '2MB': { usage: 2097152, max: 0, failcnt: 3 },
    });
  });

  it('freezes through cgroup.freeze and reads the state from cgroup.events', async () => {
    const { fixture, manager } = await v2Fixture();
    expect(await manager.freezerState()).toBe('thawed');
    await fixture.write(`${PATH}/cgroup.freeze`, '1\n');
    expect(await manager.freezerState()).toBe('freezing');
    await fixture.write(`${PATH}/cgroup.events`, 'populated 1\nfrozen 1\n');
    expect(await manager.freezerState()).toBe('frozen');
    await manager.freeze();
    await manager.thaw();
    expect(await fixture.read(`${PATH}/cgroup.freeze`)).toBe('0');
  });

  it('counts oom_kill from memory.events and ends the event stream when the cgroup goes', async () => {
    const { fixture, manager } = await v2Fixture({
      'cgroup.controllers': CONTROLLERS,
      [`${PATH}/memory.events`]: 'oom 0\noom_kill 0\n',
    });
    expect(await manager.oomKillCount()).toBe(0);
    await fixture.write(`${PATH}/memory.events`, 'oom 1\noom_kill 1\n');
    expect(await manager.oomKillCount()).toBe(1);
    await fixture.remove();
    const events = [];
    for await (const event of manager.oomEvents({ intervalMs: 1 })) events.push(event);
    expect(events).toEqual([]);
  });

  it('resolves a relative path under the caller cgroup from the 0:: line', async () => {
    const { fixture } = await v2Fixture();
    const manager = createCgroupManager({ path: 'rel/x', root: fixture.root, procRoot: fixture.proc });
    expect(await manager.directories()).toEqual(
      new Map([['', join(fixture.root, 'user.slice/session/rel/x')]]),
    );
  });
});
