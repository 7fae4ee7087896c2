// Messages between the engine's threads (worker_threads postMessage and a
// MessagePort between the writer and the commit thread). Control toward the
// writer also goes through shared memory (Ctl in shared-layout.ts), because
// the writer thread sleeps in Atomics.wait and runs no event loop: it reads
// its port with receiveMessageOnPort.
//
//   writer ──BATCH──► commit thread ──COMMITTED──► main (acks, change feed)
//          ◄─DONE───               ──COMMIT_ERROR─► main
//          ◄──────────── the batch's buffer, for reuse ─────┘

import type { MessagePort } from 'node:worker_threads';
import type { ClockBuffers } from '../store/slot-clock.js';
import type { Cut } from '../store/fleet.js';

/** Writer thread → main. */
export type WriterMessage =
  /** The index is rebuilt from LMDB; records are being drained. */
  | { type: 'READY'; instances: number; hosts: number; apps: number; loadMs: number }
  /** Stopped after draining every ring; drained = records read after the stop request. */
  | { type: 'STOPPED'; drained: number }
  /** Cluster: a liveness digest, in parts (src/cluster/liveness.ts), for main to publish. */
  | { type: 'DIGEST'; parts: Uint8Array[] };

/** Writer thread → commit thread: a batch to commit (its buffer transferred). */
export interface BatchMessage extends Cut {
  type: 'BATCH';
}

/** Commit thread → writer thread. */
export interface DoneMessage {
  type: 'DONE';
  id: number;
  /** How long the commit took (ms): the writer sizes its next batch by it. */
  ms: number;
}

/** Commit thread → main. */
export type CommitMessage =
  /** The store is open and its layout checked: readers may open it. */
  | { type: 'OPENED' }
  /** A batch is durable. Its buffer comes along (transferred) for the change feed. */
  | {
      type: 'COMMITTED';
      id: number;
      ackSeq: number;
      results: [number, number][];
      buffer: ArrayBuffer;
      length: number;
    }
  /** A commit failed; the batch is kept and retried. */
  | { type: 'COMMIT_ERROR'; message: string; code: string | undefined }
  /** Every batch received so far is committed (answer to DRAIN). */
  | { type: 'IDLE' };

/** Main → commit thread. */
export type CommitControl =
  /** Commit what has been received (a dead writer's last batch too), then answer IDLE. */
  | { type: 'DRAIN' }
  /** The batches of a new writer arrive on this port from now on. */
  | { type: 'PORT'; port: MessagePort }
  /** Close the store and exit. */
  | { type: 'STOP' }
  /** Cluster: these outbox entries are published (delete them), and meta values to set; in a transaction of their own. */
  | { type: 'OUTBOX_DONE'; ids: number[]; meta: [string, string | null][] };

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
  /** The commit thread's end is the other side of this port. */
  commitPort: MessagePort;
  /** Batch buffers come back here from main once it is done with them (for reuse). */
  recyclePort: MessagePort;
  clockPersistMs?: number;
  /** Longest an absorbed change should wait to be committed (ms). */
  latencyTargetMs?: number;
  /** Cluster mode: this node's name (src/cluster). */
  nodeName?: string;
  /** Cluster mode: how often a liveness digest is sent (ms). */
  digestMs?: number;
}

export interface CommitThreadData {
  path: string;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
}
