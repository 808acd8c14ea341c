/**
 * Builds tar archives in memory for tests, including malformed and hostile ones that ordinary tar
 * writers refuse to make: names with `..`, absolute names and link targets, headers whose size does
 * not match their body, archives cut short. Not for production use.
 */

/** Entry types by their ustar typeflag character. */
export const TarType = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  characterDevice: '3',
  blockDevice: '4',
  directory: '5',
  fifo: '6',
} as const;

/** One entry to write. Everything but `name` has a default. */
export interface TarBuilderEntry {
  /** Stored exactly as given (long names go to a PAX `path` record). */
  name: string;
  /** A ustar typeflag character (see {@link TarType}); default regular file. */
  typeflag?: string | undefined;
  /** Default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  mode?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  /** Owner and group names in the header; default `root` each, `''` leaves the field empty. */
  uname?: string | undefined;
  gname?: string | undefined;
  /** Seconds since the epoch; a fraction is written as a PAX `mtime` record. Default 1_700_000_000. */
  mtime?: number | undefined;
  linkname?: string | undefined;
  devmajor?: number | undefined;
  devminor?: number | undefined;
  content?: Uint8Array | string | undefined;
  /** The size the header claims; default the content length. Lets a test lie about it. */
  declaredSize?: number | undefined;
  /** Written as PAX `SCHILY.xattr.<name>` records with the raw bytes. */
  xattrs?: Readonly<Record<string, Uint8Array | string>> | undefined;
  /** More PAX records, written verbatim. */
  pax?: Readonly<Record<string, string>> | undefined;
}

/** How {@link TarBuilder.toBuffer} ends the archive. */
export interface TarBuildOptions {
  /** Write the two zero blocks that end an archive (default true). */
  end?: boolean | undefined;
  /** Cut the archive to this many bytes (to make a truncated stream). */
  truncateAt?: number | undefined;
}

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777;

function bytes(value: Uint8Array | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(
    `${Math.trunc(value)
      .toString(8)
      .padStart(length - 1, '0')}\0`,
    offset,
    length,
    'latin1',
  );
}

function writeSize(header: Buffer, value: number): void {
  if (value <= MAX_OCTAL_SIZE) {
    writeOctal(header, 124, 12, value);
    return;
  }
  // GNU base-256: high bit set in the first byte, big-endian number in the rest.
  header.fill(0, 124, 136);
  header[124] = 0x80;
  let rest = BigInt(value);
  for (let index = 135; index > 124; index -= 1) {
    header[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

function writeText(header: Buffer, offset: number, length: number, value: string): void {
  bytes(value).copy(header, offset, 0, Math.min(length, Buffer.byteLength(value)));
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length prefix counts itself, so grow it until it is stable.
  let length = body.length + 1;
  while (String(length).length + body.length !== length) {
    length = String(length).length + body.length;
  }
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}

function header(fields: {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  uname: string;
  gname: string;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeText(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeSize(block, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.write(fields.typeflag, 156, 1, 'latin1');
  writeText(block, 157, 100, fields.linkname);
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeText(block, 265, 32, fields.uname);
  writeText(block, 297, 32, fields.gname);
  writeOctal(block, 329, 8, fields.devmajor);
  writeOctal(block, 337, 8, fields.devminor);
  // The checksum is computed with its own field read as spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

function padding(length: number): Buffer {
  const rest = length % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** Collects entries and writes them as one ustar/PAX archive. */
export class TarBuilder {
  readonly #entries: TarBuilderEntry[] = [];

  /** Adds any entry, hostile ones included. */
  add(entry: TarBuilderEntry): this {
    this.#entries.push(entry);
    return this;
  }

  /** Adds a regular file. */
  file(name: string, content: Uint8Array | string = '', options: Partial<TarBuilderEntry> = {}): this {
    return this.add({ ...options, name, typeflag: TarType.file, content });
  }

  /** Adds a directory. */
  directory(name: string, options: Partial<TarBuilderEntry> = {}): this {
    return this.add({ ...options, name, typeflag: TarType.directory });
  }

  /** Adds a symlink to `target` (stored verbatim). */
  symlink(name: string, target: string, options: Partial<TarBuilderEntry> = {}): this {
    return this.add({ ...options, name, typeflag: TarType.symlink, linkname: target });
  }

  /** Adds a hardlink to the earlier entry `target` (stored verbatim). */
  hardlink(name: string, target: string, options: Partial<TarBuilderEntry> = {}): this {
    return this.add({ ...options, name, typeflag: TarType.hardlink, linkname: target });
  }

  /** Adds a character or block device. */
  device(
    name: string,
    kind: 'character' | 'block',
    major: number,
    minor: number,
    options: Partial<TarBuilderEntry> = {},
  ): this {
    const typeflag = kind === 'character' ? TarType.characterDevice : TarType.blockDevice;
    return this.add({ ...options, name, typeflag, devmajor: major, devminor: minor });
  }

  /** Adds a fifo. */
  fifo(name: string, options: Partial<TarBuilderEntry> = {}): this {
    return this.add({ ...options, name, typeflag: TarType.fifo });
  }

  /** Adds the whiteout `<dir>/.wh.<name>` for `path` (`dir/name`). */
  whiteout(path: string): this {
    const slash = path.lastIndexOf('/');
    const name = slash === -1 ? `.wh.${path}` : `${path.slice(0, slash)}/.wh.${path.slice(slash + 1)}`;
    return this.file(name);
  }

  /** Adds the opaque marker `<dir>/.wh..wh..opq`. */
  opaque(directory: string): this {
    return this.file(directory === '' ? '.wh..wh..opq' : `${directory.replace(/\/$/, '')}/.wh..wh..opq`);
  }

  /** The archive bytes. */
  toBuffer(options: TarBuildOptions = {}): Buffer {
    const parts: Buffer[] = [];
    for (const entry of this.#entries) {
      const typeflag = entry.typeflag ?? TarType.file;
      const content = bytes(entry.content ?? '');
      const size = entry.declaredSize ?? content.length;
      const mtime = entry.mtime ?? 1_700_000_000;
      const linkname = entry.linkname ?? '';
      const records: Buffer[] = [];
      if (Buffer.byteLength(entry.name) > 100) {
        records.push(paxRecord('path', bytes(entry.name)));
      }
      if (Buffer.byteLength(linkname) > 100) {
        records.push(paxRecord('linkpath', bytes(linkname)));
      }
      if (!Number.isInteger(mtime)) {
        records.push(paxRecord('mtime', Buffer.from(mtime.toFixed(9), 'latin1')));
      }
      for (const [key, value] of Object.entries(entry.pax ?? {})) {
        records.push(paxRecord(key, bytes(value)));
      }
      for (const [key, value] of Object.entries(entry.xattrs ?? {})) {
        records.push(paxRecord(`SCHILY.xattr.${key}`, bytes(value)));
      }
      const defaultMode =
        typeflag === TarType.directory ? 0o755 : typeflag === TarType.symlink ? 0o777 : 0o644;
      const fields = {
        name: entry.name,
        typeflag,
        mode: entry.mode ?? defaultMode,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        size,
        mtime: Math.floor(mtime),
        linkname,
        devmajor: entry.devmajor ?? 0,
        devminor: entry.devminor ?? 0,
        uname: entry.uname ?? 'root',
        gname: entry.gname ?? 'root',
      };
      if (records.length > 0) {
        const pax = Buffer.concat(records);
        parts.push(
          header({ ...fields, name: 'PaxHeader', typeflag: 'x', size: pax.length, linkname: '' }),
          pax,
          padding(pax.length),
        );
      }
      parts.push(header(fields), content, padding(content.length));
    }
    if (options.end ?? true) {
      parts.push(Buffer.alloc(2 * BLOCK));
    }
    const archive = Buffer.concat(parts);
    return options.truncateAt === undefined ? archive : archive.subarray(0, options.truncateAt);
  }
}

/** A new, empty {@link TarBuilder}. */
export function tarBuilder(): TarBuilder {
  return new TarBuilder();
}
