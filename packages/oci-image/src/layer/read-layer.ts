import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { type Digest, Digester, digestAlgorithm } from '../digest.js';
import { isOciImageError, OciImageError } from '../errors.js';
import type { Compression } from '../media-types.js';
import { decompress } from './compression.js';

/** The kind of a tar entry, as tar-stream names them. */
export type LayerEntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'contiguous-file';

/** A decoded tar header of one layer entry (PAX and GNU long names already applied). */
export interface LayerEntryHeader {
  /** The name exactly as stored (not cleaned: it may be absolute or contain `..`). */
  name: string;
  /** The entry type, or undefined for a typeflag this reader does not know. */
  type: LayerEntryType | undefined;
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Content length from the header (PAX `size` wins). */
  size: number;
  /** Modification time in seconds since the epoch, with the PAX fraction when present. */
  mtime: number;
  /** Access time in seconds (PAX `atime`), or undefined. */
  atime: number | undefined;
  /** Hardlink or symlink target as stored. */
  linkname: string | undefined;
  devmajor: number;
  devminor: number;
  uname: string | undefined;
  gname: string | undefined;
  /** PAX records of this entry, decoded as UTF-8 text. */
  pax: Readonly<Record<string, string>>;
  /** Extended attributes from PAX `SCHILY.xattr.<name>` records, with their raw bytes. */
  xattrs: ReadonlyMap<string, Buffer>;
}

/**
 * One entry of a layer. `body` yields the content of a regular file in chunks; read it to its end, stop
 * early or leave it alone (the reader discards what is left when the next entry is requested). It can
 * be read once; `Readable.from(body)` makes a stream of it. A failing read throws the layer's error
 * (`LAYER_TRUNCATED`, ...), the same one the iteration throws.
 */
export interface LayerEntry {
  header: LayerEntryHeader;
  body: AsyncIterable<Buffer>;
}

/** Digests and sizes of a layer that was read to its end and verified. */
export interface LayerDigests {
  /** Digest of the blob bytes as read (compressed), in the expected digest's algorithm (else sha256). */
  digest: Digest;
  /** sha256 of the uncompressed tar stream: the layer's diff ID. */
  diffId: Digest;
  /** Number of blob bytes read. */
  size: number;
  /** Number of uncompressed tar bytes. */
  uncompressedSize: number;
}

/** Options for {@link readLayer}. */
export interface ReadLayerOptions {
  /** The blob's compression; 'auto' (default) sniffs the magic bytes. */
  compression?: Compression | 'auto' | undefined;
  /** When given, the blob must have this digest (and size): checked before the iteration ends. */
  expected?: { digest: Digest; size?: number | undefined } | undefined;
  signal?: AbortSignal | undefined;
}

/** Counts and digests bytes flowing through; optionally checks them against an expectation. */
class DigestingStream extends Transform {
  readonly digester: Digester;
  readonly #expected: ReadLayerOptions['expected'];
  #result: Digest | undefined;

  constructor(algorithm: Digester['algorithm'], expected?: ReadLayerOptions['expected']) {
    super({ highWaterMark: 1024 * 1024 });
    this.digester = new Digester(algorithm);
    this.#expected = expected;
  }

  get result(): Digest | undefined {
    return this.#result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.digester.update(chunk);
    const size = this.#expected?.size;
    if (size !== undefined && this.digester.size > size) {
      callback(
        new OciImageError(
          'SIZE_EXCEEDED',
          `read layer ${this.#expected?.digest}: more than the ${size} bytes expected`,
          { path: this.#expected?.digest },
        ),
      );
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const expected = this.#expected;
    if (expected?.size !== undefined && this.digester.size !== expected.size) {
      callback(
        new OciImageError(
          'SIZE_MISMATCH',
          `read layer ${expected.digest}: got ${this.digester.size} bytes, expected ${expected.size}`,
          { path: expected.digest },
        ),
      );
      return;
    }
    this.#result = this.digester.digest();
    if (expected !== undefined && this.#result !== expected.digest) {
      callback(
        new OciImageError(
          'DIGEST_MISMATCH',
          `read layer ${expected.digest}: content has digest ${this.#result}`,
          {
            path: expected.digest,
          },
        ),
      );
      return;
    }
    callback();
  }
}

/** One entry stream of tar-stream's extractor. */
type TarSource = tar.Extract extends AsyncIterable<infer Source> ? Source : never;

const rawXattrs = Symbol('rawXattrs');
const XATTR_PREFIX = 'SCHILY.xattr.';

/**
 * The `SCHILY.xattr.<name>` records of a PAX header (`<length> <key>=<value>\n` each), by attribute name
 * with the value's raw bytes; stops at the first malformed record. Shared with the tar parser.
 */
export function parsePaxXattrs(buffer: Buffer): Map<string, Buffer> {
  const result = new Map<string, Buffer>();
  let offset = 0;
  while (offset < buffer.length) {
    const space = buffer.indexOf(0x20, offset);
    if (space === -1) {
      break;
    }
    const length = Number.parseInt(buffer.toString('latin1', offset, space), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || offset + length > buffer.length) {
      break;
    }
    const record = buffer.subarray(space + 1, offset + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals !== -1) {
      const key = record.toString('utf8', 0, equals);
      if (key.startsWith(XATTR_PREFIX)) {
        result.set(key.slice(XATTR_PREFIX.length), Buffer.from(record.subarray(equals + 1)));
      }
    }
    offset += length;
  }
  return result;
}

interface ExtractInternals {
  _header: { type: string | null } | null;
  _pax: Record<string | symbol, unknown> | null;
  _decodeLongHeader?: (buffer: Buffer) => void;
}

/**
 * tar-stream decodes PAX values as UTF-8 text, which mangles binary xattr values such as
 * `security.capability`. Where tar-stream 3's internal PAX hook exists, keep the raw bytes next to the
 * decoded records; otherwise the UTF-8 text is used (see {@link entryXattrs}).
 */
function createExtract(): tar.Extract {
  // Old v7 archives have no ustar magic; the header checksum still rejects garbage.
  const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  const internals = extract as unknown as ExtractInternals;
  const decodeLongHeader = internals._decodeLongHeader;
  if (typeof decodeLongHeader === 'function') {
    internals._decodeLongHeader = function keepRawXattrs(this: ExtractInternals, buffer: Buffer): void {
      decodeLongHeader.call(this, buffer);
      if (this._header?.type === 'pax-header' && this._pax !== null) {
        this._pax[rawXattrs] = parsePaxXattrs(buffer);
      }
    };
  }
  return extract;
}

/**
 * The extended attributes of an entry's PAX records: the raw bytes kept by {@link createExtract} when
 * present, else the decoded UTF-8 text of the `SCHILY.xattr.` records. Shared with the tar parser.
 */
export function entryXattrs(pax: Record<string | symbol, unknown> | null | undefined): Map<string, Buffer> {
  if (pax === null || pax === undefined) {
    return new Map();
  }
  const raw = pax[rawXattrs];
  if (raw instanceof Map) {
    return raw as Map<string, Buffer>;
  }
  const result = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_PREFIX) && typeof value === 'string') {
      result.set(key.slice(XATTR_PREFIX.length), Buffer.from(value, 'utf8'));
    }
  }
  return result;
}

/** A PAX time record (`mtime`, `atime`) as seconds, or undefined when absent or not a decimal number. */
export function paxSeconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d+(\.\d+)?$/.test(value)) {
    return undefined;
  }
  return Number(value);
}

/** The entry types both readers know, indexed by ustar type flag '0'..'7' (named as tar-stream does). */
export const entryTypes: readonly LayerEntryType[] = [
  'file',
  'link',
  'symlink',
  'character-device',
  'block-device',
  'directory',
  'fifo',
  'contiguous-file',
];
const knownTypes = new Set<string>(entryTypes);

/** The shared, frozen PAX record set of an entry without PAX records. */
export const noPax: Readonly<Record<string, string>> = Object.freeze({});
/** The shared, empty xattr map of an entry without PAX records. */
export const noXattrs: ReadonlyMap<string, Buffer> = new Map();

function toHeader(raw: tar.Header): LayerEntryHeader {
  const pax = (raw.pax ?? noPax) as Record<string, string>;
  const type = raw.type ?? undefined;
  return {
    name: raw.name,
    type: type !== undefined && knownTypes.has(type) ? (type as LayerEntryType) : undefined,
    mode: raw.mode ?? 0,
    uid: raw.uid ?? 0,
    gid: raw.gid ?? 0,
    size: raw.size ?? 0,
    mtime: paxSeconds(pax.mtime) ?? (raw.mtime === undefined ? 0 : raw.mtime.getTime() / 1000),
    atime: paxSeconds(pax.atime),
    linkname: raw.linkname ?? undefined,
    devmajor: raw.devmajor ?? 0,
    devminor: raw.devminor ?? 0,
    uname: raw.uname || undefined,
    gname: raw.gname || undefined,
    pax,
    xattrs:
      raw.pax === null || raw.pax === undefined
        ? noXattrs
        : entryXattrs(raw.pax as Record<string | symbol, unknown>),
  };
}

/**
 * Maps what can go wrong while reading a layer to this package's errors: tar-stream's "Unexpected end
 * of data" becomes `LAYER_TRUNCATED`, a malformed header `LAYER_INVALID_ENTRY`, an abort `ABORTED`.
 * Package errors and unrelated errors (for example the source's own) pass through.
 */
export function toLayerError(error: unknown, signal?: AbortSignal): unknown {
  if (isOciImageError(error)) {
    return error;
  }
  if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) {
    return new OciImageError('ABORTED', 'read layer: aborted', { cause: signal?.reason ?? error });
  }
  const message = error instanceof Error ? error.message : '';
  if (message === 'Unexpected end of data') {
    return new OciImageError('LAYER_TRUNCATED', 'read layer: the tar stream ends inside an entry', {
      cause: error,
    });
  }
  if (/^(Invalid tar header|Invalid header|Header exceeds max size)/.test(message)) {
    return new OciImageError('LAYER_INVALID_ENTRY', `read layer: ${message.toLowerCase()}`, { cause: error });
  }
  return error;
}

/**
 * Reads a layer blob as tar entries while digesting both the blob (`digest`) and the uncompressed tar
 * (`diffId`). Lazy: nothing is read until iteration starts; iterate once. When the iteration ends
 * normally every byte was read and `expected` was verified (`DIGEST_MISMATCH`, `SIZE_MISMATCH`,
 * `SIZE_EXCEEDED` are thrown from the iteration otherwise), and {@link result} holds the digests.
 * Breaking out of the loop destroys the source.
 */
export class LayerReader implements AsyncIterable<LayerEntry> {
  readonly #source: Readable | AsyncIterable<Uint8Array>;
  readonly #options: ReadLayerOptions;
  #started = false;
  #result: LayerDigests | undefined;
  #input: Readable | undefined;
  #settled: Promise<unknown> | undefined;

  constructor(source: Readable | AsyncIterable<Uint8Array>, options: ReadLayerOptions = {}) {
    this.#source = source;
    this.#options = options;
  }

  /** The digests and sizes; throws when the layer has not been read to its end successfully. */
  get result(): LayerDigests {
    if (this.#result === undefined) {
      throw new Error('read layer: result is available only after a complete, verified read');
    }
    return this.#result;
  }

  /**
   * The error that best explains a failure seen while consuming an entry body: the stream's own error
   * when the read failed (mapped like {@link toLayerError}), otherwise `error`. Stops the read.
   */
  async failure(error: unknown): Promise<unknown> {
    const signal = this.#options.signal;
    if (this.#settled === undefined) {
      return toLayerError(error, signal);
    }
    this.#input?.destroy();
    const streamError = await this.#settled;
    // A premature close is only the echo of stopping the read here; the caller's error explains more.
    const echo = (streamError as { code?: unknown } | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
    return toLayerError(streamError === undefined || echo ? error : streamError, signal);
  }

  /**
   * The body of one entry. Stopping early must not destroy the tar-stream entry (that would destroy the
   * whole extraction), so `return` only detaches; the rest is discarded before the next entry.
   */
  #body(raw: TarSource): AsyncIterable<Buffer> {
    return {
      [Symbol.asyncIterator]: () => {
        const chunks = raw[Symbol.asyncIterator]();
        return {
          next: async (): Promise<IteratorResult<Buffer>> => {
            try {
              return (await chunks.next()) as IteratorResult<Buffer>;
            } catch (error) {
              throw await this.failure(error);
            }
          },
          return: async (): Promise<IteratorResult<Buffer>> => ({ done: true, value: undefined }),
        };
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<LayerEntry> {
    if (this.#started) {
      throw new Error('read layer: a layer reader can be iterated once');
    }
    this.#started = true;
    return this.#iterate();
  }

  async *#iterate(): AsyncGenerator<LayerEntry> {
    const { signal } = this.#options;
    if (signal?.aborted) {
      throw toLayerError(signal.reason instanceof Error ? signal.reason : new Error('aborted'), signal);
    }
    const extract = createExtract();
    const flow = startLayerFlow(this.#source, this.#options, extract);
    const { input } = flow;
    this.#input = input;
    this.#settled = flow.settled;
    const entries = extract[Symbol.asyncIterator]();
    let previous: TarSource | undefined;
    let finished = false;
    try {
      for (;;) {
        // Discard whatever the consumer left of the previous body so the parser can move on.
        previous?.resume();
        let step: IteratorResult<TarSource>;
        try {
          step = await entries.next();
        } catch (error) {
          throw await this.failure(error);
        }
        if (step.done) {
          break;
        }
        previous = step.value;
        yield { header: toHeader(step.value.header), body: this.#body(step.value) };
      }
      const streamError = await flow.settled;
      if (streamError !== undefined) {
        throw toLayerError(streamError, signal);
      }
      this.#result = flow.digests();
      finished = true;
    } finally {
      if (!finished) {
        input.destroy();
        extract.destroy();
      }
    }
  }
}

/** The streams of one layer read: source -> digest -> decompress -> diff ID digest -> tar parser. */
export interface LayerFlow {
  input: Readable;
  /** Settles when the pipeline does: undefined on success, else its first error (never rejects). */
  settled: Promise<unknown>;
  /** The digests, once `settled` gave undefined; throws `LAYER_TRUNCATED` otherwise. */
  digests(): LayerDigests;
}

/**
 * Pipes a layer blob through digesting, decompression and diff ID digesting into `parser` (tar-stream's
 * extractor for {@link readLayer}, the callback parser for `consumeLayer`), honouring `options`.
 */
export function startLayerFlow(
  source: Readable | AsyncIterable<Uint8Array>,
  options: ReadLayerOptions,
  parser: Writable | tar.Extract,
): LayerFlow {
  const { signal, expected } = options;
  const input =
    source instanceof Readable
      ? source
      : Readable.from(source, { objectMode: false, highWaterMark: 1 << 20 });
  const compressed = new DigestingStream(
    expected === undefined ? 'sha256' : digestAlgorithm(expected.digest),
    expected,
  );
  const uncompressed = new DigestingStream('sha256');
  const settled = pipeline(
    input,
    compressed,
    decompress(options.compression ?? 'auto'),
    uncompressed,
    parser,
    {
      signal,
    },
  ).then(
    () => undefined,
    (error: unknown) => error ?? new Error('read layer: stream failed'),
  );
  return {
    input,
    settled,
    digests(): LayerDigests {
      const digest = compressed.result;
      const diffId = uncompressed.result;
      if (digest === undefined || diffId === undefined) {
        throw new OciImageError('LAYER_TRUNCATED', 'read layer: the stream ended before it was fully read');
      }
      return {
        digest,
        diffId,
        size: compressed.digester.size,
        uncompressedSize: uncompressed.digester.size,
      };
    },
  };
}

/**
 * Starts reading a layer blob (see {@link LayerReader}): `for await (const entry of reader)` yields the
 * tar entries; afterwards `reader.result` has `digest`, `diffId` and sizes. Lazy and single use.
 */
export function readLayer(
  source: Readable | AsyncIterable<Uint8Array>,
  options: ReadLayerOptions = {},
): LayerReader {
  return new LayerReader(source, options);
}
