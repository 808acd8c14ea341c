import { RuntimeError } from '../errors.js';
import { capabilityMask, lastCapability } from '../spec/capabilities.js';
import type { Process } from '../spec/config.js';
import { rlimitNumber } from '../spec/rlimits.js';
import type { SpawnPlan } from '../syscalls.js';
import { ioPriorityValue, schedulerAttributes } from './process-scheduling.js';

/** The process-related part of a {@link SpawnPlan}, shared by `create` (init) and `exec`. */
export type ProcessPlan = Pick<
  SpawnPlan,
  | 'uid'
  | 'gid'
  | 'groups'
  | 'umask'
  | 'capabilities'
  | 'rlimits'
  | 'noNewPrivileges'
  | 'apparmorProfile'
  | 'selinuxLabel'
  | 'cwd'
  | 'args'
  | 'env'
  | 'terminal'
  | 'consoleRows'
  | 'consoleCols'
  | 'schedulerAttributes'
  | 'ioPriority'
>;

/** Options of {@link buildProcessPlan}. */
export interface ProcessPlanOptions {
  /** The host has AppArmor; without it a profile is skipped (as runc does when AppArmor is disabled). */
  apparmorEnabled?: boolean | undefined;
  /** The host has SELinux; without it labels are skipped (as runc does when SELinux is disabled). */
  selinuxEnabled?: boolean | undefined;
  /** setgroups(2) is denied in the user namespace: leave supplementary groups alone. */
  setgroupsDenied?: boolean | undefined;
}

function toBigint(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/**
 * Translates a runtime-spec `process` into plan fields: capability masks, rlimit numbers, ids, the
 * scheduler and I/O priority. Pure. Throws `INVALID_SPEC` for empty args, unknown capability / rlimit
 * names, or a scheduler / I/O priority out of range.
 */
export function buildProcessPlan(process: Process, options: ProcessPlanOptions = {}): ProcessPlan {
  const scheduling = {
    schedulerAttributes: process.scheduler === undefined ? undefined : schedulerAttributes(process.scheduler),
    ioPriority: process.ioPriority === undefined ? undefined : ioPriorityValue(process.ioPriority),
  };
  const args = process.args ?? [];
  if (args.length === 0) {
    throw new RuntimeError('INVALID_SPEC', 'process: args must not be empty', { path: 'process.args' });
  }
  const caps = process.capabilities;
  const rlimits = (process.rlimits ?? []).map((limit, index) => {
    const resource = rlimitNumber(limit.type);
    if (resource === undefined) {
      throw new RuntimeError('INVALID_SPEC', `process: unknown rlimit ${JSON.stringify(limit.type)}`, {
        path: `process.rlimits[${index}].type`,
      });
    }
    return { resource, soft: toBigint(limit.soft), hard: toBigint(limit.hard) };
  });
  return {
    uid: process.user.uid,
    gid: process.user.gid,
    groups: options.setgroupsDenied ? undefined : [...(process.user.additionalGids ?? [])],
    umask: process.user.umask,
    capabilities:
      caps === undefined
        ? undefined
        : {
            bounding: capabilityMask(caps.bounding, { path: 'process.capabilities.bounding' }),
            effective: capabilityMask(caps.effective, { path: 'process.capabilities.effective' }),
            permitted: capabilityMask(caps.permitted, { path: 'process.capabilities.permitted' }),
            inheritable: capabilityMask(caps.inheritable, { path: 'process.capabilities.inheritable' }),
            ambient: capabilityMask(caps.ambient, { path: 'process.capabilities.ambient' }),
            last: lastCapability,
          },
    rlimits,
    noNewPrivileges: process.noNewPrivileges ?? false,
    apparmorProfile: options.apparmorEnabled ? process.apparmorProfile || undefined : undefined,
    selinuxLabel: options.selinuxEnabled ? process.selinuxLabel || undefined : undefined,
    cwd: process.cwd,
    args: [...args],
    env: [...(process.env ?? [])],
    terminal: process.terminal ?? false,
    consoleRows: process.consoleSize?.height,
    consoleCols: process.consoleSize?.width,
    ...scheduling,
  };
}
