/**
 * Pure conversions from runtime-spec (cgroup v1 flavoured) values to cgroup v2 file values, following
 * runc's libcontainer/cgroups/utils.go so containers behave the same under either runtime.
 */
import { RuntimeError } from '../errors.js';
import type { CgroupRdma } from './resources.js';

/** The "unlimited" value reported for v2 `max`: runc says 2^64 - 1, which as a double is 2^64. */
export const CGROUP_V2_MAX = 2 ** 64;

/**
 * cpu.shares (2..262144) to cpu.weight (1..10000): `1 + ((shares - 2) * 9999) / 262142`, integer division.
 * 0 means "unset" and stays 0; out-of-range shares are clamped first.
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const clamped = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((clamped - 2) * 9999) / 262142);
}

/**
 * blkio.weight (10..1000) to io.weight (1..10000): `1 + (weight - 10) * 9999 / 990`, integer division.
 * 0 means "unset" and stays 0.
 */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  const clamped = Math.min(Math.max(weight, 10), 1000);
  return 1 + Math.floor(((clamped - 10) * 9999) / 990);
}

/**
 * runtime-spec `memory.swap` is memory+swap (v1 memsw); v2 `memory.swap.max` is swap alone.
 * Returns the v2 value: -1 for unlimited, 0 for "leave unset", else `swap - limit`.
 * Throws INVALID_ARGUMENT when a swap limit comes without a memory limit or below it.
 */
export function memorySwapToV2(swap: number, limit: number): number {
  // Unlimited memory with no explicit swap means unlimited swap too (v1 compatibility).
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === 0 || limit === -1) {
    throw new RuntimeError('INVALID_ARGUMENT', 'set memory.swap: a swap limit needs a memory limit', {
      path: 'linux.resources.memory.swap',
    });
  }
  if (limit < 0) {
    throw new RuntimeError('INVALID_ARGUMENT', `set memory.limit: invalid value ${limit}`, {
      path: 'linux.resources.memory.limit',
    });
  }
  if (swap < limit) {
    throw new RuntimeError('INVALID_ARGUMENT', 'set memory.swap: memory+swap must be >= the memory limit', {
      path: 'linux.resources.memory.swap',
    });
  }
  return swap - limit;
}

/** A v2 limit value: -1 → `max`, 0 → undefined (leave the file alone), else the decimal number. */
export function v2LimitValue(value: number | undefined): string | undefined {
  if (value === undefined || value === 0) return undefined;
  if (value === -1) return 'max';
  return String(value);
}

/** `cpu.max` content: `<quota|max>[ <period>]`, or undefined when neither is set. */
export function cpuMaxValue(quota: number | undefined, period: number | undefined): string | undefined {
  if (!quota && !period) return undefined;
  let value = quota !== undefined && quota > 0 ? String(quota) : 'max';
  if (period) value += ` ${period}`;
  return value;
}

/** `pids.max` content: a positive limit as is, anything else (0, -1) as `max`. */
export function pidsMaxValue(limit: number): string {
  return limit > 0 ? String(limit) : 'max';
}

/** One `rdma.max` line (`<device> hca_handle=N hca_object=N`), or undefined when `limits` sets neither. */
export function rdmaMaxValue(device: string, limits: CgroupRdma): string | undefined {
  const parts = [device];
  if (limits.hcaHandles !== undefined) parts.push(`hca_handle=${limits.hcaHandles}`);
  if (limits.hcaObjects !== undefined) parts.push(`hca_object=${limits.hcaObjects}`);
  return parts.length > 1 ? parts.join(' ') : undefined;
}

/** Parses a cgroup number that may be `max` (→ {@link CGROUP_V2_MAX}). Empty/garbage → 0. */
export function parseCgroupNumber(text: string): number {
  const trimmed = text.trim();
  if (trimmed === 'max') return CGROUP_V2_MAX;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : 0;
}

/** Checks a hugepage size as the cgroup file names spell it (`64KB`, `2MB`, `1GB`). */
export function assertHugepageSize(pageSize: string): void {
  if (!/^[1-9][0-9]*(KB|MB|GB|TB|PB)$/.test(pageSize)) {
    throw new RuntimeError('INVALID_ARGUMENT', `set hugetlb: invalid page size "${pageSize}"`, {
      path: 'linux.resources.hugepageLimits.pageSize',
    });
  }
}
