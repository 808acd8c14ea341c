import { syscallsAarch64 } from './syscalls-aarch64.js';
import { syscallsX32 } from './syscalls-x32.js';
import { syscallsX86 } from './syscalls-x86.js';
import { syscallsX86_64 } from './syscalls-x86_64.js';

/** The system call ABIs this package has tables for. */
export type SyscallAbi = 'x86_64' | 'x86' | 'x32' | 'aarch64';

const tables: Record<SyscallAbi, Readonly<Record<string, number>>> = {
  x86_64: syscallsX86_64,
  x86: syscallsX86,
  x32: syscallsX32,
  aarch64: syscallsAarch64,
};

/** The name → number table of an ABI (x32 numbers include the 0x40000000 bit). */
export function syscallTable(abi: SyscallAbi): Readonly<Record<string, number>> {
  return tables[abi];
}

/** The number of a system call in an ABI, or `undefined` when the ABI has no such call. */
export function syscallNumber(name: string, abi: SyscallAbi): number | undefined {
  const table = tables[abi];
  return Object.hasOwn(table, name) ? table[name] : undefined;
}
