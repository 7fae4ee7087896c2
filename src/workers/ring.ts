// Single-producer single-consumer record ring over a SharedArrayBuffer; the
// layout is in ring-layout.ts. The producer publishes a record by storing
// WRITE_POS after writing its bytes; the consumer releases space by storing
// READ_POS only after the records it read are committed, so a writer that
// dies before committing leaves them in the ring for its successor.

import { DATA_OFFSET, LENGTH_PREFIX, READ_POS, WRITE_POS, recordSpan, ringByteLength } from './ring-layout.js';

export function createRing(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(ringByteLength(capacity));
}

function capacityOf(sab: SharedArrayBuffer): number {
  const cap = sab.byteLength - DATA_OFFSET;
  ringByteLength(cap); // validates
  return cap;
}

export class RingProducer {
  readonly #ctrl: Int32Array;
  readonly #data: Uint8Array;
  readonly #cap: number;
  readonly #mask: number;

  constructor(sab: SharedArrayBuffer) {
    this.#ctrl = new Int32Array(sab, 0, DATA_OFFSET / 4);
    this.#cap = capacityOf(sab);
    this.#mask = this.#cap - 1;
    this.#data = new Uint8Array(sab, DATA_OFFSET, this.#cap);
  }

  /** Bytes free for records right now (prefixes and padding included). */
  free(): number {
    const used = (Atomics.load(this.#ctrl, WRITE_POS) - Atomics.load(this.#ctrl, READ_POS)) >>> 0;
    return this.#cap - used;
  }

  /**
   * Appends src[start, start+len) as one record. Returns false, writing
   * nothing, when the ring lacks room: the caller counts the drop.
   */
  tryPush(src: Uint8Array, start: number, len: number): boolean {
    const span = recordSpan(len);
    const write = Atomics.load(this.#ctrl, WRITE_POS);
    const read = Atomics.load(this.#ctrl, READ_POS);
    if (span > this.#cap - ((write - read) >>> 0)) return false;
    const data = this.#data;
    let at = write & this.#mask;
    data[at] = len;
    data[at + 1] = len >>> 8;
    data[at + 2] = len >>> 16;
    data[at + 3] = len >>> 24;
    at = (at + LENGTH_PREFIX) & this.#mask;
    const first = Math.min(len, this.#cap - at);
    data.set(src.subarray(start, start + first), at);
    if (first < len) data.set(src.subarray(start + first, start + len), 0);
    Atomics.store(this.#ctrl, WRITE_POS, (write + span) | 0);
    return true;
  }
}

/**
 * Called for each record: the payload is bytes[offset, offset+length). The
 * bytes are only valid during the call (a record split by the wrap is
 * handed over from a scratch copy).
 */
export type RecordVisitor = (bytes: Uint8Array, offset: number, length: number) => void;

export class RingConsumer {
  readonly #ctrl: Int32Array;
  readonly #data: Uint8Array;
  readonly #cap: number;
  readonly #mask: number;
  /** Position of the next unread record; ahead of READ_POS until release(). */
  #cursor: number;
  #scratch = new Uint8Array(256);

  constructor(sab: SharedArrayBuffer) {
    this.#ctrl = new Int32Array(sab, 0, DATA_OFFSET / 4);
    this.#cap = capacityOf(sab);
    this.#mask = this.#cap - 1;
    this.#data = new Uint8Array(sab, DATA_OFFSET, this.#cap);
    this.#cursor = Atomics.load(this.#ctrl, READ_POS);
  }

  /** Bytes published but not yet read. */
  pending(): number {
    return (Atomics.load(this.#ctrl, WRITE_POS) - this.#cursor) >>> 0;
  }

  /** Reads up to maxRecords published records; returns how many were read. */
  read(visit: RecordVisitor, maxRecords: number): number {
    const write = Atomics.load(this.#ctrl, WRITE_POS);
    const data = this.#data;
    let cursor = this.#cursor;
    let n = 0;
    while (cursor !== write && n < maxRecords) {
      let at = cursor & this.#mask;
      const len = (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
      at = (at + LENGTH_PREFIX) & this.#mask;
      if (at + len <= this.#cap) {
        visit(data, at, len);
      } else {
        if (this.#scratch.length < len) this.#scratch = new Uint8Array(Math.max(len, this.#scratch.length * 2));
        const first = this.#cap - at;
        this.#scratch.set(data.subarray(at, this.#cap), 0);
        this.#scratch.set(data.subarray(0, len - first), first);
        visit(this.#scratch, 0, len);
      }
      cursor = (cursor + recordSpan(len)) | 0;
      n++;
    }
    this.#cursor = cursor;
    return n;
  }

  /** Frees the space of every record read so far (the writer calls it once it has absorbed them: it holds what it needs). */
  release(): void {
    Atomics.store(this.#ctrl, READ_POS, this.#cursor);
  }
}
