export {
  type Digest,
  type DigestAlgorithm,
  Digester,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  parseDigest,
  type VerifyOptions,
  VerifyStream,
} from './digest.js';
export {
  isOciImageError,
  OciImageError,
  type OciImageErrorCode,
  type OciImageErrorOptions,
} from './errors.js';
export {
  type Compression,
  isIndexMediaType,
  isManifestMediaType,
  type KnownMediaType,
  layerCompression,
  MediaType,
} from './media-types.js';
