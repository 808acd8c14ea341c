import { Readable } from 'node:stream';
import { OciImageError } from '../errors.js';
import { baseOf, joinRelative, parentOf } from '../internal/safe-path.js';
import { type ApplyLayerOptions, applyLayer } from '../layer/apply-layer.js';
import { type LayerDigests, type LayerReader, readLayer } from '../layer/read-layer.js';
import {
  encodeTarHeader,
  TAR_END,
  type TarEntryHeader,
  type TarEntryType,
  tarPadding,
} from '../layer/tar-writer.js';
import { classifyWhiteout } from '../layer/whiteout.js';

/** Options of {@link applyLayerAsOverlayLower}: those of `applyLayer` that concern reading the blob. */
export type OverlayLowerOptions = Pick<ApplyLayerOptions, 'compression' | 'expected' | 'signal'>;

// what overlayfs reads as "this directory hides the lower ones" (Documentation/filesystems/overlayfs.rst)
const OPAQUE_XATTR = 'trusted.overlay.opaque';

const typeOf: Record<string, TarEntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'hardlink',
  symlink: 'symlink',
  'character-device': 'character-device',
  'block-device': 'block-device',
  directory: 'directory',
  fifo: 'fifo',
};

function normalise(name: string): string {
  return name.replace(/^(?:\.?\/)+/, '').replace(/\/+$/, '');
}

/**
 * The entry's xattrs less any `trusted.overlay.*` / `user.overlay.*` the layer itself carries: in a lower
 * dir those would steer overlayfs (opaque, redirect, metacopy), and only this module's translation of OCI
 * whiteouts may set them.
 */
function withoutOverlayXattrs(xattrs: ReadonlyMap<string, Buffer>): Map<string, Buffer> | undefined {
  const kept = new Map<string, Buffer>();
  for (const [name, value] of xattrs) {
    if (!name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.')) kept.set(name, value);
  }
  return kept.size === 0 ? undefined : kept;
}

/**
 * Re-encodes a layer so that applying it to an empty directory yields an overlay lower dir: `.wh.<name>`
 * becomes a char device 0:0 named `<name>` (an overlay whiteout), `.wh..wh..opq` becomes the
 * `trusted.overlay.opaque=y` xattr on its directory (by repeating the directory's entry with the xattr
 * added), other `.wh..wh.*` entries are dropped. Everything else passes through unchanged.
 */
async function* overlayLowerTar(reader: LayerReader): AsyncGenerator<Buffer, void, undefined> {
  const directories = new Map<string, TarEntryHeader>();
  for await (const { header, body } of reader) {
    const path = normalise(header.name);
    const parent = parentOf(path);
    const base = baseOf(path);
    const mtime = Math.max(0, Math.floor(header.mtime));
    const whiteout = classifyWhiteout(base);
    if (whiteout.kind === 'meta') continue;
    if (whiteout.kind === 'whiteout') {
      yield encodeTarHeader({
        path: joinRelative(parent, whiteout.name),
        type: 'character-device',
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        mtime,
        devmajor: 0,
        devminor: 0,
      });
      continue;
    }
    if (whiteout.kind === 'opaque') {
      const directory = directories.get(parent) ?? {
        path: parent,
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime,
      };
      const xattrs = new Map(withoutOverlayXattrs(directory.xattrs ?? new Map()) ?? []);
      xattrs.set(OPAQUE_XATTR, Buffer.from('y'));
      if (parent !== '') yield encodeTarHeader({ ...directory, xattrs });
      continue;
    }
    const type = header.type === undefined ? undefined : typeOf[header.type];
    if (type === undefined) {
      throw new OciImageError(
        'LAYER_INVALID_ENTRY',
        `unpack layer: ${JSON.stringify(header.name)} has an unknown type`,
        {
          path: header.name,
        },
      );
    }
    const out: TarEntryHeader = {
      path,
      type,
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      size: type === 'file' ? header.size : 0,
      mtime,
      linkname: header.linkname,
      devmajor: header.devmajor,
      devminor: header.devminor,
      xattrs: withoutOverlayXattrs(header.xattrs),
    };
    if (type === 'directory') directories.set(path, out);
    yield encodeTarHeader(out);
    if (type === 'file' && out.size > 0) {
      for await (const chunk of body) yield chunk as Buffer;
      yield tarPadding(out.size);
    }
  }
  yield TAR_END;
}

/**
 * Unpacks a layer blob into `target` (an empty directory) as an overlayfs lower dir, for the overlay
 * snapshotter: like `applyLayer`, but whiteouts are kept as overlay whiteouts (char device 0:0) and opaque
 * markers as `trusted.overlay.opaque=y`, since the layers below are other directories. Needs root (mknod,
 * trusted.* xattrs). Resolves with the digests of the blob as read (the diff ID is of the original tar);
 * rejects like `applyLayer` (`DIGEST_MISMATCH`, `LAYER_TRUNCATED`, `LAYER_PATH_ESCAPE`, `ABORTED`, ...).
 */
export async function applyLayerAsOverlayLower(
  target: string,
  source: Readable | AsyncIterable<Uint8Array>,
  options: OverlayLowerOptions = {},
): Promise<LayerDigests> {
  const { signal } = options;
  const reader = readLayer(source, {
    compression: options.compression ?? 'auto',
    expected: options.expected,
    signal,
  });
  const rewritten = Readable.from(overlayLowerTar(reader), { objectMode: false });
  await applyLayer(target, rewritten, { compression: 'none', signal });
  return reader.result;
}
