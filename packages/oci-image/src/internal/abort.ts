import { OciImageError } from '../errors.js';

/** Throws `ABORTED` (with the signal's reason as cause) when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, action: string): void {
  if (signal?.aborted) {
    throw new OciImageError('ABORTED', `${action}: aborted`, { cause: signal.reason });
  }
}

/** Maps a Node AbortError (from pipeline or streams) to `ABORTED`; other errors pass through. */
export function mapAbort(error: unknown, signal: AbortSignal | undefined, action: string): unknown {
  if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) {
    return new OciImageError('ABORTED', `${action}: aborted`, { cause: signal?.reason ?? error });
  }
  return error;
}

/** Destroys `stream` with `ABORTED` when `signal` aborts (until the stream closes). */
export function bindAbort<S extends NodeJS.ReadableStream & { destroy(error?: Error): unknown }>(
  stream: S,
  signal: AbortSignal | undefined,
  action: string,
): S {
  if (signal === undefined) return stream;
  const onAbort = (): void => {
    stream.destroy(new OciImageError('ABORTED', `${action}: aborted`, { cause: signal.reason }));
  };
  if (signal.aborted) {
    queueMicrotask(onAbort);
    return stream;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
  return stream;
}
