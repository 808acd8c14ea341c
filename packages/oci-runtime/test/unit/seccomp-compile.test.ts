import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { compileSeccomp } from '../../src/seccomp/compile.js';
import { auditArch, seccompReturn } from '../../src/seccomp/constants.js';
import { syscallTable } from '../../src/seccomp/syscall-table.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSeccompOperator } from '../../src/spec/config.js';
import { runSeccompFilter, type SeccompData } from '../../src/testing/bpf-interpreter.js';
import { seededRandom } from '../../src/testing/seeded-random.js';

const X86_64 = auditArch.X86_64;
const AARCH64 = auditArch.AARCH64;
const nr = (name: string): number => syscallTable('x86_64')[name]!;
const errno = (value: number): number => (seccompReturn.ERRNO | value) >>> 0;

function run(profile: LinuxSeccomp, data: SeccompData, arch: 'x86_64' | 'aarch64' = 'x86_64'): number {
  return runSeccompFilter(compileSeccomp(profile, { arch }).program, data);
}

function expectCode(fn: () => unknown, code: 'SECCOMP_INVALID' | 'NOT_SUPPORTED', path?: string): void {
  try {
    fn();
  } catch (error) {
    expect(isRuntimeError(error, code), String(error)).toBe(true);
    if (path !== undefined) expect((error as { path?: string }).path).toBe(path);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('compileSeccomp: actions', () => {
  const cases: [LinuxSeccomp['defaultAction'], number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, seccompReturn.KILL_THREAD],
    ['SCMP_ACT_KILL_THREAD', undefined, seccompReturn.KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, seccompReturn.KILL_PROCESS],
    ['SCMP_ACT_TRAP', undefined, seccompReturn.TRAP],
    ['SCMP_ACT_ERRNO', undefined, errno(1)],
    ['SCMP_ACT_ERRNO', 13, errno(13)],
    ['SCMP_ACT_TRACE', undefined, (seccompReturn.TRACE | 1) >>> 0],
    ['SCMP_ACT_TRACE', 7, (seccompReturn.TRACE | 7) >>> 0],
    ['SCMP_ACT_LOG', undefined, seccompReturn.LOG],
  ];
  for (const [action, errnoRet, expected] of cases) {
    it(`a rule with ${action}${errnoRet === undefined ? '' : ` errnoRet ${errnoRet}`} returns 0x${expected.toString(16)}`, () => {
      const profile: LinuxSeccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['getpid'], action, ...(errnoRet === undefined ? {} : { errnoRet }) }],
      };
      expect(run(profile, { nr: nr('getpid'), arch: X86_64 })).toBe(expected);
      expect(run(profile, { nr: nr('getppid'), arch: X86_64 })).toBe(seccompReturn.ALLOW);
    });
  }

  it('the default action applies to unlisted calls, with defaultErrnoRet', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }],
    };
    expect(run(profile, { nr: nr('read'), arch: X86_64 })).toBe(seccompReturn.ALLOW);
    expect(run(profile, { nr: nr('write'), arch: X86_64 })).toBe(seccompReturn.ALLOW);
    expect(run(profile, { nr: nr('mkdir'), arch: X86_64 })).toBe(errno(38));
  });

  it('rejects errnoRet on an action without one, and a 17-bit errno', () => {
    expectCode(
      () =>
        compileSeccomp(
          {
            defaultAction: 'SCMP_ACT_ERRNO',
            syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }],
          },
          { arch: 'x86_64' },
        ),
      'SECCOMP_INVALID',
      'linux.seccomp.syscalls[0].action',
    );
    expectCode(
      () => compileSeccomp({ defaultAction: 'SCMP_ACT_KILL', defaultErrnoRet: 1 }, { arch: 'x86_64' }),
      'SECCOMP_INVALID',
      'linux.seccomp.defaultAction',
    );
    expectCode(
      () => compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 0x10000 }, { arch: 'x86_64' }),
      'SECCOMP_INVALID',
    );
  });

  it('rejects SCMP_ACT_NOTIFY, a listener path and the NEW_LISTENER flag as NOT_SUPPORTED', () => {
    expectCode(
      () => compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }, { arch: 'x86_64' }),
      'NOT_SUPPORTED',
    );
    expectCode(
      () =>
        compileSeccomp(
          { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] },
          { arch: 'x86_64' },
        ),
      'NOT_SUPPORTED',
      'linux.seccomp.syscalls[0].action',
    );
    expectCode(
      () =>
        compileSeccomp(
          { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' },
          { arch: 'x86_64' },
        ),
      'NOT_SUPPORTED',
      'linux.seccomp.listenerPath',
    );
    expectCode(
      () =>
        compileSeccomp(
          { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] },
          { arch: 'x86_64' },
        ),
      'NOT_SUPPORTED',
    );
  });

  it('a rule that repeats the default action is dropped, so it cannot shadow later rules (runc)', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['kill'], action: 'SCMP_ACT_ERRNO' },
        { names: ['kill'], action: 'SCMP_ACT_ALLOW' },
      ],
    };
    expect(run(profile, { nr: nr('kill'), arch: X86_64 })).toBe(seccompReturn.ALLOW);
  });
});

describe('compileSeccomp: flags and encoding', () => {
  it('maps flags to SECCOMP_FILTER_FLAG_* bits', () => {
    const flags = (list: string[]): number =>
      compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: list }, { arch: 'x86_64' }).flags;
    expect(flags([])).toBe(0);
    expect(flags(['SECCOMP_FILTER_FLAG_TSYNC'])).toBe(1);
    expect(flags(['SECCOMP_FILTER_FLAG_LOG'])).toBe(2);
    expect(flags(['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'])).toBe(6);
    // Needs a listener, which is not supported: left out rather than making the kernel refuse the filter.
    expect(flags(['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'])).toBe(0);
    expectCode(() => flags(['SECCOMP_FILTER_FLAG_BOGUS']), 'SECCOMP_INVALID', 'linux.seccomp.flags[0]');
  });

  it('encodes 8-byte little-endian sock_filter entries starting with a load of seccomp_data.arch', () => {
    const compiled = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { arch: 'x86_64' });
    expect(compiled.program.length).toBe(compiled.instructions * 8);
    // ld [4]: code 0x20 (BPF_LD|BPF_W|BPF_ABS), k = 4.
    expect(compiled.program.readUInt16LE(0)).toBe(0x20);
    expect(compiled.program.readUInt32LE(4)).toBe(4);
    // jeq AUDIT_ARCH_X86_64.
    expect(compiled.program.readUInt16LE(8)).toBe(0x15);
    expect(compiled.program.readUInt32LE(12)).toBe(X86_64);
    expect(compiled.architectures).toEqual(['x86_64']);
  });
});

// Reference semantics of one comparison on unsigned 64-bit values.
function holds(op: LinuxSeccompOperator, argument: bigint, value: bigint, valueTwo: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_EQ':
      return argument === value;
    case 'SCMP_CMP_NE':
      return argument !== value;
    case 'SCMP_CMP_LT':
      return argument < value;
    case 'SCMP_CMP_LE':
      return argument <= value;
    case 'SCMP_CMP_GT':
      return argument > value;
    case 'SCMP_CMP_GE':
      return argument >= value;
    case 'SCMP_CMP_MASKED_EQ':
      return (argument & value) === valueTwo;
  }
}

const interesting = [
  0n,
  1n,
  5n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x100000005n,
  0x1ffffffffn,
  0xffffffff00000000n,
  0xffffffff00000005n,
  0x8000000000000000n,
  2n ** 64n - 2n,
  2n ** 64n - 1n,
];
const operators: LinuxSeccompOperator[] = [
  'SCMP_CMP_EQ',
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_GT',
  'SCMP_CMP_GE',
  'SCMP_CMP_MASKED_EQ',
];

describe('compileSeccomp: argument conditions', () => {
  for (const op of operators) {
    it(`${op} compares all 64 bits (high and low words) like unsigned integers`, () => {
      for (const value of interesting) {
        const valueTwo = op === 'SCMP_CMP_MASKED_EQ' ? value & 0xffff0000_0000ffffn : 0n;
        for (const index of [0, 3, 5]) {
          const arg: LinuxSeccompArg = { index, value, valueTwo, op };
          const program = compileSeccomp(
            {
              defaultAction: 'SCMP_ACT_ALLOW',
              syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [arg] }],
            },
            { arch: 'x86_64' },
          ).program;
          for (const argument of interesting) {
            const args = [0n, 0n, 0n, 0n, 0n, 0n];
            args[index] = argument;
            // A neighbour argument that must not matter.
            args[(index + 1) % 6] = 0xdeadbeefcafef00dn;
            const result = runSeccompFilter(program, { nr: nr('ioctl'), arch: X86_64, args });
            const expected = holds(op, argument, value, valueTwo) ? errno(1) : seccompReturn.ALLOW;
            expect(result, `${op} arg${index}=0x${argument.toString(16)} value=0x${value.toString(16)}`).toBe(
              expected,
            );
          }
        }
      }
    });
  }

  it('MASKED_EQ tests (arg & value) == valueTwo, as in the docker clone rule', () => {
    // Docker: clone is allowed when no namespace flags are set: (flags & 0x7E020000) == 0.
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['clone'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    };
    expect(run(profile, { nr: nr('clone'), arch: X86_64, args: [0x01200011] })).toBe(seccompReturn.ALLOW);
    expect(run(profile, { nr: nr('clone'), arch: X86_64, args: [0x10000000 | 0x11] })).toBe(errno(1));
  });

  it('conditions of one rule AND together', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['socket'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 97,
          args: [
            { index: 0, value: 16, op: 'SCMP_CMP_EQ' },
            { index: 2, value: 9, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    };
    expect(run(profile, { nr: nr('socket'), arch: X86_64, args: [16, 3, 9] })).toBe(errno(97));
    expect(run(profile, { nr: nr('socket'), arch: X86_64, args: [16, 3, 0] })).toBe(seccompReturn.ALLOW);
    expect(run(profile, { nr: nr('socket'), arch: X86_64, args: [2, 3, 9] })).toBe(seccompReturn.ALLOW);
  });

  it('rules for one call OR together, the first that matches deciding', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }],
        },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }],
        },
        {
          names: ['personality'],
          action: 'SCMP_ACT_LOG',
          args: [{ index: 0, value: 100, op: 'SCMP_CMP_GE' }],
        },
        {
          names: ['personality'],
          action: 'SCMP_ACT_TRAP',
          args: [{ index: 0, value: 1000, op: 'SCMP_CMP_GE' }],
        },
      ],
    };
    const call = (value: number): number =>
      run(profile, { nr: nr('personality'), arch: X86_64, args: [value] });
    expect(call(0)).toBe(seccompReturn.ALLOW);
    expect(call(8)).toBe(seccompReturn.ALLOW);
    expect(call(9)).toBe(errno(1));
    expect(call(100)).toBe(seccompReturn.LOG);
    expect(call(5000)).toBe(seccompReturn.LOG);
  });

  it('two conditions on the same argument become alternatives (runc turns each into its own rule)', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 1, value: 9, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 15, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    };
    expect(run(profile, { nr: nr('kill'), arch: X86_64, args: [1, 9] })).toBe(errno(1));
    expect(run(profile, { nr: nr('kill'), arch: X86_64, args: [1, 15] })).toBe(errno(1));
    expect(run(profile, { nr: nr('kill'), arch: X86_64, args: [1, 2] })).toBe(seccompReturn.ALLOW);
  });

  it('rejects an argument index above 5', () => {
    expectCode(
      () =>
        compileSeccomp(
          {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [
              {
                names: ['read'],
                action: 'SCMP_ACT_ERRNO',
                args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }],
              },
            ],
          },
          { arch: 'x86_64' },
        ),
      'SECCOMP_INVALID',
      'linux.seccomp.syscalls[0].args[0].index',
    );
  });
});

describe('compileSeccomp: names', () => {
  it('skips names unknown to the table and reports them; the known ones still apply', () => {
    const compiled = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['no_such_call', 'mkdir', 'arm_fadvise64_64', 'no_such_call'], action: 'SCMP_ACT_ERRNO' },
        ],
      },
      { arch: 'x86_64' },
    );
    expect(compiled.skipped).toEqual(['no_such_call', 'arm_fadvise64_64']);
    expect(runSeccompFilter(compiled.program, { nr: nr('mkdir'), arch: X86_64 })).toBe(errno(1));
  });

  it('rejects a rule with an empty names list', () => {
    expectCode(
      () =>
        compileSeccomp(
          { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] },
          { arch: 'x86_64' },
        ),
      'SECCOMP_INVALID',
      'linux.seccomp.syscalls[0].names',
    );
  });
});

describe('compileSeccomp: architectures', () => {
  const denyMkdir: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
  };

  it('a call from an architecture not in the filter gets the bad-arch action (kill thread)', () => {
    expect(run(denyMkdir, { nr: 1, arch: AARCH64 })).toBe(seccompReturn.KILL_THREAD);
    expect(run(denyMkdir, { nr: 1, arch: auditArch.I386 })).toBe(seccompReturn.KILL_THREAD);
    expect(run(denyMkdir, { nr: nr('getpid'), arch: X86_64 })).toBe(seccompReturn.ALLOW);
  });

  it('on x86_64 an x32 call is a bad-arch call unless SCMP_ARCH_X32 is listed; -1 goes to the default', () => {
    const x32Mkdir = syscallTable('x32').mkdir!;
    expect(x32Mkdir).toBe(0x40000000 + 83);
    expect(run(denyMkdir, { nr: x32Mkdir, arch: X86_64 })).toBe(seccompReturn.KILL_THREAD);
    expect(run(denyMkdir, { nr: 0x40000000, arch: X86_64 })).toBe(seccompReturn.KILL_THREAD);
    expect(run(denyMkdir, { nr: -1, arch: X86_64 })).toBe(seccompReturn.ALLOW);
    const withX32 = { ...denyMkdir, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'] } as LinuxSeccomp;
    expect(run(withX32, { nr: x32Mkdir, arch: X86_64 })).toBe(errno(1));
    expect(run(withX32, { nr: syscallTable('x32').getpid!, arch: X86_64 })).toBe(seccompReturn.ALLOW);
    expect(run(withX32, { nr: nr('mkdir'), arch: X86_64 })).toBe(errno(1));
  });

  it('SCMP_ARCH_X86 adds the i386 table under AUDIT_ARCH_I386', () => {
    const profile = { ...denyMkdir, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] } as LinuxSeccomp;
    const compiled = compileSeccomp(profile, { arch: 'x86_64' });
    expect(compiled.architectures).toEqual(['x86_64', 'x86']);
    // i386 mkdir is 39, which is getpid on x86_64.
    expect(runSeccompFilter(compiled.program, { nr: 39, arch: auditArch.I386 })).toBe(errno(1));
    expect(runSeccompFilter(compiled.program, { nr: 39, arch: X86_64 })).toBe(seccompReturn.ALLOW);
    expect(runSeccompFilter(compiled.program, { nr: nr('mkdir'), arch: X86_64 })).toBe(errno(1));
  });

  it('architectures that cannot run on the target are reported and left out', () => {
    const profile = {
      ...denyMkdir,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    } as LinuxSeccomp;
    const compiled = compileSeccomp(profile, { arch: 'x86_64' });
    expect(compiled.ignoredArchitectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(runSeccompFilter(compiled.program, { nr: 34, arch: AARCH64 })).toBe(seccompReturn.KILL_THREAD);
  });

  it('compiles for aarch64 with the generic table (mkdirat = 34, no mkdir)', () => {
    const compiled = compileSeccomp(denyMkdir, { arch: 'aarch64' });
    expect(compiled.skipped).toEqual(['mkdir']);
    expect(runSeccompFilter(compiled.program, { nr: 34, arch: AARCH64 })).toBe(errno(1));
    expect(runSeccompFilter(compiled.program, { nr: 35, arch: AARCH64 })).toBe(seccompReturn.ALLOW);
    expect(runSeccompFilter(compiled.program, { nr: 34, arch: X86_64 })).toBe(seccompReturn.KILL_THREAD);
  });
});

describe('compileSeccomp: ENOSYS for calls newer than the profile (runc)', () => {
  const profile: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['read', 'write', 'openat'], action: 'SCMP_ACT_ALLOW' }],
  };

  it('returns ENOSYS above the highest listed number and the default below it', () => {
    const highest = nr('openat');
    expect(run(profile, { nr: highest, arch: X86_64 })).toBe(seccompReturn.ALLOW);
    expect(run(profile, { nr: highest - 1, arch: X86_64 })).toBe(errno(1));
    expect(run(profile, { nr: highest + 1, arch: X86_64 })).toBe(errno(38));
    expect(run(profile, { nr: 0x3fffffff, arch: X86_64 })).toBe(errno(38));
    expect(run(profile, { nr: -1, arch: X86_64 })).toBe(errno(1));
  });

  it('is off when no architectures are listed, for allow-like defaults, or when disabled', () => {
    const above = nr('openat') + 1;
    const { architectures: _, ...unlisted } = profile;
    expect(run(unlisted, { nr: above, arch: X86_64 })).toBe(errno(1));
    const allowDefault: LinuxSeccomp = { ...profile, defaultAction: 'SCMP_ACT_LOG' };
    expect(run(allowDefault, { nr: above, arch: X86_64 })).toBe(seccompReturn.LOG);
    const disabled = compileSeccomp(profile, { arch: 'x86_64', enosysForNewSyscalls: false });
    expect(runSeccompFilter(disabled.program, { nr: above, arch: X86_64 })).toBe(errno(1));
  });
});

describe('compileSeccomp: size', () => {
  const everything = Object.keys(syscallTable('x86_64'));
  const denied = new Set([
    'mount',
    'umount2',
    'reboot',
    'kexec_load',
    'init_module',
    'ptrace',
    'swapon',
    'bpf',
  ]);

  it('a 350-call allow list stays far below 4096 instructions and allows exactly what it lists', () => {
    const allowed = everything.filter((name) => !denied.has(name)).slice(0, 350);
    expect(allowed.length).toBe(350);
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: allowed, action: 'SCMP_ACT_ALLOW' },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }],
        },
        {
          names: ['clone'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    };
    const compiled = compileSeccomp(profile, { arch: 'x86_64' });
    expect(compiled.instructions).toBeLessThan(4096);
    expect(compiled.instructions).toBeLessThan(1000);
    const highest = Math.max(...allowed.map(nr));
    for (const name of allowed) {
      expect(runSeccompFilter(compiled.program, { nr: nr(name), arch: X86_64 }), name).toBe(
        seccompReturn.ALLOW,
      );
    }
    for (const name of denied) {
      const number = nr(name);
      const expected = number > highest ? errno(38) : errno(1);
      expect(runSeccompFilter(compiled.program, { nr: number, arch: X86_64 }), name).toBe(expected);
    }
  });

  it('long programs route far jumps through trampolines and still evaluate correctly', () => {
    // One conditional rule per call: ~10 instructions each, so tree jumps span far more than 255.
    const names = everything.slice(0, 300);
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: names.map((name, index) => ({
        names: [name],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: (index % 200) + 1,
        args: [{ index: index % 6, value: (BigInt(index) << 32n) | 7n, op: 'SCMP_CMP_GE' }],
      })),
    };
    const compiled = compileSeccomp(profile, { arch: 'x86_64' });
    expect(compiled.instructions).toBeGreaterThan(1000);
    expect(compiled.instructions).toBeLessThan(4096);
    names.forEach((name, index) => {
      const args = [0n, 0n, 0n, 0n, 0n, 0n];
      args[index % 6] = (BigInt(index) << 32n) | 7n;
      expect(runSeccompFilter(compiled.program, { nr: nr(name), arch: X86_64, args }), name).toBe(
        errno((index % 200) + 1),
      );
      args[index % 6] = (BigInt(index) << 32n) | 6n;
      expect(runSeccompFilter(compiled.program, { nr: nr(name), arch: X86_64, args }), name).toBe(
        seccompReturn.ALLOW,
      );
    });
  });

  it('refuses a program above the kernel limit', () => {
    const names = everything.slice(0, 300);
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: names.flatMap((name) =>
        [1, 2].map((value) => ({
          names: [name],
          action: 'SCMP_ACT_ERRNO' as const,
          args: [{ index: 0, value, op: 'SCMP_CMP_GT' as const }],
        })),
      ),
    };
    expectCode(() => compileSeccomp(profile, { arch: 'x86_64' }), 'SECCOMP_INVALID');
  });
});

describe('compileSeccomp: random profiles against a reference evaluator', () => {
  it('agrees with first-match-wins semantics on 40 seeded profiles', () => {
    const names = Object.keys(syscallTable('x86_64')).slice(0, 40);
    const actions = [
      'SCMP_ACT_ALLOW',
      'SCMP_ACT_ERRNO',
      'SCMP_ACT_LOG',
      'SCMP_ACT_TRAP',
      'SCMP_ACT_KILL_PROCESS',
    ] as const;
    const values = [0n, 1n, 2n, 0xffffffffn, 0x100000000n, 0x100000001n, 2n ** 64n - 1n];
    for (let seed = 1; seed <= 40; seed++) {
      const next = seededRandom(seed);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
      const defaultAction = pick(actions);
      const profile: LinuxSeccomp = {
        defaultAction,
        syscalls: Array.from({ length: 12 }, () => {
          const argCount = Math.floor(next() * 3);
          const used = new Set<number>();
          const args: LinuxSeccompArg[] = [];
          for (let i = 0; i < argCount; i++) {
            const index = Math.floor(next() * 6);
            if (used.has(index)) continue;
            used.add(index);
            args.push({ index, value: pick(values), valueTwo: pick(values) & 0xffn, op: pick(operators) });
          }
          const action = pick(actions);
          return {
            names: [pick(names), pick(names)],
            action,
            ...(action === 'SCMP_ACT_ERRNO' ? { errnoRet: Math.floor(next() * 100) } : {}),
            ...(args.length > 0 ? { args } : {}),
          };
        }),
      };
      const program = compileSeccomp(profile, { arch: 'x86_64' }).program;
      const resultOf = (action: string, errnoRet?: number): number =>
        ({
          SCMP_ACT_ALLOW: seccompReturn.ALLOW,
          SCMP_ACT_LOG: seccompReturn.LOG,
          SCMP_ACT_TRAP: seccompReturn.TRAP,
          SCMP_ACT_KILL_PROCESS: seccompReturn.KILL_PROCESS,
          SCMP_ACT_ERRNO: errno(errnoRet ?? 1),
        })[action]!;
      const defaultValue = resultOf(defaultAction);
      for (let trial = 0; trial < 60; trial++) {
        const name = pick(names);
        const args = Array.from({ length: 6 }, () => pick(values));
        let expected = defaultValue;
        for (const rule of profile.syscalls ?? []) {
          const action = resultOf(rule.action, rule.errnoRet);
          if (action === defaultValue || !rule.names.includes(name)) continue;
          const ok = (rule.args ?? []).every((arg) =>
            holds(arg.op, args[arg.index]!, BigInt(arg.value), BigInt(arg.valueTwo ?? 0)),
          );
          if (ok) {
            expected = action;
            break;
          }
        }
        expect(runSeccompFilter(program, { nr: nr(name), arch: X86_64, args }), `seed ${seed} ${name}`).toBe(
          expected,
        );
      }
    }
  });
});
