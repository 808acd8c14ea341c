import { existsSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { RuntimeError } from '../errors.js';
import type { LinuxDevice, Mount, RuntimeSpec } from '../spec/config.js';
import { MountFlag, namespaceCloneFlags, type RootfsOp, RootfsOpKind, type SpawnPlan } from '../syscalls.js';
import { parseMountOptions, propagationOf } from './mount-options.js';
import { buildProcessPlan, type ProcessPlanOptions } from './process-plan.js';
import { resolveInRoot } from './resolve-in-root.js';

/** A bind of the container's own cgroup directory into a `cgroup` mount (v1: one per hierarchy). */
export interface CgroupBind {
  /** Host directory of the container's cgroup in one hierarchy. */
  source: string;
  /** Name under the mount's destination (`memory`, `cpu,cpuacct`, `unified`). */
  name: string;
}

/** Inputs of {@link buildInitPlan} beyond the spec. */
export interface InitPlanOptions extends ProcessPlanOptions {
  /** Absolute host path of the rootfs. */
  rootfs: string;
  noPivot?: boolean | undefined;
  /** The cgroup directories to show at a `cgroup` mount; empty shows an empty tmpfs. */
  cgroupBinds?: readonly CgroupBind[] | undefined;
  /** The host has only cgroup v2: a `cgroup` mount becomes cgroup2. */
  cgroupV2?: boolean | undefined;
}

/** Mount types that get no SELinux `context=` option (runc labels the others: tmpfs, devpts, …). */
const unlabelledMountTypes = new Set(['bind', 'proc', 'sysfs', 'mqueue', 'cgroup', 'cgroup2']);

/**
 * The mount data with `context="<label>"` added, as runc's label.FormatMountLabel writes it, when SELinux
 * is enabled and the spec has a `linux.mountLabel`; else the data unchanged.
 */
function labelledData(
  data: string,
  type: string,
  options: InitPlanOptions,
  mountLabel: string | undefined,
): string {
  if (
    !options.selinuxEnabled ||
    mountLabel === undefined ||
    mountLabel === '' ||
    unlabelledMountTypes.has(type)
  ) {
    return data;
  }
  const context = `context=${JSON.stringify(mountLabel)}`;
  return data === '' ? context : `${data},${context}`;
}

/** The default device nodes every container gets (runc's AllowedDevices that are created). */
export const defaultDevices: readonly { path: string; major: number; minor: number }[] = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

function makedev(major: number, minor: number): number {
  // glibc's gnu_dev_makedev for the values that fit a double exactly.
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) * 2 ** 32);
}

function mountOps(
  rootfs: string,
  mount: Mount,
  index: number,
  options: InitPlanOptions,
  inUserns: boolean,
  mountLabel: string | undefined,
): RootfsOp[] {
  const target = resolveInRoot(rootfs, mount.destination);
  const parsed = parseMountOptions(mount.options);
  const type = mount.type ?? (parsed.bind ? 'bind' : '');
  if (type === 'cgroup' || type === 'cgroup2') {
    if (options.cgroupV2 || type === 'cgroup2') {
      return [
        {
          kind: RootfsOpKind.mount,
          target,
          source: 'cgroup',
          fstype: 'cgroup2',
          flags: parsed.flags,
          create: 1,
        },
      ];
    }
    const ro = (parsed.flags & MountFlag.RDONLY) !== 0;
    const base = parsed.flags & ~MountFlag.RDONLY;
    const ops: RootfsOp[] = [
      {
        kind: RootfsOpKind.mount,
        target,
        source: 'tmpfs',
        fstype: 'tmpfs',
        flags: base,
        data: 'mode=755',
        create: 1,
      },
    ];
    for (const bind of options.cgroupBinds ?? []) {
      ops.push({
        kind: RootfsOpKind.mount,
        target: `${target}/${bind.name}`,
        source: bind.source,
        flags: MountFlag.BIND | MountFlag.REC,
        remountFlags: (ro ? MountFlag.RDONLY : 0) | MountFlag.NOSUID | MountFlag.NODEV | MountFlag.NOEXEC,
        create: 1,
      });
    }
    if (ro) {
      ops.push({ kind: RootfsOpKind.mount, target, flags: MountFlag.REMOUNT | MountFlag.RDONLY | base });
    }
    return ops;
  }
  if (parsed.bind) {
    const source = mount.source ?? '';
    if (!existsSync(source)) {
      throw new RuntimeError(
        'MOUNT_FAILED',
        `mount ${mount.destination}: bind source ${source} does not exist`,
        {
          path: `mounts[${index}].source`,
        },
      );
    }
    // statSync follows links, as mount(2) does with the source.
    const isDir = statSync(source).isDirectory();
    const rest = parsed.flags & ~(MountFlag.BIND | MountFlag.REC | MountFlag.REMOUNT);
    return [
      {
        kind: RootfsOpKind.mount,
        target,
        source,
        flags: parsed.flags & (MountFlag.BIND | MountFlag.REC),
        remountFlags: rest === 0 ? 0 : rest,
        propagation: parsed.propagation,
        create: isDir ? 1 : 2,
      },
    ];
  }
  // sysfs in a user namespace without its own network namespace cannot be mounted: runc binds it.
  if (type === 'sysfs' && inUserns) {
    return [
      {
        kind: RootfsOpKind.mount,
        target,
        source: '/sys',
        flags: MountFlag.BIND | MountFlag.REC,
        remountFlags: parsed.flags & ~MountFlag.REMOUNT,
        create: 1,
      },
    ];
  }
  const data = labelledData(parsed.data, type, options, mountLabel);
  return [
    {
      kind: RootfsOpKind.mount,
      target,
      source: mount.source ?? type,
      fstype: type,
      flags: parsed.flags,
      data: data === '' ? undefined : data,
      propagation: parsed.propagation,
      create: 1,
    },
  ];
}

function deviceOps(rootfs: string, devices: readonly LinuxDevice[], inUserns: boolean): RootfsOp[] {
  const ops: RootfsOp[] = [];
  for (const device of devices) {
    const target = resolveInRoot(rootfs, device.path);
    if (inUserns) {
      // mknod is not allowed in a user namespace: bind the host's node instead (runc does the same).
      ops.push({ kind: RootfsOpKind.mount, target, source: device.path, flags: MountFlag.BIND, create: 2 });
      continue;
    }
    const typeBits = device.type === 'b' ? S_IFBLK : device.type === 'p' ? S_IFIFO : S_IFCHR;
    ops.push({
      kind: RootfsOpKind.mknod,
      target,
      mode: typeBits | ((device.fileMode ?? 0o666) & 0o7777),
      dev: makedev(device.major ?? 0, device.minor ?? 0),
      uid: device.uid ?? 0,
      gid: device.gid ?? 0,
    });
  }
  return ops;
}

/** The spec's namespaces split into new ones (clone flags) and ones joined by path. */
export interface NamespacePlan {
  /** CLONE_NEW* flags for clone(2); a new time namespace is never among them (see `newTimeNamespace`). */
  cloneFlags: number;
  newUserns: boolean;
  /** A new time namespace: created with unshare before the clone, since clone(2) cannot take CLONE_NEWTIME. */
  newTimeNamespace: boolean;
  joins: { type: keyof typeof namespaceCloneFlags; path: string }[];
}

/** Splits `linux.namespaces` into CLONE_NEW* flags and paths to join (user first). Pure. */
export function planNamespaces(spec: RuntimeSpec): NamespacePlan {
  let cloneFlags = 0;
  let newUserns = false;
  let newTimeNamespace = false;
  const joins: NamespacePlan['joins'] = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.path !== undefined && ns.path !== '') {
      joins.push({ type: ns.type, path: ns.path });
    } else if (ns.type === 'user') {
      newUserns = true;
    } else if (ns.type === 'time') {
      newTimeNamespace = true;
    } else {
      cloneFlags |= namespaceCloneFlags[ns.type];
    }
  }
  joins.sort((a, b) => (a.type === 'user' ? -1 : b.type === 'user' ? 1 : 0));
  return { cloneFlags, newUserns, newTimeNamespace, joins };
}

/**
 * The text for `/proc/self/timens_offsets` from `linux.timeOffsets` (one `<clock> <secs> <nanosecs>`
 * line per clock, monotonic first), or undefined when there are none. Pure. Throws `INVALID_SPEC` for a
 * clock other than monotonic/boottime or nanoseconds outside 0…999999999.
 */
export function timeOffsetsText(spec: RuntimeSpec): string | undefined {
  const offsets = spec.linux?.timeOffsets;
  if (offsets === undefined) return undefined;
  let text = '';
  for (const [clock, offset] of Object.entries(offsets)) {
    if (clock !== 'monotonic' && clock !== 'boottime') {
      throw new RuntimeError('INVALID_SPEC', `linux.timeOffsets: unknown clock "${clock}"`, {
        path: `linux.timeOffsets.${clock}`,
      });
    }
    const nanosecs = offset.nanosecs ?? 0;
    if (nanosecs < 0 || nanosecs > 999_999_999) {
      throw new RuntimeError('INVALID_SPEC', `linux.timeOffsets.${clock}: nanosecs out of range`, {
        path: `linux.timeOffsets.${clock}.nanosecs`,
      });
    }
    const line = `${clock} ${BigInt(offset.secs ?? 0)} ${nanosecs}\n`;
    text = clock === 'monotonic' ? line + text : text + line;
  }
  return text === '' ? undefined : text;
}

/** personality(2) execution domains of `linux.personality.domain`. */
export const personalityDomains = Object.freeze({ LINUX: 0x0000, LINUX32: 0x0008 } as const);

/**
 * The personality(2) value for `linux.personality`, or undefined when the spec has none. Pure. The
 * runtime-spec names no flag values, so `flags` is ignored (runc ignores them too).
 */
export function personalityValue(spec: RuntimeSpec): number | undefined {
  const personality = spec.linux?.personality;
  if (personality === undefined) return undefined;
  return personalityDomains[personality.domain];
}

/**
 * Builds the init process's plan (without fds, which the caller opens): rootfs operations for the
 * spec's mounts, default and spec devices and /dev symlinks, masked/readonly paths, sysctls, hostname
 * and the process. Reads the rootfs to resolve symlinks (no writes). Throws `MOUNT_ESCAPE` when a
 * destination leaves the rootfs through `..` or a symlink, `INVALID_SPEC` for bad process fields and
 * `NOT_SUPPORTED` for `linux.netDevices` and `linux.intelRdt`.
 */
export function buildInitPlan(spec: RuntimeSpec, options: InitPlanOptions): SpawnPlan {
  const process = spec.process;
  if (process === undefined) {
    throw new RuntimeError('INVALID_SPEC', 'create: the spec has no process', { path: 'process' });
  }
  // Refused rather than ignored: a container silently missing a device or a cache partition is worse.
  if (Object.keys(spec.linux?.netDevices ?? {}).length > 0) {
    throw new RuntimeError(
      'NOT_SUPPORTED',
      'create: moving host network devices (linux.netDevices) is not supported',
      {
        path: 'linux.netDevices',
      },
    );
  }
  if (spec.linux?.intelRdt !== undefined) {
    throw new RuntimeError('NOT_SUPPORTED', 'create: Intel RDT (linux.intelRdt) is not supported', {
      path: 'linux.intelRdt',
    });
  }
  const namespaces = planNamespaces(spec);
  const inUserns = namespaces.newUserns || namespaces.joins.some((join) => join.type === 'user');
  const rootfs = options.rootfs;
  const ops: RootfsOp[] = [];
  const mounts = spec.mounts ?? [];
  for (const [index, mount] of mounts.entries())
    ops.push(...mountOps(rootfs, mount, index, options, inUserns, spec.linux?.mountLabel));

  const devBound = mounts.some(
    (m) => posix.normalize(m.destination) === '/dev' && parseMountOptions(m.options).bind,
  );
  if (!devBound) {
    const specDevices = spec.linux?.devices ?? [];
    const defaults = defaultDevices
      .filter((d) => !specDevices.some((s) => s.path === d.path))
      .map((d) => ({
        path: d.path,
        type: 'c',
        major: d.major,
        minor: d.minor,
        fileMode: 0o666,
        uid: 0,
        gid: 0,
      }));
    ops.push(...deviceOps(rootfs, [...defaults, ...specDevices], inUserns));
    const links: [string, string][] = [
      ['/proc/self/fd', 'dev/fd'],
      ['/proc/self/fd/0', 'dev/stdin'],
      ['/proc/self/fd/1', 'dev/stdout'],
      ['/proc/self/fd/2', 'dev/stderr'],
    ];
    if (existsSync('/proc/kcore')) links.push(['/proc/kcore', 'dev/core']);
    for (const [source, target] of links)
      ops.push({ kind: RootfsOpKind.symlink, source, target: resolveInRoot(rootfs, target) });
    if (mounts.some((m) => m.type === 'devpts' && posix.normalize(m.destination) === '/dev/pts')) {
      ops.push({
        kind: RootfsOpKind.symlink,
        source: 'pts/ptmx',
        target: resolveInRoot(rootfs, 'dev/ptmx'),
        create: 2,
      });
    }
  }

  const sysctl = Object.entries(spec.linux?.sysctl ?? {});
  return {
    mode: 0,
    newUserns: namespaces.newUserns,
    cloneFlags: namespaces.cloneFlags,
    newTimeNamespace: namespaces.newTimeNamespace,
    timeOffsets: namespaces.newTimeNamespace ? timeOffsetsText(spec) : undefined,
    personality: personalityValue(spec),
    loopbackUp: true,
    rootfs,
    rootfsPropagation: propagationOf(spec.linux?.rootfsPropagation),
    noPivot: options.noPivot ?? false,
    readonlyRoot: spec.root?.readonly ?? false,
    ops,
    maskedPaths: [...(spec.linux?.maskedPaths ?? [])],
    readonlyPaths: [...(spec.linux?.readonlyPaths ?? [])],
    sysctlPaths: sysctl.map(([key]) => `/proc/sys/${key.replaceAll('.', '/')}`),
    sysctlValues: sysctl.map(([, value]) => value),
    hostname: spec.hostname === undefined || spec.hostname === '' ? undefined : spec.hostname,
    domainname: spec.domainname === undefined || spec.domainname === '' ? undefined : spec.domainname,
    ...buildProcessPlan(process, options),
  };
}
