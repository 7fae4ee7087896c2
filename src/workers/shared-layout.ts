// Every slot of the engine's shared control and statistics memory, in one
// place. Control is an Int32Array (Atomics); statistics are a Float64Array
// split into one region per thread, and each slot has exactly one writing
// thread, so plain stores suffice and counters don't overflow at 2^31.

import { REASON_SLOTS } from '../ingest/reasons.js';

/** Int32 control slots. */
export const Ctl = {
  /** Bumped by a producer after publishing records; the writer waits on it. */
  WAKE: 0,
  /** 1 while the writer is (about to be) asleep in Atomics.wait on WAKE. */
  WRITER_SLEEPING: 1,
  /** Set by main: ingest workers stop receiving and exit. */
  STOP_INGEST: 2,
  /** Set by main: the writer drains every ring, commits and exits. */
  STOP_WRITER: 3,
  /** 1 while someone watches the change feed: the writer builds events. */
  EVENTS_WANTED: 4,
  /** Set by main: the lowest log level threads write (log.ts LEVELS; 0 = info). */
  LOG_LEVEL: 5,
  /** Set by main (cluster): 1 while the outbox is full; the writer then stops adding to it. */
  OUTBOX_FULL: 6,
  /** Set by main (cluster), cleared by the writer: the next liveness digest names every instance (a peer joined or came back). */
  DIGEST_ALL: 7,
  /**
   * The ingest workers' shared log gate (thread-log.ts): per key (a reason
   * code, LOG_KEY_REFUSED, LOG_KEY_RING_FULL), two slots at LOG_GATE +
   * 2 * key: the second a line was last written, and the lines skipped since.
   */
  LOG_GATE: 8,
} as const;
export const LOG_KEY_REFUSED = REASON_SLOTS;
export const LOG_KEY_RING_FULL = REASON_SLOTS + 1;
export const LOG_GATE_KEYS = REASON_SLOTS + 2;
export const CONTROL_SLOTS = 64;
if (Ctl.LOG_GATE + 2 * LOG_GATE_KEYS > CONTROL_SLOTS) throw new Error('control slots overlap: the log gate reaches past CONTROL_SLOTS');

/** Float64 statistic slots, relative to a thread's region. */
export const Stat = {
  // ingest workers and the HTTP front
  datagrams: 0,
  accepted: 1,
  ringFull: 2,
  rejected: 3,
  httpUpdates: 4,
  // commit thread
  applied: 5,
  commits: 6,
  written: 7,
  // writer
  backlogBytes: 8,
  instances: 9,
  hosts: 10,
  apps: 11,
  // commit thread
  commitErrors: 12,
  // writer
  backlog: 13,
  // commit thread
  removed: 14,
  // writer
  ready: 15,
  // rejected, by reason code: rejectBase + code
  rejectBase: 16,
  /** Writer: records read from the rings (compare with the producers' `accepted`). */
  drained: 28,
  /** Ingest: datagrams refused because the sender is outside --allow. */
  refused: 29,
  // commit thread: how long absorbed changes waited until their commit was
  // on disk (ms; per batch, its oldest change), over the last minute
  lagP50: 30,
  lagP99: 31,
  lagMax: 32,
  /** Commit thread: how long the last commit took (ms). */
  lastCommitMs: 33,
  /** Commit thread: history blocks pruned. */
  pruned: 34,
  /** Writer: the highest HTTP/control sequence number it has read from the HTTP ring. */
  httpSeqRead: 35,
  /** Writer: how long cutting the last batch took, and the longest cut (ms): time the rings were not drained. */
  lastCutMs: 36,
  maxCutMs: 37,
  /** Writer (cluster): changes from other nodes that lost the conflict rule. */
  remoteLost: 38,
  /** Writer (cluster): instances named in the liveness digests it sent. */
  digestEntries: 39,
} as const;
export const STAT_REGION = 40;
if (Stat.rejectBase + REASON_SLOTS > Stat.drained) throw new Error('statistics slots overlap: the reasons reach `drained`');

/** Region index of the writer, the HTTP front, the commit thread, and ingest worker i. */
export const WRITER_REGION = 0;
export const HTTP_REGION = 1;
export const COMMIT_REGION = 2;
export const ingestRegion = (worker: number): number => 3 + worker;

export function statsByteLength(workers: number): number {
  return (3 + workers) * STAT_REGION * Float64Array.BYTES_PER_ELEMENT;
}

/** A thread's own statistics region as a Float64Array view. */
export function statRegion(sab: SharedArrayBuffer, region: number): Float64Array {
  return new Float64Array(sab, region * STAT_REGION * Float64Array.BYTES_PER_ELEMENT, STAT_REGION);
}

/** Producer side of the wake-up protocol: call after publishing records. */
export function wakeWriter(control: Int32Array): void {
  Atomics.add(control, Ctl.WAKE, 1);
  if (Atomics.load(control, Ctl.WRITER_SLEEPING) === 1) Atomics.notify(control, Ctl.WAKE, 1);
}
