export { chainId, chainIds, layerChainId } from './chain-id.js';
export {
  type BlobSource,
  type BlobStat,
  type ContentProvider,
  type GetOptions,
  hasRefStore,
  type IngestOptions,
  type ProviderCallOptions,
  type PutOptions,
  type RefEntry,
  type RefStore,
  type TaggableContentProvider,
} from './content-provider.js';
export { type CopyOptions, type CopyProgress, type CopyResult, copy } from './copy.js';
export {
  annotationsSchema,
  type Descriptor,
  descriptorData,
  descriptorSchema,
  digestSchema,
  mediaTypeSchema,
  parseDescriptor,
  refNameAnnotation,
} from './descriptor.js';
export {
  type Digest,
  type DigestAlgorithm,
  Digester,
  type DigestFileOptions,
  digestAlgorithm,
  digestFile,
  digestHex,
  digestOf,
  type FileDigest,
  isDigest,
  parseDigest,
  type VerifyOptions,
  VerifyStream,
  verifyFile,
} from './digest.js';
export {
  isOciImageError,
  OciImageError,
  type OciImageErrorCode,
  type OciImageErrorOptions,
} from './errors.js';
export {
  type ContainerConfig,
  containerConfigSchema,
  encodeImageConfig,
  type HistoryEntry,
  healthcheckSchema,
  historySchema,
  type ImageConfig,
  imageConfigSchema,
  type ParsedImageConfig,
  parseImageConfig,
} from './image-config.js';
export {
  type ImageDocument,
  isImageDocumentMediaType,
  parseImageDocument,
} from './image-document.js';
export {
  appendLayer,
  type ConfigChanges,
  type CreateImageOptions,
  createImage,
  type EditImageOptions,
  type EditResult,
  editImage,
  type LayerToAppend,
  updateConfig,
} from './image-edit.js';
export {
  encodeIndex,
  type ImageIndex,
  imageIndexSchema,
  indexMediaType,
  type ParsedImageIndex,
  parseIndex,
} from './image-index.js';
export { childDescriptors, reachableDigests, type WalkOptions, walkImage } from './image-walk.js';
export {
  type ApplyLayerOptions,
  type ApplyLayerResult,
  applyLayer,
} from './layer/apply-layer.js';
export {
  type CompressOptions,
  compress,
  decompress,
  detectCompression,
} from './layer/compression.js';
export type {
  CreatedLayer,
  CreatedLayerInfo,
  CreateLayerOptions,
} from './layer/create-layer.js';
export { createLayerFromDirectory } from './layer/from-directory.js';
export { createLayerFromOverlayUpper } from './layer/from-overlay-upper.js';
export {
  type LayerDigests,
  type LayerEntry,
  type LayerEntryHeader,
  type LayerEntryType,
  LayerReader,
  type ReadLayerOptions,
  readLayer,
} from './layer/read-layer.js';
export {
  classifyWhiteout,
  isWhiteout,
  WHITEOUT_META_PREFIX,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
  type WhiteoutKind,
  whiteoutName,
} from './layer/whiteout.js';
export { layout } from './layout/layout.js';
export {
  type GcOptions,
  type GcResult,
  imageLayoutVersion,
  LayoutProvider,
  type VerifyBlobOptions,
} from './layout/layout-provider.js';
export {
  encodeManifest,
  type Manifest,
  manifestMediaType,
  manifestSchema,
  type ParsedManifest,
  parseManifest,
} from './manifest.js';
export {
  type Compression,
  isIndexMediaType,
  isManifestMediaType,
  type KnownMediaType,
  layerCompression,
  MediaType,
} from './media-types.js';
export { type MemoryGcResult, MemoryProvider, memory } from './memory/memory-provider.js';
export { type ParsedBlob, toParsedBlob } from './parsed-blob.js';
export {
  formatPlatform,
  hostPlatform,
  normalizeArchitecture,
  normalizeOs,
  normalizePlatform,
  type Platform,
  parsePlatform,
  parsePlatformObject,
  platformSchema,
} from './platform.js';
export { type PlatformMatcher, platformMatcher, selectManifest } from './platform-match.js';
export {
  type ReadBlobOptions,
  readBlob,
  readImageConfig,
  readImageDocument,
  readIndex,
  readManifest,
} from './read-blob.js';
export {
  defaultDomain,
  isValidTag,
  nameTotalLengthMax,
  type ParseReferenceOptions,
  parseReference,
  Reference,
} from './reference.js';
export type { Mount } from './snapshot/mount.js';
export { applyLayerAsOverlayLower, type OverlayLowerOptions } from './snapshot/overlay-lower.js';
export {
  type ApplyToDirectory,
  OverlaySnapshotter,
  type OverlaySnapshotterOptions,
  overlaySnapshotter,
  type PreparedLayer,
  type SnapshotInfo,
  type SnapshotOptions,
  type SnapshotUsage,
  type UnpackLayer,
  type UnpackOptions,
} from './snapshot/overlay-snapshotter.js';
export type { SnapshotKind } from './snapshot/snapshot-metadata.js';
