/**
 * OCI whiteouts (image-spec layer.md "Whiteouts"): an entry named `.wh.<name>` deletes `<name>` from the
 * lower layers, and `.wh..wh..opq` in a directory hides every lower-layer child of that directory.
 */

/** The prefix of a whiteout entry's base name. */
export const WHITEOUT_PREFIX = '.wh.';

/** The prefix of whiteout metadata entries (`.wh..wh.*`); only the opaque marker is defined by OCI. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

/** The base name of the opaque-directory marker. */
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

/** What a tar entry's base name means for whiteout processing. */
export type WhiteoutKind =
  /** Not a whiteout: an ordinary entry. */
  | { kind: 'none' }
  /** `.wh.<name>`: delete `name` from this directory. `name` is not validated here. */
  | { kind: 'whiteout'; name: string }
  /** `.wh..wh..opq`: the directory is opaque. */
  | { kind: 'opaque' }
  /** Another `.wh..wh.*` name (aufs bookkeeping such as `.wh..wh.plnk`): to be skipped. */
  | { kind: 'meta' };

/** Classifies a base name (the last path component) of a layer entry. Pure. */
export function classifyWhiteout(baseName: string): WhiteoutKind {
  if (!baseName.startsWith(WHITEOUT_PREFIX)) {
    return { kind: 'none' };
  }
  if (baseName === WHITEOUT_OPAQUE) {
    return { kind: 'opaque' };
  }
  if (baseName.startsWith(WHITEOUT_META_PREFIX)) {
    return { kind: 'meta' };
  }
  return { kind: 'whiteout', name: baseName.slice(WHITEOUT_PREFIX.length) };
}

/** True when `baseName` is any whiteout entry (`.wh.` prefix, including the opaque marker). */
export function isWhiteout(baseName: string): boolean {
  return baseName.startsWith(WHITEOUT_PREFIX);
}

/** The whiteout base name that deletes `name` (`name` must be a single path component). */
export function whiteoutName(name: string): string {
  return `${WHITEOUT_PREFIX}${name}`;
}
