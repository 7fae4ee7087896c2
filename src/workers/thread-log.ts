// The logger of a thread that runs no event loop (the ingest workers, the
// writer): it writes its lines synchronously to stderr, since a worker's
// process.stderr only flushes when its event loop turns, and takes its level
// from the shared LOG_LEVEL slot, which main sets from -v. See log.ts.
// LogGate rate-limits lines across those threads.

import { LEVELS, createLogger, stderrSync, type Level, type Logger } from '../log.js';
import { Ctl } from './shared-layout.js';

const BY_NUMBER = new Map<number, Level>(Object.entries(LEVELS).map(([name, n]) => [n, name as Level]));

/** Sets the level every thread logger of this control memory follows. */
export function setThreadLogLevel(control: Int32Array, level: Level): void {
  Atomics.store(control, Ctl.LOG_LEVEL, LEVELS[level]);
}

export function threadLogLevel(control: Int32Array): Level {
  return BY_NUMBER.get(Atomics.load(control, Ctl.LOG_LEVEL)) ?? 'info';
}

/** A logger for this thread; its lines carry thread=<name>. */
export function threadLogger(control: Int32Array, thread: string): Logger {
  return createLogger({ level: () => threadLogLevel(control), write: stderrSync, fields: { thread } });
}

/** Seconds are counted from here, so they fit an Int32 for decades. */
const GATE_EPOCH_S = 1_767_225_600; // 2026-01-01

/**
 * At most one line per key per second across every thread sharing the
 * control memory (the ingest workers: one line per rejection reason per
 * second however many workers see that reason).
 */
export class LogGate {
  readonly #control: Int32Array;

  constructor(control: Int32Array) {
    this.#control = control;
  }

  /** null: skip this one (counted); otherwise, how many were skipped since the last line of this key. */
  take(key: number): number | null {
    const slot = Ctl.LOG_GATE + 2 * key;
    const now = Math.floor(Date.now() / 1000) - GATE_EPOCH_S;
    const last = Atomics.load(this.#control, slot);
    if (now <= last || Atomics.compareExchange(this.#control, slot, last, now) !== last) {
      Atomics.add(this.#control, slot + 1, 1);
      return null;
    }
    return Atomics.exchange(this.#control, slot + 1, 0);
  }
}
