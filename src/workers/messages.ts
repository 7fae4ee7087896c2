// Messages between the main thread and the writer thread (worker_threads
// postMessage). Control in the other direction goes through shared memory
// (Ctl in shared-layout.ts) and the HTTP ring, because the writer thread
// sleeps in Atomics.wait and does not run an event loop.

import type { ClockBuffers } from '../store/slot-clock.js';
import type { ChangeEvent } from '../store/writer.js';

export type WriterMessage =
  /** The store is open (readers may open it too); the index is loading. */
  | { type: 'OPENED' }
  /** The index is rebuilt from LMDB; records are being drained. */
  | { type: 'READY'; instances: number; hosts: number; apps: number; loadMs: number }
  /** A commit that acknowledges HTTP/control records up to ackSeq, or carries events. */
  | { type: 'COMMITTED'; ackSeq: number; events: ChangeEvent[]; results: [number, number][] }
  /** A commit failed; pending work is kept and retried. */
  | { type: 'COMMIT_ERROR'; message: string; code: string | undefined }
  /** Stopped after draining every ring; drained = records read after the stop request. */
  | { type: 'STOPPED'; drained: number };

export interface WriterThreadData {
  path: string;
  trimSeconds: number;
  staleSeconds: number;
  historyDays: number;
  /** Ingest rings, then the HTTP ring (last). */
  rings: SharedArrayBuffer[];
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  clocks: ClockBuffers;
  clockPersistMs?: number;
  minCommitMs?: number;
}
