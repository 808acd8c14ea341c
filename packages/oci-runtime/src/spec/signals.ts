import { RuntimeError } from '../errors.js';

/**
 * Linux signal numbers, identical on x86_64 and aarch64 (both use the generic numbering). Aliases
 * (`IOT`, `CLD`, `POLL`) map to the same numbers.
 */
export const signalNumbers: Readonly<Record<string, number>> = Object.freeze({
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
});

/**
 * The first real-time signal as glibc presents it (`SIGRTMIN`, 34: glibc keeps 32 and 33 for itself) and
 * the last one (`SIGRTMAX`, 64 = _NSIG - 1).
 */
export const signalRealtimeMin = 34;
/** See {@link signalRealtimeMin}. */
export const signalRealtimeMax = 64;

/**
 * Parses a signal as `kill` accepts it: a number (`9`), a name with or without `SIG` in any case (`KILL`,
 * `sigterm`), or `RTMIN`, `RTMIN+n`, `RTMAX-n`. Returns the Linux signal number (1…64). Throws
 * `INVALID_ARGUMENT` for anything else.
 */
export function parseSignal(signal: string | number): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && signal >= 1 && signal <= signalRealtimeMax) return signal;
    throw new RuntimeError('INVALID_ARGUMENT', `parse signal: ${signal} is not a signal number (1-64)`);
  }
  const text = signal.trim();
  if (/^\d+$/.test(text)) return parseSignal(Number(text));
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (Object.hasOwn(signalNumbers, name)) return signalNumbers[name] as number;
  const realtime = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (realtime !== null) {
    const base = realtime[1] === 'MIN' ? signalRealtimeMin : signalRealtimeMax;
    const offset = realtime[3] === undefined ? 0 : Number(realtime[3]) * (realtime[2] === '-' ? -1 : 1);
    const value = base + offset;
    if (value >= signalRealtimeMin && value <= signalRealtimeMax) return value;
  }
  throw new RuntimeError('INVALID_ARGUMENT', `parse signal: unknown signal ${JSON.stringify(signal)}`);
}

/** The canonical name of a signal number (`9` → `SIGKILL`, `36` → `SIGRTMIN+2`), or `undefined`. */
export function signalName(signal: number): string | undefined {
  for (const [name, value] of Object.entries(signalNumbers)) {
    if (value === signal && name !== 'SIGIOT' && name !== 'SIGCLD' && name !== 'SIGPOLL') return name;
  }
  if (signal === signalRealtimeMin) return 'SIGRTMIN';
  if (signal > signalRealtimeMin && signal <= signalRealtimeMax)
    return `SIGRTMIN+${signal - signalRealtimeMin}`;
  return undefined;
}
