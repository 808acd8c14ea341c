import { RuntimeError } from '../errors.js';
import type { LinuxIoPriority, Scheduler } from '../spec/config.js';

/** sched_setattr(2) policy numbers by `process.scheduler.policy` (include/uapi/linux/sched.h). */
export const schedulerPolicyNumbers = Object.freeze({
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
} as const);

/** SCHED_FLAG_* bits by `process.scheduler.flags` name. */
export const schedulerFlagBits = Object.freeze({
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
} as const);

/** The size of `struct sched_attr` without the utilization clamps (SCHED_ATTR_SIZE_VER0). */
export const SCHED_ATTR_SIZE = 48;

/**
 * Encodes `process.scheduler` as the 48-byte `struct sched_attr` for sched_setattr(2) (little-endian:
 * u32 size, u32 policy, u64 flags, s32 nice, u32 priority, u64 runtime, deadline, period in ns). Pure.
 * Throws `INVALID_SPEC` when nice or priority do not fit the policy (as runc checks before the kernel).
 */
export function schedulerAttributes(scheduler: Scheduler): Buffer {
  const policy = schedulerPolicyNumbers[scheduler.policy];
  const realtime = scheduler.policy === 'SCHED_FIFO' || scheduler.policy === 'SCHED_RR';
  const priority = scheduler.priority ?? 0;
  if (realtime ? priority < 1 || priority > 99 : priority !== 0) {
    throw new RuntimeError(
      'INVALID_SPEC',
      `process.scheduler: priority ${priority} is invalid for ${scheduler.policy}`,
      { path: 'process.scheduler.priority' },
    );
  }
  const nice = scheduler.nice ?? 0;
  if (nice < -20 || nice > 19) {
    throw new RuntimeError('INVALID_SPEC', `process.scheduler: nice ${nice} is outside -20…19`, {
      path: 'process.scheduler.nice',
    });
  }
  let flags = 0;
  for (const flag of scheduler.flags ?? []) flags |= schedulerFlagBits[flag];
  const attributes = Buffer.alloc(SCHED_ATTR_SIZE);
  attributes.writeUInt32LE(SCHED_ATTR_SIZE, 0);
  attributes.writeUInt32LE(policy, 4);
  attributes.writeBigUInt64LE(BigInt(flags), 8);
  attributes.writeInt32LE(nice, 16);
  attributes.writeUInt32LE(priority, 20);
  attributes.writeBigUInt64LE(BigInt(scheduler.runtime ?? 0), 24);
  attributes.writeBigUInt64LE(BigInt(scheduler.deadline ?? 0), 32);
  attributes.writeBigUInt64LE(BigInt(scheduler.period ?? 0), 40);
  return attributes;
}

/** IOPRIO_CLASS_* numbers by `process.ioPriority.class`. */
export const ioPriorityClasses = Object.freeze({
  IOPRIO_CLASS_RT: 1,
  IOPRIO_CLASS_BE: 2,
  IOPRIO_CLASS_IDLE: 3,
} as const);

/**
 * The ioprio_set(2) value (class << 13 | level) for `process.ioPriority`. Pure. Throws `INVALID_SPEC`
 * for a level outside 0…7.
 */
export function ioPriorityValue(ioPriority: LinuxIoPriority): number {
  if (!Number.isInteger(ioPriority.priority) || ioPriority.priority < 0 || ioPriority.priority > 7) {
    throw new RuntimeError(
      'INVALID_SPEC',
      `process.ioPriority: level ${ioPriority.priority} is outside 0…7`,
      {
        path: 'process.ioPriority.priority',
      },
    );
  }
  return (ioPriorityClasses[ioPriority.class] << 13) | ioPriority.priority;
}
