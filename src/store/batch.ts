// A write batch: everything one commit writes, as a flat list of
// operations in one ArrayBuffer. The writer thread builds it when it cuts
// (fleet.ts), the commit thread executes it in one LMDB transaction
// (committer.ts) without knowing what the operations mean, and afterwards
// the main thread reads the instance operations again to tell watchers
// what changed (changes.ts). Moving one ArrayBuffer between threads is a
// transfer, not a copy.
//
// Operation: [u8 db][u8 kind][u16 key length][u32 value length][u16 extra length][u16 0]
//            then key, value, extra bytes, padded to 4.
// `extra` is not written to LMDB: it says what an instance operation means
// for the change feed (ChangeKind and the previous version; see changes.ts).

import type { DbId } from './layout.js';

export const OpKind = {
  put: 1,
  del: 2,
  /** Empty the whole database (key and value empty). */
  clear: 3,
  /** Nothing to write: carries only `extra` (a stale instance, for the feed). */
  note: 4,
} as const;

export const OP_HEADER = 12;

/** What an instance operation (or note) means for the change feed. */
export const ChangeKind = {
  /** First sight. */
  new: 1,
  /** Another version; extra carries the previous one. */
  changed: 2,
  /** Same version, something else changed (address, app name, an HTTP re-send). */
  updated: 3,
  removedTrim: 4,
  removedDelete: 5,
  stale: 6,
} as const;

export type DbIdValue = (typeof DbId)[keyof typeof DbId];

/** Builds a batch; grows as needed. */
export class BatchWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;
  #count = 0;

  /** A buffer to start from: a recycled one (old bytes are overwritten as needed) or a new one. */
  constructor(start: number | ArrayBuffer = 1 << 16) {
    this.#buf = new Uint8Array(typeof start === 'number' ? new ArrayBuffer(start) : start);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#len;
  }

  get count(): number {
    return this.#count;
  }

  /**
   * Reserves an operation and returns where its value starts, so the
   * caller can write the value in place (valueLength bytes). Key and extra
   * are copied.
   */
  begin(db: DbIdValue, kind: number, key: Uint8Array, valueLength: number, extra?: Uint8Array): number {
    const extraLength = extra?.length ?? 0;
    const size = pad4(OP_HEADER + key.length + valueLength + extraLength);
    this.#room(size);
    const at = this.#len;
    const buf = this.#buf;
    buf[at] = db;
    buf[at + 1] = kind;
    this.#view.setUint16(at + 2, key.length, true);
    this.#view.setUint32(at + 4, valueLength, true);
    this.#view.setUint16(at + 8, extraLength, true);
    this.#view.setUint16(at + 10, 0, true);
    buf.set(key, at + OP_HEADER);
    const valueAt = at + OP_HEADER + key.length;
    if (extra !== undefined) buf.set(extra, valueAt + valueLength);
    this.#len += size;
    this.#count++;
    return valueAt;
  }

  /** The batch's bytes (valid until the next begin). */
  get bytes(): Uint8Array {
    return this.#buf;
  }

  put(db: DbIdValue, key: Uint8Array, value: Uint8Array, extra?: Uint8Array): void {
    const at = this.begin(db, OpKind.put, key, value.length, extra);
    this.#buf.set(value, at);
  }

  del(db: DbIdValue, key: Uint8Array, extra?: Uint8Array): void {
    this.begin(db, OpKind.del, key, 0, extra);
  }

  clear(db: DbIdValue): void {
    this.begin(db, OpKind.clear, EMPTY, 0);
  }

  note(db: DbIdValue, key: Uint8Array, extra: Uint8Array): void {
    this.begin(db, OpKind.note, key, 0, extra);
  }

  /** Hands the bytes over (for a transfer); the writer must not be used after. */
  take(): { buffer: ArrayBuffer; length: number; count: number } {
    return { buffer: this.#buf.buffer as ArrayBuffer, length: this.#len, count: this.#count };
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n, 1 << 16));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }
}

const EMPTY = new Uint8Array(0);

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** One operation as read back: views into the batch's bytes. */
export interface Op {
  /** Where it starts in the batch (an operation boundary). */
  at: number;
  db: number;
  kind: number;
  key: Uint8Array;
  value: Uint8Array;
  extra: Uint8Array;
}

/** The value length of the first operation of this database and kind, or -1 (reads headers only). */
export function findOp(buffer: ArrayBuffer, length: number, db: number, kind: number): number {
  const bytes = new Uint8Array(buffer, 0, length);
  const view = new DataView(buffer, 0, length);
  for (let at = 0; at < length; at = nextOp(view, at)) {
    if (bytes[at] === db && bytes[at + 1] === kind) return view.getUint32(at + 4, true);
  }
  return -1;
}

/** Where the operation after the one at `at` starts (reads its header only). */
export function nextOp(view: DataView, at: number): number {
  return at + pad4(OP_HEADER + view.getUint16(at + 2, true) + view.getUint32(at + 4, true) + view.getUint16(at + 8, true));
}

/**
 * Visits the operations of a batch from byte `from` (an operation
 * boundary) on; visit returns false to stop. Returns where it stopped
 * (`length` once every operation was visited). The views are valid during
 * the call.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a visitor returns false to stop, anything else (nothing) to go on
export function eachOp(buffer: ArrayBuffer, length: number, visit: (op: Op) => boolean | void, from = 0): number {
  const bytes = new Uint8Array(buffer, 0, length);
  const view = new DataView(buffer, 0, length);
  const op = emptyOp();
  let at = from;
  while (at < length) {
    readOp(bytes, view, at, op);
    if (visit(op) === false) return at;
    at += pad4(OP_HEADER + op.key.length + op.value.length + op.extra.length);
  }
  return length;
}

/** An Op to read into (readOp). */
export function emptyOp(): Op {
  return { at: 0, db: 0, kind: 0, key: EMPTY, value: EMPTY, extra: EMPTY };
}

/** Reads the operation at `at` (an operation boundary) into `op`: views into `bytes`. */
export function readOp(bytes: Uint8Array, view: DataView, at: number, op: Op): Op {
  const keyLength = view.getUint16(at + 2, true);
  const valueLength = view.getUint32(at + 4, true);
  const extraLength = view.getUint16(at + 8, true);
  const k = at + OP_HEADER;
  op.db = bytes[at]!;
  op.kind = bytes[at + 1]!;
  op.key = bytes.subarray(k, k + keyLength);
  op.value = bytes.subarray(k + keyLength, k + keyLength + valueLength);
  op.extra = bytes.subarray(k + keyLength + valueLength, k + keyLength + valueLength + extraLength);
  op.at = at;
  return op;
}
