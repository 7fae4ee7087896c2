// A clock: last_update (unix seconds) per slot, as a dense u32 array in a
// growable SharedArrayBuffer. The writer advances it; the query side reads
// it directly (so a repeated update is visible at once, without any LMDB
// write); the writer persists the chunks that changed (CLOCK_CHUNK slots
// each) to LMDB every few seconds, for restarts. The engine owns the
// buffers, so they outlive a writer thread that dies and is restarted.
// There are three clocks, indexed by the writer's instance, host and app
// slots; see layout.ts.

import { CLOCK_CHUNK, clockKey } from './layout.js';

/** Most slots a clock can hold (address space is reserved, memory is used as it grows). */
export const MAX_CLOCK_SLOTS = { instance: 1 << 26, host: 1 << 24, app: 1 << 20 } as const;

/** The three clocks' buffers, owned by the engine and shared with every thread that reads. */
export interface ClockBuffers {
  instance: SharedArrayBuffer;
  host: SharedArrayBuffer;
  app: SharedArrayBuffer;
}

export function createClockBuffer(maxSlots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CLOCK_CHUNK * 4, { maxByteLength: maxSlots * 4 });
}

export class SlotClock {
  readonly kind: number;
  readonly #sab: SharedArrayBuffer;
  /**
   * A fixed-length view, replaced when this clock grows the buffer (V8
   * reads a length-tracking view of a growable buffer through a runtime
   * call on every access; this one is a plain array).
   */
  ts: Uint32Array;
  #dirty = new Uint8Array(64);
  #dirtyList: number[] = [];

  constructor(kind: number, sab: SharedArrayBuffer) {
    this.kind = kind;
    this.#sab = sab;
    this.ts = new Uint32Array(sab, 0, sab.byteLength >>> 2);
  }

  get dirtyCount(): number {
    return this.#dirtyList.length;
  }

  /** Makes room for slot and resets it to 0 (a reused slot starts fresh). */
  reset(slot: number): void {
    this.ensure(slot);
    this.ts[slot] = 0;
  }

  /** Makes room for slot. */
  ensure(slot: number): void {
    if (slot >= this.ts.length) {
      let bytes = this.#sab.byteLength;
      while (bytes <= slot * 4) bytes *= 2;
      if (bytes > this.#sab.maxByteLength) {
        if (slot * 4 >= this.#sab.maxByteLength) throw new RangeError(`clock ${this.kind} is full (${this.#sab.maxByteLength / 4} slots)`);
        bytes = this.#sab.maxByteLength;
      }
      this.#sab.grow(bytes);
      this.ts = new Uint32Array(this.#sab, 0, bytes >>> 2);
    }
  }

  get(slot: number): number {
    return slot < this.ts.length ? this.ts[slot]! : 0;
  }

  /** Moves slot's time forward to time (never back). */
  advance(slot: number, time: number): void {
    if (time <= this.ts[slot]!) return;
    this.ts[slot] = time;
    const chunk = (slot / CLOCK_CHUNK) | 0;
    if (this.#dirty[chunk] !== 1) this.#markDirty(chunk);
  }

  #markDirty(chunk: number): void {
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

  /** Every slot `live` rejects goes to 0 (after a reload: their owners are gone). */
  zeroUnless(live: (slot: number) => boolean): void {
    for (let s = 0; s < this.ts.length; s++) if (this.ts[s] !== 0 && !live(s)) this.ts[s] = 0;
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
      // Host byte order: the chunks are read back only by this machine's writer.
      const start = chunk * CLOCK_CHUNK;
      const copy = new Uint32Array(CLOCK_CHUNK);
      copy.set(this.ts.subarray(start, Math.min(start + CLOCK_CHUNK, this.ts.length)));
      put(clockKey(this.kind, chunk), Buffer.from(copy.buffer));
    }
    this.#dirtyList = [];
  }

  /** The times as they are now, as a plain view (readers: take one per query; the buffer may grow later). */
  static view(sab: SharedArrayBuffer): Uint32Array {
    return new Uint32Array(sab, 0, sab.byteLength >>> 2);
  }

  /** Forgets every time (after a clear). */
  clear(): void {
    this.ts.fill(0);
    this.#dirty.fill(0);
    this.#dirtyList = [];
  }

  /** Marks every chunk below slot `end` dirty (after a reload: the buffer may be ahead of LMDB). */
  markAllDirty(end: number): void {
    for (let c = 0; c * CLOCK_CHUNK < end; c++) this.#markDirty(c);
  }
}
