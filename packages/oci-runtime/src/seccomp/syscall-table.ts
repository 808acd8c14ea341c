import { x32SyscallBit } from './constants.js';
import { syscallsAarch64 } from './syscalls-aarch64.js';
import { syscallsCommon } from './syscalls-common.js';
import { syscallsX32 } from './syscalls-x32.js';
import { syscallsX86 } from './syscalls-x86.js';
import { syscallsX86_64 } from './syscalls-x86_64.js';

/** The system call ABIs this package has tables for. */
export type SyscallAbi = 'x86_64' | 'x86' | 'x32' | 'aarch64';

// Each ABI's own numbers; the range every ABI shares (424 up) is merged in on first use.
const ownTables: Record<SyscallAbi, Readonly<Record<string, number>>> = {
  x86_64: syscallsX86_64,
  x86: syscallsX86,
  x32: syscallsX32,
  aarch64: syscallsAarch64,
};

const tables: Partial<Record<SyscallAbi, Readonly<Record<string, number>>>> = {};

/** The name → number table of an ABI (x32 numbers include the 0x40000000 bit). */
export function syscallTable(abi: SyscallAbi): Readonly<Record<string, number>> {
  let table = tables[abi];
  if (table === undefined) {
    const bit = abi === 'x32' ? x32SyscallBit : 0;
    const shared = Object.entries(syscallsCommon).map(([name, number]): [string, number] => [
      name,
      number + bit,
    ]);
    // In number order, as the generated tables are (x32's own entries go on past the shared range).
    const entries = [...Object.entries(ownTables[abi]), ...shared].sort((a, b) => a[1] - b[1]);
    table = Object.freeze(Object.fromEntries(entries));
    tables[abi] = table;
  }
  return table;
}

/** The number of a system call in an ABI, or `undefined` when the ABI has no such call. */
export function syscallNumber(name: string, abi: SyscallAbi): number | undefined {
  const table = syscallTable(abi);
  return Object.hasOwn(table, name) ? table[name] : undefined;
}
