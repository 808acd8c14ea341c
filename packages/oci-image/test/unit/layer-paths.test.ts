import { describe, expect, it } from 'vitest';
import { isOciImageError } from '../../src/errors.js';
import { baseOf, cleanLayerPath, isWithin, joinRelative, parentOf } from '../../src/internal/safe-path.js';
import { classifyWhiteout, isWhiteout, WHITEOUT_OPAQUE, whiteoutName } from '../../src/layer/whiteout.js';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return isOciImageError(error) ? error.code : 'not an OciImageError';
  }
}

describe('cleanLayerPath', () => {
  it.each([
    ['etc/passwd', 'etc/passwd'],
    ['./etc/passwd', 'etc/passwd'],
    ['/etc/passwd', 'etc/passwd'],
    ['//etc//./passwd/', 'etc/passwd'],
    ['a/b/../c', 'a/c'],
    ['a/..', ''],
    ['./', ''],
    ['/', ''],
    ['.', ''],
    ['..a/b..', '..a/b..'],
  ])('cleans %j to %j', (name, cleaned) => {
    expect(cleanLayerPath(name)).toBe(cleaned);
  });

  it.each(['..', '../x', 'a/../../x', '/../x', './../x', 'a/b/../../..'])(
    'refuses %j with LAYER_PATH_ESCAPE',
    (name) => {
      expect(codeOf(() => cleanLayerPath(name))).toBe('LAYER_PATH_ESCAPE');
    },
  );

  it('refuses a NUL byte with LAYER_INVALID_ENTRY', () => {
    expect(codeOf(() => cleanLayerPath('a\0b'))).toBe('LAYER_INVALID_ENTRY');
  });

  it('splits and joins relative paths', () => {
    expect(parentOf('a/b/c')).toBe('a/b');
    expect(parentOf('a')).toBe('');
    expect(baseOf('a/b/c')).toBe('c');
    expect(baseOf('a')).toBe('a');
    expect(joinRelative('', 'a')).toBe('a');
    expect(joinRelative('a', 'b')).toBe('a/b');
    expect(isWithin('a/b', 'a')).toBe(true);
    expect(isWithin('a', 'a')).toBe(true);
    expect(isWithin('ab', 'a')).toBe(false);
    expect(isWithin('anything', '')).toBe(true);
  });
});

describe('whiteout names', () => {
  it('classifies ordinary entries, whiteouts, the opaque marker and metadata', () => {
    expect(classifyWhiteout('passwd')).toEqual({ kind: 'none' });
    expect(classifyWhiteout('.whatever')).toEqual({ kind: 'none' });
    expect(classifyWhiteout('.wh.passwd')).toEqual({ kind: 'whiteout', name: 'passwd' });
    expect(classifyWhiteout('.wh...')).toEqual({ kind: 'whiteout', name: '..' });
    expect(classifyWhiteout('.wh.')).toEqual({ kind: 'whiteout', name: '' });
    expect(classifyWhiteout(WHITEOUT_OPAQUE)).toEqual({ kind: 'opaque' });
    expect(classifyWhiteout('.wh..wh.plnk')).toEqual({ kind: 'meta' });
    expect(isWhiteout('.wh.x')).toBe(true);
    expect(isWhiteout('x.wh.')).toBe(false);
    expect(whiteoutName('passwd')).toBe('.wh.passwd');
  });
});
