/**
 * dist/cli.cjs compiles the bundle beside it (dist/cli-body.cjs) with the V8 code cache beside that
 * (dist/cli-body.cjs.cache). The cache is only an accelerator: a missing, foreign or corrupt cache must
 * still give a working CLI, which then writes a cache this node accepts.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCli, runTool, tempDir } from './helpers.js';

const tmp = tempDir('ocikit-cli-cache-');
const copy = join(tmp.dir, 'cli.cjs');
const cache = join(tmp.dir, 'cli-body.cjs.cache');
beforeAll(() => {
  ensureCli();
  copyFileSync(cliPath, copy);
  copyFileSync(join(dirname(cliPath), 'cli-body.cjs'), join(tmp.dir, 'cli-body.cjs'));
});
afterAll(() => tmp.cleanup());

function version(env: Record<string, string> = {}): { code: number; stdout: string } {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return runTool(['node', copy, '--version'], tmp.dir);
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

describe('the CLI code cache', () => {
  it('runs without a cache and writes one', () => {
    expect(existsSync(cache)).toBe(false);
    const result = version();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ocikit-runtime version /);
    expect(existsSync(cache)).toBe(true);
  });

  it('runs with the cache it wrote and leaves it unchanged', () => {
    const before = readFileSync(cache);
    expect(version().code).toBe(0);
    expect(readFileSync(cache).equals(before)).toBe(true);
  });

  it('falls back to compiling when the cache is garbage, and replaces it', () => {
    writeFileSync(cache, 'not a V8 code cache');
    const result = version();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ocikit-runtime version /);
    expect(readFileSync(cache, 'utf8')).not.toBe('not a V8 code cache');
  });

  it('neither reads nor writes the cache with OCIKIT_CLI_CODE_CACHE=off', () => {
    writeFileSync(cache, 'left alone');
    expect(version({ OCIKIT_CLI_CODE_CACHE: 'off' }).code).toBe(0);
    expect(readFileSync(cache, 'utf8')).toBe('left alone');
  });

  it('reports errors from the embedded bundle like runc', () => {
    const result = runTool(['node', copy, '--root', join(tmp.dir, 'state'), 'state', 'nope'], tmp.dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/level=error msg="container nope does not exist"/);
  });

  it('is primed by a training run that goes through the whole create path without touching the host', () => {
    const work = join(tmp.dir, 'prime');
    mkdirSync(work);
    const saved = { ...process.env };
    Object.assign(process.env, { OCIKIT_CLI_PRIME: work, OCIKIT_CLI_CODE_CACHE: 'off' });
    try {
      const result = runTool(['node', copy], tmp.dir);
      expect(result.code, result.stderr).toBe(0);
    } finally {
      delete process.env.OCIKIT_CLI_PRIME;
      delete process.env.OCIKIT_CLI_CODE_CACHE;
      Object.assign(process.env, saved);
    }
    // The record a real create writes: created, with the compiled seccomp program; the "container" was
    // the training process itself (recording syscalls), and its cgroup lived in memory.
    const record = JSON.parse(readFileSync(join(work, 'state', 'c1', 'state.json'), 'utf8'));
    expect(record.status).toBe('created');
    expect(record.cgroupPath).toBe('/c1');
    expect(Buffer.from(record.seccomp.program, 'base64').length % 8).toBe(0);
    expect(Buffer.from(record.seccomp.program, 'base64').length).toBeGreaterThan(64);
    expect(readFileSync(join(work, 'pid'), 'utf8')).toBe(String(record.pid));
    expect(readdirSync(work).sort()).toEqual(['bundle', 'pid', 'state']);
  });
});
