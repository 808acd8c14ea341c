import { resolve } from 'node:path';
import { OciImageError } from '../errors.js';
import { type WalkNode, walkTree } from '../internal/walk.js';
import {
  type CreatedLayer,
  type CreateLayerOptions,
  createLayerFromNodes,
  filterXattrs,
  headerFromStats,
  type LayerNode,
  readXattrs,
  requireDirectory,
} from './create-layer.js';
import { WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './whiteout.js';

// overlayfs keeps its private xattrs under trusted.overlay.* (or user.overlay.* when mounted with userxattr)
const OVERLAY_XATTR = /^(?:trusted|user)\.overlay\./;

function overlayXattr(xattrs: Map<string, Buffer>, key: string): Buffer | undefined {
  return xattrs.get(`trusted.overlay.${key}`) ?? xattrs.get(`user.overlay.${key}`);
}

/**
 * Makes a layer from the upper directory of an overlay mount (after it is unmounted or quiescent), turning
 * overlayfs' own change markers into OCI ones:
 * - a whiteout (a char device 0:0, or a zero-size file with the `overlay.whiteout` xattr of kernel 6.7+
 *   "xwhiteouts") becomes an empty regular file `.wh.<name>` (mode 0, owner 0:0, the whiteout's mtime);
 * - a directory whose `overlay.opaque` xattr is `y` gets a `.wh..wh..opq` entry as its first child;
 * - `trusted.overlay.*` and `user.overlay.*` xattrs are never copied.
 * Everything else is written as {@link createLayerFromDirectory} does, with the same ordering and options.
 *
 * Not supported, rejected with `LAYER_UNSUPPORTED_OVERLAY`: an upper dir written with `redirect_dir=on`
 * (`overlay.redirect`: a renamed directory whose content lives in a lower layer) or `metacopy=on`
 * (`overlay.metacopy`: a file whose data still lives in a lower layer) — neither can be expressed without the
 * lower layers; mount with `redirect_dir=off,metacopy=off` (the defaults of most kernels).
 * Lazy; failures reject `done` and destroy `stream` (also `LAYER_SOURCE_CHANGED`, `ABORTED`).
 */
export function createLayerFromOverlayUpper(
  upperDir: string,
  options: CreateLayerOptions = {},
): CreatedLayer {
  const root = resolve(upperDir);
  return createLayerFromNodes(upperNodes(root, options), options);
}

function markerNode(path: string, name: string, mtime: number): WalkNode<LayerNode> {
  return {
    name,
    path,
    value: { header: { path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime } },
  };
}

async function* upperNodes(
  root: string,
  options: CreateLayerOptions,
): AsyncGenerator<WalkNode<LayerNode>, void, undefined> {
  await requireDirectory(root);
  yield* walkTree<LayerNode>(
    root,
    async (file) => {
      const { stats } = file;
      const all = await readXattrs(file.absolute);
      for (const key of ['redirect', 'metacopy']) {
        if (overlayXattr(all, key) !== undefined) {
          throw new OciImageError(
            'LAYER_UNSUPPORTED_OVERLAY',
            `create layer: "${file.path}" has overlay.${key} (overlay mounted with ${key === 'redirect' ? 'redirect_dir' : 'metacopy'}=on), which a layer cannot express`,
            { path: file.path },
          );
        }
      }
      const header = await headerFromStats(file.path, file.absolute, stats);
      if (header === undefined) return [];
      const slash = file.path.lastIndexOf('/');
      const parent = slash < 0 ? '' : file.path.slice(0, slash + 1);
      const isWhiteout =
        (stats.isCharacterDevice() && stats.rdev === 0n) ||
        (stats.isFile() && stats.size === 0n && overlayXattr(all, 'whiteout') !== undefined);
      if (isWhiteout) {
        const name = `${WHITEOUT_PREFIX}${file.name}`;
        return [markerNode(`${parent}${name}`, name, header.mtime)];
      }
      if (options.xattrs !== false) {
        header.xattrs = filterXattrs(all, file.path, options.xattrs, (name) => !OVERLAY_XATTR.test(name));
      }
      const node: WalkNode<LayerNode> = {
        name: file.name,
        path: file.path,
        value: { header, source: { absolute: file.absolute, stats } },
      };
      if (header.type === 'directory') {
        node.descend = file.absolute;
        // "y": opaque; "x" (kernel 6.7+) only says the directory holds xwhiteouts, it is not opaque
        if (overlayXattr(all, 'opaque')?.toString() === 'y') {
          node.extraChildren = [markerNode(`${file.path}/${WHITEOUT_OPAQUE}`, WHITEOUT_OPAQUE, header.mtime)];
        }
      }
      return [node];
    },
    options.signal,
  );
}
