import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildInitPlan,
  personalityValue,
  planNamespaces,
  timeOffsetsText,
} from '../../src/container/init-plan.js';
import {
  ioPriorityValue,
  SCHED_ATTR_SIZE,
  schedulerAttributes,
} from '../../src/container/process-scheduling.js';
import { isRuntimeError } from '../../src/errors.js';
import type { RuntimeSpec } from '../../src/spec/config.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { namespaceCloneFlags } from '../../src/syscalls.js';
import { RecordingSyscalls, syscallError } from '../../src/testing/recording-syscalls.js';

const root = mkdtempSync(join(tmpdir(), 'ocikit-init-plan-extra-'));
const rootfs = join(root, 'rootfs');
mkdirSync(rootfs);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function specWith(edit: (spec: RuntimeSpec) => void): RuntimeSpec {
  const spec = defaultSpec();
  edit(spec);
  return spec;
}

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isRuntimeError(error) ? error.code : 'not a RuntimeError';
  }
  return undefined;
}

describe('the time namespace', () => {
  it('is planned as an unshare, never as CLONE_NEWTIME in the clone flags (that byte is the exit signal)', () => {
    const spec = specWith((s) => s.linux?.namespaces?.push({ type: 'time' }));
    const namespaces = planNamespaces(spec);
    expect(namespaces.newTimeNamespace).toBe(true);
    expect(namespaces.cloneFlags & 0xff).toBe(0);
    expect(namespaces.cloneFlags & namespaceCloneFlags.time).toBe(0);
    const plan = buildInitPlan(spec, { rootfs });
    expect(plan.newTimeNamespace).toBe(true);
    expect((plan.cloneFlags ?? 0) & 0xff).toBe(0);
    expect(plan.timeOffsets).toBeUndefined();
  });

  it('joins a time namespace by path like any other', () => {
    const spec = specWith((s) => s.linux?.namespaces?.push({ type: 'time', path: '/proc/1/ns/time' }));
    const namespaces = planNamespaces(spec);
    expect(namespaces.newTimeNamespace).toBe(false);
    expect(namespaces.joins).toEqual([{ type: 'time', path: '/proc/1/ns/time' }]);
  });

  it('writes the offsets as timens_offsets lines, monotonic first', () => {
    const spec = specWith((s) => {
      s.linux?.namespaces?.push({ type: 'time' });
      s.linux = {
        ...s.linux,
        timeOffsets: { boottime: { secs: -5, nanosecs: 7 }, monotonic: { secs: 864000 } },
      };
    });
    expect(timeOffsetsText(spec)).toBe('monotonic 864000 0\nboottime -5 7\n');
    expect(buildInitPlan(spec, { rootfs }).timeOffsets).toBe('monotonic 864000 0\nboottime -5 7\n');
    // Without a new time namespace there is nothing to write them to.
    const joined = specWith((s) => {
      s.linux = { ...s.linux, timeOffsets: { monotonic: { secs: 1 } } };
    });
    expect(buildInitPlan(joined, { rootfs }).timeOffsets).toBeUndefined();
  });

  it('refuses unknown clocks and out-of-range nanoseconds', () => {
    const clock = specWith((s) => {
      s.linux = { ...s.linux, timeOffsets: { realtime: { secs: 1 } } };
    });
    expect(errorCode(() => timeOffsetsText(clock))).toBe('INVALID_SPEC');
    const nanos = specWith((s) => {
      s.linux = { ...s.linux, timeOffsets: { boottime: { secs: 1, nanosecs: 1_000_000_000 } } };
    });
    expect(errorCode(() => timeOffsetsText(nanos))).toBe('INVALID_SPEC');
    expect(timeOffsetsText(defaultSpec())).toBeUndefined();
  });
});

describe('linux.personality', () => {
  it('maps LINUX to 0 and LINUX32 to PER_LINUX32 (8), and absent to undefined', () => {
    const of = (domain: 'LINUX' | 'LINUX32') =>
      specWith((s) => {
        s.linux = { ...s.linux, personality: { domain } };
      });
    expect(personalityValue(of('LINUX'))).toBe(0);
    expect(personalityValue(of('LINUX32'))).toBe(8);
    expect(buildInitPlan(of('LINUX32'), { rootfs }).personality).toBe(8);
    expect(personalityValue(defaultSpec())).toBeUndefined();
    expect(buildInitPlan(defaultSpec(), { rootfs }).personality).toBeUndefined();
  });
});

describe('process.scheduler', () => {
  it('encodes a 48-byte little-endian struct sched_attr', () => {
    const attributes = schedulerAttributes({
      policy: 'SCHED_DEADLINE',
      flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM'],
      runtime: 10_000_000,
      deadline: 30_000_000,
      period: 100_000_000,
    });
    expect(attributes.length).toBe(SCHED_ATTR_SIZE);
    expect(attributes.readUInt32LE(0)).toBe(48);
    expect(attributes.readUInt32LE(4)).toBe(6);
    expect(attributes.readBigUInt64LE(8)).toBe(3n);
    expect(attributes.readInt32LE(16)).toBe(0);
    expect(attributes.readUInt32LE(20)).toBe(0);
    expect(attributes.readBigUInt64LE(24)).toBe(10_000_000n);
    expect(attributes.readBigUInt64LE(32)).toBe(30_000_000n);
    expect(attributes.readBigUInt64LE(40)).toBe(100_000_000n);

    const batch = schedulerAttributes({ policy: 'SCHED_BATCH', nice: -3 });
    expect([batch.readUInt32LE(4), batch.readInt32LE(16)]).toEqual([3, -3]);
    const fifo = schedulerAttributes({ policy: 'SCHED_FIFO', priority: 50 });
    expect([fifo.readUInt32LE(4), fifo.readUInt32LE(20)]).toEqual([1, 50]);
  });

  it('refuses a priority that does not fit the policy, and a nice outside -20…19', () => {
    expect(errorCode(() => schedulerAttributes({ policy: 'SCHED_RR', priority: 0 }))).toBe('INVALID_SPEC');
    expect(errorCode(() => schedulerAttributes({ policy: 'SCHED_FIFO', priority: 100 }))).toBe(
      'INVALID_SPEC',
    );
    expect(errorCode(() => schedulerAttributes({ policy: 'SCHED_OTHER', priority: 5 }))).toBe('INVALID_SPEC');
    expect(errorCode(() => schedulerAttributes({ policy: 'SCHED_OTHER', nice: 20 }))).toBe('INVALID_SPEC');
  });

  it('goes into the init plan with the I/O priority', () => {
    const spec = specWith((s) => {
      const process = s.process as NonNullable<RuntimeSpec['process']>;
      process.scheduler = { policy: 'SCHED_IDLE' };
      process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
    });
    const plan = buildInitPlan(spec, { rootfs });
    expect(Buffer.from(plan.schedulerAttributes ?? []).readUInt32LE(4)).toBe(5);
    expect(plan.ioPriority).toBe((2 << 13) | 4);
    const none = buildInitPlan(defaultSpec(), { rootfs });
    expect([none.schedulerAttributes, none.ioPriority]).toEqual([undefined, undefined]);
  });
});

describe('process.ioPriority', () => {
  it('is class << 13 | level, with the level limited to 0…7', () => {
    expect(ioPriorityValue({ class: 'IOPRIO_CLASS_RT', priority: 0 })).toBe(1 << 13);
    expect(ioPriorityValue({ class: 'IOPRIO_CLASS_BE', priority: 7 })).toBe((2 << 13) | 7);
    expect(ioPriorityValue({ class: 'IOPRIO_CLASS_IDLE', priority: 0 })).toBe(3 << 13);
    expect(errorCode(() => ioPriorityValue({ class: 'IOPRIO_CLASS_BE', priority: 8 }))).toBe('INVALID_SPEC');
    expect(errorCode(() => ioPriorityValue({ class: 'IOPRIO_CLASS_BE', priority: -1 }))).toBe('INVALID_SPEC');
  });
});

describe('RecordingSyscalls.attachDeviceProgram', () => {
  it('records the directory, program and license, and throws an injected failure', () => {
    const sys = new RecordingSyscalls();
    const program = Buffer.from([0xb4, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    sys.attachDeviceProgram('/sys/fs/cgroup/x', program, 'Apache');
    expect(sys.callsOf('attachDeviceProgram')).toEqual([
      { method: 'attachDeviceProgram', args: ['/sys/fs/cgroup/x', program, 'Apache'] },
    ]);
    sys.failOn('attachDeviceProgram', syscallError('bpf', 1, 'EPERM'));
    expect(() => sys.attachDeviceProgram('/sys/fs/cgroup/x', program, 'Apache')).toThrow('bpf: EPERM');
  });
});

describe('SELinux labels', () => {
  const labelled = specWith((spec) => {
    if (spec.process !== undefined) spec.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2';
    if (spec.linux !== undefined) spec.linux.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2';
    spec.mounts = [
      ...(spec.mounts ?? []),
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] },
      { destination: '/bound', type: 'bind', source: root, options: ['rbind'] },
    ];
  });
  const dataOf = (plan: ReturnType<typeof buildInitPlan>, target: string): string | undefined =>
    plan.ops?.find((op) => op.target === target && op.fstype !== undefined)?.data;

  it('labels the process and the tmpfs/devpts/shm mounts when the host has SELinux', () => {
    const plan = buildInitPlan(labelled, { rootfs, selinuxEnabled: true });
    expect(plan.selinuxLabel).toBe('system_u:system_r:container_t:s0:c1,c2');
    const context = 'context="system_u:object_r:container_file_t:s0:c1,c2"';
    expect(dataOf(plan, 'scratch')).toBe(context);
    expect(dataOf(plan, 'dev')).toBe(`mode=755,size=65536k,${context}`);
    expect(dataOf(plan, 'dev/pts')).toContain(`,${context}`);
    expect(dataOf(plan, 'dev/shm')).toContain(`,${context}`);
    // runc leaves proc, sysfs, mqueue, cgroup and bind mounts unlabelled.
    for (const target of ['proc', 'sys', 'dev/mqueue', 'sys/fs/cgroup', 'bound']) {
      const op = plan.ops?.find((candidate) => candidate.target === target);
      expect(op, target).toBeDefined();
      expect(op?.data ?? '').not.toContain('context=');
    }
  });

  it('leaves labels out when the host has no SELinux, as runc does', () => {
    const plan = buildInitPlan(labelled, { rootfs, selinuxEnabled: false });
    expect(plan.selinuxLabel).toBeUndefined();
    expect((plan.ops ?? []).some((op) => (op.data ?? '').includes('context='))).toBe(false);
  });
});

describe('spec sections this runtime refuses instead of ignoring', () => {
  it('fails NOT_SUPPORTED for linux.netDevices and linux.intelRdt, naming the field', () => {
    for (const [edit, path] of [
      [
        (spec: RuntimeSpec) => Object.assign(spec.linux ?? {}, { netDevices: { eth1: {} } }),
        'linux.netDevices',
      ],
      [
        (spec: RuntimeSpec) => Object.assign(spec.linux ?? {}, { intelRdt: { closID: 'c' } }),
        'linux.intelRdt',
      ],
    ] as const) {
      try {
        buildInitPlan(specWith(edit), { rootfs });
        throw new Error('expected NOT_SUPPORTED');
      } catch (error) {
        expect(isRuntimeError(error, 'NOT_SUPPORTED'), String(error)).toBe(true);
        expect((error as { path?: string }).path).toBe(path);
      }
    }
    // An empty netDevices map asks for nothing.
    expect(() =>
      buildInitPlan(
        specWith((spec) => Object.assign(spec.linux ?? {}, { netDevices: {} })),
        { rootfs },
      ),
    ).not.toThrow();
  });
});
