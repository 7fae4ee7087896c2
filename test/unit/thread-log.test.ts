// Loggers of threads without an event loop (src/workers/thread-log.ts):
// the level main sets in shared memory, and the log gate shared by every
// ingest worker (one line per key per second, however many threads).

import { afterEach, describe, expect, test, vi } from 'vitest';
import { CONTROL_SLOTS, Ctl, LOG_KEY_REFUSED } from '../../src/workers/shared-layout.js';
import { LogGate, setThreadLogLevel, threadLogLevel } from '../../src/workers/thread-log.js';

const control = (): Int32Array => new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));

afterEach(() => {
  vi.useRealTimers();
});

describe('the shared level', () => {
  test('info until main sets another', () => {
    const c = control();
    expect(threadLogLevel(c)).toBe('info');
    setThreadLogLevel(c, 'debug');
    expect(Atomics.load(c, Ctl.LOG_LEVEL)).toBe(10);
    expect(threadLogLevel(c)).toBe('debug');
    setThreadLogLevel(c, 'warn');
    expect(threadLogLevel(c)).toBe('warn');
  });
});

describe('LogGate', () => {
  test('one line per key per second over every thread, with the count skipped', () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 5, 1, 0, 0, 0, 100));
    const c = control();
    // Two workers: two gates over the same memory.
    const a = new LogGate(c);
    const b = new LogGate(c);
    expect(a.take(1)).toBe(0);
    expect(b.take(1)).toBeNull();
    expect(a.take(1)).toBeNull();
    expect(b.take(LOG_KEY_REFUSED)).toBe(0); // its own budget
    vi.setSystemTime(Date.UTC(2026, 5, 1, 0, 0, 0, 999));
    expect(b.take(1)).toBeNull();
    vi.setSystemTime(Date.UTC(2026, 5, 1, 0, 0, 1, 0));
    expect(b.take(1)).toBe(3);
    expect(a.take(1)).toBeNull();
    vi.setSystemTime(Date.UTC(2026, 5, 1, 0, 1, 0, 0));
    expect(a.take(1)).toBe(1);
  });
});
