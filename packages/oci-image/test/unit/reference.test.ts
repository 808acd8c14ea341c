import { describe, expect, it } from 'vitest';
import { isOciImageError, parseReference } from '../../src/index.js';

const hex = 'a'.repeat(64);
const digest = `sha256:${hex}`;

describe('references', () => {
  // input, full form, familiar form (docker's reference/normalize behaviour)
  it.each([
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['user/app/sub', 'docker.io/user/app/sub:latest', 'user/app/sub:latest'],
    ['docker.io/library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
    ['localhost:5000/x:v1', 'localhost:5000/x:v1', 'localhost:5000/x:v1'],
    ['quay.io/org/img:Tag_1.0-rc', 'quay.io/org/img:Tag_1.0-rc', 'quay.io/org/img:Tag_1.0-rc'],
    ['example.com:8443/a/b', 'example.com:8443/a/b:latest', 'example.com:8443/a/b:latest'],
    ['Example.com/a', 'Example.com/a:latest', 'Example.com/a:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
    ['a__b/c--d/e.f', 'docker.io/a__b/c--d/e.f:latest', 'a__b/c--d/e.f:latest'],
    [`busybox@${digest}`, `docker.io/library/busybox@${digest}`, `busybox@${digest}`],
    [`busybox:1@${digest}`, `docker.io/library/busybox:1@${digest}`, `busybox:1@${digest}`],
    [`ghcr.io/o/r@${digest}`, `ghcr.io/o/r@${digest}`, `ghcr.io/o/r@${digest}`],
  ])('normalises %s', (input, full, familiar) => {
    const reference = parseReference(input);
    expect(reference.toString()).toBe(full);
    expect(reference.familiar).toBe(familiar);
    expect(parseReference(reference.toString()).toString()).toBe(full);
  });

  it('splits into parts', () => {
    const reference = parseReference(`localhost:5000/team/app:v2@${digest}`);
    expect(reference.domain).toBe('localhost:5000');
    expect(reference.path).toBe('team/app');
    expect(reference.name).toBe('localhost:5000/team/app');
    expect(reference.tag).toBe('v2');
    expect(reference.digest).toBe(digest);
    expect(reference.familiarName).toBe('localhost:5000/team/app');
  });

  it('does not add latest when asked not to, or when a digest is given', () => {
    expect(parseReference('busybox', { defaultTag: false }).tag).toBeUndefined();
    expect(parseReference(`busybox@${digest}`).tag).toBeUndefined();
  });

  it('changes tag and digest', () => {
    const reference = parseReference('busybox').withTag('1.0');
    expect(reference.toString()).toBe('docker.io/library/busybox:1.0');
    expect(reference.withDigest(digest as never).familiar).toBe(`busybox:1.0@${digest}`);
    expect(() => reference.withTag('-bad')).toThrow(expect.objectContaining({ code: 'INVALID_REFERENCE' }));
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'upper case in an official name'],
    ['user/App', 'upper case in the path'],
    ['example.com/User/app', 'upper case after a domain'],
    [hex, '64 hex characters'],
    ['busybox:', 'empty tag'],
    ['busybox:-x', 'tag starting with a dash'],
    [`busybox:${'t'.repeat(129)}`, 'tag longer than 128'],
    ['a//b', 'empty path component'],
    ['a/b_', 'trailing separator'],
    ['-a/b', 'leading dash'],
    ['a/.b', 'leading dot in a component'],
    ['a/b@sha256:abc', 'short digest'],
    [`a/b@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [`a/b@sha256:${'A'.repeat(64)}`, 'upper-case digest hex'],
    ['a b', 'space'],
    ['example.com:port/x', 'non-numeric port'],
    [`example.com/${'a'.repeat(244)}`, 'name longer than 255'],
    ['a/b:tag:again', 'two tags'],
  ])('rejects %j (%s) with INVALID_REFERENCE', (input) => {
    try {
      parseReference(input);
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, 'INVALID_REFERENCE')).toBe(true);
    }
  });

  it('accepts a name of exactly 255 characters', () => {
    const name = `example.com/${'a'.repeat(243)}`;
    expect(name.length).toBe(255);
    expect(parseReference(name).name).toBe(name);
  });
});
