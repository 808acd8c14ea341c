// Loads compiled seccomp programs into the real kernel: a tiny C loader (built here with cc) reads the
// program bytes, sets no_new_privs, calls seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) and execs
// busybox, whose behaviour shows what the filter did.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSeccomp } from '../../src/seccomp/compile.js';
import { syscallTable } from '../../src/seccomp/syscall-table.js';
import type { LinuxSeccomp } from '../../src/spec/config.js';
import { defaultSpec } from '../../src/spec/default-spec.js';
import { serializeRuntimeSpec } from '../../src/spec/serialize.js';

const loaderSource = `
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: loader PROGRAM FLAGS EXE [ARGS...]\\n"); return 125; }
  FILE *file = fopen(argv[1], "rb");
  if (file == NULL) { perror("open program"); return 125; }
  static struct sock_filter filter[4096];
  size_t count = fread(filter, sizeof(filter[0]), 4096, file);
  fclose(file);
  struct sock_fprog prog = { .len = (unsigned short)count, .filter = filter };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 125; }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, strtoul(argv[2], NULL, 0), &prog) != 0) {
    fprintf(stderr, "seccomp: %s\\n", strerror(errno));
    return 126;
  }
  execv(argv[3], argv + 3);
  fprintf(stderr, "execv: %s\\n", strerror(errno));
  return 127;
}
`;

const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
const haveCc = spawnSync('cc', ['--version']).status === 0;
const busybox = existsSync('/bin/busybox') ? '/bin/busybox' : undefined;
const canRun = process.platform === 'linux' && arch !== undefined && haveCc && busybox !== undefined;
if (!canRun) {
  process.stdout.write(`seccomp-load: skipped (linux x64/arm64 with cc and /bin/busybox needed)\n`);
}

let work = '';
let loader = '';

beforeAll(() => {
  if (!canRun) return;
  work = mkdtempSync(join(tmpdir(), 'ocikit-seccomp-'));
  writeFileSync(join(work, 'loader.c'), loaderSource);
  loader = join(work, 'loader');
  execFileSync('cc', ['-O1', '-o', loader, join(work, 'loader.c')]);
});

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

let runCount = 0;
function runUnder(profile: LinuxSeccomp, args: string[]) {
  const compiled = compileSeccomp(profile, { arch: arch! });
  runCount++;
  const programFile = join(work, `program-${runCount}.bpf`);
  writeFileSync(programFile, compiled.program);
  const result = spawnSync(loader, [programFile, String(compiled.flags), busybox!, ...args], {
    cwd: work,
    encoding: 'utf8',
  });
  return { ...result, compiled };
}

describe.skipIf(!canRun)('seccomp programs in the kernel', () => {
  const denyMkdir: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };

  it('a profile denying mkdir/mkdirat with EPERM makes busybox mkdir fail while echo works', () => {
    const denied = runUnder(denyMkdir, ['mkdir', 'made-by-mkdir']);
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toContain('Operation not permitted');
    expect(existsSync(join(work, 'made-by-mkdir'))).toBe(false);

    const echoed = runUnder(denyMkdir, ['echo', 'still works']);
    expect(echoed.status).toBe(0);
    expect(echoed.stdout).toBe('still works\n');
  });

  it('without the filter the same mkdir succeeds (control)', () => {
    const result = runUnder({ defaultAction: 'SCMP_ACT_ALLOW' }, ['mkdir', 'control-dir']);
    expect(result.status).toBe(0);
    expect(existsSync(join(work, 'control-dir'))).toBe(true);
  });

  it('errnoRet chooses the errno (ENOSPC) and the LOG flag is accepted by the kernel', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }],
    };
    const result = runUnder(profile, ['mkdir', 'no-space']);
    expect(result.compiled.flags).toBe(2);
    expect(result.stderr).toContain('No space left on device');
    expect(result.status).not.toBe(0);
  });

  it('a docker-sized allow list (default ERRNO) runs echo and refuses the one call left out', () => {
    const names = Object.keys(syscallTable(arch!)).filter((name) => name !== 'mkdir' && name !== 'mkdirat');
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures:
        arch === 'x86_64' ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] : ['SCMP_ARCH_AARCH64'],
      syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }],
    };
    const echoed = runUnder(profile, ['echo', 'allowed']);
    expect(echoed.compiled.instructions).toBeLessThan(4096);
    expect(echoed.stdout).toBe('allowed\n');
    expect(echoed.status).toBe(0);
    const denied = runUnder(profile, ['mkdir', 'refused']);
    expect(denied.stderr).toContain('Operation not permitted');
    expect(existsSync(join(work, 'refused'))).toBe(false);
  });

  it('argument conditions read the real seccomp_data: kill(1, 0) is refused, kill(self, 0) is not', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    const refused = runUnder(profile, ['kill', '-0', '1']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('Operation not permitted');
    const allowed = runUnder(profile, ['kill', '-0', String(process.pid)]);
    expect(allowed.stderr).toBe('');
    expect(allowed.status).toBe(0);
  });

  it('SCMP_ACT_KILL_PROCESS kills the process with SIGSYS', () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }],
    };
    const result = runUnder(profile, ['mkdir', 'killed']);
    expect(result.signal).toBe('SIGSYS');
    expect(existsSync(join(work, 'killed'))).toBe(false);
  });
});

const haveRunc = canRun && process.getuid?.() === 0 && spawnSync('runc', ['--version']).status === 0;
if (canRun && !haveRunc)
  process.stdout.write('seccomp-load: runc comparison skipped (needs root and runc)\n');

describe.skipIf(!haveRunc)('the same profiles under runc (libseccomp) behave alike', () => {
  function runUnderRunc(profile: LinuxSeccomp | undefined, args: string[]) {
    runCount++;
    const bundle = join(work, `bundle-${runCount}`);
    mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true });
    copyFileSync(busybox!, join(bundle, 'rootfs', 'bin', 'busybox'));
    const spec = defaultSpec();
    spec.process!.terminal = false;
    spec.process!.args = ['/bin/busybox', ...args];
    spec.root = { path: 'rootfs', readonly: false };
    if (profile !== undefined) spec.linux!.seccomp = profile;
    writeFileSync(join(bundle, 'config.json'), serializeRuntimeSpec(spec));
    return spawnSync(
      'runc',
      [
        '--root',
        join(work, 'runc-state'),
        'run',
        '--bundle',
        bundle,
        `ocikit-seccomp-${process.pid}-${runCount}`,
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
  }

  const profiles: [string, LinuxSeccomp, string[]][] = [
    [
      'deny mkdir with EPERM',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
      },
      ['mkdir', 'd'],
    ],
    [
      'deny mkdir with ENOSPC',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }],
      },
      ['mkdir', 'd'],
    ],
    [
      'refuse kill with signal 0 by argument (MASKED_EQ on the low bits of arg1)',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['kill'],
            action: 'SCMP_ACT_ERRNO',
            args: [{ index: 1, value: 0xff, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
          },
        ],
      },
      ['kill', '-0', '1'],
    ],
  ];
  for (const [name, profile, args] of profiles) {
    it(name, () => {
      const ours = runUnder(profile, args);
      const theirs = runUnderRunc(profile, args);
      expect(ours.status).not.toBe(0);
      expect(theirs.status).toBe(ours.status);
      expect(theirs.stderr).toBe(ours.stderr);
    });
  }

  it('control: runc runs the same mkdir without a profile', () => {
    const theirs = runUnderRunc(undefined, ['mkdir', 'd']);
    expect(theirs.status, theirs.stderr).toBe(0);
  });
});
