import { type ContentProvider, hasRefStore, type ProviderCallOptions } from './content-provider.js';
import type { Descriptor } from './descriptor.js';
import { type Digest, parseDigest } from './digest.js';
import { OciImageError } from './errors.js';
import { type ImageConfig, type ParsedImageConfig, parseImageConfig } from './image-config.js';
import { throwIfAborted } from './internal/abort.js';
import { encodeJson } from './internal/json.js';
import { resolveRoot } from './internal/resolve-root.js';
import { type ParsedManifest, parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';
import { readImageConfig, readManifest } from './read-blob.js';

/** A layer to append: its blob (already in the provider) and its uncompressed digest. */
export interface LayerToAppend {
  descriptor: Descriptor;
  diffId: Digest;
  /** The history entry recorded for it (`created` defaults to the edit's time). */
  history?: { createdBy?: string; comment?: string; author?: string } | undefined;
}

/** Changes to an image config's execution parameters and metadata. Absent fields stay as they are. */
export interface ConfigChanges {
  user?: string;
  workingDir?: string;
  /** Replaces the whole environment. */
  env?: string[];
  /** Sets (or replaces) single variables by name, after `env`. */
  setEnv?: Record<string, string>;
  /** `null` clears it. */
  entrypoint?: string[] | null;
  /** `null` clears it. */
  cmd?: string[] | null;
  /** Merged into the labels; a `null` value removes that label. */
  labels?: Record<string, string | null>;
  /** Added to ExposedPorts (`"80/tcp"`). */
  exposedPorts?: string[];
  /** Added to Volumes. */
  volumes?: string[];
  stopSignal?: string;
  shell?: string[];
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
}

/** Options of {@link editImage}. */
export interface EditImageOptions extends ProviderCallOptions {
  /** Layers appended in order: manifest layers, config `rootfs.diff_ids` and history grow together. */
  appendLayers?: LayerToAppend[] | undefined;
  config?: ConfigChanges | undefined;
  /** A last hook over the config JSON (already holding the other changes); return the new object. */
  mutateConfig?: ((config: ImageConfig) => ImageConfig) | undefined;
  /** Manifest annotations to set; a `null` value removes one. */
  annotations?: Record<string, string | null> | undefined;
  /** A history entry (`empty_layer: true`) describing a config-only change. */
  history?: { createdBy?: string; comment?: string } | undefined;
  /** RFC 3339 time for `created` of the config and of new history entries (default: now). */
  created?: string | undefined;
  /** After writing, point this ref at the new manifest (the provider must keep refs). */
  tag?: string | undefined;
}

/** What {@link editImage} produced: the new manifest's descriptor, manifest and config. */
export interface EditResult {
  descriptor: Descriptor;
  manifest: ParsedManifest;
  config: ParsedImageConfig;
}

type Json = Record<string, unknown>;

function setEnvironment(env: string[], name: string, value: string): string[] {
  const prefix = `${name}=`;
  const kept = env.filter((entry) => !entry.startsWith(prefix) && entry !== name);
  return [...kept, `${name}=${value}`];
}

function applyConfigChanges(config: Json, changes: ConfigChanges): void {
  const run = (typeof config.config === 'object' && config.config !== null ? config.config : {}) as Json;
  if (changes.user !== undefined) run.User = changes.user;
  if (changes.workingDir !== undefined) run.WorkingDir = changes.workingDir;
  if (changes.env !== undefined) run.Env = [...changes.env];
  if (changes.setEnv !== undefined) {
    let env = Array.isArray(run.Env) ? (run.Env as string[]) : [];
    for (const [name, value] of Object.entries(changes.setEnv)) env = setEnvironment(env, name, value);
    run.Env = env;
  }
  if (changes.entrypoint !== undefined) run.Entrypoint = changes.entrypoint;
  if (changes.cmd !== undefined) run.Cmd = changes.cmd;
  if (changes.labels !== undefined) {
    const labels = { ...((run.Labels as Record<string, string> | null | undefined) ?? {}) };
    for (const [key, value] of Object.entries(changes.labels)) {
      if (value === null) delete labels[key];
      else labels[key] = value;
    }
    run.Labels = labels;
  }
  if (changes.exposedPorts !== undefined) {
    const ports = { ...((run.ExposedPorts as Json | null | undefined) ?? {}) };
    for (const port of changes.exposedPorts) ports[port] = {};
    run.ExposedPorts = ports;
  }
  if (changes.volumes !== undefined) {
    const volumes = { ...((run.Volumes as Json | null | undefined) ?? {}) };
    for (const volume of changes.volumes) volumes[volume] = {};
    run.Volumes = volumes;
  }
  if (changes.stopSignal !== undefined) run.StopSignal = changes.stopSignal;
  if (changes.shell !== undefined) run.Shell = [...changes.shell];
  config.config = run;
  if (changes.author !== undefined) config.author = changes.author;
  if (changes.architecture !== undefined) config.architecture = changes.architecture;
  if (changes.os !== undefined) config.os = changes.os;
  if (changes.variant !== undefined) config.variant = changes.variant;
}

/** The JSON documents an edit starts from: a manifest, its config and the config's media type. */
interface EditBase {
  manifest: Json;
  config: Json;
  configMediaType: string;
}

/** The config and manifest an edit produced, not yet written. */
interface EditedImage {
  manifest: ParsedManifest;
  config: ParsedImageConfig;
}

/** Checks every appended layer's diff ID and that its blob is in the provider (`BLOB_NOT_FOUND`). */
async function requireAppendedLayers(
  provider: ContentProvider,
  appended: readonly LayerToAppend[],
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const [position, layer] of appended.entries()) {
    parseDigest(layer.diffId, `appendLayers[${position}].diffId`);
    if (!(await provider.has(layer.descriptor.digest, { signal }))) {
      throw new OciImageError(
        'BLOB_NOT_FOUND',
        `edit image: layer ${layer.descriptor.digest} is not in the provider`,
        {
          path: layer.descriptor.digest,
        },
      );
    }
  }
}

/**
 * Applies `options` to the documents of `base` (which it changes in place) and encodes the results;
 * writes nothing. The manifest's config descriptor keeps its other fields and gets the new digest and
 * size. Throws `INVALID_CONFIG` / `INVALID_MANIFEST` when a result does not validate.
 */
function composeEdit(base: EditBase, options: EditImageOptions, created: string): EditedImage {
  const { manifest: manifestJson, config: configJson } = base;
  const appended = options.appendLayers ?? [];
  const rootfs = configJson.rootfs as { diff_ids: string[] };
  const hadHistory = Array.isArray(configJson.history);
  const keepHistory = hadHistory || rootfs.diff_ids.length === 0;
  const history = hadHistory ? [...(configJson.history as Json[])] : [];
  for (const layer of appended) {
    (manifestJson.layers as unknown[]).push(layer.descriptor);
    rootfs.diff_ids.push(layer.diffId);
    const entry: Json = { created, created_by: layer.history?.createdBy ?? 'ocikit: append layer' };
    if (layer.history?.author !== undefined) entry.author = layer.history.author;
    if (layer.history?.comment !== undefined) entry.comment = layer.history.comment;
    history.push(entry);
  }
  if (options.config !== undefined) applyConfigChanges(configJson, options.config);
  if (options.history !== undefined) {
    const entry: Json = { created, empty_layer: true };
    if (options.history.createdBy !== undefined) entry.created_by = options.history.createdBy;
    if (options.history.comment !== undefined) entry.comment = options.history.comment;
    history.push(entry);
  }
  if (keepHistory && history.length > 0) configJson.history = history;
  configJson.created = created;
  let finalConfig: Json = configJson;
  if (options.mutateConfig !== undefined)
    finalConfig = options.mutateConfig(configJson as ImageConfig) as Json;

  const config = parseImageConfig(encodeJson(finalConfig), base.configMediaType);
  manifestJson.config = {
    ...(manifestJson.config as Json),
    digest: config.digest,
    size: config.size,
  };
  if (options.annotations !== undefined) {
    const annotations = { ...((manifestJson.annotations as Record<string, string> | undefined) ?? {}) };
    for (const [key, value] of Object.entries(options.annotations)) {
      if (value === null) delete annotations[key];
      else annotations[key] = value;
    }
    if (Object.keys(annotations).length > 0) manifestJson.annotations = annotations;
    else delete manifestJson.annotations;
  }
  return { manifest: parseManifest(encodeJson(manifestJson)), config };
}

/**
 * Writes an edited image: the config blob, then the manifest blob (described with `like`'s media type
 * and platform), then with `options.tag` the ref. Returns what {@link editImage} returns.
 */
async function writeEdit(
  provider: ContentProvider,
  edited: EditedImage,
  like: Pick<Descriptor, 'mediaType' | 'platform'>,
  options: EditImageOptions,
): Promise<EditResult> {
  const { signal } = options;
  const { manifest, config } = edited;
  await provider.put(config.descriptor, config.raw, { signal });
  const descriptor: Descriptor = {
    mediaType: like.mediaType,
    digest: manifest.digest,
    size: manifest.size,
  };
  if (like.platform !== undefined) descriptor.platform = like.platform;
  await provider.put(descriptor, manifest.raw, { signal });
  if (options.tag !== undefined) {
    if (!hasRefStore(provider)) {
      throw new OciImageError(
        'REFS_UNSUPPORTED',
        `edit image: the provider keeps no refs, cannot tag "${options.tag}"`,
        {
          path: options.tag,
        },
      );
    }
    await provider.tag(options.tag, descriptor, { signal });
  }
  return { descriptor, manifest, config };
}

/**
 * Edits the image manifest `base` (a descriptor, or a ref name the provider resolves): appends layers,
 * changes the config, sets manifest annotations. Writes the new config blob, then the new manifest
 * blob, then (with `tag`) the ref, and returns the new manifest descriptor; the base is left untouched.
 * Edits work on the documents' JSON, so unknown fields survive. Throws `INVALID_MANIFEST` for an index,
 * `BLOB_NOT_FOUND` for an appended layer missing from the provider, `INVALID_CONFIG` when the result
 * is not a valid config, `REF_NOT_FOUND`, `ABORTED`.
 */
export async function editImage(
  provider: ContentProvider,
  base: Descriptor | string,
  options: EditImageOptions = {},
): Promise<EditResult> {
  const { signal } = options;
  throwIfAborted(signal, 'edit image');
  const baseDescriptor = await resolveRoot(provider, base, 'edit image: the provider', signal);
  const manifest = await readManifest(provider, baseDescriptor, { signal });
  const config = await readImageConfig(provider, manifest.value.config, { signal });
  const created = options.created ?? new Date().toISOString();
  const documents: EditBase = {
    manifest: JSON.parse(Buffer.from(manifest.raw).toString('utf8')) as Json,
    config: JSON.parse(Buffer.from(config.raw).toString('utf8')) as Json,
    configMediaType: config.mediaType,
  };
  await requireAppendedLayers(provider, options.appendLayers ?? [], signal);
  const edited = composeEdit(documents, options, created);
  return writeEdit(provider, edited, baseDescriptor, options);
}

/** Appends one layer (see {@link editImage}). */
export function appendLayer(
  provider: ContentProvider,
  base: Descriptor | string,
  layer: LayerToAppend,
  options: Omit<EditImageOptions, 'appendLayers'> = {},
): Promise<EditResult> {
  return editImage(provider, base, { ...options, appendLayers: [layer] });
}

/** Changes the config (see {@link editImage}). */
export function updateConfig(
  provider: ContentProvider,
  base: Descriptor | string,
  changes: ConfigChanges,
  options: Omit<EditImageOptions, 'config'> = {},
): Promise<EditResult> {
  return editImage(provider, base, { ...options, config: changes });
}

/** Options of {@link createImage}. */
export interface CreateImageOptions extends Omit<EditImageOptions, 'mutateConfig'> {
  /** The platform the image is for (default: linux/amd64). */
  platform?: { os: string; architecture: string; variant?: string | undefined } | undefined;
}

/**
 * Writes a new single-platform OCI image: an empty config and manifest (no layers) edited in memory as
 * {@link editImage} would with `options`, so `appendLayers`, `config`, `annotations` and `tag` work as
 * there. Only the resulting config and manifest are written (no blob of the empty start is stored).
 * Throws as {@link editImage} does.
 */
export async function createImage(
  provider: ContentProvider,
  options: CreateImageOptions = {},
): Promise<EditResult> {
  const { signal } = options;
  throwIfAborted(signal, 'create image');
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const created = options.created ?? new Date().toISOString();
  const documents: EditBase = {
    config: {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant === undefined ? {} : { variant: platform.variant }),
      config: {},
      rootfs: { type: 'layers', diff_ids: [] },
    },
    // The config descriptor gets its digest and size from the edited config.
    manifest: {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig },
      layers: [],
    },
    configMediaType: MediaType.ociConfig,
  };
  await requireAppendedLayers(provider, options.appendLayers ?? [], signal);
  const edited = composeEdit(documents, { ...options, created }, created);
  return writeEdit(provider, edited, { mediaType: MediaType.ociManifest }, { ...options, created });
}
