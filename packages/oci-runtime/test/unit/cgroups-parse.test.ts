import { describe, expect, it } from 'vitest';
import { isWithin, parseCgroupMounts } from '../../src/cgroups/mountinfo.js';
import {
  parseBlkioStat,
  parseCpuacctUsageAll,
  parseFlatKeyed,
  parseIoStat,
  parseNumberList,
  parsePidList,
  parseProcCgroup,
} from '../../src/cgroups/parse.js';
import { cgroupDirectory, isSystemdCgroupsPath, resolveCgroupsPath } from '../../src/cgroups/paths.js';
import { isRuntimeError } from '../../src/errors.js';

describe('cgroupfs file parsers', () => {
  it('parses flat keyed files', () => {
    expect(parseFlatKeyed('oom_kill_disable 0\nunder_oom 1\noom_kill 3\n')).toEqual({
      oom_kill_disable: 0,
      under_oom: 1,
      oom_kill: 3,
    });
    expect(parseFlatKeyed('low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n').oom_kill).toBe(2);
  });

  it('parses cpuacct per-cpu files', () => {
    expect(parseNumberList('100 200 300 \n')).toEqual([100, 200, 300]);
    expect(parseCpuacctUsageAll('cpu user system\n0 10 20\n1 30 40\n')).toEqual({
      user: [10, 30],
      kernel: [20, 40],
    });
  });

  it('parses pid lists', () => {
    expect(parsePidList('12\n7\n\n')).toEqual([12, 7]);
  });

  it('parses v1 blkio files and skips the Total line', () => {
    expect(parseBlkioStat('8:0 Read 4096\n8:16 Write 8\nTotal 4104\n')).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 16, op: 'Write', value: 8 },
    ]);
    expect(parseBlkioStat('8:0 1234\n')).toEqual([{ major: 8, minor: 0, op: '', value: 1234 }]);
  });

  it('parses v2 io.stat into runc read/write entries', () => {
    const parsed = parseIoStat(
      '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=1 wbytes=0 rios=1 wios=0\n',
    );
    expect(parsed.serviceBytes).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 0, op: 'Write', value: 8192 },
      { major: 259, minor: 0, op: 'Read', value: 1 },
      { major: 259, minor: 0, op: 'Write', value: 0 },
    ]);
    expect(parsed.serviced[1]).toEqual({ major: 8, minor: 0, op: 'Write', value: 2 });
  });

  it('parses /proc/self/cgroup of a hybrid host', () => {
    const entries = parseProcCgroup('9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n');
    expect(entries).toEqual([
      { hierarchyId: 9, controllers: ['name=systemd'], path: '/' },
      { hierarchyId: 4, controllers: ['memory'], path: '/process_api/abc' },
      { hierarchyId: 2, controllers: ['cpu', 'cpuacct'], path: '/x' },
      { hierarchyId: 0, controllers: [], path: '/' },
    ]);
  });

  it('finds cgroup mounts in mountinfo, with octal escapes and non-/ roots', () => {
    const mounts = parseCgroupMounts(
      [
        '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
        '32 30 0:29 /docker/x /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory,clone_children',
        '33 30 0:30 / /tmp/with\\040space rw - cgroup2 cgroup2 rw,nsdelegate',
        '34 30 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
        '35 22 0:5 / /dev rw - devtmpfs udev rw',
      ].join('\n'),
    );
    expect(mounts).toEqual([
      {
        mountpoint: '/sys/fs/cgroup/cpu,cpuacct',
        root: '/',
        fstype: 'cgroup',
        controllers: ['cpu', 'cpuacct'],
      },
      { mountpoint: '/sys/fs/cgroup/memory', root: '/docker/x', fstype: 'cgroup', controllers: ['memory'] },
      { mountpoint: '/tmp/with space', root: '/', fstype: 'cgroup2', controllers: [] },
      { mountpoint: '/sys/fs/cgroup/systemd', root: '/', fstype: 'cgroup', controllers: ['name=systemd'] },
    ]);
    expect(isWithin('/a/b', '/a')).toBe(true);
    expect(isWithin('/ab', '/a')).toBe(false);
  });
});

describe('cgroupsPath semantics', () => {
  it('resolves absolute and relative paths and never climbs above the root', () => {
    expect(resolveCgroupsPath('/ocikit/abc', '/ignored')).toBe('/ocikit/abc');
    expect(resolveCgroupsPath('ocikit/abc', '/user.slice/me')).toBe('/user.slice/me/ocikit/abc');
    expect(resolveCgroupsPath('/../../etc', '/')).toBe('/etc');
    expect(resolveCgroupsPath('../../../x', '/a')).toBe('/x');
  });

  it('refuses the systemd slice:prefix:name form with CGROUP_UNSUPPORTED', () => {
    expect(isSystemdCgroupsPath('system.slice:ocikit:abc')).toBe(true);
    expect(isSystemdCgroupsPath('/a:b:c')).toBe(false);
    try {
      resolveCgroupsPath('system.slice:ocikit:abc', '/');
      expect.unreachable();
    } catch (error) {
      expect(isRuntimeError(error, 'CGROUP_UNSUPPORTED')).toBe(true);
      expect((error as Error).message).toContain('systemd cgroup driver not supported');
    }
    expect(() => resolveCgroupsPath('', '/')).toThrow(/empty/);
  });

  it('maps a cgroup to its directory below a mount root', () => {
    expect(cgroupDirectory('/sys/fs/cgroup/memory', '/', '/ocikit/abc')).toBe(
      '/sys/fs/cgroup/memory/ocikit/abc',
    );
    expect(cgroupDirectory('/sys/fs/cgroup/memory', '/docker/x', '/docker/x/sub')).toBe(
      '/sys/fs/cgroup/memory/sub',
    );
    expect(cgroupDirectory('/sys/fs/cgroup/memory', '/docker/x', '/other')).toBe(
      '/sys/fs/cgroup/memory/other',
    );
  });
});
