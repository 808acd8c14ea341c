import { z } from 'zod';
import { digestSchema } from './descriptor.js';
import { encodeJson, parseJsonBytes, toBytes, validateWith } from './internal/json.js';
import { MediaType } from './media-types.js';
import { type ParsedBlob, toParsedBlob } from './parsed-blob.js';

// Docker writes `null` for empty lists and maps (`"Cmd": null`), so those fields are nullable.
const stringList = z.array(z.string()).nullable().optional();
const emptyObjectSet = z.record(z.string(), z.looseObject({})).nullable().optional();

/** zod model of a healthcheck (durations in nanoseconds, as Docker writes them). */
export const healthcheckSchema = z.looseObject({
  Test: stringList,
  Interval: z.number().int().optional(),
  Timeout: z.number().int().optional(),
  StartPeriod: z.number().int().optional(),
  StartInterval: z.number().int().optional(),
  Retries: z.number().int().optional(),
});

/** zod model of the execution parameters of an image config (`config` field). */
export const containerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: emptyObjectSet,
  Env: stringList,
  Entrypoint: stringList,
  Cmd: stringList,
  Volumes: emptyObjectSet,
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullable().optional(),
  StopSignal: z.string().optional(),
  ArgsEscaped: z.boolean().optional(),
  Healthcheck: healthcheckSchema.nullable().optional(),
  OnBuild: stringList,
  Shell: stringList,
});

/** zod model of one history entry of an image config. */
export const historySchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  created_by: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

/** zod model of an image config (OCI or Docker); unknown fields (e.g. Docker's `container`) are kept. */
export const imageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  config: containerConfigSchema.optional(),
  rootfs: z.looseObject({
    type: z.literal('layers'),
    diff_ids: z.array(digestSchema),
  }),
  history: z.array(historySchema).optional(),
});

/** An image config. */
export type ImageConfig = z.output<typeof imageConfigSchema>;
/** The execution parameters inside an image config. */
export type ContainerConfig = z.output<typeof containerConfigSchema>;
/** One history entry of an image config. */
export type HistoryEntry = z.output<typeof historySchema>;

/** An image config with its exact bytes and digest. */
export type ParsedImageConfig = ParsedBlob<ImageConfig>;

/**
 * Parses image config bytes. Throws `INVALID_JSON`, or `INVALID_CONFIG` with the field path
 * (e.g. `rootfs.diff_ids[0]`). `mediaType` is recorded on the result (default OCI config).
 */
export function parseImageConfig(
  raw: Uint8Array | string,
  mediaType: string = MediaType.ociConfig,
): ParsedImageConfig {
  const bytes = toBytes(raw);
  const json = parseJsonBytes(bytes, 'image config');
  const value = validateWith(imageConfigSchema, json, 'INVALID_CONFIG', 'image config');
  return toParsedBlob(bytes, value, mediaType);
}

/** Validates an image config value and serialises it; the digest is of the bytes produced. */
export function encodeImageConfig(
  value: z.input<typeof imageConfigSchema>,
  mediaType: string = MediaType.ociConfig,
): ParsedImageConfig {
  return parseImageConfig(encodeJson(value), mediaType);
}
