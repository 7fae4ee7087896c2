// What every instance changed since the last cut will be stored as, in one
// growable arena: its key and its stored value (instance-value.ts; slot,
// since and written_at are filled in at the cut), [u16 key length][u16
// value length][key][value] each. An instance changed many times between two
// cuts keeps one entry (the latest), and the older ones become garbage that
// a compaction drops when the arena would otherwise have to grow. Keeping
// the value rather than the ring record halves the memory a storm's backlog
// takes.
//
// The arena offset (+1, 0 = none) lives in one of the instance index's
// columns, owned by the caller; the arena only reads and rewrites it.

import { RECORD_HEADER, R_KEY_LEN, get16 } from '../ingest/record.js';
import { valueLength, writeValue } from './instance-value.js';
import type { KeyIndex } from './key-index.js';

/** An entry's header: key length, value length. */
export const ENTRY_HEADER = 4;

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

  /** Where slot's entry starts in the arena, or -1. */
  offsetOf(slot: number): number {
    return this.#index.cols[this.#column]![slot]! - 1;
  }

  /** Makes the update record at rec[off] the slot's pending state. Returns true if the slot had none. */
  set(slot: number, rec: Uint8Array, off: number): boolean {
    const col = this.#index.cols[this.#column]!;
    const previous = col[slot]!;
    if (previous !== 0) {
      this.#garbage += recordLength(this.#arena, previous - 1);
      // Garbage now: a compaction while growing must not keep it.
      col[slot] = 0;
    } else {
      this.#count++;
    }
    const keyLen = get16(rec, off + R_KEY_LEN);
    const valueLen = valueLength(rec, off);
    const len = ENTRY_HEADER + keyLen + valueLen;
    if (this.#used + len > this.#arena.length) this.#grow(len);
    const at = this.#used;
    const a = this.#arena;
    a[at] = keyLen;
    a[at + 1] = keyLen >>> 8;
    a[at + 2] = valueLen;
    a[at + 3] = valueLen >>> 8;
    for (let i = 0; i < keyLen; i++) a[at + ENTRY_HEADER + i] = rec[off + RECORD_HEADER + i]!;
    writeValue(rec, off, a, at + ENTRY_HEADER + keyLen, 0, 0, 0);
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
  return ENTRY_HEADER + get16(arena, at) + get16(arena, at + 2);
}
