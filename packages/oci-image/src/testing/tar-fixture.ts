import { TarType, tarBuilder } from './tar-builder.js';

/** One entry of an in-memory tar fixture. */
export interface TarFixtureEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: Uint8Array | string;
  linkname?: string;
  mode?: number;
  /** Seconds since the epoch (default 0, for reproducible bytes). */
  mtime?: number;
}

/** The bits of `mode` a fixture writes: permissions, setuid, setgid, sticky (file type bits are dropped). */
const MODE_BITS = 0o7777;

/**
 * Builds an uncompressed tar archive in memory with {@link tarBuilder}; the same entries give the same
 * bytes. Owner and group are root (uid and gid 0, names left empty); a file defaults to mode 0o644, a
 * directory or symlink to 0o755; only a file's `content` is written; a fractional `mtime` is cut to
 * whole seconds. Ends with the two zero blocks.
 */
export async function buildTar(entries: readonly TarFixtureEntry[]): Promise<Uint8Array> {
  const builder = tarBuilder();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const common = {
      name: entry.name,
      mode: (entry.mode ?? (type === 'file' ? 0o644 : 0o755)) & MODE_BITS,
      mtime: Math.trunc(entry.mtime ?? 0),
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    };
    if (type === 'file') {
      builder.add({ ...common, typeflag: TarType.file, content: entry.content ?? '' });
    } else if (type === 'directory') {
      builder.add({ ...common, typeflag: TarType.directory });
    } else {
      builder.add({ ...common, typeflag: TarType.symlink, linkname: entry.linkname ?? '' });
    }
  }
  return builder.toBuffer();
}
