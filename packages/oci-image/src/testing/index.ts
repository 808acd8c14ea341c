// the layer writer's raw tar encoder: for building fixtures (binary xattrs, long names) byte by byte
export {
  encodeTarHeader,
  TAR_END,
  type TarEntryHeader,
  type TarEntryType,
  tarPadding,
} from '../layer/tar-writer.js';
export {
  type RandomImage,
  type RandomImageManifest,
  type RandomImageOptions,
  type RandomLayer,
  randomImage,
  writeImage,
} from './random-image.js';
export { SeededRandom } from './seeded-random.js';
export { TarBuilder, TarType, tarBuilder } from './tar-builder.js';
export { buildTar, type TarFixtureEntry } from './tar-fixture.js';
export {
  type DiffTreeOptions,
  diffTreeSnapshots,
  type SnapshotTreeOptions,
  snapshotTree,
  type TreeSnapshot,
  type TreeSnapshotEntry,
} from './tree-snapshot.js';
export { type ConformanceProblem, checkProviderContract, validateContent } from './validate-content.js';
