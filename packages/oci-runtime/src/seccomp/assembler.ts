import { BPF, type BpfInstruction } from './bpf.js';

/** A jump target; placed once with {@link BpfAssembler.place}. */
export interface BpfLabel {
  readonly name: string;
}

type Item =
  | { kind: 'statement'; code: number; k: number }
  | { kind: 'branch'; code: number; k: number; jt: BpfLabel; jf: BpfLabel }
  | { kind: 'jump'; target: BpfLabel }
  | { kind: 'label'; label: BpfLabel };

const maxShortJump = 255;

/**
 * Builds a classic BPF program with symbolic, forward-only jump targets. Conditional jumps have 8-bit
 * offsets, so {@link assemble} routes any that reach further than 255 instructions through an
 * unconditional `BPF_JMP|BPF_JA` trampoline (32-bit offset) placed right after the branch.
 */
export class BpfAssembler {
  readonly #items: Item[] = [];
  #labelCount = 0;

  /** A new, not yet placed label. */
  label(name = 'L'): BpfLabel {
    this.#labelCount++;
    return { name: `${name}${this.#labelCount}` };
  }

  /** Places `label` at the next instruction. */
  place(label: BpfLabel): void {
    this.#items.push({ kind: 'label', label });
  }

  /** `A = seccomp_data[offset]` (32-bit absolute load). */
  loadAbsolute(offset: number): void {
    this.#items.push({ kind: 'statement', code: BPF.LD | BPF.W | BPF.ABS, k: offset });
  }

  /** `A &= k`. */
  and(k: number): void {
    this.#items.push({ kind: 'statement', code: BPF.ALU | BPF.AND | BPF.K, k: k >>> 0 });
  }

  /** `return k`. */
  ret(k: number): void {
    this.#items.push({ kind: 'statement', code: BPF.RET | BPF.K, k: k >>> 0 });
  }

  /** `if (A <op> k) goto jt else goto jf` with op one of `BPF_JEQ`, `BPF_JGT`, `BPF_JGE`, `BPF_JSET`. */
  branch(operation: number, k: number, jt: BpfLabel, jf: BpfLabel): void {
    this.#items.push({ kind: 'branch', code: BPF.JMP | operation | BPF.K, k: k >>> 0, jt, jf });
  }

  /** `goto target`. */
  jump(target: BpfLabel): void {
    this.#items.push({ kind: 'jump', target });
  }

  /**
   * Resolves labels into offsets and returns the instructions. Throws an Error for a label that is never
   * placed, placed twice, or lies behind its jump (BPF cannot jump backwards).
   */
  assemble(): BpfInstruction[] {
    let items = [...this.#items];
    for (;;) {
      const positions = this.#positions(items);
      const expanded: Item[] = [];
      let changed = false;
      let index = 0;
      for (const item of items) {
        if (item.kind === 'label') {
          expanded.push(item);
          continue;
        }
        if (item.kind === 'branch') {
          const far = (target: BpfLabel): boolean => offsetOf(positions, target, index) > maxShortJump;
          const farTrue = far(item.jt);
          const farFalse = far(item.jf);
          if (farTrue || farFalse) {
            changed = true;
            const viaTrue = farTrue ? this.label('T') : item.jt;
            const viaFalse = farFalse ? this.label('F') : item.jf;
            expanded.push({ ...item, jt: viaTrue, jf: viaFalse });
            if (farTrue) expanded.push({ kind: 'label', label: viaTrue }, { kind: 'jump', target: item.jt });
            if (farFalse)
              expanded.push({ kind: 'label', label: viaFalse }, { kind: 'jump', target: item.jf });
            index++;
            continue;
          }
        }
        expanded.push(item);
        index++;
      }
      items = expanded;
      if (!changed) break;
    }
    const positions = this.#positions(items);
    const instructions: BpfInstruction[] = [];
    for (const item of items) {
      const index = instructions.length;
      switch (item.kind) {
        case 'label':
          break;
        case 'statement':
          instructions.push({ code: item.code, jt: 0, jf: 0, k: item.k });
          break;
        case 'branch':
          instructions.push({
            code: item.code,
            jt: offsetOf(positions, item.jt, index),
            jf: offsetOf(positions, item.jf, index),
            k: item.k,
          });
          break;
        case 'jump':
          instructions.push({
            code: BPF.JMP | BPF.JA,
            jt: 0,
            jf: 0,
            k: offsetOf(positions, item.target, index),
          });
          break;
      }
    }
    return instructions;
  }

  #positions(items: readonly Item[]): Map<BpfLabel, number> {
    const positions = new Map<BpfLabel, number>();
    let index = 0;
    for (const item of items) {
      if (item.kind === 'label') {
        if (positions.has(item.label))
          throw new Error(`bpf assembler: label ${item.label.name} placed twice`);
        positions.set(item.label, index);
      } else {
        index++;
      }
    }
    return positions;
  }
}

function offsetOf(positions: Map<BpfLabel, number>, label: BpfLabel, from: number): number {
  const position = positions.get(label);
  if (position === undefined) throw new Error(`bpf assembler: label ${label.name} is never placed`);
  const offset = position - from - 1;
  if (offset < 0) throw new Error(`bpf assembler: label ${label.name} lies behind its jump`);
  return offset;
}
