import { OciImageError } from '../errors.js';

/** The kinds of tar entry a layer writer emits (ustar typeflags 0-6). */
export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo';

/**
 * One tar entry header as the layer writer encodes it. `path` is relative, uses `/`, has neither a leading
 * nor a trailing slash (directories get their trailing `/` when encoded). `mtime` is whole seconds.
 */
export interface TarEntryHeader {
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length; only regular files have content. */
  size: number;
  /** Seconds since the epoch, an integer >= 0. */
  mtime: number;
  /** Target of a symlink, or the earlier entry's path for a hardlink. */
  linkname?: string | undefined;
  devmajor?: number | undefined;
  devminor?: number | undefined;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records with their raw bytes. */
  xattrs?: ReadonlyMap<string, Buffer> | undefined;
}

const BLOCK = 512;
const typeflags: Record<TarEntryType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  'character-device': 0x33,
  'block-device': 0x34,
  directory: 0x35,
  fifo: 0x36,
};
const PAX_TYPEFLAG = 0x78; // 'x': extended header for the next entry (POSIX.1-2001)

/** The two zero blocks that end an archive. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);

/** Zero bytes that pad `size` content bytes up to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function isAscii(value: string): boolean {
  // every UTF-16 unit below 0x80 (so one byte each) and no NUL, which would end a ustar field
  return Buffer.byteLength(value) === value.length && !value.includes('\0');
}

/** Writes `value` as zero-padded octal in a field of `width` bytes ending with NUL; false when it does not fit. */
function writeOctal(block: Buffer, offset: number, width: number, value: number): boolean {
  if (!Number.isSafeInteger(value) || value < 0) return false;
  const digits = value.toString(8);
  if (digits.length > width - 1) return false;
  block.write(digits.padStart(width - 1, '0'), offset, 'ascii');
  block[offset + width - 1] = 0;
  return true;
}

/** Splits a long ASCII name into ustar prefix (<= 155 bytes) and name (<= 100 bytes), or undefined. */
function splitUstarName(name: string): [prefix: string, name: string] | undefined {
  if (name.length <= 100) return ['', name];
  // the slash that separates prefix and name is not stored
  for (let index = Math.min(name.length - 1, 155); index > 0; index--) {
    if (name[index] === '/' && name.length - index - 1 <= 100 && name.length - index - 1 > 0) {
      return [name.slice(0, index), name.slice(index + 1)];
    }
  }
  return undefined;
}

/** One PAX record: `"<length> <key>=<value>\n"` where the length counts the whole record, itself included. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.byteLength(key) + value.length + 3; // space, '=', '\n'
  let length = body + String(body).length;
  if (String(length).length !== String(body).length) length = body + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function encodeUstar(fields: UstarFields, path: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'utf8');
  const numeric: Array<[number, number, number, string]> = [
    [100, 8, fields.mode, 'mode'],
    [108, 8, fields.uid, 'uid'],
    [116, 8, fields.gid, 'gid'],
    [124, 12, fields.size, 'size'],
    [136, 12, fields.mtime, 'mtime'],
    [329, 8, fields.devmajor, 'devmajor'],
    [337, 8, fields.devminor, 'devminor'],
  ];
  for (const [offset, width, value, name] of numeric) {
    if (!writeOctal(block, offset, width, value)) {
      throw new OciImageError(
        'LAYER_INVALID_ENTRY',
        `write tar: ${name} ${value} of "${path}" does not fit`,
        {
          path,
        },
      );
    }
  }
  block[156] = fields.typeflag;
  block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 8, 'ascii');
  block.write(fields.prefix, 345, 155, 'utf8');
  // checksum: sum of all bytes with the checksum field read as spaces, 6 octal digits, NUL, space
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0'), 148, 'ascii');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/**
 * Encodes the header block(s) of one entry: a ustar header, preceded by a PAX extended header when a field
 * does not fit ustar (non-ASCII or long names and link targets, uid/gid above 2097151, size of 8 GiB or more)
 * or when there are xattrs. The output is the same for the same input (PAX keys are sorted). Throws
 * `LAYER_INVALID_ENTRY` when a value cannot be encoded at all (e.g. a device major above 2097151).
 */
export function encodeTarHeader(header: TarEntryHeader): Buffer {
  const records = new Map<string, Buffer>();
  const name = header.type === 'directory' ? `${header.path}/` : header.path;
  let ustarName = name;
  let prefix = '';
  const split = isAscii(name) ? splitUstarName(name) : undefined;
  if (split === undefined) {
    records.set('path', Buffer.from(name));
    ustarName = asciiFallback(name, 100);
  } else {
    [prefix, ustarName] = split;
  }
  let linkname = header.linkname ?? '';
  if (linkname.length > 0 && (!isAscii(linkname) || linkname.length > 100)) {
    records.set('linkpath', Buffer.from(linkname));
    linkname = asciiFallback(linkname, 100);
  }
  let { uid, gid, size } = header;
  if (uid > MAX_OCTAL_7) {
    records.set('uid', Buffer.from(String(uid)));
    uid = 0;
  }
  if (gid > MAX_OCTAL_7) {
    records.set('gid', Buffer.from(String(gid)));
    gid = 0;
  }
  if (size > MAX_OCTAL_11) {
    records.set('size', Buffer.from(String(size)));
    size = 0;
  }
  if (header.xattrs !== undefined) {
    for (const [key, value] of header.xattrs) {
      if (key.includes('=') || key.includes('\n') || key.includes('\0')) {
        throw new OciImageError(
          'LAYER_INVALID_ENTRY',
          `write tar: xattr name ${JSON.stringify(key)} of "${header.path}" cannot be a PAX key`,
          { path: header.path },
        );
      }
      records.set(`SCHILY.xattr.${key}`, value);
    }
  }
  const main = encodeUstar(
    {
      name: ustarName,
      prefix,
      mode: header.mode & 0o7777,
      uid,
      gid,
      size,
      mtime: header.mtime,
      typeflag: typeflags[header.type],
      linkname,
      devmajor: header.devmajor ?? 0,
      devminor: header.devminor ?? 0,
    },
    header.path,
  );
  if (records.size === 0) return main;

  const keys = [...records.keys()].sort();
  const body = Buffer.concat(keys.map((key) => paxRecord(key, records.get(key)!)));
  // PAX header name as Go's archive/tar spells it: <dir>/PaxHeaders.0/<base>
  const slash = header.path.lastIndexOf('/');
  const paxName = asciiFallback(
    slash < 0
      ? `PaxHeaders.0/${header.path}`
      : `${header.path.slice(0, slash)}/PaxHeaders.0/${header.path.slice(slash + 1)}`,
    100,
  );
  const pax = encodeUstar(
    {
      name: paxName,
      prefix: '',
      mode: 0,
      uid: 0,
      gid: 0,
      size: body.length,
      mtime: 0,
      typeflag: PAX_TYPEFLAG,
      linkname: '',
      devmajor: 0,
      devminor: 0,
    },
    header.path,
  );
  return Buffer.concat([pax, body, tarPadding(body.length), main]);
}

/** An ASCII stand-in of at most `width` bytes for a field whose real value lives in a PAX record. */
function asciiFallback(value: string, width: number): string {
  return value.replace(/[^\u0020-\u007e]/g, '_').slice(0, width);
}
