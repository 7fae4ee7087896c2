// A clock: last_update (unix seconds) per slot, as a dense u32 array, with
// the set of chunks changed since the last flush. The writer keeps one for
// instances, one for hosts and one for apps; flush() hands the dirty chunks
// (CLOCK_CHUNK slots each) to LMDB. See layout.ts for why.

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

  /** Loads a stored chunk: each slot keeps the later of the two times. */
  mergeChunk(baseSlot: number, times: Uint32Array): void {
    for (let i = 0; i < times.length; i++) {
      const s = baseSlot + i;
      if (s < this.ts.length && times[i]! > this.ts[s]!) this.ts[s] = times[i]!;
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

/**
 * Slot numbers for hosts or apps, with a clock. A slot freed by a commit is
 * reusable only after that commit (releasePending), so one transaction never
 * hands the same slot to two summaries.
 */
export class SummarySlots {
  readonly clock: SlotClock;
  #used = new Uint8Array(1024);
  #free: number[] = [];
  #pendingFree: number[] = [];
  #highWater = 0;
  #live = 0;

  constructor(kind: number) {
    this.clock = new SlotClock(kind);
  }

  get live(): number {
    return this.#live;
  }

  allocate(): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#highWater++;
    this.#mark(slot, 1);
    this.clock.reset(slot);
    this.#live++;
    return slot;
  }

  /** Registers a slot found in LMDB at startup. */
  adopt(slot: number, writtenAt: number): void {
    this.#mark(slot, 1);
    this.clock.reset(slot);
    this.clock.ts[slot] = writtenAt;
    if (slot >= this.#highWater) this.#highWater = slot + 1;
    this.#live++;
  }

  /** After adopting: every unused slot below the high-water mark is free. */
  collectFree(): void {
    this.#free = [];
    for (let s = this.#highWater - 1; s >= 0; s--) if (this.#used[s] !== 1) this.#free.push(s);
  }

  freeAfterCommit(slot: number): void {
    this.#pendingFree.push(slot);
  }

  releasePending(): void {
    for (const slot of this.#pendingFree) {
      if (this.#used[slot] !== 1) continue;
      this.#mark(slot, 0);
      this.#free.push(slot);
      this.#live--;
    }
    this.#pendingFree = [];
  }

  clear(): void {
    this.#used.fill(0);
    this.#free = [];
    this.#pendingFree = [];
    this.#highWater = 0;
    this.#live = 0;
    this.clock.clear();
  }

  #mark(slot: number, v: number): void {
    if (slot >= this.#used.length) {
      const grown = new Uint8Array(Math.max(slot + 1, this.#used.length * 2));
      grown.set(this.#used);
      this.#used = grown;
    }
    this.#used[slot] = v;
  }
}
