import { type Digest, digestOf } from '../digest.js';

/**
 * One step of the image-spec "ChainID": the chain ID of the layer `diffId` on top of the stack whose chain ID
 * is `parent` — `diffId` itself for a base layer, otherwise `sha256(parent + " " + diffId)`. Pure; agrees with
 * `chainIds` of `src/chain-id.ts`, which computes a whole stack at once.
 */
export function layerChainId(parent: Digest | undefined, diffId: Digest): Digest {
  return parent === undefined ? diffId : digestOf(`${parent} ${diffId}`);
}
