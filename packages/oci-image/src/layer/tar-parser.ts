/**
 * The callback engine behind `applyLayer`: a synchronous tar parser fed by the same digest and
 * decompression flow as `readLayer` (read-layer.ts) that hands each entry to a handler instead of
 * yielding it. Internal to the package: not exported from the index.
 */
import { Readable, Writable } from 'node:stream';
import { isOciImageError, OciImageError } from '../errors.js';
import {
  entryTypes,
  entryXattrs,
  type LayerDigests,
  type LayerEntryHeader,
  noPax,
  noXattrs,
  parsePaxXattrs,
  paxSeconds,
  type ReadLayerOptions,
  startLayerFlow,
  toLayerError,
} from './read-layer.js';

/**
 * Receives the content of one regular-file entry from {@link consumeLayer}, synchronously. `write` gets
 * the chunks in order and `end` follows the last one; either may throw to fail the read. When the read
 * fails before `end`, `abandon` is called instead (release what the sink holds; it must not throw).
 */
export interface LayerBodySink {
  write(chunk: Buffer): void;
  end(): void;
  abandon(): void;
}

/**
 * What a {@link LayerEntryHandler} returns for one entry: a sink for the content, a promise that the
 * next entry waits for (its rejection fails the read), or nothing when the entry was handled at once
 * (its content, if any, is discarded).
 */
export type LayerEntryAction = LayerBodySink | Promise<void> | undefined;

/** Handles one entry of {@link consumeLayer}; throwing fails the read with that error. */
export type LayerEntryHandler = (header: LayerEntryHeader) => LayerEntryAction;

function isSink(action: LayerBodySink | Promise<void>): action is LayerBodySink {
  return typeof (action as Partial<LayerBodySink>).write === 'function';
}

const ignoreError = (): void => undefined;

// ustar layout (POSIX.1-1988 "ustar Interchange Format", extended by pax and GNU tar).
const BLOCK = 512;
const CHECKSUM_OFFSET = 148;
const CHECKSUM_LENGTH = 8;
const TYPEFLAG_OFFSET = 156;
const MAGIC_OFFSET = 257;
const PREFIX_OFFSET = 345;
/** The checksum of a block whose bytes are all zero (the checksum field counts as eight spaces). */
const EMPTY_BLOCK_CHECKSUM = 8 * 0x20;
/** The most a pax or GNU long-name header may hold; the same bound tar-stream sets. */
const MAX_LONG_HEADER = 4 * 1024 * 1024;

// Type flags as numbers: the flag character minus '0' ('\0' counts as 0, a regular file).
const TYPE_DIRECTORY = 5;
const TYPE_GNU_LONG_LINK = 'K'.charCodeAt(0) - 0x30;
const TYPE_GNU_LONG_NAME = 'L'.charCodeAt(0) - 0x30;
const TYPE_GNU_LONG_NAME_OLD = 'N'.charCodeAt(0) - 0x30;
const TYPE_PAX_GLOBAL = 'g'.charCodeAt(0) - 0x30;
const TYPE_PAX = 'x'.charCodeAt(0) - 0x30;

function paddingOf(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end of a NUL-terminated field: its first NUL, else its last byte + 1. */
function fieldEnd(block: Buffer, start: number, length: number): number {
  const nul = block.indexOf(0, start);
  return nul === -1 || nul > start + length ? start + length : nul;
}

function readText(block: Buffer, start: number, length: number): string {
  return block.toString('utf8', start, fieldEnd(block, start, length));
}

/**
 * A numeric header field as tar-stream reads it: GNU base-256 when the first byte has its high bit set
 * (undefined for a lead byte other than 0x80 or 0xff), else octal text after leading spaces and NULs,
 * up to the first space, read like `parseInt(text, 8)` (NaN when there is no number; 0 when empty).
 */
function readNumber(block: Buffer, start: number, length: number): number | undefined {
  const end = start + length;
  const lead = block[start] as number;
  if ((lead & 0x80) !== 0) {
    if (lead !== 0x80 && lead !== 0xff) {
      return undefined;
    }
    const negative = lead === 0xff;
    let value = 0;
    for (let index = start + 1; index < end; index += 1) {
      const byte = block[index] as number;
      value = value * 256 + (negative ? 0xff - byte : byte);
    }
    return negative ? -value : value;
  }
  let index = start;
  while (index < end && block[index] === 0x20) {
    index += 1;
  }
  let stop = index;
  while (stop < end && block[stop] !== 0x20) {
    stop += 1;
  }
  while (index < stop && block[index] === 0) {
    index += 1;
  }
  if (index === stop) {
    return 0;
  }
  const first = (block[index] as number) - 0x30;
  if (first < 0 || first > 7) {
    // Signs, other white space, garbage: leave them to parseInt's rules.
    return Number.parseInt(block.toString('utf8', index, stop), 8);
  }
  let value = 0;
  for (; index < stop; index += 1) {
    const digit = (block[index] as number) - 0x30;
    if (digit < 0 || digit > 7) {
      break;
    }
    value = value * 8 + digit;
  }
  return value;
}

/** Header seconds as tar-stream reports them (through a Date: NaN beyond its range, 0 when unset). */
function headerSeconds(seconds: number | undefined): number {
  return new Date(1000 * (seconds ?? 0)).getTime() / 1000;
}

function checksumOf(block: Buffer): number {
  let sum = EMPTY_BLOCK_CHECKSUM;
  for (let index = 0; index < CHECKSUM_OFFSET; index += 1) {
    sum += block[index] as number;
  }
  for (let index = CHECKSUM_OFFSET + CHECKSUM_LENGTH; index < BLOCK; index += 1) {
    sum += block[index] as number;
  }
  return sum;
}

/** True for the POSIX ustar magic `ustar\0` (not GNU's `ustar `), whose headers may carry a prefix. */
function isPosixUstar(block: Buffer): boolean {
  return (
    block[MAGIC_OFFSET] === 0x75 &&
    block[MAGIC_OFFSET + 1] === 0x73 &&
    block[MAGIC_OFFSET + 2] === 0x74 &&
    block[MAGIC_OFFSET + 3] === 0x61 &&
    block[MAGIC_OFFSET + 4] === 0x72 &&
    block[MAGIC_OFFSET + 5] === 0
  );
}

/** PAX records (`<length> <key>=<value>\n`) as UTF-8 text; stops at the first malformed record. */
function parsePaxRecords(buffer: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let offset = 0;
  while (offset < buffer.length) {
    const space = buffer.indexOf(0x20, offset);
    const length = Number.parseInt(buffer.toString('utf8', offset, space === -1 ? buffer.length : space), 10);
    if (!length || space === -1) {
      break;
    }
    const record = buffer.toString('utf8', space + 1, Math.min(offset + length - 1, buffer.length));
    const equals = record.indexOf('=');
    if (equals === -1) {
      break;
    }
    result[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return result;
}

function invalidTar(reason: string): OciImageError {
  return new OciImageError('LAYER_INVALID_ENTRY', `read layer: invalid tar header: ${reason}`);
}

type ParserState = 'header' | 'long' | 'body' | 'skip';

/**
 * A tar parser that hands each entry to a handler as soon as its header is complete and a regular
 * file's content to the handler's sink chunk by chunk, synchronously: no stream or promise per entry.
 * It reads what tar-stream reads the same way (ustar, GNU and v7 headers, pax and GNU long names, pax
 * global headers merged into the next pax header, binary xattr values), so `readLayer` and
 * `consumeLayer` see the same entries. Only an entry whose handler returns a promise holds the stream.
 */
class TarEntryWriter extends Writable {
  readonly #handler: LayerEntryHandler;
  #state: ParserState = 'header';
  /** Bytes left of the body, the long header or the bytes being skipped. */
  #remaining = 0;
  /** Padding that follows the body or long header being read. */
  #padding = 0;
  readonly #block = Buffer.alloc(BLOCK);
  #blockFill = 0;
  #long: Buffer = Buffer.alloc(0);
  #longFill = 0;
  #longType = 0;
  #longName: string | undefined;
  #longLinkname: string | undefined;
  #pax: Record<string, string> | null = null;
  #paxXattrs: Map<string, Buffer> | undefined;
  #globalPax: Record<string, string> | null = null;
  #sink: LayerBodySink | undefined;
  #pending: Promise<void> | undefined;
  #failed = false;
  #failure: unknown;

  constructor(handler: LayerEntryHandler) {
    super({ highWaterMark: 1 << 20 });
    this.#handler = handler;
  }

  /** The first error the handler or the parser raised, once {@link failed}. */
  get failure(): unknown {
    return this.#failure;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Settles when no asynchronous entry is in progress. */
  async idle(): Promise<void> {
    while (this.#pending !== undefined) {
      await this.#pending.catch(ignoreError);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#run(chunk, 0, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#state !== 'header' || this.#blockFill !== 0) {
      callback(
        this.#fail(new OciImageError('LAYER_TRUNCATED', 'read layer: the tar stream ends inside an entry')),
      );
      return;
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#abandon();
    callback(error);
  }

  #fail(error: unknown): Error {
    if (!this.#failed) {
      this.#failed = true;
      this.#failure = error;
    }
    this.#abandon();
    return error instanceof Error ? error : new Error('read layer: entry handler failed');
  }

  #abandon(): void {
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.abandon();
  }

  #run(chunk: Buffer, start: number, callback: (error?: Error | null) => void): void {
    let offset = start;
    try {
      while (offset < chunk.length) {
        if (this.#state === 'header') {
          let block: Buffer;
          if (this.#blockFill === 0 && chunk.length - offset >= BLOCK) {
            block = chunk.subarray(offset, offset + BLOCK);
            offset += BLOCK;
          } else {
            const take = Math.min(BLOCK - this.#blockFill, chunk.length - offset);
            chunk.copy(this.#block, this.#blockFill, offset, offset + take);
            this.#blockFill += take;
            offset += take;
            if (this.#blockFill < BLOCK) {
              break;
            }
            this.#blockFill = 0;
            block = this.#block;
          }
          const pending = this.#header(block);
          if (pending !== undefined) {
            this.#wait(pending, chunk, offset, callback);
            return;
          }
          continue;
        }
        const take = Math.min(this.#remaining, chunk.length - offset);
        const part = chunk.subarray(offset, offset + take);
        offset += take;
        this.#remaining -= take;
        if (this.#state === 'body') {
          this.#sink?.write(part);
          if (this.#remaining === 0) {
            const sink = this.#sink;
            this.#sink = undefined;
            sink?.end();
            this.#skip(this.#padding);
          }
        } else if (this.#state === 'long') {
          part.copy(this.#long, this.#longFill);
          this.#longFill += take;
          if (this.#remaining === 0) {
            this.#longHeader();
          }
        } else if (this.#remaining === 0) {
          this.#state = 'header';
        }
      }
    } catch (error) {
      callback(this.#fail(error));
      return;
    }
    callback();
  }

  /** Holds the stream until an asynchronous entry settles, then goes on with the rest of `chunk`. */
  #wait(
    pending: Promise<void>,
    chunk: Buffer,
    offset: number,
    callback: (error?: Error | null) => void,
  ): void {
    const current = pending.then(
      () => {
        this.#pending = undefined;
        if (!this.destroyed && !this.#failed) {
          this.#run(chunk, offset, callback);
        }
      },
      (error: unknown) => {
        this.#pending = undefined;
        callback(this.#fail(error));
      },
    );
    this.#pending = current;
  }

  #skip(bytes: number): void {
    this.#remaining = bytes;
    this.#state = bytes === 0 ? 'header' : 'skip';
  }

  #longHeader(): void {
    const buffer = this.#long;
    switch (this.#longType) {
      case TYPE_GNU_LONG_LINK:
        this.#longLinkname = readText(buffer, 0, buffer.length);
        break;
      case TYPE_PAX_GLOBAL:
        this.#globalPax = parsePaxRecords(buffer);
        break;
      case TYPE_PAX:
        this.#pax = { ...this.#globalPax, ...parsePaxRecords(buffer) };
        this.#paxXattrs = parsePaxXattrs(buffer);
        break;
      default:
        this.#longName = readText(buffer, 0, buffer.length);
    }
    this.#long = Buffer.alloc(0);
    this.#skip(this.#padding);
  }

  /** Decodes one header block; returns the promise of an asynchronous entry to wait for. */
  #header(block: Buffer): Promise<void> | undefined {
    const checksum = checksumOf(block);
    if (checksum === EMPTY_BLOCK_CHECKSUM) {
      // A zero block (end-of-archive marker or padding): skipped, as tar-stream does.
      return undefined;
    }
    if (checksum !== readNumber(block, CHECKSUM_OFFSET, CHECKSUM_LENGTH)) {
      throw invalidTar('bad checksum (a corrupt tar, or compressed data read as tar)');
    }
    const typeflag = block[TYPEFLAG_OFFSET] === 0 ? 0 : (block[TYPEFLAG_OFFSET] as number) - 0x30;
    let size = readNumber(block, 124, 12) ?? Number.NaN;
    if (
      typeflag === TYPE_PAX ||
      typeflag === TYPE_PAX_GLOBAL ||
      typeflag === TYPE_GNU_LONG_NAME ||
      typeflag === TYPE_GNU_LONG_NAME_OLD ||
      typeflag === TYPE_GNU_LONG_LINK
    ) {
      if (!(size >= 0)) {
        throw invalidTar('a long header without a valid size');
      }
      if (size > MAX_LONG_HEADER) {
        throw invalidTar(`a long header of ${size} bytes exceeds ${MAX_LONG_HEADER}`);
      }
      this.#longType = typeflag;
      this.#long = Buffer.allocUnsafe(size);
      this.#longFill = 0;
      this.#padding = paddingOf(size);
      this.#remaining = size;
      this.#state = 'long';
      if (size === 0) {
        this.#longHeader();
      }
      return undefined;
    }
    let name = readText(block, 0, 100);
    if (isPosixUstar(block) && block[PREFIX_OFFSET] !== 0) {
      name = `${readText(block, PREFIX_OFFSET, 155)}/${name}`;
    }
    // A trailing slash does not turn a regular-file entry into a directory (tar-stream keeps the type
    // too): applying it over the root fails instead of silently making a directory.
    let linkname = block[157] === 0 ? undefined : readText(block, 157, 100);
    if (this.#longName !== undefined) {
      name = this.#longName;
      this.#longName = undefined;
    }
    if (this.#longLinkname !== undefined) {
      linkname = this.#longLinkname;
      this.#longLinkname = undefined;
    }
    const pax = this.#pax;
    const paxXattrs = this.#paxXattrs;
    this.#pax = null;
    this.#paxXattrs = undefined;
    if (pax !== null) {
      if (pax.path) {
        name = pax.path;
      }
      if (pax.linkpath) {
        linkname = pax.linkpath;
      }
      if (pax.size) {
        size = Number.parseInt(pax.size, 10);
      }
    }
    if (!(size >= 0)) {
      throw invalidTar(`${JSON.stringify(name)} has no valid size`);
    }
    const type = entryTypes[typeflag];
    const uname = readText(block, 265, 32);
    const gname = readText(block, 297, 32);
    const header: LayerEntryHeader = {
      name,
      type,
      mode: readNumber(block, 100, 8) ?? 0,
      uid: readNumber(block, 108, 8) ?? 0,
      gid: readNumber(block, 116, 8) ?? 0,
      size,
      mtime: paxSeconds(pax?.mtime) ?? headerSeconds(readNumber(block, 136, 12)),
      atime: paxSeconds(pax?.atime),
      linkname,
      devmajor: readNumber(block, 329, 8) ?? 0,
      devminor: readNumber(block, 337, 8) ?? 0,
      uname: uname || undefined,
      gname: gname || undefined,
      pax: pax ?? noPax,
      xattrs: pax === null ? noXattrs : (paxXattrs ?? entryXattrs(pax)),
    };
    // A directory's size is never followed by content (tar-stream reads the next header at once).
    const body = typeflag === TYPE_DIRECTORY ? 0 : size;
    const action = this.#handler(header);
    if (action === undefined) {
      this.#skip(body === 0 ? 0 : body + paddingOf(body));
      return undefined;
    }
    if (!isSink(action)) {
      this.#skip(body === 0 ? 0 : body + paddingOf(body));
      return action;
    }
    if (body === 0) {
      action.end();
      return undefined;
    }
    this.#sink = action;
    this.#remaining = body;
    this.#padding = paddingOf(body);
    this.#state = 'body';
    return undefined;
  }
}

/**
 * Reads a layer blob as `readLayer` does, but pushes each entry to `handler` the moment the parser
 * meets it instead of yielding it: no async iteration, stream or promise per entry or per chunk, which
 * is what unpacking many small files spends most of its time on. Entries are handled one at a time, in order;
 * a regular file's content goes to the sink the handler returns. Resolves with the digests once every
 * entry was handled, every byte read and `expected` verified; rejects with the handler's first error
 * (as thrown), `ABORTED` when the signal fired, or the read's error (`LAYER_TRUNCATED`,
 * `LAYER_INVALID_ENTRY`, `LAYER_CORRUPT`, `DIGEST_MISMATCH`, ...; a source's own error passes through).
 * An asynchronous entry still running is awaited before the promise settles. Single use of `source`,
 * which is destroyed on failure.
 */
export async function consumeLayer(
  source: Readable | AsyncIterable<Uint8Array>,
  options: ReadLayerOptions,
  handler: LayerEntryHandler,
): Promise<LayerDigests> {
  const { signal } = options;
  if (signal?.aborted) {
    if (source instanceof Readable) {
      source.destroy();
    }
    throw toLayerError(signal.reason instanceof Error ? signal.reason : new Error('aborted'), signal);
  }
  const parser = new TarEntryWriter(handler);
  const flow = startLayerFlow(source, options, parser);
  const streamError = await flow.settled;
  // Let an entry that is still running (a mknod, say) finish before the caller sees the outcome.
  await parser.idle();
  if (parser.failed) {
    const failure = parser.failure;
    if (signal?.aborted && !isOciImageError(failure, 'ABORTED')) {
      throw new OciImageError('ABORTED', 'read layer: aborted', { cause: signal.reason ?? failure });
    }
    throw failure;
  }
  if (streamError !== undefined) {
    throw toLayerError(streamError, signal);
  }
  return flow.digests();
}
