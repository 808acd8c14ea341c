import type { Descriptor } from './descriptor.js';
import { OciImageError } from './errors.js';
import type { ImageIndex } from './image-index.js';
import { formatPlatform, normalizePlatform, type Platform, parsePlatform } from './platform.js';

/** Decides whether a candidate platform can run where the wanted one is, and how well it fits. */
export interface PlatformMatcher {
  /** The normalised wanted platform. */
  readonly wanted: Platform;
  /** True when `candidate` can run on the wanted platform. */
  matches(candidate: Platform): boolean;
  /** Lower is better; undefined when `candidate` does not match. */
  rank(candidate: Platform): number | undefined;
}

interface ArchitectureVariant {
  architecture: string;
  variant: string | undefined;
}

function variantNumber(variant: string | undefined): number | undefined {
  const match = /^v(\d+)$/.exec(variant ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * The architectures the wanted platform can run, best first, like containerd's platform vector:
 * amd64 vN runs lower amd64 levels and 386; arm vN runs arm down to v5; arm64 runs arm64 and arm v8..v5.
 */
function compatibleArchitectures(wanted: Platform): ArchitectureVariant[] {
  const out: ArchitectureVariant[] = [{ architecture: wanted.architecture, variant: wanted.variant }];
  const armDown = (from: number): void => {
    for (let level = from; level >= 5; level--) out.push({ architecture: 'arm', variant: `v${level}` });
  };
  switch (wanted.architecture) {
    case 'amd64': {
      const level = variantNumber(wanted.variant);
      if (level !== undefined) {
        for (let lower = level - 1; lower >= 1; lower--) {
          out.push({ architecture: 'amd64', variant: lower === 1 ? undefined : `v${lower}` });
        }
      }
      out.push({ architecture: '386', variant: undefined });
      break;
    }
    case 'arm': {
      const level = variantNumber(wanted.variant);
      if (level !== undefined) armDown(level - 1);
      break;
    }
    case 'arm64': {
      if (wanted.variant !== undefined) out.push({ architecture: 'arm64', variant: undefined });
      armDown(8);
      break;
    }
    default:
      break;
  }
  return out;
}

function osVersionFits(
  wanted: string | undefined,
  candidate: string | undefined,
  os: string,
): 0 | 1 | undefined {
  if (wanted === undefined || candidate === undefined) return 1;
  if (wanted === candidate) return 0;
  if (os === 'windows') {
    // Windows images run on hosts of the same major.minor.build (containerd's windows matcher)
    const prefix = (value: string): string => value.split('.').slice(0, 3).join('.');
    return prefix(wanted) === prefix(candidate) ? 1 : undefined;
  }
  return undefined;
}

/**
 * Builds a matcher for `wanted` (a platform object or an `os/arch[/variant]` string, normalised first).
 * A candidate matches when its OS equals, its architecture/variant is in the compatibility list,
 * its `os.version` fits (equal, or the same build on Windows, or either absent) and every
 * `os.features` entry it needs is in the wanted platform's `os.features`.
 */
export function platformMatcher(wanted: Platform | string): PlatformMatcher {
  const target = typeof wanted === 'string' ? parsePlatform(wanted) : normalizePlatform(wanted);
  const vector = compatibleArchitectures(target);
  const rank = (candidate: Platform): number | undefined => {
    const normal = normalizePlatform(candidate);
    if (normal.os !== target.os) return undefined;
    const position = vector.findIndex(
      (entry) => entry.architecture === normal.architecture && entry.variant === normal.variant,
    );
    if (position === -1) return undefined;
    const versionPenalty = osVersionFits(target['os.version'], normal['os.version'], target.os);
    if (versionPenalty === undefined) return undefined;
    const have = new Set(target['os.features'] ?? []);
    if ((normal['os.features'] ?? []).some((feature) => !have.has(feature))) return undefined;
    return position * 2 + versionPenalty;
  };
  return { wanted: target, matches: (candidate) => rank(candidate) !== undefined, rank };
}

/**
 * Chooses the best manifest of `index` for `wanted`: the lowest rank wins, ties go to the earlier entry.
 * Entries without a platform are skipped. Throws `NO_MATCHING_PLATFORM` when none fits.
 */
export function selectManifest(index: Pick<ImageIndex, 'manifests'>, wanted: Platform | string): Descriptor {
  const matcher = platformMatcher(wanted);
  let best: { descriptor: Descriptor; rank: number } | undefined;
  for (const descriptor of index.manifests) {
    if (descriptor.platform === undefined) continue;
    const rank = matcher.rank(descriptor.platform);
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { descriptor, rank };
  }
  if (best === undefined) {
    const offered = index.manifests
      .map((descriptor) => (descriptor.platform ? formatPlatform(descriptor.platform) : 'none'))
      .join(', ');
    throw new OciImageError(
      'NO_MATCHING_PLATFORM',
      `select manifest: no entry for ${formatPlatform(matcher.wanted)} (index offers ${offered || 'nothing'})`,
      { path: formatPlatform(matcher.wanted) },
    );
  }
  return best.descriptor;
}
