import { describe, expect, it } from 'vitest';
import {
  type Descriptor,
  formatPlatform,
  hostPlatform,
  isOciImageError,
  normalizePlatform,
  parsePlatform,
  parsePlatformObject,
  platformMatcher,
  selectManifest,
} from '../../src/index.js';

const digestFor = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
function entry(n: number, platform: Descriptor['platform']): Descriptor {
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: digestFor(n) as Descriptor['digest'],
    size: 100,
    platform,
  };
}

describe('platform parsing and normalising', () => {
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['Linux/X86-64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64'],
    ['linux/arm64/v9.0', 'linux/arm64/v9'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['macos/arm64', 'darwin/arm64'],
    ['windows/amd64', 'windows/amd64'],
  ])('parses %s as %s', (input, expected) => {
    expect(formatPlatform(parsePlatform(input))).toBe(expected);
  });

  it('completes a lone architecture or OS from the host', () => {
    const host = hostPlatform();
    expect(parsePlatform('arm64')).toEqual({ os: host.os, architecture: 'arm64' });
    expect(parsePlatform('windows').os).toBe('windows');
    expect(parsePlatform('windows').architecture).toBe(host.architecture);
    expect(parsePlatform(host.os)).toEqual(host);
  });

  it('reads os.version in parentheses', () => {
    expect(parsePlatform('windows(10.0.17763)/amd64')).toEqual({
      os: 'windows',
      architecture: 'amd64',
      'os.version': '10.0.17763',
    });
  });

  it.each(['', 'linux/', 'a/b/c/d', 'linux/am d64', 'nonsense'])(
    'rejects %j with INVALID_PLATFORM',
    (input) => {
      expect(() => parsePlatform(input)).toThrow(expect.objectContaining({ code: 'INVALID_PLATFORM' }));
    },
  );

  it('validates platform objects naming the field', () => {
    try {
      parsePlatformObject(
        { os: 'linux', architecture: 'amd64', 'os.features': [1] },
        'manifests[0].platform',
      );
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, 'INVALID_PLATFORM')).toBe(true);
      expect((error as { path: string }).path).toBe('manifests[0].platform["os.features"][0]');
    }
  });

  it('keeps unknown fields when normalising', () => {
    expect(
      normalizePlatform({ os: 'Linux', architecture: 'aarch64', variant: 'v8', extra: 1 } as never),
    ).toEqual({
      os: 'linux',
      architecture: 'arm64',
      extra: 1,
    });
  });
});

describe('platform matching', () => {
  const index = {
    manifests: [
      entry(1, { os: 'linux', architecture: 'amd64' }),
      entry(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
      entry(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
      entry(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      entry(5, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234' }),
      entry(6, { os: 'unknown', architecture: 'unknown' }),
      entry(7, undefined),
      entry(8, { os: 'linux', architecture: '386' }),
      entry(9, { os: 'linux', architecture: 'amd64', 'os.features': ['special'] }),
    ],
  };
  const pick = (wanted: string | Parameters<typeof selectManifest>[1], manifests = index.manifests): string =>
    selectManifest({ manifests }, wanted).digest;

  it('picks the exact platform', () => {
    expect(pick('linux/amd64')).toBe(digestFor(1));
    expect(pick('linux/arm/v6')).toBe(digestFor(2));
    expect(pick('linux/arm/v7')).toBe(digestFor(3));
    expect(pick('linux/386')).toBe(digestFor(8));
  });

  it('treats arm64 and arm64/v8 as the same', () => {
    expect(pick('linux/arm64')).toBe(digestFor(4));
    expect(pick('linux/aarch64/v8')).toBe(digestFor(4));
  });

  it('falls back arm v8 > v7 > v6 and arm64 to 32-bit arm', () => {
    const armOnly = index.manifests.filter((d) => d.platform?.architecture === 'arm');
    expect(pick('linux/arm/v8', armOnly)).toBe(digestFor(3));
    expect(pick('linux/arm64', armOnly)).toBe(digestFor(3));
    expect(pick('linux/arm/v7', [armOnly[0] as Descriptor])).toBe(digestFor(2));
    expect(() => pick('linux/arm/v6', [armOnly[1] as Descriptor])).toThrow(
      expect.objectContaining({ code: 'NO_MATCHING_PLATFORM' }),
    );
  });

  it('lets amd64 run 386 and higher amd64 levels run lower ones', () => {
    const low = [entry(8, { os: 'linux', architecture: '386' })];
    expect(pick('linux/amd64', low)).toBe(digestFor(8));
    const levels = [
      entry(1, { os: 'linux', architecture: 'amd64' }),
      entry(2, { os: 'linux', architecture: 'amd64', variant: 'v2' }),
    ];
    expect(pick('linux/amd64/v3', levels)).toBe(digestFor(2));
    expect(pick('linux/amd64', levels)).toBe(digestFor(1));
  });

  it('prefers the earlier of equal candidates', () => {
    const twice = [
      entry(1, { os: 'linux', architecture: 'amd64' }),
      entry(2, { os: 'linux', architecture: 'amd64' }),
    ];
    expect(pick('linux/amd64', twice)).toBe(digestFor(1));
  });

  it('checks os.version and os.features', () => {
    expect(pick({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.999' })).toBe(digestFor(5));
    expect(() => pick({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' })).toThrow(
      expect.objectContaining({ code: 'NO_MATCHING_PLATFORM' }),
    );
    const featured = [entry(9, { os: 'linux', architecture: 'amd64', 'os.features': ['special'] })];
    expect(() => pick('linux/amd64', featured)).toThrow(
      expect.objectContaining({ code: 'NO_MATCHING_PLATFORM' }),
    );
    expect(pick({ os: 'linux', architecture: 'amd64', 'os.features': ['special'] }, featured)).toBe(
      digestFor(9),
    );
  });

  it('reports NO_MATCHING_PLATFORM with what the index offers', () => {
    try {
      pick('linux/s390x');
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, 'NO_MATCHING_PLATFORM')).toBe(true);
      expect((error as Error).message).toContain('linux/arm/v6');
      expect((error as { path: string }).path).toBe('linux/s390x');
    }
  });

  it('exposes a matcher', () => {
    const matcher = platformMatcher('linux/arm64');
    expect(matcher.matches({ os: 'linux', architecture: 'arm', variant: 'v5' })).toBe(true);
    expect(matcher.matches({ os: 'darwin', architecture: 'arm64' })).toBe(false);
    expect(matcher.rank({ os: 'linux', architecture: 'arm64' })).toBeLessThan(
      matcher.rank({ os: 'linux', architecture: 'arm', variant: 'v7' }) as number,
    );
  });
});
