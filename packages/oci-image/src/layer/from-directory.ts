import { resolve } from 'node:path';
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

/**
 * Makes a layer holding the whole tree under `directory` (the directory itself is not an entry). Entries
 * come depth-first, a directory before its children, siblings in byte order of their names; paths are
 * relative (`etc/passwd`, directories as `etc/`). Regular files, directories, symlinks (target kept as
 * is, never followed), char and block devices, fifos are written with mode (setuid/setgid/sticky included),
 * uid, gid and mtime in whole seconds; a second path to the same inode becomes a hardlink entry; xattrs go
 * into PAX `SCHILY.xattr.*` records; sockets are skipped. The same tree and options give the same bytes.
 *
 * Lazy: nothing is read until `stream` is read. Failures reject `done` and destroy `stream`:
 * `LAYER_INVALID_ENTRY` (the root is not a directory, a value tar cannot hold), `LAYER_SOURCE_CHANGED` (a
 * file changed while it was read), `ABORTED`.
 */
export function createLayerFromDirectory(directory: string, options: CreateLayerOptions = {}): CreatedLayer {
  const root = resolve(directory);
  return createLayerFromNodes(directoryNodes(root, options), options);
}

async function* directoryNodes(
  root: string,
  options: CreateLayerOptions,
): AsyncGenerator<WalkNode<LayerNode>, void, undefined> {
  await requireDirectory(root);
  yield* walkTree<LayerNode>(
    root,
    async (file) => {
      const header = await headerFromStats(file.path, file.absolute, file.stats);
      if (header === undefined) return [];
      if (options.xattrs !== false) {
        header.xattrs = filterXattrs(await readXattrs(file.absolute), file.path, options.xattrs);
      }
      const node: WalkNode<LayerNode> = {
        name: file.name,
        path: file.path,
        value: { header, source: { absolute: file.absolute, stats: file.stats } },
      };
      if (header.type === 'directory') node.descend = file.absolute;
      return [node];
    },
    options.signal,
  );
}
