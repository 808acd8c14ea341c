import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import {
  allCapabilities,
  capabilityMask,
  capabilityNames,
  capabilityNumber,
  lastCapability,
} from '../../src/spec/capabilities.js';
import { rlimitInfinity, rlimitNumber } from '../../src/spec/rlimits.js';
import { parseSignal, signalName } from '../../src/spec/signals.js';

describe('capabilities', () => {
  it('numbers CAP_CHOWN = 0 through CAP_CHECKPOINT_RESTORE = 40 without gaps', () => {
    expect(capabilityNumber('CAP_CHOWN')).toBe(0);
    expect(capabilityNumber('CAP_SYS_ADMIN')).toBe(21);
    expect(capabilityNumber('CAP_AUDIT_WRITE')).toBe(29);
    expect(capabilityNumber('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(capabilityNumber('CAP_NOPE')).toBeUndefined();
    expect(capabilityNumber('toString')).toBeUndefined();
    expect(allCapabilities).toHaveLength(lastCapability + 1);
    for (const [index, name] of allCapabilities.entries()) expect(capabilityNumber(name)).toBe(index);
  });

  it('turns a list into a 64-bit mask and back', () => {
    const mask = capabilityMask(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    expect(mask).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
    expect(capabilityMask(['CAP_CHECKPOINT_RESTORE', 'CAP_MAC_OVERRIDE'])).toBe((1n << 40n) | (1n << 32n));
    expect(capabilityMask(allCapabilities)).toBe((1n << 41n) - 1n);
    expect(capabilityMask(undefined)).toBe(0n);
    expect(capabilityNames(mask)).toEqual(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']);
    expect(capabilityNames(1n << 45n)).toEqual(['CAP_45']);
  });

  it('throws INVALID_SPEC naming the entry for an unknown name, or ignores it when asked', () => {
    try {
      capabilityMask(['CAP_KILL', 'CAP_WIZARD'], { path: 'process.capabilities.bounding' });
      throw new Error('expected a failure');
    } catch (error) {
      expect(isRuntimeError(error, 'INVALID_SPEC')).toBe(true);
      expect((error as { path?: string }).path).toBe('process.capabilities.bounding[1]');
    }
    expect(capabilityMask(['CAP_KILL', 'CAP_WIZARD'], { onUnknown: 'ignore' })).toBe(1n << 5n);
  });
});

describe('rlimits', () => {
  it('maps RLIMIT_* names to Linux resource numbers', () => {
    expect(rlimitNumber('RLIMIT_CPU')).toBe(0);
    expect(rlimitNumber('RLIMIT_NOFILE')).toBe(7);
    expect(rlimitNumber('RLIMIT_AS')).toBe(9);
    expect(rlimitNumber('RLIMIT_RTTIME')).toBe(15);
    expect(rlimitNumber('RLIMIT_NOPE')).toBeUndefined();
    expect(rlimitInfinity).toBe(18446744073709551615n);
  });
});

describe('signals', () => {
  it('parses names with and without SIG, in any case, and numbers', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('sigusr1')).toBe(10);
    expect(parseSignal('hup')).toBe(1);
    expect(parseSignal('SIGCHLD')).toBe(17);
    expect(parseSignal('CLD')).toBe(17);
    expect(parseSignal('SIGWINCH')).toBe(28);
    expect(parseSignal('SIGSYS')).toBe(31);
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal(15)).toBe(15);
    expect(parseSignal('RTMIN')).toBe(34);
    expect(parseSignal('SIGRTMIN+3')).toBe(37);
    expect(parseSignal('RTMAX-1')).toBe(63);
    expect(parseSignal('SIGRTMAX')).toBe(64);
  });

  it('refuses what is not a signal with INVALID_ARGUMENT', () => {
    for (const bad of ['SIGNOPE', '0', '65', '-9', 'RTMIN+40', '', 'KILL9']) {
      try {
        parseSignal(bad);
        throw new Error(`expected a failure for ${bad}`);
      } catch (error) {
        expect(isRuntimeError(error, 'INVALID_ARGUMENT'), `${bad}: ${String(error)}`).toBe(true);
      }
    }
    expect(() => parseSignal(2.5)).toThrow(/not a signal number/);
  });

  it('names signal numbers', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(29)).toBe('SIGIO');
    expect(signalName(36)).toBe('SIGRTMIN+2');
    expect(signalName(0)).toBeUndefined();
  });
});
