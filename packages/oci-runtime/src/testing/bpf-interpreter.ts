import { BPF, type BpfInstruction, bpfMaxInstructions, decodeBpf } from '../seccomp/bpf.js';

/** A synthetic `struct seccomp_data` to run a filter against. */
export interface SeccompData {
  /** System call number (`int`; negative values wrap to u32 as in the kernel). */
  nr: number;
  /** `AUDIT_ARCH_*` value. */
  arch: number;
  instructionPointer?: bigint;
  /** Up to six 64-bit arguments; missing ones are 0. */
  args?: readonly (number | bigint)[];
}

/** Encodes `data` as the 64-byte little-endian `struct seccomp_data` a filter reads. */
export function encodeSeccompData(data: SeccompData): Buffer {
  const buffer = Buffer.alloc(64);
  buffer.writeInt32LE(data.nr | 0, 0);
  buffer.writeUInt32LE(data.arch >>> 0, 4);
  buffer.writeBigUInt64LE(data.instructionPointer ?? 0n, 8);
  for (let index = 0; index < 6; index++) {
    const value = BigInt(data.args?.[index] ?? 0);
    buffer.writeBigUInt64LE(BigInt.asUintN(64, value), 16 + 8 * index);
  }
  return buffer;
}

/**
 * Runs a classic BPF seccomp filter the way the kernel's checker and interpreter would (absolute 32-bit
 * loads within `seccomp_data`, ALU, forward jumps, `ret`), returning the 32-bit result. Throws an Error
 * for what the kernel would reject: an empty or too long program, a jump out of the program, a load
 * outside the 64-byte data or not 4-byte aligned, division by zero, running off the end.
 * For tests: pure and synchronous.
 */
export function runSeccompFilter(program: Uint8Array | readonly BpfInstruction[], data: SeccompData): number {
  const instructions = program instanceof Uint8Array ? decodeBpf(program) : program;
  if (instructions.length === 0 || instructions.length > bpfMaxInstructions) {
    throw new Error(`bpf: program length ${instructions.length} is not 1..${bpfMaxInstructions}`);
  }
  const bytes = encodeSeccompData(data);
  const memory = new Uint32Array(16);
  let a = 0;
  let x = 0;
  let pc = 0;
  const jumpTo = (offset: number): void => {
    pc += offset;
    if (pc >= instructions.length) throw new Error(`bpf: jump past the end at ${pc}`);
  };
  for (;;) {
    if (pc >= instructions.length) throw new Error('bpf: ran off the end without ret');
    const { code, jt, jf, k } = instructions[pc]!;
    pc++;
    const cls = code & 0x07;
    switch (cls) {
      case BPF.LD: {
        const mode = code & 0xe0;
        if (mode === BPF.ABS && (code & 0x18) === BPF.W) {
          if (k % 4 !== 0 || k + 4 > bytes.length) throw new Error(`bpf: load at ${k} outside seccomp_data`);
          a = bytes.readUInt32LE(k);
        } else if (mode === BPF.IMM) {
          a = k >>> 0;
        } else if (mode === BPF.MEM) {
          a = memory[k & 15]!;
        } else if (mode === BPF.LEN) {
          a = bytes.length;
        } else {
          throw new Error(`bpf: unsupported load 0x${code.toString(16)}`);
        }
        break;
      }
      case BPF.LDX: {
        const mode = code & 0xe0;
        if (mode === BPF.IMM) x = k >>> 0;
        else if (mode === BPF.MEM) x = memory[k & 15]!;
        else if (mode === BPF.LEN) x = bytes.length;
        else throw new Error(`bpf: unsupported ldx 0x${code.toString(16)}`);
        break;
      }
      case BPF.ST:
        memory[k & 15] = a;
        break;
      case BPF.STX:
        memory[k & 15] = x;
        break;
      case BPF.ALU: {
        const operand = (code & BPF.X) === BPF.X ? x : k >>> 0;
        switch (code & 0xf0) {
          case BPF.ADD:
            a = (a + operand) >>> 0;
            break;
          case BPF.SUB:
            a = (a - operand) >>> 0;
            break;
          case BPF.MUL:
            a = Math.imul(a, operand) >>> 0;
            break;
          case BPF.DIV:
            if (operand === 0) throw new Error('bpf: division by zero');
            a = Math.floor(a / operand) >>> 0;
            break;
          case BPF.MOD:
            if (operand === 0) throw new Error('bpf: division by zero');
            a = (a % operand) >>> 0;
            break;
          case BPF.OR:
            a = (a | operand) >>> 0;
            break;
          case BPF.AND:
            a = (a & operand) >>> 0;
            break;
          case BPF.XOR:
            a = (a ^ operand) >>> 0;
            break;
          case BPF.LSH:
            a = operand >= 32 ? 0 : (a << operand) >>> 0;
            break;
          case BPF.RSH:
            a = operand >= 32 ? 0 : a >>> operand;
            break;
          case BPF.NEG:
            a = -a >>> 0;
            break;
          default:
            throw new Error(`bpf: unsupported alu 0x${code.toString(16)}`);
        }
        break;
      }
      case BPF.JMP: {
        const operation = code & 0xf0;
        if (operation === BPF.JA) {
          jumpTo(k >>> 0);
          break;
        }
        const operand = (code & BPF.X) === BPF.X ? x : k >>> 0;
        let taken: boolean;
        if (operation === BPF.JEQ) taken = a === operand;
        else if (operation === BPF.JGT) taken = a > operand;
        else if (operation === BPF.JGE) taken = a >= operand;
        else if (operation === BPF.JSET) taken = (a & operand) !== 0;
        else throw new Error(`bpf: unsupported jump 0x${code.toString(16)}`);
        jumpTo(taken ? jt : jf);
        break;
      }
      case BPF.RET:
        return ((code & 0x18) === BPF.A ? a : k) >>> 0;
      case BPF.MISC:
        if ((code & 0xf8) === BPF.TXA) a = x;
        else x = a;
        break;
      default:
        throw new Error(`bpf: unsupported instruction 0x${code.toString(16)}`);
    }
  }
}
