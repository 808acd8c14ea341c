// Parses the config.json that the real runc writes with `runc spec`, and checks defaultSpec against it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileSeccomp } from '../../src/seccomp/compile.js';
import { parseRuntimeSpec } from '../../src/spec/config.js';
import { defaultSpec } from '../../src/spec/default-spec.js';

const haveRunc = spawnSync('runc', ['--version']).status === 0;
if (!haveRunc) process.stdout.write('spec-runc: skipped (runc is not installed)\n');

const work = mkdtempSync(join(tmpdir(), 'ocikit-spec-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runcSpec(name: string, extra: string[] = []): { text: string; bundle: string } {
  const bundle = join(work, name);
  spawnSync('mkdir', ['-p', bundle]);
  const result = spawnSync('runc', ['spec', '--bundle', bundle, ...extra], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return { text: readFileSync(join(bundle, 'config.json'), 'utf8'), bundle };
}

describe.skipIf(!haveRunc)('runc spec output', () => {
  it('parses and matches defaultSpec in everything but the version and the runc-version extras', () => {
    const { text } = runcSpec('plain');
    const parsed = parseRuntimeSpec(text, 'config.json');
    const ours = defaultSpec();
    expect(parsed.process?.args).toEqual(ours.process?.args);
    expect(parsed.process?.env).toEqual(ours.process?.env);
    expect(parsed.process?.capabilities?.bounding).toEqual(ours.process?.capabilities?.bounding);
    expect(parsed.process?.rlimits).toEqual(ours.process?.rlimits);
    expect(parsed.mounts).toEqual(ours.mounts);
    expect(parsed.root).toEqual(ours.root);
    expect(parsed.hostname).toBe(ours.hostname);
    expect(parsed.linux?.readonlyPaths).toEqual(ours.linux?.readonlyPaths);
    // Newer runc masks /sys/devices/virtual/tpm as well; every path runc masks is masked here.
    for (const path of parsed.linux?.maskedPaths ?? []) expect(ours.linux?.maskedPaths).toContain(path);
    const namespaces = (spec: typeof parsed) =>
      spec.linux?.namespaces?.map((namespace) => namespace.type).filter((type) => type !== 'cgroup');
    expect(namespaces(parsed)).toEqual(namespaces(ours));
  });

  it('parses the rootless variant', () => {
    const { text } = runcSpec('rootless', ['--rootless']);
    const parsed = parseRuntimeSpec(text);
    expect(parsed.linux?.namespaces?.some((namespace) => namespace.type === 'user')).toBe(true);
    expect(parsed.linux?.uidMappings?.[0]?.size).toBe(1);
    const ours = defaultSpec({ rootless: true, uid: 0, gid: 0 });
    expect(parsed.mounts).toEqual(ours.mounts);
  });

  it('a runc config with a seccomp profile added compiles', () => {
    const { text } = runcSpec('seccomp');
    const json = JSON.parse(text) as { linux: Record<string, unknown> };
    json.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: ['read', 'write', 'exit_group', 'not_a_syscall'], action: 'SCMP_ACT_ALLOW' }],
    };
    const spec = parseRuntimeSpec(JSON.stringify(json));
    const compiled = compileSeccomp(spec.linux!.seccomp!, { arch: 'x86_64' });
    expect(compiled.skipped).toEqual(['not_a_syscall']);
    expect(compiled.instructions).toBeGreaterThan(5);
  });
});
