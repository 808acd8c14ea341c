import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The applets linked into `/bin` of a test rootfs. */
export const busyboxApplets: readonly string[] = [
  'sh',
  'echo',
  'cat',
  'ls',
  'mkdir',
  'sleep',
  'ip',
  'hostname',
  'id',
  'true',
  'false',
  'ps',
  'mount',
  'grep',
  'touch',
  'stat',
  'wc',
  'head',
  'env',
  'pwd',
  'readlink',
  'ulimit',
  'tty',
  'kill',
  'awk',
  'cut',
  'sort',
  'sed',
  'uname',
  'tail',
];

/** Options of {@link buildBusyboxRootfs}. */
export interface BusyboxRootfsOptions {
  /** The busybox binary to copy; default `/bin/busybox` (static). */
  busybox?: string | undefined;
  /** Also copy the shared libraries `ldd` names (for a dynamic busybox). */
  withLibraries?: boolean | undefined;
}

/**
 * Makes a minimal rootfs at `dir`: busybox in /bin with applet symlinks, empty /proc, /sys, /dev, /tmp,
 * /etc (passwd, group, hostname) and /root. For tests and benchmarks; synchronous, overwrites nothing
 * it does not create.
 */
export function buildBusyboxRootfs(dir: string, options: BusyboxRootfsOptions = {}): string {
  const busybox = options.busybox ?? '/bin/busybox';
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root', 'lib', 'lib64', 'usr/bin']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  for (const applet of busyboxApplets) {
    const link = join(dir, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  if (options.withLibraries) {
    const out = execFileSync('ldd', [busybox], { encoding: 'utf8' });
    for (const match of out.matchAll(/(\/\S+)/g)) {
      const lib = match[1] as string;
      if (!existsSync(lib)) continue;
      const target = join(dir, dirname(lib), basename(lib));
      mkdirSync(dirname(target), { recursive: true });
      if (!existsSync(target)) copyFileSync(lib, target);
    }
  }
  return dir;
}
