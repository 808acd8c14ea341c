import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInitPlan, planNamespaces } from '../../src/container/init-plan.js';
import { parseMountOptions, propagationOf } from '../../src/container/mount-options.js';
import { buildProcessPlan } from '../../src/container/process-plan.js';
import { resolveInRoot } from '../../src/container/resolve-in-root.js';
import { withDefaultDeviceRules } from '../../src/container/runtime.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { MountFlag, RootfsOpKind } from '../../src/syscalls.js';

const root = mkdtempSync(join(tmpdir(), 'ocikit-plan-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('parseMountOptions', () => {
  it('splits flags, propagation and data like runc', () => {
    expect(parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toEqual({
      flags: MountFlag.NOSUID | MountFlag.STRICTATIME,
      propagation: 0,
      data: 'mode=755,size=65536k',
      bind: false,
    });
    const bind = parseMountOptions(['rbind', 'ro', 'rprivate']);
    expect(bind.flags).toBe(MountFlag.BIND | MountFlag.REC | MountFlag.RDONLY);
    expect(bind.propagation).toBe(MountFlag.PRIVATE | MountFlag.REC);
    expect(bind.bind).toBe(true);
    expect(parseMountOptions(['ro', 'rw']).flags).toBe(0);
    expect(parseMountOptions(['tmpcopyup', 'X-mount.mkdir']).data).toBe('');
    expect(propagationOf('rslave')).toBe(MountFlag.SLAVE | MountFlag.REC);
    expect(propagationOf(undefined)).toBe(0);
  });
});

describe('resolveInRoot', () => {
  mkdirSync(join(root, 'rootfs', 'real', 'dir'), { recursive: true });
  symlinkSync('real', join(root, 'rootfs', 'rel'));
  symlinkSync('/real/dir', join(root, 'rootfs', 'abs'));
  symlinkSync('../../..', join(root, 'rootfs', 'up'));
  symlinkSync('loop', join(root, 'rootfs', 'loop'));
  const rootfs = join(root, 'rootfs');

  it('follows links inside the root, absolute ones from the root', () => {
    expect(resolveInRoot(rootfs, '/rel/dir/x')).toBe('real/dir/x');
    expect(resolveInRoot(rootfs, '/abs/new/deeper')).toBe('real/dir/new/deeper');
    expect(resolveInRoot(rootfs, '/real/./dir/../dir')).toBe('real/dir');
    expect(resolveInRoot(rootfs, '/')).toBe('');
  });

  it('refuses escapes and loops with MOUNT_ESCAPE', () => {
    expect(() => resolveInRoot(rootfs, '/up/etc')).toThrow(expect.objectContaining({ code: 'MOUNT_ESCAPE' }));
    expect(() => resolveInRoot(rootfs, '/../etc')).toThrow(expect.objectContaining({ code: 'MOUNT_ESCAPE' }));
    expect(() => resolveInRoot(rootfs, '/loop/x')).toThrow(expect.objectContaining({ code: 'MOUNT_ESCAPE' }));
  });
});

describe('buildInitPlan', () => {
  const rootfs = join(root, 'plan-rootfs');
  mkdirSync(rootfs);

  it('turns runc default spec into mounts, devices, links and process fields', () => {
    const spec = defaultSpec();
    const plan = buildInitPlan(spec, { rootfs });
    expect(plan.mode).toBe(0);
    expect(plan.cloneFlags).toBe(0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x00020000);
    expect(plan.newUserns).toBe(false);
    const mounts = (plan.ops ?? []).filter((op) => op.kind === RootfsOpKind.mount);
    expect(mounts[0]).toMatchObject({ target: 'proc', fstype: 'proc', create: 1 });
    expect(mounts.find((op) => op.target === 'dev')).toMatchObject({
      fstype: 'tmpfs',
      data: 'mode=755,size=65536k',
    });
    const nodes = (plan.ops ?? []).filter((op) => op.kind === RootfsOpKind.mknod);
    expect(nodes.map((op) => op.target)).toEqual([
      'dev/null',
      'dev/zero',
      'dev/full',
      'dev/random',
      'dev/urandom',
      'dev/tty',
    ]);
    expect(nodes[0]).toMatchObject({ mode: 0o020666, dev: (1 << 8) | 3 });
    const links = (plan.ops ?? [])
      .filter((op) => op.kind === RootfsOpKind.symlink)
      .map((op) => [op.target, op.source]);
    expect(links).toContainEqual(['dev/ptmx', 'pts/ptmx']);
    expect(links).toContainEqual(['dev/fd', '/proc/self/fd']);
    expect(plan.readonlyRoot).toBe(true);
    expect(plan.maskedPaths).toContain('/proc/kcore');
    expect(plan.capabilities?.bounding).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
    expect(plan.rlimits).toEqual([{ resource: 7, soft: 1024n, hard: 1024n }]);
    expect(plan.noNewPrivileges).toBe(true);
    expect(plan.args).toEqual(['sh']);
  });

  it('binds host devices instead of mknod in a user namespace, and user joins come first', () => {
    const spec = defaultSpec();
    spec.linux = {
      ...spec.linux,
      namespaces: [
        { type: 'network', path: '/proc/1/ns/net' },
        { type: 'user', path: '/proc/1/ns/user' },
        { type: 'mount' },
      ],
    };
    const ns = planNamespaces(spec);
    expect(ns.joins.map((join) => join.type)).toEqual(['user', 'network']);
    expect(ns.cloneFlags).toBe(0x00020000);
    const plan = buildInitPlan(spec, { rootfs });
    const devNull = (plan.ops ?? []).find((op) => op.target === 'dev/null');
    expect(devNull).toMatchObject({
      kind: RootfsOpKind.mount,
      source: '/dev/null',
      flags: MountFlag.BIND,
      create: 2,
    });
    const sys = (plan.ops ?? []).find((op) => op.target === 'sys');
    expect(sys).toMatchObject({ source: '/sys', flags: MountFlag.BIND | MountFlag.REC });
  });

  it('expands a v1 cgroup mount into a tmpfs with per-hierarchy binds', () => {
    const plan = buildInitPlan(defaultSpec(), {
      rootfs,
      cgroupBinds: [{ source: '/sys/fs/cgroup/memory/c1', name: 'memory' }],
    });
    const ops = (plan.ops ?? []).filter((op) => op.target.startsWith('sys/fs/cgroup'));
    expect(ops.map((op) => [op.target, op.fstype ?? op.source])).toEqual([
      ['sys/fs/cgroup', 'tmpfs'],
      ['sys/fs/cgroup/memory', '/sys/fs/cgroup/memory/c1'],
      ['sys/fs/cgroup', undefined],
    ]);
    expect(ops[2]?.flags).toBe(
      MountFlag.REMOUNT |
        MountFlag.RDONLY |
        MountFlag.NOSUID |
        MountFlag.NOEXEC |
        MountFlag.NODEV |
        MountFlag.RELATIME,
    );
  });

  it('refuses a process without args and unknown rlimits', () => {
    const process = defaultSpec().process!;
    expect(() => buildProcessPlan({ ...process, args: [] })).toThrow(
      expect.objectContaining({ code: 'INVALID_SPEC' }),
    );
    expect(() =>
      buildProcessPlan({ ...process, rlimits: [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }] }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_SPEC', path: 'process.rlimits[0].type' }));
  });

  it('appends runc default device rules to the spec resources', () => {
    const rules = withDefaultDeviceRules(defaultSpec()).devices ?? [];
    expect(rules[0]).toEqual({ allow: false, access: 'rwm' });
    expect(rules).toContainEqual({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
    expect(rules).toContainEqual({ allow: true, type: 'c', access: 'm' });
  });
});
