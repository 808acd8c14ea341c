/**
 * The generated config.json parser (src/spec/config-parser.generated.ts) against the zod schemas it is
 * generated from: the committed file must be what the generator writes now, and on thousands of mutated
 * specs the generated parser must either decline (undefined) or return exactly zod's result — and it must
 * not decline what zod accepts, or it would be a fast path in name only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSpecParser } from '../../scripts/spec-parser-codegen.js';
import { isRuntimeError } from '../../src/errors.js';
import {
  parseRuntimeSpec,
  processSchema,
  type RuntimeSpec,
  runtimeSpecSchema,
} from '../../src/spec/config.js';
import { parseProcessFast, parseRuntimeSpecFast } from '../../src/spec/config-parser.generated.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { parseProcessQuick, parseRuntimeSpecQuick } from '../../src/spec/parse-quick.js';
import { seededRandom } from '../../src/testing/seeded-random.js';

const generatedFile = join(__dirname, '..', '..', 'src', 'spec', 'config-parser.generated.ts');

/** Every field of the model set once, with uint64 values beyond 2^53. */
function fullSpec(): Record<string, unknown> {
  const spec = defaultSpec() as Record<string, unknown> & RuntimeSpec;
  return {
    ...spec,
    hostname: 'box',
    domainname: 'example.org',
    annotations: { 'org.example/key': 'value', '': 'empty key' },
    process: {
      ...spec.process,
      terminal: false,
      consoleSize: { height: 24, width: 80 },
      user: { uid: 1, gid: 2, umask: 18, additionalGids: [3, 4], username: 'daemon' },
      commandLine: 'sh -c true',
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 18446744073709551615n, soft: 1024 },
        { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
      ],
      noNewPrivileges: true,
      apparmorProfile: 'unconfined',
      oomScoreAdj: 10,
      scheduler: {
        policy: 'SCHED_DEADLINE',
        nice: -5,
        priority: 1,
        flags: ['SCHED_FLAG_RESET_ON_FORK'],
        runtime: 10_000_000,
        deadline: 9007199254740993n,
        period: 30_000_000,
      },
      selinuxLabel: 'system_u:system_r:container_t:s0',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '0', final: '0-1' },
    },
    mounts: [
      ...(spec.mounts ?? []),
      {
        destination: '/data',
        type: 'bind',
        source: '/srv',
        options: ['rbind', 'ro'],
        uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      },
    ],
    hooks: {
      prestart: [{ path: '/bin/true' }],
      createRuntime: [{ path: '/bin/true', args: ['true'], env: ['A=1'], timeout: 3 }],
      createContainer: [{ path: '/bin/true' }],
      startContainer: [{ path: '/bin/true' }],
      poststart: [{ path: '/bin/true' }],
      poststop: [{ path: '/bin/true' }],
    },
    linux: {
      ...spec.linux,
      namespaces: [{ type: 'pid' }, { type: 'network', path: '/proc/1/ns/net' }, { type: 'time' }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { monotonic: { secs: -3600, nanosecs: 5 }, boottime: { secs: 9223372036854775807n } },
      devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 }],
      netDevices: { eth1: { name: 'net1' }, eth2: {} },
      cgroupsPath: '/ocikit/test',
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
        ],
        memory: {
          limit: 268435456,
          reservation: -1,
          swap: 9223372036854775807n,
          kernel: -1,
          kernelTCP: 0,
          swappiness: 60,
          disableOOMKiller: false,
          useHierarchy: true,
          checkBeforeUpdate: true,
        },
        cpu: {
          shares: 1024,
          quota: -1,
          burst: 0,
          period: 100000,
          realtimeRuntime: 0,
          realtimePeriod: 0,
          cpus: '0-1',
          mems: '0',
          idle: 0,
        },
        pids: { limit: 32 },
        blockIO: {
          weight: 500,
          leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 100, leafWeight: 50 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 18446744073709551615n }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
        network: { classID: 7, priorities: [{ name: 'eth0', priority: 1 }] },
        rdma: { mlx5_0: { hcaHandles: 3, hcaObjects: 1000 } },
        unified: { 'memory.high': '1G' },
      },
      intelRdt: {
        closID: 'c1',
        schemata: 'L3:0=ff',
        l3CacheSchema: 'L3:0=ff',
        memBwSchema: 'MB:0=50',
        enableCMT: true,
        enableMBM: false,
        enableMonitoring: true,
      },
      sysctl: { 'net.ipv4.ip_forward': '1' },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/run/seccomp.sock',
        listenerMetadata: 'meta',
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          {
            names: ['personality'],
            action: 'SCMP_ACT_ALLOW',
            args: [
              { index: 0, value: 18446744073709551615n, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' },
              { index: 1, value: 8, op: 'SCMP_CMP_EQ' },
            ],
          },
          { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        ],
      },
      rootfsPropagation: 'rslave',
      mountLabel: 'system_u:object_r:container_file_t:s0',
      personality: { domain: 'LINUX32', flags: [] },
    },
    unknownTopLevel: { ignored: true },
  };
}

const replacements: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0,
  2 ** 53,
  2 ** 32,
  65536,
  4294967295,
  -2147483649,
  9007199254740993n,
  -9223372036854775809n,
  18446744073709551616n,
  -1n,
  '',
  'x',
  'SCMP_ACT_ALLOW',
  'pid',
  'rslave',
  'LINUX',
  [],
  ['a'],
  [1],
  {},
  { path: '/x' },
  undefined,
];

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = clone(item);
    return out;
  }
  return value;
}

/** Every container (object or array) in `value`, with its path. */
function containers(
  value: unknown,
  path: string[] = [],
  out: [string[], unknown][] = [],
): [string[], unknown][] {
  if (typeof value === 'object' && value !== null) {
    out.push([path, value]);
    for (const [key, item] of Object.entries(value)) containers(item, [...path, key], out);
  }
  return out;
}

/** One to three random edits of a copy of `base`. */
function mutate(base: unknown, next: () => number): unknown {
  const value = clone(base);
  const edits = 1 + Math.floor(next() * 3);
  for (let n = 0; n < edits; n++) {
    const all = containers(value);
    const [, target] = all[Math.floor(next() * all.length)] as [string[], Record<string, unknown>];
    const keys = Object.keys(target);
    const pick = next();
    const replacement = clone(replacements[Math.floor(next() * replacements.length)]);
    if (pick < 0.1 && keys.length > 0) {
      delete target[keys[Math.floor(next() * keys.length)] as string];
    } else if (pick < 0.15) {
      target[Array.isArray(target) ? String(keys.length) : `extra${n}`] = replacement;
    } else if (pick < 0.18 && !Array.isArray(target)) {
      Object.defineProperty(target, '__proto__', {
        value: replacement,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    } else if (keys.length > 0) {
      target[keys[Math.floor(next() * keys.length)] as string] = replacement;
    }
  }
  return value;
}

/** JSON with bigints spelled out, so key order and number kinds are compared too. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${item}n` : item));
}

/** Input the generated parser leaves to zod on purpose: a `__proto__` key, a key whose value is undefined. */
function leftToZod(value: unknown): boolean {
  return containers(value).some(
    ([, item]) =>
      Object.hasOwn(item as object, '__proto__') || Object.values(item as object).includes(undefined),
  );
}

describe('the generated config.json parser', () => {
  it('is what the generator writes from the current zod schemas', () => {
    const source = generateSpecParser([
      { name: 'parseRuntimeSpecFast', schema: runtimeSpecSchema, type: 'RuntimeSpec' },
      { name: 'parseProcessFast', schema: processSchema, type: 'Process' },
    ]);
    if (process.env.OCIKIT_WRITE_GENERATED === '1') writeFileSync(generatedFile, source);
    expect(readFileSync(generatedFile, 'utf8') === source, 'stale: run with OCIKIT_WRITE_GENERATED=1').toBe(
      true,
    );
  });

  it('returns exactly what zod returns for valid specs, unknown keys dropped and bigints kept', () => {
    for (const spec of [defaultSpec(), defaultSpec({ rootless: true, uid: 1000, gid: 1000 }), fullSpec()]) {
      const zod = runtimeSpecSchema.parse(spec);
      const fast = parseRuntimeSpecFast(spec);
      expect(fast).toBeDefined();
      expect(canonical(fast)).toBe(canonical(zod));
    }
    const fast = parseRuntimeSpecFast(fullSpec()) as Record<string, unknown>;
    expect(fast.unknownTopLevel).toBeUndefined();
    expect(fast.process).not.toBe(fullSpec().process);
    // uint64 fields that can exceed 2^53 stay exact; int64 ones become numbers, as the model says.
    const rlimits = (fast.process as { rlimits: { hard: unknown }[] }).rlimits;
    expect(rlimits[0]?.hard).toBe(18446744073709551615n);
    const offsets = (fast.linux as { timeOffsets: Record<string, { secs: unknown }> }).timeOffsets;
    expect(offsets.boottime?.secs).toBe(Number(9223372036854775807n));
  });

  it('agrees with zod on 4000 mutated specs: declines or returns the same value', () => {
    const seed = Number(process.env.OCIKIT_FUZZ_SEED ?? 20261125);
    const next = seededRandom(seed);
    const bases = [fullSpec(), defaultSpec(), { ociVersion: '1.2.0' }];
    let zodAccepted = 0;
    let fastAccepted = 0;
    for (let round = 0; round < 4000; round++) {
      const input = mutate(bases[round % bases.length], next);
      const zod = runtimeSpecSchema.safeParse(input);
      const fast = parseRuntimeSpecFast(input);
      const context = `seed ${seed} round ${round}: ${canonical(input).slice(0, 400)}`;
      if (fast !== undefined) {
        fastAccepted++;
        expect(zod.success, context).toBe(true);
        expect(canonical(fast), context).toBe(canonical(zod.data));
      }
      if (zod.success) {
        zodAccepted++;
        // Declining valid input is allowed only for the inputs it leaves to zod on purpose.
        if (fast === undefined) expect(leftToZod(input), context).toBe(true);
      }
    }
    // Both outcomes must occur often, or the mutations test nothing.
    expect(zodAccepted).toBeGreaterThan(400);
    expect(4000 - zodAccepted).toBeGreaterThan(400);
    expect(fastAccepted).toBeGreaterThan(400);
  });

  it('parses processes like zod too', () => {
    const process = (fullSpec() as { process: unknown }).process;
    expect(canonical(parseProcessFast(process))).toBe(canonical(processSchema.parse(process)));
    expect(parseProcessFast({ ...(process as object), cwd: 7 })).toBeUndefined();
  });
});

describe('parseRuntimeSpecQuick', () => {
  it('gives parseRuntimeSpec’s result for valid text', async () => {
    const text = JSON.stringify(defaultSpec());
    expect(await parseRuntimeSpecQuick(text, 'config.json')).toEqual(parseRuntimeSpec(text, 'config.json'));
  });

  it('gives parseRuntimeSpec’s typed error where zod must decide, and the semantic checks still run', async () => {
    const errorOf = async (run: () => unknown): Promise<unknown> => {
      try {
        await run();
      } catch (error) {
        return error;
      }
      throw new Error('expected an error');
    };
    const badType = JSON.stringify({ ...defaultSpec(), hostname: 7 });
    const quick = await errorOf(() => parseRuntimeSpecQuick(badType, 'config.json'));
    const slow = await errorOf(() => parseRuntimeSpec(badType, 'config.json'));
    expect(isRuntimeError(quick, 'INVALID_SPEC')).toBe(true);
    expect((quick as Error).message).toBe((slow as Error).message);
    expect((quick as { path?: string }).path).toBe('hostname');
    // Schema-valid, semantically wrong: a relative mount destination.
    const semantic = defaultSpec();
    semantic.mounts = [{ destination: 'relative', type: 'tmpfs', source: 'tmpfs' }];
    const error = await errorOf(() => parseRuntimeSpecQuick(JSON.stringify(semantic)));
    expect(isRuntimeError(error, 'INVALID_SPEC')).toBe(true);
    expect((error as { path?: string }).path).toBe('mounts[0].destination');
    const badJson = await errorOf(() => parseRuntimeSpecQuick('{"ociVersion":', 'config.json'));
    expect(isRuntimeError(badJson, 'INVALID_SPEC')).toBe(true);
  });

  it('parses process files like parseProcess', async () => {
    const process = (fullSpec() as { process: Record<string, unknown> }).process;
    const text = JSON.stringify({
      ...process,
      scheduler: undefined,
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 8, soft: 8 }],
    });
    const parsed = await parseProcessQuick(text);
    expect(parsed.user.uid).toBe(1);
    await expect(parseProcessQuick(JSON.stringify({ cwd: '/' }))).rejects.toMatchObject({
      code: 'INVALID_SPEC',
      path: 'user',
    });
  });
});
