/**
 * A tiny eBPF interpreter for BPF_PROG_TYPE_CGROUP_DEVICE programs, covering exactly the instructions
 * `compileDeviceFilter` emits (32-bit loads from the context, 32-bit ALU AND/RSH/MOV, 64-bit JNE with an
 * immediate or register, JEQ with an immediate, EXIT). It checks what the kernel verifier would: known opcodes, initialised
 * registers, context-only loads at aligned offsets inside `struct bpf_cgroup_dev_ctx`, forward jumps
 * inside the program, and an exit. Test support only.
 */

/** The access being checked, as the kernel fills `struct bpf_cgroup_dev_ctx`. */
export interface DeviceAccess {
  /** 'b' or 'c'. */
  type: 'b' | 'c';
  major: number;
  minor: number;
  /** Any combination of `r`, `w`, `m`. */
  access: string;
}

const MASK32 = 0xffffffffn;
const MASK64 = 0xffffffffffffffffn;

type Register = { kind: 'scalar'; value: bigint } | { kind: 'context' } | { kind: 'uninitialised' };

/** Thrown when the program does something the interpreter (or the kernel verifier) would refuse. */
export class EbpfError extends Error {
  override readonly name = 'EbpfError';
}

/** Runs the device program (bytes of `struct bpf_insn`) for one access; returns R0 (1 allow, 0 deny). */
export function runDeviceProgram(program: Buffer, request: DeviceAccess): number {
  if (program.length === 0 || program.length % 8 !== 0)
    throw new EbpfError('program size is not a multiple of 8');
  let access = 0;
  for (const letter of request.access) {
    access |= letter === 'm' ? 1 : letter === 'r' ? 2 : letter === 'w' ? 4 : 0;
  }
  const context = Buffer.alloc(12);
  context.writeUInt32LE(((request.type === 'b' ? 1 : 2) | (access << 16)) >>> 0, 0);
  context.writeUInt32LE(request.major >>> 0, 4);
  context.writeUInt32LE(request.minor >>> 0, 8);

  const registers: Register[] = Array.from({ length: 11 }, () => ({ kind: 'uninitialised' }));
  registers[1] = { kind: 'context' };
  const count = program.length / 8;
  const scalar = (index: number, pc: number): bigint => {
    const register = registers[index];
    if (register?.kind !== 'scalar') throw new EbpfError(`pc ${pc}: r${index} is not an initialised scalar`);
    return register.value;
  };
  for (let pc = 0, steps = 0; pc < count; steps++) {
    if (steps > 4096) throw new EbpfError('too many steps');
    const at = pc * 8;
    const code = program.readUInt8(at);
    const registerByte = program.readUInt8(at + 1);
    const dst = registerByte & 0x0f;
    const src = registerByte >> 4;
    const off = program.readInt16LE(at + 2);
    const imm = program.readInt32LE(at + 4);
    if (dst > 10 || src > 10) throw new EbpfError(`pc ${pc}: bad register`);
    const jump = (taken: boolean): void => {
      if (off < 0) throw new EbpfError(`pc ${pc}: backward jump`);
      const target = pc + 1 + (taken ? off : 0);
      if (target >= count) throw new EbpfError(`pc ${pc}: jump out of the program`);
      pc = target;
    };
    switch (code) {
      case 0x61: {
        // LDX MEM W
        if (registers[src]?.kind !== 'context')
          throw new EbpfError(`pc ${pc}: load from a non-context register`);
        if (off < 0 || off + 4 > 12 || off % 4 !== 0)
          throw new EbpfError(`pc ${pc}: bad context offset ${off}`);
        registers[dst] = { kind: 'scalar', value: BigInt(context.readUInt32LE(off)) };
        pc++;
        break;
      }
      case 0x54: // AND32 imm
        registers[dst] = { kind: 'scalar', value: scalar(dst, pc) & BigInt(imm >>> 0) & MASK32 };
        pc++;
        break;
      case 0x74: // RSH32 imm
        registers[dst] = { kind: 'scalar', value: (scalar(dst, pc) & MASK32) >> BigInt(imm & 31) };
        pc++;
        break;
      case 0xbc: // MOV32 reg
        registers[dst] = { kind: 'scalar', value: scalar(src, pc) & MASK32 };
        pc++;
        break;
      case 0xb4: // MOV32 imm
        registers[dst] = { kind: 'scalar', value: BigInt(imm >>> 0) };
        pc++;
        break;
      case 0x55: // JNE imm (64-bit compare, imm sign-extended)
        jump(scalar(dst, pc) !== (BigInt(imm) & MASK64));
        break;
      case 0x15: // JEQ imm
        jump(scalar(dst, pc) === (BigInt(imm) & MASK64));
        break;
      case 0x5d: // JNE reg
        jump(scalar(dst, pc) !== scalar(src, pc));
        break;
      case 0x95: // EXIT
        return Number(scalar(0, pc));
      default:
        throw new EbpfError(`pc ${pc}: unsupported opcode 0x${code.toString(16)}`);
    }
  }
  throw new EbpfError('fell off the end of the program');
}
