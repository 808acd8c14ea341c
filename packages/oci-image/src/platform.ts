import { z } from 'zod';
import { OciImageError } from './errors.js';
import { validateWith } from './internal/json.js';

/** zod model of an image-spec platform object (index entries and image configs). */
export const platformSchema = z.looseObject({
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

/** A platform as the image-spec writes it (`os.version` and `os.features` keep their dotted names). */
export type Platform = z.output<typeof platformSchema>;

/** Validates a platform object; throws `INVALID_PLATFORM` with the field path. */
export function parsePlatformObject(value: unknown, path = ''): Platform {
  return validateWith(platformSchema, value, 'INVALID_PLATFORM', 'platform', path);
}

const knownOs = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'zos',
  'wasip1',
]);

const knownArch = new Set([
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'ppc64',
  'ppc64le',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
]);

/** Normalises an OS name the way containerd does (lower case, `macos` is `darwin`). */
export function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/**
 * Normalises an architecture and its variant the way containerd's platforms package does:
 * `x86_64`/`x86-64` -> `amd64` (variant `v1` dropped), `aarch64` -> `arm64` (variant `v8` dropped,
 * it is the default), `armhf` -> `arm/v7`, `armel` -> `arm/v6`, `arm` without variant -> `arm/v7`,
 * `i386` -> `386`.
 */
export function normalizeArchitecture(
  architecture: string,
  variant: string | undefined,
): { architecture: string; variant: string | undefined } {
  const arch = architecture.toLowerCase();
  const v = variant?.toLowerCase() || undefined;
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: undefined };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? undefined : v };
    case 'aarch64':
    case 'arm64': {
      switch (v) {
        case '8':
        case 'v8':
        case 'v8.0':
        case undefined:
          return { architecture: 'arm64', variant: undefined };
        case '9':
        case '9.0':
        case 'v9.0':
          return { architecture: 'arm64', variant: 'v9' };
        default:
          return { architecture: 'arm64', variant: /^\d/.test(v) ? `v${v}` : v };
      }
    }
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      switch (v) {
        case undefined:
        case '7':
          return { architecture: 'arm', variant: 'v7' };
        case '5':
        case '6':
        case '8':
          return { architecture: 'arm', variant: `v${v}` };
        default:
          return { architecture: 'arm', variant: v };
      }
    default:
      return { architecture: arch, variant: v };
  }
}

/** Returns a normalised copy of `platform` (OS, architecture and variant; other fields kept). */
export function normalizePlatform(platform: Platform): Platform {
  const { architecture, variant } = normalizeArchitecture(platform.architecture, platform.variant);
  const out: Platform = { ...platform, os: normalizeOs(platform.os), architecture };
  if (variant === undefined) {
    delete out.variant;
  } else {
    out.variant = variant;
  }
  return out;
}

/** The platform of this Node process, normalised (e.g. `linux/amd64`). */
export function hostPlatform(): Platform {
  const archMap: Record<string, string> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64' };
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return normalizePlatform({ os, architecture: archMap[process.arch] ?? process.arch });
}

/**
 * Parses a platform specifier `os[(os.version)]/arch[/variant]`, or a lone OS or architecture
 * (completed from the host platform like containerd does), and normalises it. Throws `INVALID_PLATFORM`.
 */
export function parsePlatform(specifier: string): Platform {
  const fail = (why: string): never => {
    throw new OciImageError('INVALID_PLATFORM', `parse platform ${JSON.stringify(specifier)}: ${why}`, {
      path: specifier,
    });
  };
  const parts = specifier.split('/');
  if (parts.length > 3 || parts.some((part) => part === '')) {
    fail('want os/arch[/variant]');
  }
  let osPart = parts[0] ?? '';
  let osVersion: string | undefined;
  const withVersion = /^([^()]+)\(([^()]*)\)$/.exec(osPart);
  if (withVersion) {
    osPart = withVersion[1] ?? '';
    osVersion = withVersion[2] || undefined;
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(osPart) || parts.slice(1).some((part) => !/^[A-Za-z0-9_.-]+$/.test(part))) {
    fail('components may hold only letters, digits, "_", "." and "-"');
  }
  const host = hostPlatform();
  let platform: Platform;
  if (parts.length === 1) {
    const lower = normalizeOs(osPart);
    if (knownOs.has(lower)) {
      platform = { ...host, os: lower };
      if (lower !== host.os) {
        // a different OS: the host's architecture still applies, its variant may not
        platform = { os: lower, architecture: host.architecture };
      }
    } else {
      const arch = normalizeArchitecture(osPart, undefined);
      if (!knownArch.has(arch.architecture)) {
        fail(`"${osPart}" is neither a known OS nor a known architecture`);
      }
      platform = { os: host.os, architecture: arch.architecture };
      if (arch.variant !== undefined) platform.variant = arch.variant;
    }
  } else {
    platform = { os: osPart, architecture: parts[1] ?? '' };
    if (parts[2] !== undefined) platform.variant = parts[2];
  }
  if (osVersion !== undefined) platform['os.version'] = osVersion;
  return normalizePlatform(platform);
}

/** Formats a platform as `os/arch[/variant]` (no os.version). */
export function formatPlatform(platform: Platform): string {
  const base = `${platform.os}/${platform.architecture}`;
  return platform.variant ? `${base}/${platform.variant}` : base;
}
