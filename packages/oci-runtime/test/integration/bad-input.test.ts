import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../src/container/runtime.js';
import { nativeSyscalls } from '../../src/native.js';
import type { RuntimeSpec } from '../../src/spec/config.js';
import { canRunContainers, makeBundle, mountsUnder, tempDir } from './helpers.js';

if (!canRunContainers) console.log('skipping bad-input integration tests: not root');

describe.skipIf(!canRunContainers)('bad input leaves nothing behind', () => {
  const tmp = tempDir('ocikit-bad-');
  const stateRoot = join(tmp.dir, 'state');
  const runtime = new ContainerRuntime({ root: stateRoot, syscalls: nativeSyscalls() });
  afterAll(async () => {
    for (const state of await runtime.list().catch(() => [])) {
      await runtime.delete(state.id, { force: true }).catch(() => undefined);
    }
    tmp.cleanup();
  });

  function assertClean(id: string, bundle: string): void {
    expect(existsSync(join(stateRoot, id))).toBe(false);
    for (const controller of ['pids', 'memory', 'freezer']) {
      expect(existsSync(`/sys/fs/cgroup/${controller}/${id}`)).toBe(false);
    }
    expect(mountsUnder(bundle)).toEqual([]);
  }

  async function expectCreateFails(
    id: string,
    bundle: string,
    code: string,
    message?: RegExp,
  ): Promise<void> {
    const failure = await runtime.create(id, bundle).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code });
    if (message !== undefined) expect((failure as Error).message).toMatch(message);
    assertClean(id, bundle);
  }

  it('rejects config.json that is not JSON or has an invalid field (INVALID_SPEC)', async () => {
    const bundle = makeBundle(join(tmp.dir, 'json'), ['true']);
    writeFileSync(join(bundle, 'config.json'), '{ "ociVersion": ');
    await expectCreateFails('badjson', bundle, 'INVALID_SPEC');
    const spec = JSON.parse(
      readFileSync(join(makeBundle(join(tmp.dir, 'field'), ['true']), 'config.json'), 'utf8'),
    );
    spec.linux.namespaces.push({ type: 'bogus' });
    const fieldBundle = join(tmp.dir, 'field', 'bundle');
    writeFileSync(join(fieldBundle, 'config.json'), JSON.stringify(spec));
    await expectCreateFails('badfield', fieldBundle, 'INVALID_SPEC', /linux\.namespaces/);
  });

  it('rejects a missing bundle and a missing rootfs', async () => {
    await expectCreateFails('nobundle', join(tmp.dir, 'does-not-exist'), 'BUNDLE_NOT_FOUND');
    const bundle = makeBundle(join(tmp.dir, 'rootfs'), ['true'], (spec) => {
      spec.root = { path: 'missing-rootfs' };
    });
    await expectCreateFails('norootfs', bundle, 'ROOTFS_NOT_FOUND');
  });

  it('rejects namespace paths that do not exist or are not namespaces', async () => {
    const missing = makeBundle(join(tmp.dir, 'nspath'), ['true'], (spec) => {
      spec.linux = {
        ...spec.linux,
        namespaces: [{ type: 'network', path: '/nonexistent/netns' }, { type: 'mount' }, { type: 'uts' }],
      };
    });
    await expectCreateFails('nspath', missing, 'NAMESPACE_PATH_INVALID');
    const notNs = makeBundle(join(tmp.dir, 'nsfile'), ['true'], (spec) => {
      spec.linux = {
        ...spec.linux,
        namespaces: [{ type: 'network', path: '/etc/hostname' }, { type: 'mount' }, { type: 'uts' }],
      };
    });
    await expectCreateFails('nsfile', notNs, 'NAMESPACE_PATH_INVALID');
  });

  it('refuses a mount destination that escapes the rootfs through a symlink (MOUNT_ESCAPE)', async () => {
    const outside = join(tmp.dir, 'outside');
    mkdirSync(outside);
    const bundle = makeBundle(join(tmp.dir, 'escape'), ['true'], (spec) => {
      spec.mounts = [...(spec.mounts ?? []), { destination: '/escape/sub', type: 'tmpfs', source: 'tmpfs' }];
    });
    symlinkSync('../../../../../../../../..' + outside, join(bundle, 'rootfs', 'escape'));
    await expectCreateFails('escape', bundle, 'MOUNT_ESCAPE');
    expect(readdirSync(outside)).toEqual([]);
  });

  it('follows a symlink that stays inside the rootfs', async () => {
    const bundle = makeBundle(
      join(tmp.dir, 'inside'),
      ['sh', '-c', 'grep -q " /tmp/data " /proc/self/mountinfo'],
      (spec) => {
        spec.mounts = [...(spec.mounts ?? []), { destination: '/data', type: 'tmpfs', source: 'tmpfs' }];
      },
    );
    mkdirSync(join(bundle, 'rootfs', 'tmp', 'data'));
    symlinkSync('/tmp/data', join(bundle, 'rootfs', 'data'));
    const { pid } = await runtime.create('inside', bundle);
    await runtime.start('inside');
    expect((await runtime.waitChild(pid)).exitCode).toBe(0);
    await runtime.delete('inside');
    assertClean('inside', bundle);
  });

  it('fails create when the command does not exist, naming it', async () => {
    const bundle = makeBundle(join(tmp.dir, 'nocmd'), ['no-such-command']);
    await expectCreateFails(
      'nocmd',
      bundle,
      'SYSCALL_FAILED',
      /executable file not found in \$PATH: no-such-command/,
    );
  });

  it('refuses a duplicate id (CONTAINER_EXISTS) and signals to a stopped container (CONTAINER_NOT_RUNNING)', async () => {
    const bundle = makeBundle(join(tmp.dir, 'dup'), ['true']);
    const { pid } = await runtime.create('dup', bundle);
    await expect(runtime.create('dup', bundle)).rejects.toMatchObject({ code: 'CONTAINER_EXISTS' });
    await runtime.start('dup');
    await runtime.waitChild(pid);
    expect((await runtime.state('dup')).status).toBe('stopped');
    await expect(runtime.kill('dup', 15)).rejects.toMatchObject({ code: 'CONTAINER_NOT_RUNNING' });
    await expect(runtime.start('dup')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await runtime.delete('dup');
    assertClean('dup', bundle);
    await expect(runtime.state('dup')).rejects.toMatchObject({ code: 'CONTAINER_NOT_FOUND' });
    await expect(runtime.create('../x', bundle)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('surfaces a refused rlimit raise clearly', async () => {
    const bundle = makeBundle(join(tmp.dir, 'rlimit'), ['true'], (spec: RuntimeSpec) => {
      (spec.process as NonNullable<RuntimeSpec['process']>).rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2 ** 40 },
      ];
    });
    await expectCreateFails('rlimit', bundle, 'SYSCALL_FAILED', /setrlimit/);
  });
});
