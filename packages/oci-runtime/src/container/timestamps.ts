/** Now as RFC 3339 in UTC with nanoseconds (`2024-05-01T10:00:00.123456789Z`), like runc's `created`. */
export function rfc3339Nano(date: Date = new Date()): string {
  const extra = String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0');
  return date.toISOString().replace(/\.(\d{3})Z$/, (_match, ms: string) => `.${ms}${extra}Z`);
}

/** Resolves after `ms` milliseconds (rejects with the signal's reason when aborted). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
