/**
 * Every error this package throws is an {@link RuntimeError} with a stable `code`.
 * Codes are SCREAMING_SNAKE and never reused for another meaning.
 */
export type RuntimeErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_ARGUMENT'
  | 'BUNDLE_NOT_FOUND'
  | 'ROOTFS_NOT_FOUND'
  | 'CONTAINER_EXISTS'
  | 'CONTAINER_NOT_FOUND'
  | 'CONTAINER_NOT_RUNNING'
  | 'CONTAINER_NOT_STOPPED'
  | 'INVALID_STATE'
  | 'NAMESPACE_PATH_INVALID'
  | 'MOUNT_ESCAPE'
  | 'MOUNT_FAILED'
  | 'HOOK_FAILED'
  | 'HOOK_TIMEOUT'
  | 'CGROUP_FAILED'
  | 'CGROUP_UNSUPPORTED'
  | 'SECCOMP_INVALID'
  | 'SECCOMP_UNKNOWN_SYSCALL'
  | 'SYSCALL_FAILED'
  | 'NOT_SUPPORTED'
  | 'MONITOR_FAILED'
  | 'ABORTED';

const brand = Symbol.for('@ocikit/oci-runtime:error');

/** Options for {@link RuntimeError}: what was at fault and what caused it. */
export interface RuntimeErrorOptions {
  /** The file path, container ID or spec field path at fault, when there is one. */
  path?: string | undefined;
  /** The errno name (`EPERM`, …) when a system call failed. */
  errno?: string | undefined;
  cause?: unknown;
}

/** The base error of @ocikit/oci-runtime; `code` is stable, `path` names what was at fault. */
export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  readonly path: string | undefined;
  readonly errno: string | undefined;
  readonly [brand] = true;

  constructor(code: RuntimeErrorCode, message: string, options: RuntimeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RuntimeError';
    this.code = code;
    this.path = options.path;
    this.errno = options.errno;
  }
}

/**
 * True when `value` is a {@link RuntimeError}, also from another copy of this package (global symbol,
 * not `instanceof`). With `code`, the code must match too.
 */
export function isRuntimeError(value: unknown, code?: RuntimeErrorCode): value is RuntimeError {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[brand] !== true) {
    return false;
  }
  return code === undefined || (value as RuntimeError).code === code;
}
