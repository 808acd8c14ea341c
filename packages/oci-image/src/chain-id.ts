import { type Digest, digestOf, parseDigest } from './digest.js';
import { OciImageError } from './errors.js';

/**
 * One step of the chain: the chain ID of layer `diffId` on top of the stack whose chain ID is `parent`
 * (`diffId` itself for a base layer, else sha256 of `"<parent> <diffId>"`). Pure; no validation.
 */
export function layerChainId(parent: Digest | undefined, diffId: Digest): Digest {
  return parent === undefined ? diffId : digestOf(`${parent} ${diffId}`);
}

/**
 * The chain IDs of a layer stack, one per layer (image-spec "Layer ChainID"): the first is the first
 * diff ID, each next is sha256 of `"<previous chain id> <diff id>"`. Throws `INVALID_DIGEST` for a bad
 * diff ID (path `rootfs.diff_ids[i]`).
 */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const out: Digest[] = [];
  diffIds.forEach((diffId, position) => {
    const valid = parseDigest(diffId, `rootfs.diff_ids[${position}]`);
    const previous = out[position - 1];
    out.push(layerChainId(previous, valid));
  });
  return out;
}

/**
 * The chain ID of the whole stack `diffIds` (the last of {@link chainIds}). Throws `INVALID_CONFIG`
 * (path `rootfs.diff_ids`) for an empty list, which has no chain ID.
 */
export function chainId(diffIds: readonly string[]): Digest {
  const last = chainIds(diffIds).at(-1);
  if (last === undefined) {
    throw new OciImageError('INVALID_CONFIG', 'chain id: an empty layer list has no chain id', {
      path: 'rootfs.diff_ids',
    });
  }
  return last;
}
