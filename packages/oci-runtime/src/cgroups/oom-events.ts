/**
 * The OOM event poller behind both managers. Node has no way to wait on a cgroup v1 eventfd or poll()
 * a v2 `memory.events` file for POLLPRI, so the kill counter is read on a timer instead.
 */
import { sleep } from './cgroup-files.js';
import type { OomEvent, OomEventsOptions } from './manager.js';

/**
 * Yields one {@link OomEvent} each time `readCount()` grows. `readCount` resolves undefined when the
 * cgroup is gone, which ends the iteration; aborting `signal` ends it quietly too.
 */
export async function* pollOomKills(
  readCount: () => Promise<number | undefined>,
  options: OomEventsOptions = {},
): AsyncGenerator<OomEvent, void, undefined> {
  const interval = Math.max(options.intervalMs ?? 100, 1);
  const signal = options.signal;
  let last = options.since ?? (await readCount());
  if (last === undefined) return;
  let first = options.since !== undefined;
  while (signal?.aborted !== true) {
    if (!first) {
      try {
        await sleep(interval, signal);
      } catch {
        return;
      }
    }
    first = false;
    const now = await readCount();
    if (now === undefined) return;
    if (now > last) {
      last = now;
      yield { type: 'oom', count: now };
    }
  }
}
