import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { parseProcess, parseRuntimeSpec, type RuntimeSpec } from '../../src/spec/config.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { serializeRuntimeSpec } from '../../src/spec/serialize.js';

function invalidAt(input: unknown, path: string): string {
  try {
    parseRuntimeSpec(input);
  } catch (error) {
    expect(isRuntimeError(error, 'INVALID_SPEC'), String(error)).toBe(true);
    expect((error as { path?: string }).path).toBe(path);
    const message = (error as Error).message;
    expect(message).toContain(path);
    return message;
  }
  throw new Error(`expected INVALID_SPEC at ${path}`);
}

/** A fresh default spec edited by `edit`. */
function edited(edit: (spec: RuntimeSpec) => void): RuntimeSpec {
  const spec = defaultSpec();
  edit(spec);
  return spec;
}

describe('defaultSpec', () => {
  it('is what runc spec writes and parses back unchanged through JSON', () => {
    const spec = defaultSpec();
    expect(spec.process?.args).toEqual(['sh']);
    expect(spec.process?.terminal).toBe(true);
    expect(spec.process?.capabilities?.bounding).toEqual([
      'CAP_AUDIT_WRITE',
      'CAP_KILL',
      'CAP_NET_BIND_SERVICE',
    ]);
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.mounts?.map((mount) => `${mount.destination}:${mount.type}`)).toEqual([
      '/proc:proc',
      '/dev:tmpfs',
      '/dev/pts:devpts',
      '/dev/shm:tmpfs',
      '/dev/mqueue:mqueue',
      '/sys:sysfs',
      '/sys/fs/cgroup:cgroup',
    ]);
    expect(spec.linux?.namespaces?.map((namespace) => namespace.type)).toEqual([
      'pid',
      'network',
      'ipc',
      'uts',
      'mount',
    ]);
    expect(spec.linux?.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux?.readonlyPaths).toContain('/proc/sys');
    const text = serializeRuntimeSpec(spec);
    expect(parseRuntimeSpec(text)).toEqual(spec);
    expect(parseRuntimeSpec(Buffer.from(text))).toEqual(spec);
  });

  it('rootless: a user namespace with mappings, no network namespace, /sys bound, no gid= option, no resources', () => {
    const spec = defaultSpec({ rootless: true, uid: 1000, gid: 1001, cgroupNamespace: true });
    expect(spec.linux?.namespaces?.map((namespace) => namespace.type)).toEqual([
      'pid',
      'ipc',
      'uts',
      'mount',
      'cgroup',
      'user',
    ]);
    expect(spec.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(spec.linux?.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(spec.mounts?.find((mount) => mount.destination === '/sys')?.options).toContain('rbind');
    expect(spec.mounts?.find((mount) => mount.destination === '/dev/pts')?.options).not.toContain('gid=5');
    expect(spec.linux?.resources).toBeUndefined();
    expect(parseRuntimeSpec(spec)).toEqual(spec);
  });

  it('returns a fresh object every time', () => {
    const first = defaultSpec();
    first.process?.args?.push('-c');
    expect(defaultSpec().process?.args).toEqual(['sh']);
  });
});

describe('parseRuntimeSpec: JSON', () => {
  it('keeps uint64 values exact (RLIM_INFINITY, seccomp masks) and writes them back exactly', () => {
    const text = `{"ociVersion":"1.2.0","process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/",
      "rlimits":[{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615}]},
      "linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO",
      "args":[{"index":1,"value":18446744073709551614,"valueTwo":9007199254740993,"op":"SCMP_CMP_MASKED_EQ"}]}]}}}`;
    const spec = parseRuntimeSpec(text);
    expect(spec.process?.rlimits?.[0]?.hard).toBe(18446744073709551615n);
    const arg = spec.linux?.seccomp?.syscalls?.[0]?.args?.[0];
    expect(arg?.value).toBe(18446744073709551614n);
    expect(arg?.valueTwo).toBe(9007199254740993n);
    const written = serializeRuntimeSpec(spec);
    expect(written).toContain('"hard": 18446744073709551615');
    expect(written).toContain('"valueTwo": 9007199254740993');
    expect(parseRuntimeSpec(written)).toEqual(spec);
  });

  it('fails with INVALID_SPEC on broken JSON, naming the offset', () => {
    try {
      parseRuntimeSpec('{"ociVersion": "1.2.0",', 'bundle/config.json');
      throw new Error('expected a failure');
    } catch (error) {
      expect(isRuntimeError(error, 'INVALID_SPEC')).toBe(true);
      expect((error as Error).message).toMatch(/bundle\/config\.json.*offset 23/);
    }
  });

  it('ignores unknown properties (runtime-spec asks runtimes to)', () => {
    const spec = parseRuntimeSpec({
      ociVersion: '1.2.0',
      futureField: { x: 1 },
      windows: { layerFolders: [] },
    });
    expect(spec).toEqual({ ociVersion: '1.2.0' });
  });

  it('does not let a __proto__ key change the prototype', () => {
    const spec = parseRuntimeSpec('{"ociVersion":"1.2.0","annotations":{"__proto__":"x","a":"b"}}');
    expect(Object.getPrototypeOf(spec.annotations)).toBe(Object.prototype);
    expect(spec.annotations?.a).toBe('b');
  });
});

describe('parseRuntimeSpec: each bad field is named by its path', () => {
  const cases: [string, unknown, string][] = [
    ['ociVersion missing', {}, 'ociVersion'],
    ['ociVersion not semver', { ociVersion: 'one' }, 'ociVersion'],
    [
      'unknown namespace type',
      edited((s) => s.linux!.namespaces!.push({ type: 'net' as 'network' })),
      'linux.namespaces[5].type',
    ],
    [
      'duplicate namespace',
      edited((s) => s.linux!.namespaces!.push({ type: 'pid' })),
      'linux.namespaces[5].type',
    ],
    [
      'relative namespace path',
      edited((s) => {
        s.linux!.namespaces![1] = { type: 'network', path: 'proc/1/ns/net' };
      }),
      'linux.namespaces[1].path',
    ],
    [
      'relative cwd',
      edited((s) => {
        s.process!.cwd = 'home';
      }),
      'process.cwd',
    ],
    [
      'no args',
      edited((s) => {
        s.process!.args = [];
      }),
      'process.args',
    ],
    ['env without =', edited((s) => s.process!.env!.push('JUSTNAME')), 'process.env[2]'],
    [
      'uid not a number',
      edited((s) => {
        (s.process!.user as { uid: unknown }).uid = '0';
      }),
      'process.user.uid',
    ],
    [
      'negative gid',
      edited((s) => {
        s.process!.user.gid = -1;
      }),
      'process.user.gid',
    ],
    [
      'capability not CAP_*',
      edited((s) => s.process!.capabilities!.effective!.push('SYS_ADMIN')),
      'process.capabilities.effective[3]',
    ],
    [
      'unknown rlimit',
      edited((s) => s.process!.rlimits!.push({ type: 'RLIMIT_FOO', hard: 1, soft: 1 })),
      'process.rlimits[1].type',
    ],
    [
      'duplicate rlimit',
      edited((s) => s.process!.rlimits!.push({ type: 'RLIMIT_NOFILE', hard: 1, soft: 1 })),
      'process.rlimits[1].type',
    ],
    [
      'soft above hard',
      edited((s) => {
        s.process!.rlimits![0]!.soft = 2048;
      }),
      'process.rlimits[0].soft',
    ],
    [
      'oomScoreAdj range',
      edited((s) => {
        s.process!.oomScoreAdj = 1001;
      }),
      'process.oomScoreAdj',
    ],
    [
      'relative mount destination',
      edited((s) => {
        s.mounts![2]!.destination = 'dev/pts';
      }),
      'mounts[2].destination',
    ],
    [
      'mount options not strings',
      edited((s) => {
        (s.mounts![1] as { options: unknown }).options = [1];
      }),
      'mounts[1].options[0]',
    ],
    [
      'relative hook path',
      edited((s) => {
        s.hooks = { poststop: [{ path: 'bin/true' }] };
      }),
      'hooks.poststop[0].path',
    ],
    [
      'zero hook timeout',
      edited((s) => {
        s.hooks = { createRuntime: [{ path: '/bin/true', timeout: 0 }] };
      }),
      'hooks.createRuntime[0].timeout',
    ],
    [
      'user namespace without mappings',
      edited((s) => s.linux!.namespaces!.push({ type: 'user' })),
      'linux.uidMappings',
    ],
    [
      'mappings without user namespace',
      edited((s) => {
        s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      }),
      'linux.gidMappings',
    ],
    [
      'zero-size mapping',
      edited((s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 1, size: 0 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 1, size: 1 }];
      }),
      'linux.uidMappings[0].size',
    ],
    [
      'hostname without uts namespace',
      edited((s) => {
        s.linux!.namespaces = [{ type: 'mount' }];
      }),
      'hostname',
    ],
    [
      'device type',
      edited((s) => {
        s.linux!.devices = [{ path: '/dev/fuse', type: 'x', major: 10, minor: 229 }];
      }),
      'linux.devices[0].type',
    ],
    [
      'device without major',
      edited((s) => {
        s.linux!.devices = [{ path: '/dev/fuse', type: 'c', minor: 229 }];
      }),
      'linux.devices[0].major',
    ],
    [
      'device cgroup access',
      edited((s) => {
        s.linux!.resources!.devices![0]!.access = 'rwx';
      }),
      'linux.resources.devices[0].access',
    ],
    [
      'memory limit not integer',
      edited((s) => {
        s.linux!.resources!.memory = { limit: 1.5 };
      }),
      'linux.resources.memory.limit',
    ],
    [
      'relative masked path',
      edited((s) => s.linux!.maskedPaths!.push('proc/kcore')),
      'linux.maskedPaths[11]',
    ],
    [
      'rootfsPropagation value',
      edited((s) => {
        (s.linux as { rootfsPropagation: string }).rootfsPropagation = 'sideways';
      }),
      'linux.rootfsPropagation',
    ],
    [
      'time offsets without time namespace',
      edited((s) => {
        s.linux!.timeOffsets = { monotonic: { secs: 1 } };
      }),
      'linux.timeOffsets.monotonic',
    ],
    [
      'sysctl value not a string',
      edited((s) => {
        (s.linux as { sysctl: unknown }).sysctl = { 'net.ipv4.ip_forward': 1 };
      }),
      'linux.sysctl["net.ipv4.ip_forward"]',
    ],
    [
      'seccomp action',
      edited((s) => {
        s.linux!.seccomp = { defaultAction: 'SCMP_ACT_NOPE' as 'SCMP_ACT_ALLOW' };
      }),
      'linux.seccomp.defaultAction',
    ],
    [
      'seccomp empty names',
      edited((s) => {
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }],
        };
      }),
      'linux.seccomp.syscalls[0].names',
    ],
    [
      'seccomp arg index',
      edited((s) => {
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [
            { names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] },
          ],
        };
      }),
      'linux.seccomp.syscalls[0].args[0].index',
    ],
    [
      'seccomp operator',
      edited((s) => {
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [
            {
              names: ['read'],
              action: 'SCMP_ACT_ERRNO',
              args: [{ index: 0, value: 0, op: 'SCMP_CMP_XX' as 'SCMP_CMP_EQ' }],
            },
          ],
        };
      }),
      'linux.seccomp.syscalls[0].args[0].op',
    ],
    [
      'seccomp architecture',
      edited((s) => {
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          architectures: ['SCMP_ARCH_Z80' as 'SCMP_ARCH_X86'],
        };
      }),
      'linux.seccomp.architectures[0]',
    ],
    [
      'personality domain',
      edited((s) => {
        s.linux!.personality = { domain: 'LINUX64' as 'LINUX' };
      }),
      'linux.personality.domain',
    ],
    [
      'ioPriority class',
      edited((s) => {
        s.process!.ioPriority = { class: 'IOPRIO_CLASS_X' as 'IOPRIO_CLASS_BE', priority: 1 };
      }),
      'process.ioPriority.class',
    ],
    [
      'scheduler policy',
      edited((s) => {
        s.process!.scheduler = { policy: 'SCHED_NOPE' as 'SCHED_OTHER' };
      }),
      'process.scheduler.policy',
    ],
    [
      'execCPUAffinity list',
      edited((s) => {
        s.process!.execCPUAffinity = { initial: '0-3,x' };
      }),
      'process.execCPUAffinity.initial',
    ],
  ];
  for (const [name, input, path] of cases) {
    it(`${name} → ${path}`, () => {
      invalidAt(input, path);
    });
  }

  it('messages are lower case and say what is wrong', () => {
    const message = invalidAt(
      edited((s) => s.linux!.namespaces!.push({ type: 'pid' })),
      'linux.namespaces[5].type',
    );
    expect(message).toMatch(/duplicate namespace type pid/);
    const schemaMessage = invalidAt({ ociVersion: 1 }, 'ociVersion');
    expect(schemaMessage).toMatch(/^parse spec: ociVersion: [a-z]/);
  });
});

describe('parseRuntimeSpec: accepted shapes', () => {
  it('accepts a user namespace joined by path without mappings, and the time namespace with offsets', () => {
    const spec = edited((s) => {
      s.linux!.namespaces!.push({ type: 'user', path: '/proc/1/ns/user' }, { type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 10, nanosecs: 5 }, boottime: { secs: -3 } };
    });
    expect(parseRuntimeSpec(spec).linux?.timeOffsets?.boottime?.secs).toBe(-3);
  });

  it('accepts the full 1.2 field set', () => {
    const spec = edited((s) => {
      s.domainname = 'example.org';
      s.annotations = { 'org.example.key': 'value' };
      s.hooks = {
        prestart: [{ path: '/usr/bin/fix-mounts', args: ['fix-mounts', 'arg1'], env: ['key1=value1'] }],
        createRuntime: [{ path: '/usr/bin/setup-network', timeout: 5 }],
        createContainer: [{ path: '/usr/bin/mount-hook' }],
        startContainer: [{ path: '/usr/bin/refresh-ldcache' }],
        poststart: [{ path: '/usr/bin/notify-start' }],
        poststop: [{ path: '/usr/sbin/cleanup.sh', args: ['cleanup.sh', '-f'] }],
      };
      const process = s.process!;
      process.consoleSize = { height: 25, width: 80 };
      process.user = { uid: 1, gid: 1, umask: 0o22, additionalGids: [5, 6] };
      process.apparmorProfile = 'acme_secure_profile';
      process.selinuxLabel = 'system_u:system_r:svirt_lxc_net_t:s0:c124,c675';
      process.oomScoreAdj = 100;
      process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 4 };
      process.scheduler = {
        policy: 'SCHED_DEADLINE',
        runtime: 20000,
        deadline: 50000,
        period: 100000,
        flags: ['SCHED_FLAG_RESET_ON_FORK'],
      };
      process.execCPUAffinity = { initial: '7', final: '0-3,7' };
      s.mounts!.push({
        destination: '/data',
        type: 'bind',
        source: '/srv/data',
        options: ['rbind', 'ro'],
        uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      });
      const linux = s.linux!;
      linux.devices = [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      ];
      linux.netDevices = { eth1: { name: 'ctr1' } };
      linux.cgroupsPath = '/myRuntime/myContainer';
      linux.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
        ],
        memory: {
          limit: 536870912,
          reservation: 536870912,
          swap: 536870912,
          kernelTCP: -1,
          swappiness: 0,
          disableOOMKiller: false,
          checkBeforeUpdate: true,
        },
        cpu: {
          shares: 1024,
          quota: 1000000,
          burst: 1000000,
          period: 500000,
          realtimeRuntime: 950000,
          realtimePeriod: 1000000,
          cpus: '2-3',
          mems: '0-7',
          idle: 0,
        },
        pids: { limit: 32771 },
        blockIO: {
          weight: 10,
          leafWeight: 10,
          weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 300 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'io.weight': '10' },
      };
      linux.intelRdt = {
        closID: 'guaranteed_group',
        l3CacheSchema: 'L3:0=7f0;1=1f',
        memBwSchema: 'MB:0=20;1=70',
      };
      linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      linux.rootfsPropagation = 'rslave';
      linux.mountLabel = 'system_u:object_r:svirt_sandbox_file_t:s0:c715,c811';
      linux.personality = { domain: 'LINUX' };
      linux.seccomp = {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        syscalls: [{ names: ['getcwd', 'chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 }],
      };
    });
    expect(parseRuntimeSpec(serializeRuntimeSpec(spec))).toEqual(spec);
  });
});

describe('parseProcess', () => {
  it('parses an exec process file with paths relative to the process object', () => {
    const process = parseProcess(
      '{"user":{"uid":0,"gid":0},"args":["/bin/true"],"cwd":"/","terminal":false}',
    );
    expect(process.args).toEqual(['/bin/true']);
    try {
      parseProcess({ user: { uid: 0, gid: 0 }, args: ['x'], cwd: 'rel' });
      throw new Error('expected a failure');
    } catch (error) {
      expect(isRuntimeError(error, 'INVALID_SPEC')).toBe(true);
      expect((error as { path?: string }).path).toBe('cwd');
    }
  });
});
