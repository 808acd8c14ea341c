import { describe, expect, it } from 'vitest';
import { DeviceEmulator, deviceRuleLine, normalizeDeviceRule } from '../../src/cgroups/devices-emulator.js';
import type { CgroupDeviceRule } from '../../src/cgroups/resources.js';
import { compileDeviceFilter } from '../../src/cgroups/v2-devices-bpf.js';
import { isRuntimeError } from '../../src/errors.js';
import { EbpfError, runDeviceProgram } from '../../src/testing/ebpf-interpreter.js';

const NAMES: Record<number, string> = {
  97: 'LdXMemW',
  84: 'AndImm32',
  116: 'RShImm32',
  188: 'MovReg32',
  180: 'MovImm32',
  85: 'JNEImm',
  93: 'JNEReg',
  21: 'JEQImm',
  149: 'Exit',
};

/** Decodes the program bytes into one readable line per struct bpf_insn. */
function disassemble(program: Buffer): string[] {
  const lines: string[] = [];
  for (let at = 0; at < program.length; at += 8) {
    const code = program.readUInt8(at);
    const dst = program.readUInt8(at + 1) & 0x0f;
    const src = program.readUInt8(at + 1) >> 4;
    const off = program.readInt16LE(at + 2);
    const imm = program.readInt32LE(at + 4);
    lines.push(`${NAMES[code] ?? `0x${code.toString(16)}`} dst=r${dst} src=r${src} off=${off} imm=${imm}`);
  }
  return lines;
}

const PROLOGUE = [
  'LdXMemW dst=r2 src=r1 off=0 imm=0',
  'AndImm32 dst=r2 src=r0 off=0 imm=65535',
  'LdXMemW dst=r3 src=r1 off=0 imm=0',
  'RShImm32 dst=r3 src=r0 off=0 imm=16',
  'LdXMemW dst=r4 src=r1 off=4 imm=0',
  'LdXMemW dst=r5 src=r1 off=8 imm=0',
];

// The default device list runc (and Docker) give every container, for realistic tests.
const DEFAULT_RULES: CgroupDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

describe('device rule emulator (cgroup v1 semantics)', () => {
  it('normalises runtime-spec rules', () => {
    expect(normalizeDeviceRule({ allow: true })).toEqual({
      type: 'a',
      major: -1,
      minor: -1,
      access: 'rwm',
      allow: true,
    });
    expect(normalizeDeviceRule({ allow: true, type: 'c', major: 1, minor: 3, access: 'mwr' })).toEqual({
      type: 'c',
      major: 1,
      minor: 3,
      access: 'rwm',
      allow: true,
    });
    expect(deviceRuleLine(normalizeDeviceRule({ allow: true, type: 'c', major: 136, access: 'rw' }))).toBe(
      'c 136:* rw',
    );
    expect(() => normalizeDeviceRule({ allow: true, type: 'x' })).toThrow(/type "x"/);
    expect(() => normalizeDeviceRule({ allow: true, type: 'c', access: 'rq' })).toThrow(/unknown access/);
  });

  it('reduces the default list to sorted allow exceptions over deny-all', () => {
    const emulator = DeviceEmulator.fromRules(DEFAULT_RULES);
    expect(emulator.defaultAllow).toBe(false);
    expect(emulator.rules().map(deviceRuleLine)).toEqual([
      'a *:* rwm',
      'b *:* m',
      'c *:* m',
      'c 1:3 rwm',
      'c 1:5 rwm',
      'c 1:7 rwm',
      'c 1:8 rwm',
      'c 1:9 rwm',
      'c 5:0 rwm',
      'c 5:2 rwm',
      'c 10:200 rwm',
      'c 136:* rwm',
    ]);
  });

  it('refuses to punch a hole into a wildcard exception (the kernel would silently ignore it)', () => {
    try {
      DeviceEmulator.fromRules([
        { allow: true, type: 'c', access: 'rwm' },
        { allow: false, type: 'c', major: 1, minor: 3, access: 'r' },
      ]);
      expect.unreachable();
    } catch (error) {
      expect(isRuntimeError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('computes the minimal v1 transition from devices.list', () => {
    const target = DeviceEmulator.fromRules(DEFAULT_RULES.slice(0, 5));
    // From allow-all (a fresh v1 cgroup): reset with a deny-all, then the allows.
    expect(
      DeviceEmulator.fromList('a *:* rwm\n')
        .transitionTo(target)
        .map((rule) => [rule.allow, deviceRuleLine(rule)]),
    ).toEqual([
      [false, 'a *:* rwm'],
      [true, 'b *:* m'],
      [true, 'c *:* m'],
      [true, 'c 1:3 rwm'],
      [true, 'c 1:8 rwm'],
    ]);
    // From a list that already has part of it: only the difference, no disruptive reset.
    const current = DeviceEmulator.fromList('c *:* m\nb *:* m\nc 1:3 rw\nc 4:1 rwm\n');
    expect(current.transitionTo(target).map((rule) => [rule.allow, deviceRuleLine(rule)])).toEqual([
      [false, 'c 4:1 rwm'],
      [true, 'c 1:3 m'],
      [true, 'c 1:8 rwm'],
    ]);
    expect(DeviceEmulator.fromList('c *:* m\nb *:* m\nc 1:3 rwm\nc 1:8 rwm\n').transitionTo(target)).toEqual(
      [],
    );
  });
});

describe('cgroup v2 device filter eBPF program', () => {
  it('is 8 bytes per struct bpf_insn and denies everything for an empty list', () => {
    const program = compileDeviceFilter([]);
    expect(program.length).toBe(8 * 8);
    expect(disassemble(program)).toEqual([
      ...PROLOGUE,
      'MovImm32 dst=r0 src=r0 off=0 imm=0',
      'Exit dst=r0 src=r0 off=0 imm=0',
    ]);
    // Little-endian encoding of the first instruction: code 0x61, regs dst=2 | src=1 << 4.
    expect([...program.subarray(0, 8)]).toEqual([0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    expect(runDeviceProgram(program, { type: 'c', major: 1, minor: 3, access: 'r' })).toBe(0);
  });

  it('allows everything for a privileged container', () => {
    const program = compileDeviceFilter([{ allow: true, access: 'rwm' }]);
    expect(disassemble(program).slice(6)).toEqual([
      'MovImm32 dst=r0 src=r0 off=0 imm=1',
      'Exit dst=r0 src=r0 off=0 imm=0',
    ]);
    expect(runDeviceProgram(program, { type: 'b', major: 8, minor: 0, access: 'rwm' })).toBe(1);
  });

  it('keeps only the last deny after an allow-all reset (runc "weird" case)', () => {
    const program = compileDeviceFilter([
      { allow: false, type: 'b', major: 8, minor: 1, access: 'rwm' },
      { allow: true, type: 'a', access: 'rwm' },
      { allow: false, type: 'b', major: 8, minor: 2, access: 'rwm' },
    ]);
    expect(disassemble(program)).toEqual([
      ...PROLOGUE,
      'JNEImm dst=r2 src=r0 off=4 imm=1',
      'JNEImm dst=r4 src=r0 off=3 imm=8',
      'JNEImm dst=r5 src=r0 off=2 imm=2',
      'MovImm32 dst=r0 src=r0 off=0 imm=0',
      'Exit dst=r0 src=r0 off=0 imm=0',
      'MovImm32 dst=r0 src=r0 off=0 imm=1',
      'Exit dst=r0 src=r0 off=0 imm=0',
    ]);
    expect(runDeviceProgram(program, { type: 'b', major: 8, minor: 1, access: 'rw' })).toBe(1);
    expect(runDeviceProgram(program, { type: 'b', major: 8, minor: 2, access: 'r' })).toBe(0);
    expect(runDeviceProgram(program, { type: 'c', major: 8, minor: 2, access: 'r' })).toBe(1);
  });

  it('denies on any overlapping bit for a partial deny exception', () => {
    const program = compileDeviceFilter([
      { allow: true },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
    ]);
    expect(disassemble(program).slice(6, 10)).toEqual([
      'JNEImm dst=r2 src=r0 off=7 imm=2',
      'MovReg32 dst=r1 src=r3 off=0 imm=0',
      'AndImm32 dst=r1 src=r0 off=0 imm=4',
      'JEQImm dst=r1 src=r0 off=4 imm=0',
    ]);
    expect(runDeviceProgram(program, { type: 'c', major: 1, minor: 3, access: 'rw' })).toBe(0);
    expect(runDeviceProgram(program, { type: 'c', major: 1, minor: 3, access: 'r' })).toBe(1);
  });

  it('emits an access check only for partial permissions', () => {
    const program = compileDeviceFilter([{ allow: false }, { allow: true, type: 'c', access: 'm' }]);
    expect(disassemble(program).slice(6)).toEqual([
      'JNEImm dst=r2 src=r0 off=5 imm=2',
      'MovReg32 dst=r1 src=r3 off=0 imm=0',
      'AndImm32 dst=r1 src=r0 off=0 imm=1',
      'JNEReg dst=r1 src=r3 off=2 imm=0',
      'MovImm32 dst=r0 src=r0 off=0 imm=1',
      'Exit dst=r0 src=r0 off=0 imm=0',
      'MovImm32 dst=r0 src=r0 off=0 imm=0',
      'Exit dst=r0 src=r0 off=0 imm=0',
    ]);
  });

  it('enforces the default container device list exactly like the v1 emulator', () => {
    const program = compileDeviceFilter(DEFAULT_RULES);
    expect(program.length / 8).toBe(64); // runc's TestDeviceFilter_BuiltInAllowList has 64 instructions
    const cases: [Parameters<typeof runDeviceProgram>[1], number][] = [
      [{ type: 'c', major: 1, minor: 3, access: 'rw' }, 1], // /dev/null
      [{ type: 'c', major: 1, minor: 3, access: 'rwm' }, 1],
      [{ type: 'c', major: 136, minor: 42, access: 'rw' }, 1], // a pty
      [{ type: 'c', major: 10, minor: 200, access: 'r' }, 1], // tun
      [{ type: 'c', major: 10, minor: 201, access: 'r' }, 0],
      [{ type: 'c', major: 4, minor: 1, access: 'r' }, 0], // a tty: not listed
      [{ type: 'c', major: 4, minor: 1, access: 'm' }, 1], // but mknod of any char device is allowed
      [{ type: 'b', major: 8, minor: 0, access: 'm' }, 1],
      [{ type: 'b', major: 8, minor: 0, access: 'rm' }, 0], // read of a disk: denied
      [{ type: 'b', major: 1, minor: 3, access: 'r' }, 0], // right numbers, wrong type
    ];
    for (const [request, expected] of cases) {
      expect([request, runDeviceProgram(program, request)]).toEqual([request, expected]);
    }
  });

  it('agrees with the emulator on random rule lists', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const accesses = ['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm'];
    let compiled = 0;
    let allowDefault = 0;
    for (let round = 0; round < 60; round++) {
      const rules: CgroupDeviceRule[] = [{ allow: random(2) === 0 }];
      for (let i = 0; i < 6; i++) {
        rules.push({
          allow: random(2) === 0,
          type: random(2) === 0 ? 'b' : 'c',
          major: random(3) === 0 ? undefined : random(4),
          minor: random(3) === 0 ? undefined : random(4),
          access: accesses[random(accesses.length)],
        });
      }
      let emulator: DeviceEmulator;
      try {
        emulator = DeviceEmulator.fromRules(rules);
      } catch {
        continue; // a hole-punching list: refused, which another test pins
      }
      const program = compileDeviceFilter(rules);
      compiled += 1;
      if (emulator.defaultAllow) allowDefault += 1;
      for (let probe = 0; probe < 30; probe++) {
        const request = {
          type: random(2) === 0 ? ('b' as const) : ('c' as const),
          major: random(5),
          minor: random(5),
          access: accesses[random(accesses.length)] ?? 'r',
        };
        // Reference, the v1 kernel's rule (security/device_cgroup.c): with a deny default, one matching
        // exception must cover every requested bit; with an allow default, no matching exception may
        // share any requested bit.
        const matching = emulator
          .exceptions()
          .filter(
            (rule) =>
              rule.type === request.type &&
              (rule.major === -1 || rule.major === request.major) &&
              (rule.minor === -1 || rule.minor === request.minor),
          );
        const letters = [...request.access];
        const expected = emulator.defaultAllow
          ? matching.some((rule) => letters.some((letter) => rule.access.includes(letter)))
            ? 0
            : 1
          : matching.some((rule) => letters.every((letter) => rule.access.includes(letter)))
            ? 1
            : 0;
        expect([rules, request, runDeviceProgram(program, request)]).toEqual([rules, request, expected]);
      }
    }
    // Both default modes were exercised, not only refused lists.
    expect(compiled).toBeGreaterThan(20);
    expect(allowDefault).toBeGreaterThan(5);
  });

  it('interpreter rejects programs the verifier would reject', () => {
    const bad = Buffer.alloc(8);
    bad.writeUInt8(0x95, 0); // exit with r0 uninitialised
    expect(() => runDeviceProgram(bad, { type: 'c', major: 1, minor: 1, access: 'r' })).toThrow(EbpfError);
  });
});
