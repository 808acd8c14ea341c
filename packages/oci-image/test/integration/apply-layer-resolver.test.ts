import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOciImageError } from '../../src/errors.js';
import { RootResolver } from '../../src/internal/safe-path.js';

let parent: string;
let root: string;

beforeEach(() => {
  parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-resolver-'));
  root = path.join(parent, 'root');
  fs.mkdirSync(root);
});

afterEach(() => {
  fs.rmSync(parent, { recursive: true, force: true });
});

describe('RootResolver', () => {
  it('resolves real directories and creates missing ones only when asked', () => {
    fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    const resolver = new RootResolver(root);
    expect(resolver.resolveDirectory('usr/lib', { create: false })).toBe('usr/lib');
    expect(resolver.resolveDirectory('usr/lib/x', { create: false })).toBeUndefined();
    expect(fs.existsSync(path.join(root, 'usr/lib/x'))).toBe(false);
    expect(resolver.resolveDirectory('usr/lib/x/y', { create: true })).toBe('usr/lib/x/y');
    expect(fs.lstatSync(path.join(root, 'usr/lib/x/y')).isDirectory()).toBe(true);
    expect(resolver.directoryInfo('usr/lib/x/y')?.uid).toBe(process.geteuid?.());
  });

  it('follows symlinks as if the root were /, clamping .. at the root', () => {
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    fs.symlinkSync('usr/bin', path.join(root, 'bin'));
    fs.symlinkSync('/usr', path.join(root, 'abs'));
    fs.symlinkSync('../../../../..', path.join(root, 'up'));
    fs.symlinkSync('../bin', path.join(root, 'usr/bin/self'));
    fs.symlinkSync(parent, path.join(root, 'host'));
    const resolver = new RootResolver(root);
    expect(resolver.resolveDirectory('bin', { create: false })).toBe('usr/bin');
    expect(resolver.resolveDirectory('abs/bin', { create: false })).toBe('usr/bin');
    expect(resolver.resolveDirectory('up', { create: false })).toBe('');
    expect(resolver.resolveDirectory('up/usr', { create: false })).toBe('usr');
    expect(resolver.resolveDirectory('bin/self', { create: false })).toBe('usr/bin');
    // The absolute host path is read inside the root, where it does not exist.
    expect(resolver.resolveDirectory('host', { create: false })).toBeUndefined();
    expect(resolver.resolveDirectory('host', { create: true })).toBe(parent.slice(1));
    expect(fs.lstatSync(path.join(root, parent)).isDirectory()).toBe(true);
  });

  it('fails with LAYER_INVALID_ENTRY for a file in a parent position and for a symlink loop', () => {
    fs.writeFileSync(path.join(root, 'file'), '');
    fs.symlinkSync('loop', path.join(root, 'loop'));
    const resolver = new RootResolver(root);
    for (const name of ['file/x', 'loop/x']) {
      let caught: unknown;
      try {
        resolver.resolveDirectory(name, { create: true });
      } catch (error) {
        caught = error;
      }
      expect(isOciImageError(caught, 'LAYER_INVALID_ENTRY')).toBe(true);
    }
  });

  it('forgets cached directories when told, so a replacement by a symlink is seen', () => {
    fs.mkdirSync(path.join(root, 'a/b'), { recursive: true });
    fs.mkdirSync(path.join(root, 'elsewhere/b'), { recursive: true });
    const resolver = new RootResolver(root);
    expect(resolver.resolveDirectory('a/b', { create: false })).toBe('a/b');
    fs.rmSync(path.join(root, 'a'), { recursive: true });
    fs.symlinkSync('elsewhere', path.join(root, 'a'));
    resolver.forget('a');
    expect(resolver.directoryInfo('a/b')).toBeUndefined();
    expect(resolver.resolveDirectory('a/b', { create: false })).toBe('elsewhere/b');
  });
});
