/**
 * Classic BPF as seccomp uses it (include/uapi/linux/filter.h, bpf_common.h): `struct sock_filter`
 * is `{ u16 code; u8 jt; u8 jf; u32 k; }`, 8 bytes, in host byte order (little-endian on x86_64 and
 * aarch64).
 */

/** One `struct sock_filter` instruction. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Instruction classes, sizes, modes and operations used by seccomp filters. */
export const BPF = Object.freeze({
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  RET: 0x06,
  MISC: 0x07,
  W: 0x00,
  H: 0x08,
  B: 0x10,
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  LEN: 0x80,
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  K: 0x00,
  X: 0x08,
  A: 0x10,
  TAX: 0x00,
  TXA: 0x80,
});

/** BPF_MAXINSNS: the kernel refuses longer classic BPF programs. */
export const bpfMaxInstructions = 4096;

/** Size of one encoded instruction in bytes. */
export const bpfInstructionSize = 8;

/** Encodes instructions as the little-endian `struct sock_filter` array seccomp(2) takes. */
export function encodeBpf(instructions: readonly BpfInstruction[]): Buffer {
  const buffer = Buffer.alloc(instructions.length * bpfInstructionSize);
  instructions.forEach((instruction, index) => {
    const offset = index * bpfInstructionSize;
    buffer.writeUInt16LE(instruction.code, offset);
    buffer.writeUInt8(instruction.jt, offset + 2);
    buffer.writeUInt8(instruction.jf, offset + 3);
    buffer.writeUInt32LE(instruction.k >>> 0, offset + 4);
  });
  return buffer;
}

/** Decodes a little-endian `struct sock_filter` array; throws a RangeError when the length is not a multiple of 8. */
export function decodeBpf(program: Uint8Array): BpfInstruction[] {
  if (program.length % bpfInstructionSize !== 0) {
    throw new RangeError(`decode bpf: ${program.length} bytes is not a whole number of instructions`);
  }
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const instructions: BpfInstruction[] = [];
  for (let offset = 0; offset < program.length; offset += bpfInstructionSize) {
    instructions.push({
      code: view.getUint16(offset, true),
      jt: view.getUint8(offset + 2),
      jf: view.getUint8(offset + 3),
      k: view.getUint32(offset + 4, true),
    });
  }
  return instructions;
}
