/**
 * dist/cli.js compiles its embedded bundle with the V8 code cache beside it (dist/cli.js.cache). The
 * cache is only an accelerator: a missing, foreign or corrupt cache must still give a working CLI, which
 * then writes a cache this node accepts.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCli, runTool, tempDir } from './helpers.js';

const tmp = tempDir('ocikit-cli-cache-');
const copy = join(tmp.dir, 'cli.js');
const cache = `${copy}.cache`;
// dist/cli.js is an ES module; a package.json marks the copy's directory the same way.
beforeAll(() => {
  ensureCli();
  copyFileSync(cliPath, copy);
  writeFileSync(join(tmp.dir, 'package.json'), '{"type":"module"}');
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
});
