/**
 * Compiles a runtime-spec seccomp profile (`linux.seccomp`) to a classic BPF program for
 * seccomp(SECCOMP_SET_MODE_FILTER), following what runc does with libseccomp:
 *
 * - the program checks `seccomp_data.arch` first; the native ABI is always in the filter, plus the
 *   listed ones it has tables for (x86 and x32 on x86_64). A system call from any other ABI gets the
 *   "bad arch" action, libseccomp's default SCMP_ACT_KILL (SECCOMP_RET_KILL_THREAD). On x86_64, a number
 *   with the x32 bit (0x40000000) is such a bad-arch call unless SCMP_ARCH_X32 is listed; -1 (a tracer
 *   skipping the call) is let through to the default action as libseccomp does.
 * - rules keep their order: for one system call the first rule whose argument conditions all hold
 *   decides (conditions in one rule AND, rules OR). A rule whose action equals the default action is
 *   dropped (runc does so). If one rule has two conditions on the same argument, runc turns each
 *   condition into a rule of its own (OR), and so does this compiler.
 * - names unknown to the native table are skipped (runc logs and ignores them) and reported in `skipped`.
 * - like runc's patch of libseccomp's output, when the default action is not ALLOW, LOG or TRACE, a call
 *   numbered above the highest one the profile names for a listed architecture returns ENOSYS, so that
 *   programs fall back from system calls newer than the profile (clone3 → clone).
 * - the dispatch on the system call number is a binary search over ranges of equal outcome, so a
 *   docker-sized allow list needs a few hundred instructions, far below BPF_MAXINSNS.
 */
import { RuntimeError } from '../errors.js';
import type { LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg } from '../spec/config.js';
import { BpfAssembler, type BpfLabel } from './assembler.js';
import { BPF, bpfMaxInstructions, encodeBpf } from './bpf.js';
import {
  auditArch,
  errnoNumber,
  seccompDataOffset,
  seccompFilterFlags,
  seccompReturn,
  x32SyscallBit,
} from './constants.js';
import { type SyscallAbi, syscallNumber } from './syscall-table.js';

/** The architectures a filter can be compiled for (the kernel's, not the process's personality). */
export type SeccompTargetArch = 'x86_64' | 'aarch64';

/** Options for {@link compileSeccomp}. */
export interface CompileSeccompOptions {
  /** The kernel architecture the program runs on; default from `process.arch` (x64 → x86_64, arm64 → aarch64). */
  arch?: SeccompTargetArch;
  /**
   * Return ENOSYS for system calls newer than the profile (see the module notes). Default true, like runc.
   */
  enosysForNewSyscalls?: boolean;
}

/** What {@link compileSeccomp} produces. */
export interface CompiledSeccomp {
  /** The `struct sock_filter` array, little-endian, ready for SECCOMP_SET_MODE_FILTER. */
  program: Buffer;
  /** `SECCOMP_FILTER_FLAG_*` bits from the profile's `flags`. */
  flags: number;
  /** Number of instructions in `program` (`program.length / 8`). */
  instructions: number;
  /** System call names the native table does not know, left out of the filter (in first-seen order). */
  skipped: string[];
  /** The ABIs the program dispatches on, native first (`x86_64`, `x32`, `x86`, `aarch64`). */
  architectures: SyscallAbi[];
  /** Listed `SCMP_ARCH_*` names without a table here: their calls get the bad-arch action. */
  ignoredArchitectures: string[];
}

interface Condition {
  index: number;
  op: LinuxSeccompArg['op'];
  value: bigint;
  valueTwo: bigint;
}

interface Rule {
  conditions: Condition[];
  action: number;
}

type Outcome = { kind: 'return'; value: number } | { kind: 'rules'; rules: Rule[] };

interface Segment {
  start: number;
  outcome: Outcome;
}

const maxUint64 = 2n ** 64n - 1n;

function invalid(message: string, path?: string): never {
  throw new RuntimeError('SECCOMP_INVALID', `compile seccomp: ${message}`, { path });
}

function unsupported(message: string, path?: string): never {
  throw new RuntimeError('NOT_SUPPORTED', `compile seccomp: ${message}`, { path });
}

/** The SECCOMP_RET_* value of an action; `errnoRet` only for ERRNO and TRACE (runtime-spec forbids it elsewhere). */
function actionValue(action: LinuxSeccompAction, errnoRet: number | undefined, path: string): number {
  if (errnoRet !== undefined) {
    if (action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') {
      invalid(`${action} takes no errno return value`, path);
    }
    if (!Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff) {
      invalid(`errno return value ${errnoRet} does not fit 16 bits`, path);
    }
  }
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return seccompReturn.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return seccompReturn.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return seccompReturn.TRAP;
    case 'SCMP_ACT_ERRNO':
      return (seccompReturn.ERRNO | (errnoRet ?? errnoNumber.EPERM)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (seccompReturn.TRACE | (errnoRet ?? errnoNumber.EPERM)) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return seccompReturn.ALLOW;
    case 'SCMP_ACT_LOG':
      return seccompReturn.LOG;
    case 'SCMP_ACT_NOTIFY':
      return unsupported('SCMP_ACT_NOTIFY (a seccomp listener) is not supported', path);
    default:
      return invalid(`unknown action ${JSON.stringify(action)}`, path);
  }
}

function toUint64(value: number | bigint | undefined, path: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    invalid(`${value} is not an exact integer`, path);
  const result = BigInt(value);
  if (result < 0n || result > maxUint64) invalid(`${value} does not fit 64 bits`, path);
  return result;
}

function defaultTargetArch(): SeccompTargetArch {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  return unsupported(`no seccomp tables for ${process.arch}`);
}

/** Which listed SCMP_ARCH_* names become which ABI on a given kernel architecture. */
const abiOfArch: Record<SeccompTargetArch, Partial<Record<string, SyscallAbi>>> = {
  x86_64: { SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X86: 'x86', SCMP_ARCH_X32: 'x32' },
  aarch64: { SCMP_ARCH_AARCH64: 'aarch64' },
};

const allowLike = new Set<LinuxSeccompAction>(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE']);

/**
 * Compiles `profile` to BPF. Throws `SECCOMP_INVALID` for an unusable profile (no names in a rule, an
 * errno on an action without one, an argument index above 5, an unknown flag, a program over 4096
 * instructions) and `NOT_SUPPORTED` for SCMP_ACT_NOTIFY / `listenerPath` or an architecture without
 * tables. Pure; see the module notes for the exact semantics.
 */
export function compileSeccomp(profile: LinuxSeccomp, options: CompileSeccompOptions = {}): CompiledSeccomp {
  const target = options.arch ?? defaultTargetArch();
  if (target !== 'x86_64' && target !== 'aarch64') unsupported(`no seccomp tables for ${String(target)}`);
  if (profile.listenerPath !== undefined && profile.listenerPath !== '') {
    unsupported('a seccomp listener (listenerPath) is not supported', 'linux.seccomp.listenerPath');
  }
  if (profile.defaultAction === 'SCMP_ACT_NOTIFY') {
    unsupported('SCMP_ACT_NOTIFY cannot be the default action', 'linux.seccomp.defaultAction');
  }
  const defaultValue = actionValue(
    profile.defaultAction,
    profile.defaultErrnoRet,
    'linux.seccomp.defaultAction',
  );

  let flags = 0;
  for (const [index, flag] of (profile.flags ?? []).entries()) {
    const path = `linux.seccomp.flags[${index}]`;
    if (flag === 'SECCOMP_FILTER_FLAG_NEW_LISTENER') unsupported('a seccomp listener is not supported', path);
    // Only meaningful together with a listener (the kernel refuses it alone), which is not supported.
    if (flag === 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV') continue;
    const bit = (seccompFilterFlags as Record<string, number>)[flag];
    if (bit === undefined) invalid(`unknown flag ${JSON.stringify(flag)}`, path);
    flags |= bit;
  }

  // The ABIs in the filter: the native one always (libseccomp's seccomp_init adds it), then the listed ones.
  const native: SyscallAbi = target;
  const abis: SyscallAbi[] = [native];
  const listedAbis = new Set<SyscallAbi>();
  const ignoredArchitectures: string[] = [];
  for (const name of profile.architectures ?? []) {
    const abi = abiOfArch[target][name];
    if (abi === undefined) {
      if (!ignoredArchitectures.includes(name)) ignoredArchitectures.push(name);
      continue;
    }
    listedAbis.add(abi);
    if (!abis.includes(abi)) abis.push(abi);
  }

  // Gather the rules per ABI and system call number, in profile order.
  const rulesByAbi = new Map<SyscallAbi, Map<number, Rule[]>>(abis.map((abi) => [abi, new Map()]));
  const highestByAbi = new Map<SyscallAbi, number>();
  const skipped: string[] = [];
  for (const [ruleIndex, syscall] of (profile.syscalls ?? []).entries()) {
    const path = `linux.seccomp.syscalls[${ruleIndex}]`;
    if (!Array.isArray(syscall.names) || syscall.names.length === 0) {
      invalid('a rule must name at least one system call', `${path}.names`);
    }
    if (syscall.action === 'SCMP_ACT_NOTIFY')
      unsupported('SCMP_ACT_NOTIFY is not supported', `${path}.action`);
    const action = actionValue(syscall.action, syscall.errnoRet, `${path}.action`);
    const conditions = (syscall.args ?? []).map((arg, argIndex): Condition => {
      const argPath = `${path}.args[${argIndex}]`;
      if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) {
        invalid(`argument index ${arg.index} is not between 0 and 5`, `${argPath}.index`);
      }
      return {
        index: arg.index,
        op: arg.op,
        value: toUint64(arg.value, `${argPath}.value`),
        valueTwo: toUint64(arg.valueTwo, `${argPath}.valueTwo`),
      };
    });
    const indexes = conditions.map((condition) => condition.index);
    const sharesAnIndex = new Set(indexes).size !== indexes.length;
    const alternatives: Condition[][] = sharesAnIndex
      ? conditions.map((condition) => [condition])
      : [conditions];

    for (const [nameIndex, name] of syscall.names.entries()) {
      if (typeof name !== 'string' || name === '')
        invalid('an empty system call name', `${path}.names[${nameIndex}]`);
      if (syscallNumber(name, native) === undefined && !skipped.includes(name)) skipped.push(name);
      for (const abi of abis) {
        const number = syscallNumber(name, abi);
        if (number === undefined) continue;
        highestByAbi.set(abi, Math.max(highestByAbi.get(abi) ?? -1, number));
        // runc drops rules that only repeat the default action (libseccomp would refuse them).
        if (action === defaultValue) continue;
        const byNumber = rulesByAbi.get(abi)!;
        const list = byNumber.get(number) ?? [];
        for (const alternative of alternatives) list.push({ conditions: alternative, action });
        byNumber.set(number, list);
      }
    }
  }

  const enosys = (options.enosysForNewSyscalls ?? true) && !allowLike.has(profile.defaultAction);

  const assembler = new BpfAssembler();
  const badArch = assembler.label('bad_arch');
  assembler.loadAbsolute(seccompDataOffset.arch);

  const emitTree = (abi: SyscallAbi): void => {
    const highest = enosys && listedAbis.has(abi) ? highestByAbi.get(abi) : undefined;
    emitDispatch(assembler, buildSegments(rulesByAbi.get(abi)!, defaultValue, highest), defaultValue);
  };

  const groups: { audit: number; abis: SyscallAbi[] }[] = [];
  for (const abi of abis) {
    const audit = abi === 'x86' ? auditArch.I386 : abi === 'aarch64' ? auditArch.AARCH64 : auditArch.X86_64;
    const group = groups.find((candidate) => candidate.audit === audit);
    if (group === undefined) groups.push({ audit, abis: [abi] });
    else group.abis.push(abi);
  }
  for (const group of groups) {
    const nextArch = assembler.label('next_arch');
    const matched = assembler.label('arch');
    assembler.branch(BPF.JEQ, group.audit, matched, nextArch);
    assembler.place(matched);
    assembler.loadAbsolute(seccompDataOffset.nr);
    if (group.audit === auditArch.X86_64) {
      // x86_64 and x32 share the audit arch; x32 numbers carry the 0x40000000 bit.
      const lower = assembler.label('x86_64');
      const upper = assembler.label('x32');
      assembler.branch(BPF.JGE, x32SyscallBit, upper, lower);
      assembler.place(upper);
      if (group.abis.includes('x32')) {
        emitTree('x32');
      } else {
        // libseccomp: an x32 call is a bad-arch call, but -1 (a skipped call) goes on as x86_64.
        assembler.branch(BPF.JEQ, 0xffffffff, lower, badArch);
      }
      assembler.place(lower);
      if (group.abis.includes('x86_64')) emitTree('x86_64');
      else assembler.jump(badArch);
    } else {
      emitTree(group.abis[0]!);
    }
    assembler.place(nextArch);
  }
  assembler.place(badArch);
  // libseccomp's default bad-arch action, which runc keeps: SCMP_ACT_KILL.
  assembler.ret(seccompReturn.KILL_THREAD);

  const instructions = assembler.assemble();
  if (instructions.length > bpfMaxInstructions) {
    invalid(
      `the program needs ${instructions.length} instructions, more than the kernel's ${bpfMaxInstructions}`,
    );
  }
  return {
    program: encodeBpf(instructions),
    flags,
    instructions: instructions.length,
    skipped,
    architectures: abis,
    ignoredArchitectures,
  };
}

const sameOutcome = (a: Outcome, b: Outcome): boolean =>
  a.kind === 'return' && b.kind === 'return' && a.value === b.value;

/**
 * Splits the 32-bit system call number space into ranges of equal outcome: the rules of each named call,
 * ENOSYS above `highest` (up to 0xfffffffe, so -1 keeps the default action), the default elsewhere.
 */
function buildSegments(
  rules: Map<number, Rule[]>,
  defaultValue: number,
  highest: number | undefined,
): Segment[] {
  const defaultOutcome: Outcome = { kind: 'return', value: defaultValue };
  const enosysOutcome: Outcome = { kind: 'return', value: (seccompReturn.ERRNO | errnoNumber.ENOSYS) >>> 0 };
  const segments: Segment[] = [];
  const push = (start: number, outcome: Outcome): void => {
    const last = segments[segments.length - 1];
    if (last !== undefined && sameOutcome(last.outcome, outcome)) return;
    segments.push({ start, outcome });
  };
  // Covers [from, to] with the default or, past `highest`, ENOSYS (never for -1 = 0xffffffff).
  const pushGap = (from: number, to: number): void => {
    if (highest === undefined) {
      push(from, defaultOutcome);
      return;
    }
    if (from <= highest) push(from, defaultOutcome);
    const enosysFrom = Math.max(from, highest + 1);
    if (enosysFrom <= Math.min(to, 0xfffffffe)) push(enosysFrom, enosysOutcome);
    if (to === 0xffffffff) push(0xffffffff, defaultOutcome);
  };
  let cursor = 0;
  for (const number of [...rules.keys()].sort((a, b) => a - b)) {
    if (number > cursor) pushGap(cursor, number - 1);
    const list = rules.get(number)!;
    const first = list[0]!;
    push(
      number,
      first.conditions.length === 0
        ? { kind: 'return', value: first.action }
        : { kind: 'rules', rules: list },
    );
    cursor = number + 1;
  }
  if (cursor <= 0xffffffff) pushGap(cursor, 0xffffffff);
  return segments;
}

/** Emits a binary search over `segments` (A holds the system call number) ending in each segment's outcome. */
function emitDispatch(assembler: BpfAssembler, segments: readonly Segment[], defaultValue: number): void {
  const emit = (low: number, high: number): void => {
    if (low === high) {
      emitOutcome(assembler, segments[low]!.outcome, defaultValue);
      return;
    }
    const middle = (low + high + 1) >> 1;
    const left = assembler.label('lt');
    const right = assembler.label('ge');
    assembler.branch(BPF.JGE, segments[middle]!.start, right, left);
    assembler.place(left);
    emit(low, middle - 1);
    assembler.place(right);
    emit(middle, high);
  };
  emit(0, segments.length - 1);
}

function emitOutcome(assembler: BpfAssembler, outcome: Outcome, defaultValue: number): void {
  if (outcome.kind === 'return') {
    assembler.ret(outcome.value);
    return;
  }
  for (const rule of outcome.rules) {
    const nextRule = assembler.label('next_rule');
    for (const condition of rule.conditions) emitCondition(assembler, condition, nextRule);
    assembler.ret(rule.action);
    assembler.place(nextRule);
    // An unconditional rule always decides; whatever follows for this call is unreachable.
    if (rule.conditions.length === 0) return;
  }
  assembler.ret(defaultValue);
}

/** Emits a 64-bit comparison of `seccomp_data.args[index]`: falls through when it holds, jumps to `fail` otherwise. */
function emitCondition(assembler: BpfAssembler, condition: Condition, fail: BpfLabel): void {
  // Little-endian: the low word of args[i] is at 16 + 8i, the high word 4 bytes later.
  const lowOffset = seccompDataOffset.args + 8 * condition.index;
  const highOffset = lowOffset + 4;
  const high = (value: bigint): number => Number((value >> 32n) & 0xffffffffn);
  const low = (value: bigint): number => Number(value & 0xffffffffn);
  const value = condition.value;
  const match = assembler.label('match');
  const next = (): BpfLabel => assembler.label('n');
  switch (condition.op) {
    case 'SCMP_CMP_EQ': {
      const checkLow = next();
      assembler.loadAbsolute(highOffset);
      assembler.branch(BPF.JEQ, high(value), checkLow, fail);
      assembler.place(checkLow);
      assembler.loadAbsolute(lowOffset);
      assembler.branch(BPF.JEQ, low(value), match, fail);
      break;
    }
    case 'SCMP_CMP_NE': {
      const checkLow = next();
      assembler.loadAbsolute(highOffset);
      assembler.branch(BPF.JEQ, high(value), checkLow, match);
      assembler.place(checkLow);
      assembler.loadAbsolute(lowOffset);
      assembler.branch(BPF.JEQ, low(value), fail, match);
      break;
    }
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE': {
      // A > V ⇔ A.hi > V.hi, or A.hi = V.hi and A.lo > V.lo (≥ for GE). A < V ⇔ not A ≥ V and
      // A ≤ V ⇔ not A > V, so LT and LE are that test with the outcomes swapped.
      const negated = condition.op === 'SCMP_CMP_LT' || condition.op === 'SCMP_CMP_LE';
      const [holds, fails] = negated ? [fail, match] : [match, fail];
      const strict = condition.op === 'SCMP_CMP_GT' || condition.op === 'SCMP_CMP_LE';
      const equalHigh = next();
      const checkLow = next();
      assembler.loadAbsolute(highOffset);
      assembler.branch(BPF.JGT, high(value), holds, equalHigh);
      assembler.place(equalHigh);
      assembler.branch(BPF.JEQ, high(value), checkLow, fails);
      assembler.place(checkLow);
      assembler.loadAbsolute(lowOffset);
      assembler.branch(strict ? BPF.JGT : BPF.JGE, low(value), holds, fails);
      break;
    }
    case 'SCMP_CMP_MASKED_EQ': {
      // (A & value) == valueTwo, word by word.
      const checkLow = next();
      assembler.loadAbsolute(highOffset);
      assembler.and(high(value));
      assembler.branch(BPF.JEQ, high(condition.valueTwo), checkLow, fail);
      assembler.place(checkLow);
      assembler.loadAbsolute(lowOffset);
      assembler.and(low(value));
      assembler.branch(BPF.JEQ, low(condition.valueTwo), match, fail);
      break;
    }
    default:
      invalid(`unknown operator ${JSON.stringify(condition.op)}`);
  }
  assembler.place(match);
}
