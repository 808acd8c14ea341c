import type { RuntimeSpec } from './config.js';

/** The runtime-spec version this package writes and models. */
export const ociVersion = '1.2.0';

/** Options for {@link defaultSpec}. */
export interface DefaultSpecOptions {
  /**
   * Produce what `runc spec --rootless` writes: a user namespace mapping the caller's IDs to root, no
   * network namespace, /sys bind-mounted, no uid=/gid= mount options and no cgroup resources.
   */
  rootless?: boolean;
  /** Add a cgroup namespace (runc does so on cgroup v2 hosts). Default false. */
  cgroupNamespace?: boolean;
  /** Host uid mapped to root when `rootless` (default: `process.geteuid()`). */
  uid?: number;
  /** Host gid mapped to root when `rootless` (default: `process.getegid()`). */
  gid?: number;
}

const defaultCapabilities = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/**
 * A new example configuration like the one `runc spec` writes (runc libcontainer/specconv Example and
 * ToRootless): busybox `sh` in a terminal, rootfs `rootfs` read-only, the minimal capability set, the
 * usual /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup mounts, masked and
 * read-only paths, and pid, network, ipc, uts and mount namespaces. Pure; every call returns a fresh object.
 */
export function defaultSpec(options: DefaultSpecOptions = {}): RuntimeSpec {
  const spec: RuntimeSpec = {
    ociVersion,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...defaultCapabilities],
        effective: [...defaultCapabilities],
        permitted: [...defaultCapabilities],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
        '/sys/devices/virtual/tpm',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  const linux = spec.linux!;
  if (options.cgroupNamespace === true) linux.namespaces!.push({ type: 'cgroup' });
  if (options.rootless === true) {
    linux.namespaces = linux.namespaces!.filter((namespace) => namespace.type !== 'network');
    linux.namespaces.push({ type: 'user' });
    const uid = options.uid ?? process.geteuid?.() ?? 0;
    const gid = options.gid ?? process.getegid?.() ?? 0;
    linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
    spec.mounts = spec.mounts!.map((mount) => {
      if (mount.destination === '/sys') {
        return {
          destination: '/sys',
          type: 'none',
          source: '/sys',
          options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
        };
      }
      if (mount.options === undefined) return mount;
      return { ...mount, options: mount.options.filter((option) => !/^(?:uid|gid)=/.test(option)) };
    });
    delete linux.resources;
  }
  return spec;
}
