// A clock: last_update (unix seconds) per slot, as a dense u32 array, with
// the set of chunks changed since the last flush. The writer keeps one for
// instances, one for hosts and one for apps (slots from its KeyIndexes);
// flush() hands the dirty chunks (CLOCK_CHUNK slots each) to LMDB. See
// layout.ts for why.

import { CLOCK_CHUNK, clockKey } from './layout.js';

export class SlotClock {
  readonly kind: number;
  ts = new Uint32Array(CLOCK_CHUNK * 4);
  #dirty = new Uint8Array(64);
  #dirtyList: number[] = [];

  constructor(kind: number) {
    this.kind = kind;
  }

  get dirtyCount(): number {
    return this.#dirtyList.length;
  }

  /** Makes room for slot (and resets it to 0: a reused slot starts fresh). */
  reset(slot: number): void {
    if (slot >= this.ts.length) {
      let n = this.ts.length;
      while (n <= slot) n *= 2;
      const grown = new Uint32Array(n);
      grown.set(this.ts);
      this.ts = grown;
    }
    this.ts[slot] = 0;
  }

  get(slot: number): number {
    return slot < this.ts.length ? this.ts[slot]! : 0;
  }

  /** Moves slot's time forward to time (never back). */
  advance(slot: number, time: number): void {
    if (time <= this.ts[slot]!) return;
    this.ts[slot] = time;
    const chunk = (slot / CLOCK_CHUNK) | 0;
    if (chunk >= this.#dirty.length) {
      const grown = new Uint8Array(Math.max(chunk + 1, this.#dirty.length * 2));
      grown.set(this.#dirty);
      this.#dirty = grown;
    }
    if (this.#dirty[chunk] === 0) {
      this.#dirty[chunk] = 1;
      this.#dirtyList.push(chunk);
    }
  }

  /** Loads a stored chunk: each slot that `live` accepts keeps the later of the two times. */
  mergeChunk(baseSlot: number, times: Uint32Array, live: (slot: number) => boolean): void {
    for (let i = 0; i < times.length; i++) {
      const s = baseSlot + i;
      if (s < this.ts.length && times[i]! > this.ts[s]! && live(s)) this.ts[s] = times[i]!;
    }
  }

  /** Hands every dirty chunk to put(key, bytes) and marks it clean. */
  flush(put: (key: Buffer, bytes: Buffer) => void): void {
    for (const chunk of this.#dirtyList) {
      this.#dirty[chunk] = 0;
      put(clockKey(this.kind, chunk), this.#chunkBytes(chunk));
    }
    this.#dirtyList = [];
  }

  #chunkBytes(chunk: number): Buffer {
    const start = chunk * CLOCK_CHUNK;
    const ts = this.ts;
    if (start + CLOCK_CHUNK <= ts.length) return Buffer.from(ts.buffer, ts.byteOffset + start * 4, CLOCK_CHUNK * 4);
    const copy = new Uint32Array(CLOCK_CHUNK);
    copy.set(ts.subarray(start, Math.min(ts.length, start + CLOCK_CHUNK)));
    return Buffer.from(copy.buffer);
  }

  clear(): void {
    this.ts.fill(0);
    this.#dirty.fill(0);
    this.#dirtyList = [];
  }
}
