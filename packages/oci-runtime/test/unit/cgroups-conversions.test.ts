import { describe, expect, it } from 'vitest';
import {
  blkioWeightToIoWeight,
  CGROUP_V2_MAX,
  cpuMaxValue,
  cpuSharesToWeight,
  memorySwapToV2,
  parseCgroupNumber,
  pidsMaxValue,
  v2LimitValue,
} from '../../src/cgroups/conversions.js';
import { isRuntimeError } from '../../src/errors.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return isRuntimeError(error) ? error.code : 'not a RuntimeError';
  }
  return undefined;
}

describe('cgroup v1 → v2 conversions (runc formulas)', () => {
  it('maps cpu shares to cpu.weight with 1 + ((shares - 2) * 9999) / 262142', () => {
    expect(cpuSharesToWeight(0)).toBe(0);
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(1024)).toBe(39);
    expect(cpuSharesToWeight(512)).toBe(20);
    expect(cpuSharesToWeight(262144)).toBe(10000);
    // Out of range values are clamped instead of underflowing.
    expect(cpuSharesToWeight(1)).toBe(1);
    expect(cpuSharesToWeight(1_000_000)).toBe(10000);
  });

  it('maps blkio weight to io.weight with 1 + (weight - 10) * 9999 / 990', () => {
    expect(blkioWeightToIoWeight(0)).toBe(0);
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
  });

  it('turns memory+swap into swap alone for memory.swap.max', () => {
    expect(memorySwapToV2(67108864, 33554432)).toBe(33554432);
    expect(memorySwapToV2(33554432, 33554432)).toBe(0);
    expect(memorySwapToV2(0, -1)).toBe(-1);
    expect(memorySwapToV2(-1, 33554432)).toBe(-1);
    expect(memorySwapToV2(0, 33554432)).toBe(0);
    expect(codeOf(() => memorySwapToV2(1000, 0))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => memorySwapToV2(1000, -1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => memorySwapToV2(1000, 2000))).toBe('INVALID_ARGUMENT');
  });

  it('formats cpu.max, pids.max and v2 limits', () => {
    expect(cpuMaxValue(50000, 100000)).toBe('50000 100000');
    expect(cpuMaxValue(-1, 100000)).toBe('max 100000');
    expect(cpuMaxValue(50000, undefined)).toBe('50000');
    expect(cpuMaxValue(undefined, undefined)).toBeUndefined();
    expect(cpuMaxValue(0, 0)).toBeUndefined();
    expect(pidsMaxValue(5)).toBe('5');
    expect(pidsMaxValue(0)).toBe('max');
    expect(pidsMaxValue(-1)).toBe('max');
    expect(v2LimitValue(-1)).toBe('max');
    expect(v2LimitValue(0)).toBeUndefined();
    expect(v2LimitValue(undefined)).toBeUndefined();
    expect(v2LimitValue(4096)).toBe('4096');
  });

  it('parses cgroup numbers including max', () => {
    expect(parseCgroupNumber('max\n')).toBe(CGROUP_V2_MAX);
    expect(parseCgroupNumber('4096\n')).toBe(4096);
    expect(parseCgroupNumber('')).toBe(0);
    expect(parseCgroupNumber('junk')).toBe(0);
  });
});
