// What changed in the writer's fleet since the last cut (fleet.ts absorbs,
// cut.ts takes): the instances to write, the removals, the history
// entries, the DELETE results and the counters that say what the next
// batch acknowledges. A cut takes all of it and starts a fresh set.

import type { WireWriter } from '../cluster/wire.js';
import { HistoryLog } from './history.js';
import type { KeyIndex } from './key-index.js';
import { PendingRecords } from './pending.js';
import { PENDING } from './instance-columns.js';

export interface Removal {
  slot: number;
  /** Whether LMDB holds the instance (its record must be deleted). */
  stored: boolean;
}

/** A slot to release once the batch that removed it is committed. */
export interface Release {
  index: KeyIndex;
  slot: number;
}

export class ChangeSet {
  /** The latest stored form of every changed instance. */
  pending: PendingRecords;
  /** Slots with a pending record, in the order they first changed. */
  dirty: number[] = [];
  removals: Removal[] = [];
  readonly history = new HistoryLog();
  /** Instances that turned stale (for the change feed). */
  staleSlots: number[] = [];
  /** [seq, instances removed] of the DELETE requests absorbed. */
  results: [number, number][] = [];
  /** Slots removed: reusable once the batch is committed. */
  releases: Release[] = [];
  /** A clear was absorbed: the batch empties LMDB first. */
  clearPending = false;
  /** Repeated updates since the clocks were last put in a batch (not reset by a cut without clocks). */
  clockOnly = 0;
  /** Cluster: the store is marked for a resync (the outbox overflowed); kept across cuts. */
  resyncMarked = false;
  /** Control records (clear, delete). */
  control = 0;
  /** Absorbed records whose pending state a removal or clear superseded. */
  superseded = 0;
  /** Highest HTTP/control sequence number absorbed. */
  ackSeq = 0;
  /** First sights, version changes and removals. */
  changes = 0;
  /** When the oldest change was absorbed (ms since the epoch; 0: none). */
  oldestMs = 0;
  /**
   * Cluster: this node's own changes, in the order they were absorbed
   * (updates that changed something, removals, clears): the batch's outbox
   * entry, published once it is committed.
   */
  outbox: WireWriter | null = null;

  constructor(inst: KeyIndex) {
    this.pending = new PendingRecords(inst, PENDING);
  }

  /** A sequence number a client waits for. */
  noteSeq(seq: number): void {
    if (seq > this.ackSeq) this.ackSeq = seq;
  }

  /** A first sight, version change or removal. */
  noteChange(): void {
    this.changes++;
    if (this.oldestMs === 0) this.oldestMs = Date.now();
  }

  /** Whether the next cut has anything to write. */
  get any(): boolean {
    return this.urgent || this.dirty.length > 0 || this.removals.length > 0 || this.history.length > 0 || this.staleSlots.length > 0;
  }

  /** Whether a client waits for the next cut. */
  get urgent(): boolean {
    return this.control > 0 || this.clearPending || this.ackSeq > 0;
  }

  /** After a cut: everything taken, the pending arena kept (it was emptied). */
  reset(): void {
    this.dirty = [];
    this.removals = [];
    this.staleSlots = [];
    this.results = [];
    this.releases = [];
    this.ackSeq = 0;
    this.control = 0;
    this.superseded = 0;
    this.changes = 0;
    this.oldestMs = 0;
    this.clearPending = false;
  }
}
