// The latest ring record of every instance changed since the last cut, in
// one growable arena: an instance changed many times between two cuts
// keeps one record (the latest), and the older ones become garbage that a
// compaction drops when the arena would otherwise have to grow.
//
// The arena offset (+1, 0 = none) lives in one of the instance index's
// columns, owned by the caller; the arena only reads and rewrites it.

import { RECORD_HEADER, R_FRAG_LEN, R_KEY_LEN, get16 } from '../ingest/record.js';
import type { KeyIndex } from './key-index.js';

/** Smallest arena. */
const KEEP_BYTES = 1 << 20;
/** Cuts in a row that used under an eighth of the arena before it shrinks. */
const SHRINK_AFTER = 20;

export class PendingRecords {
  readonly #index: KeyIndex;
  readonly #column: number;
  #arena = Buffer.alloc(KEEP_BYTES);
  #used = 0;
  #garbage = 0;
  #count = 0;
  #smallCuts = 0;

  constructor(index: KeyIndex, column: number) {
    this.#index = index;
    this.#column = column;
  }

  /** Instances with a pending record. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of live records. */
  get bytes(): number {
    return this.#used - this.#garbage;
  }

  get arena(): Buffer {
    return this.#arena;
  }

  /** Where slot's record starts in the arena, or -1. */
  offsetOf(slot: number): number {
    return this.#index.cols[this.#column]![slot]! - 1;
  }

  /** Makes rec[off, off+len) the slot's pending record. Returns true if the slot had none. */
  set(slot: number, rec: Uint8Array, off: number, len: number): boolean {
    const col = this.#index.cols[this.#column]!;
    const previous = col[slot]!;
    if (previous !== 0) {
      this.#garbage += recordLength(this.#arena, previous - 1);
      // Garbage now: a compaction while growing must not keep it.
      col[slot] = 0;
    } else {
      this.#count++;
    }
    if (this.#used + len > this.#arena.length) this.#grow(len);
    const at = this.#used;
    this.#arena.set(rec.subarray(off, off + len), at);
    this.#used += len;
    this.#index.cols[this.#column]![slot] = at + 1;
    return previous === 0;
  }

  /** Drops the slot's record (removed, or taken into a batch). */
  drop(slot: number): void {
    const col = this.#index.cols[this.#column]!;
    const at = col[slot]!;
    if (at === 0) return;
    this.#garbage += recordLength(this.#arena, at - 1);
    col[slot] = 0;
    this.#count--;
    if (this.#count === 0) this.#reset();
  }

  /** Forgets every record (the caller clears the column). */
  clear(): void {
    this.#count = 0;
    // Under load every cut fills the arena about as much as the last one:
    // keep it (growing it again would copy and fault in fresh pages each
    // time); once the load has gone for a while, give the memory back.
    this.#smallCuts = this.#used * 8 < this.#arena.length ? this.#smallCuts + 1 : 0;
    this.#reset();
  }

  #reset(): void {
    this.#used = 0;
    this.#garbage = 0;
    if (this.#arena.length > KEEP_BYTES && this.#smallCuts >= SHRINK_AFTER) {
      this.#arena = Buffer.alloc(Math.max(KEEP_BYTES, this.#arena.length >> 2));
      this.#smallCuts = 0;
    }
  }

  #grow(need: number): void {
    // Drop superseded records first; grow only if that is not enough.
    if (this.#garbage * 2 > this.#used) {
      this.#compact();
      if (this.#used + need <= this.#arena.length) return;
    }
    const grown = Buffer.alloc(Math.max(this.#arena.length * 2, this.#used + need));
    this.#arena.copy(grown, 0, 0, this.#used);
    this.#arena = grown;
  }

  #compact(): void {
    const index = this.#index;
    const col = index.cols[this.#column]!;
    const next = Buffer.alloc(this.#arena.length);
    let used = 0;
    for (let s = 0; s < index.highWater; s++) {
      const at = col[s]!;
      if (at === 0) continue;
      const len = recordLength(this.#arena, at - 1);
      this.#arena.copy(next, used, at - 1, at - 1 + len);
      col[s] = used + 1;
      used += len;
    }
    this.#arena = next;
    this.#used = used;
    this.#garbage = 0;
  }
}

function recordLength(arena: Uint8Array, at: number): number {
  return RECORD_HEADER + get16(arena, at + R_KEY_LEN) + get16(arena, at + R_FRAG_LEN);
}
