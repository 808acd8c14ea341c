import { describe, expect, it } from 'vitest';
import { digestOf, isOciImageError, MediaType, parseImageConfig } from '../../src/index.js';

const diffId = `sha256:${'1'.repeat(64)}`;

describe('image configs', () => {
  it('parses every image-spec field', () => {
    const text = JSON.stringify({
      created: '2024-05-01T10:00:00Z',
      author: 'someone',
      architecture: 'arm64',
      variant: 'v8',
      os: 'linux',
      'os.version': '6.1',
      'os.features': ['x'],
      config: {
        User: '1000:1000',
        ExposedPorts: { '80/tcp': {} },
        Env: ['A=1'],
        Entrypoint: ['/bin/app'],
        Cmd: ['--flag'],
        Volumes: { '/data': {} },
        WorkingDir: '/srv',
        Labels: { k: 'v' },
        StopSignal: 'SIGTERM',
        ArgsEscaped: true,
        Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3 },
        OnBuild: ['RUN x'],
        Shell: ['/bin/sh', '-c'],
      },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [
        { created: '2024-05-01T10:00:00Z', created_by: 'x', comment: 'c', empty_layer: false, author: 'a' },
      ],
    });
    const parsed = parseImageConfig(text);
    expect(parsed.digest).toBe(digestOf(text));
    expect(parsed.mediaType).toBe(MediaType.ociConfig);
    expect(parsed.value.config?.Healthcheck?.Retries).toBe(3);
    expect(parsed.value['os.version']).toBe('6.1');
  });

  it('accepts Docker nulls and extra Docker fields', () => {
    const parsed = parseImageConfig(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        container: 'abc',
        docker_version: '20.10',
        container_config: { Hostname: 'x' },
        config: { Env: null, Cmd: null, Entrypoint: null, Labels: null, Volumes: null, OnBuild: null },
        rootfs: { type: 'layers', diff_ids: [] },
      }),
      MediaType.dockerConfig,
    );
    expect(parsed.value.config?.Cmd).toBeNull();
    expect(parsed.value.docker_version).toBe('20.10');
    expect(parsed.mediaType).toBe(MediaType.dockerConfig);
  });

  it.each([
    [{ os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, 'architecture'],
    [{ architecture: 'amd64', os: 'linux' }, 'rootfs'],
    [{ architecture: 'amd64', os: 'linux', rootfs: { type: 'tar', diff_ids: [] } }, 'rootfs.type'],
    [
      { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId, 'sha256:1'] } },
      'rootfs.diff_ids[1]',
    ],
    [
      {
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
        config: { Env: 'A=1' },
      },
      'config.Env',
    ],
    [
      {
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
        history: [{ empty_layer: 'yes' }],
      },
      'history[0].empty_layer',
    ],
  ])('rejects %j at %s with INVALID_CONFIG', (value, path) => {
    try {
      parseImageConfig(JSON.stringify(value));
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, 'INVALID_CONFIG')).toBe(true);
      expect((error as { path: string }).path).toBe(path);
    }
  });

  it('rejects bad JSON with INVALID_JSON', () => {
    expect(() => parseImageConfig('nope')).toThrow(expect.objectContaining({ code: 'INVALID_JSON' }));
  });
});
