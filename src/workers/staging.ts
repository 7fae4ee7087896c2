// Records moved out of the rings while the writer cannot absorb them yet
// (it is loading the store, which takes seconds for millions of instances,
// or cutting a batch), so the rings keep room and ingest drops nothing.
// Bounded: past maxBytes the writer leaves records in the rings, which then
// fill and drop (counted).

import type { RecordVisitor, RingConsumer } from './ring.js';

export class Staging {
  readonly #max: number;
  #buf = Buffer.alloc(1 << 16);
  #used = 0;
  #count = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  get bytes(): number {
    return this.#used;
  }

  /** Records staged. */
  get count(): number {
    return this.#count;
  }

  /** Moves what the rings hold here; returns how many records. */
  take(rings: readonly RingConsumer[], perRing: number): number {
    let n = 0;
    const copy: RecordVisitor = (bytes, offset, length) => {
      if (this.#used + 4 + length > this.#buf.length) this.#grow(4 + length);
      this.#buf.writeUInt32LE(length, this.#used);
      this.#buf.set(bytes.subarray(offset, offset + length), this.#used + 4);
      this.#used += 4 + length;
    };
    for (const ring of rings) {
      // Keep going until the ring is empty or the bound is reached.
      while (this.#used < this.#max) {
        const got = ring.read(copy, perRing);
        ring.release();
        n += got;
        if (got < perRing) break;
      }
    }
    this.#count += n;
    return n;
  }

  /** Hands every staged record over, in arrival order, and empties. */
  replay(visit: RecordVisitor): void {
    for (let at = 0; at < this.#used; ) {
      const length = this.#buf.readUInt32LE(at);
      visit(this.#buf, at + 4, length);
      at += 4 + length;
    }
    this.#used = 0;
    this.#count = 0;
  }

  #grow(need: number): void {
    const grown = Buffer.alloc(Math.max(this.#buf.length * 2, this.#used + need));
    this.#buf.copy(grown, 0, 0, this.#used);
    this.#buf = grown;
  }
}
