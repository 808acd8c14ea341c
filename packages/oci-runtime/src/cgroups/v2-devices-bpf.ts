/**
 * The cgroup v2 device controller is an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to
 * the cgroup (BPF_CGROUP_DEVICE). This file compiles the runtime-spec device rules into that program's
 * bytes: an array of `struct bpf_insn` (8 bytes each, little-endian: u8 code, u8 dst_reg:4 | src_reg:4
 * << 4, s16 off, s32 imm). The program shape follows runc's devicefilter.go, except that a deny
 * exception with partial access denies on any overlapping bit, as the v1 kernel code does. Loading it
 * with bpf(2) is the native addon's job. Pure; no I/O.
 *
 * The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` where
 * access_type = device type (low 16 bits) | access mask << 16 (include/uapi/linux/bpf.h).
 */
import { RuntimeError } from '../errors.js';
import { DeviceEmulator, type DeviceRule } from './devices-emulator.js';
import type { CgroupDeviceRule } from './resources.js';

/** The license string to pass to BPF_PROG_LOAD with the program. */
export const DEVICE_FILTER_LICENSE = 'Apache';

/** BPF_DEVCG_DEV_* and BPF_DEVCG_ACC_* from include/uapi/linux/bpf.h. */
export const BPF_DEVCG = {
  DEV_BLOCK: 1,
  DEV_CHAR: 2,
  ACC_MKNOD: 1,
  ACC_READ: 2,
  ACC_WRITE: 4,
} as const;

/** The eBPF opcodes this compiler emits (class | op | source). */
export const BPF_OPCODE = {
  /** BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off) */
  LDX_MEM_W: 0x61,
  /** BPF_ALU | BPF_AND | BPF_K: dst = (u32)dst & imm */
  AND32_IMM: 0x54,
  /** BPF_ALU | BPF_RSH | BPF_K: dst = (u32)dst >> imm */
  RSH32_IMM: 0x74,
  /** BPF_ALU | BPF_MOV | BPF_X: dst = (u32)src */
  MOV32_REG: 0xbc,
  /** BPF_ALU | BPF_MOV | BPF_K: dst = (u32)imm */
  MOV32_IMM: 0xb4,
  /** BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto pc + 1 + off */
  JNE_IMM: 0x55,
  /** BPF_JMP | BPF_JEQ | BPF_K: if dst == imm goto pc + 1 + off */
  JEQ_IMM: 0x15,
  /** BPF_JMP | BPF_JNE | BPF_X: if dst != src goto pc + 1 + off */
  JNE_REG: 0x5d,
  /** BPF_JMP | BPF_EXIT */
  EXIT: 0x95,
} as const;

/** One eBPF instruction before encoding. `target` is a block label a jump resolves to. */
interface Instruction {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  target?: number;
}

const R0 = 0;
const R1 = 1;
const R2 = 2;
const R3 = 3;
const R4 = 4;
const R5 = 5;

function ins(code: number, dst: number, src: number, off: number, imm: number, target?: number): Instruction {
  return target === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, target };
}

function accessMask(access: string): number {
  let mask = 0;
  for (const letter of access) {
    if (letter === 'r') mask |= BPF_DEVCG.ACC_READ;
    else if (letter === 'w') mask |= BPF_DEVCG.ACC_WRITE;
    else if (letter === 'm') mask |= BPF_DEVCG.ACC_MKNOD;
  }
  return mask;
}

/**
 * Compiles runtime-spec device rules (applied in order to a deny-all start, as cgroup v1 would) into a
 * BPF_PROG_TYPE_CGROUP_DEVICE program: returns 1 (allow) or 0 (deny) for each access. The rules are
 * first reduced to a clean list by {@link DeviceEmulator}, so the program allows exactly what v1 would.
 * Throws INVALID_ARGUMENT for malformed rules.
 */
export function compileDeviceFilter(rules: readonly CgroupDeviceRule[]): Buffer {
  return encodeInstructions(deviceFilterInstructions(DeviceEmulator.fromRules(rules)));
}

function deviceFilterInstructions(emulator: DeviceEmulator): Instruction[] {
  const program: Instruction[] = [
    // r2 = type (low 16 bits of access_type)
    ins(BPF_OPCODE.LDX_MEM_W, R2, R1, 0, 0),
    ins(BPF_OPCODE.AND32_IMM, R2, 0, 0, 0xffff),
    // r3 = requested access (high 16 bits of access_type)
    ins(BPF_OPCODE.LDX_MEM_W, R3, R1, 0, 0),
    ins(BPF_OPCODE.RSH32_IMM, R3, 0, 0, 16),
    // r4 = major, r5 = minor
    ins(BPF_OPCODE.LDX_MEM_W, R4, R1, 4, 0),
    ins(BPF_OPCODE.LDX_MEM_W, R5, R1, 8, 0),
  ];
  // Block n starts at blockStart[n]; each rule's failed test jumps to the next block.
  const blockStart: number[] = [];
  let block = 0;
  for (const rule of emulator.exceptions()) {
    blockStart[block] = program.length;
    appendRule(program, rule, block + 1);
    block += 1;
  }
  blockStart[block] = program.length;
  program.push(
    ins(BPF_OPCODE.MOV32_IMM, R0, 0, 0, emulator.defaultAllow ? 1 : 0),
    ins(BPF_OPCODE.EXIT, 0, 0, 0, 0),
  );
  for (const [index, instruction] of program.entries()) {
    if (instruction.target === undefined) continue;
    const start = blockStart[instruction.target];
    if (start === undefined) throw new Error('device filter: jump to an unknown block');
    instruction.off = start - (index + 1);
  }
  return program;
}

function appendRule(program: Instruction[], rule: DeviceRule, next: number): void {
  if (rule.type === 'a') throw new Error('device filter: wildcard type inside the exception list');
  const type = rule.type === 'b' ? BPF_DEVCG.DEV_BLOCK : BPF_DEVCG.DEV_CHAR;
  program.push(ins(BPF_OPCODE.JNE_IMM, R2, 0, 0, type, next));
  const mask = accessMask(rule.access);
  const all = BPF_DEVCG.ACC_READ | BPF_DEVCG.ACC_WRITE | BPF_DEVCG.ACC_MKNOD;
  if (mask !== all) {
    // r1 (the context pointer) is free after the prologue. As in the v1 kernel code: an allow exception
    // must cover every requested bit ((r3 & mask) != r3 → next); a deny exception applies as soon as
    // one requested bit is in it ((r3 & mask) == 0 → next).
    program.push(ins(BPF_OPCODE.MOV32_REG, R1, R3, 0, 0), ins(BPF_OPCODE.AND32_IMM, R1, 0, 0, mask));
    if (rule.allow) program.push(ins(BPF_OPCODE.JNE_REG, R1, R3, 0, 0, next));
    else program.push(ins(BPF_OPCODE.JEQ_IMM, R1, 0, 0, 0, next));
  }
  if (rule.major !== -1) program.push(ins(BPF_OPCODE.JNE_IMM, R4, 0, 0, rule.major | 0, next));
  if (rule.minor !== -1) program.push(ins(BPF_OPCODE.JNE_IMM, R5, 0, 0, rule.minor | 0, next));
  program.push(ins(BPF_OPCODE.MOV32_IMM, R0, 0, 0, rule.allow ? 1 : 0), ins(BPF_OPCODE.EXIT, 0, 0, 0, 0));
}

function encodeInstructions(program: readonly Instruction[]): Buffer {
  if (program.length > 4096) {
    throw new RuntimeError('INVALID_ARGUMENT', `device filter: ${program.length} instructions exceed 4096`, {
      path: 'linux.resources.devices',
    });
  }
  const buffer = Buffer.alloc(program.length * 8);
  for (const [index, instruction] of program.entries()) {
    const at = index * 8;
    buffer.writeUInt8(instruction.code, at);
    buffer.writeUInt8((instruction.dst & 0x0f) | ((instruction.src & 0x0f) << 4), at + 1);
    buffer.writeInt16LE(instruction.off, at + 2);
    buffer.writeInt32LE(instruction.imm, at + 4);
  }
  return buffer;
}
