// How the SQL tables follow the store: from every committed batch
// (store/batch.ts) the main thread copies the operations they need (the
// instance puts and deletes, a clear, the per-app history blocks) into a
// buffer of their own, in the batch's format, and posts it to the SQL
// thread; the batch itself goes straight back to the writer for reuse.
// The SQL thread folds them into PendingChanges (the latest state per
// instance) and writes those into DuckDB before a query, or every second.
//
// Folding decodes nothing: PendingChanges keeps the buffers and, per
// instance slot, where its latest put is; the rows are read from those
// bytes once, when they are written in (staging.ts). A slot names one
// instance until the instance is removed (and the removal committed), so
// the latest put per slot is the latest state of that instance. Removals
// go by key (their operation has no value): a put that came before a
// removal of its key is dropped, one after it kept.

import { OpKind, OP_HEADER, eachOp } from '../store/batch.js';
import { DbId } from '../store/layout.js';

const pad4 = (n: number): number => (n + 3) & ~3;
const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** What the SQL thread needs of a committed batch, copied; null when nothing. */
export function takeSqlChanges(buffer: ArrayBuffer, length: number): ArrayBuffer | null {
  const wanted = (db: number, kind: number): boolean =>
    (db === DbId.inst && (kind === OpKind.put || kind === OpKind.del || kind === OpKind.clear)) ||
    (db === DbId.history && (kind === OpKind.put || kind === OpKind.clear));
  let size = 0;
  eachOp(buffer, length, (op) => {
    if (wanted(op.db, op.kind)) size += pad4(OP_HEADER + op.key.length + op.value.length);
  });
  if (size === 0) return null;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  eachOp(buffer, length, (op) => {
    if (!wanted(op.db, op.kind)) return;
    out[at] = op.db;
    out[at + 1] = op.kind;
    view.setUint16(at + 2, op.key.length, true);
    view.setUint32(at + 4, op.value.length, true);
    view.setUint16(at + 8, 0, true);
    view.setUint16(at + 10, 0, true);
    out.set(op.key, at + OP_HEADER);
    out.set(op.value, at + OP_HEADER + op.key.length);
    at += pad4(OP_HEADER + op.key.length + op.value.length);
  });
  return out.buffer;
}

/** Where pending changes go, in this order: a clear, removals, instances, history blocks (views valid during the call). */
export interface ChangeSink {
  /** Everything written before is gone. */
  clear(): void;
  /** The instance of this key is gone. */
  remove(key: Uint8Array): void;
  /** An instance's stored key and value (its latest state). */
  instance(key: Uint8Array, value: Uint8Array): void;
  /** A per-app history block (store/history.ts), in commit order. */
  history(block: Uint8Array): void;
}

/** Changes not yet written into DuckDB: the latest state per instance, history blocks in order. */
export class PendingChanges {
  #buffers: Uint8Array[] = [];
  /** Latest put per instance slot: an index into the #put* arrays. */
  #puts = new Map<number, number>();
  #putBuffer: number[] = [];
  #putAt: number[] = [];
  #putSeq: number[] = [];
  /** Removals by key (latin1): the key and the order of the removal. */
  #removes = new Map<string, { key: Uint8Array; seq: number }>();
  /** History blocks: buffer index, operation offset. */
  #historyBuffer: number[] = [];
  #historyAt: number[] = [];
  #historyEntries = 0;
  #seq = 0;
  /** Everything before was cleared. */
  cleared = false;

  /** Instances to write or remove, and history entries. */
  get size(): number {
    return this.#puts.size + this.#removes.size + this.#historyEntries;
  }

  /** Instances to write or remove. */
  get instances(): number {
    return this.#puts.size + this.#removes.size;
  }

  get empty(): boolean {
    return this.size === 0 && !this.cleared;
  }

  /** Folds in the operations of takeSqlChanges' buffer (kept until written). */
  add(buffer: ArrayBuffer): void {
    const b = new Uint8Array(buffer);
    const index = this.#buffers.length;
    let used = false;
    for (let at = 0; at < b.length; ) {
      const db = b[at]!;
      const kind = b[at + 1]!;
      const keyLength = u16(b, at + 2);
      const valueLength = u32(b, at + 4);
      const next = at + pad4(OP_HEADER + keyLength + valueLength);
      if (kind === OpKind.clear) {
        if (db === DbId.inst) this.#forget();
      } else if (db === DbId.history) {
        if (kind === OpKind.put) {
          this.#historyBuffer.push(index);
          this.#historyAt.push(at);
          this.#historyEntries += u32(b, at + OP_HEADER + keyLength);
          used = true;
        }
      } else if (kind === OpKind.put) {
        const slot = u32(b, at + OP_HEADER + keyLength);
        const seq = this.#seq++;
        const i = this.#puts.get(slot);
        if (i === undefined) {
          this.#puts.set(slot, this.#putBuffer.length);
          this.#putBuffer.push(index);
          this.#putAt.push(at);
          this.#putSeq.push(seq);
        } else {
          this.#putBuffer[i] = index;
          this.#putAt[i] = at;
          this.#putSeq[i] = seq;
        }
        used = true;
      } else if (kind === OpKind.del) {
        const key = b.slice(at + OP_HEADER, at + OP_HEADER + keyLength);
        this.#removes.set(Buffer.from(key.buffer).toString('latin1'), { key, seq: this.#seq++ });
      }
      at = next;
    }
    // A buffer is kept only while something points into it.
    this.#buffers.push(used ? b : EMPTY);
  }

  /** Hands the changes to sink, in the sink's order. */
  writeTo(sink: ChangeSink): void {
    if (this.cleared) sink.clear();
    for (const { key } of this.#removes.values()) sink.remove(key);
    const removes = this.#removes;
    for (const i of this.#puts.values()) {
      const b = this.#buffers[this.#putBuffer[i]!]!;
      const at = this.#putAt[i]!;
      const keyLength = u16(b, at + 2);
      const valueLength = u32(b, at + 4);
      const keyAt = at + OP_HEADER;
      if (removes.size > 0) {
        const removed = removes.get(Buffer.from(b.buffer, b.byteOffset + keyAt, keyLength).toString('latin1'));
        // Removed after this put: the put is history.
        if (removed !== undefined && removed.seq > this.#putSeq[i]!) continue;
      }
      sink.instance(b.subarray(keyAt, keyAt + keyLength), b.subarray(keyAt + keyLength, keyAt + keyLength + valueLength));
    }
    for (let h = 0; h < this.#historyAt.length; h++) {
      const b = this.#buffers[this.#historyBuffer[h]!]!;
      const at = this.#historyAt[h]!;
      const keyLength = u16(b, at + 2);
      const valueAt = at + OP_HEADER + keyLength;
      sink.history(b.subarray(valueAt, valueAt + u32(b, at + 4)));
    }
  }

  /** Drops what is pending (a clear). */
  #forget(): void {
    this.#puts.clear();
    this.#putBuffer = [];
    this.#putAt = [];
    this.#putSeq = [];
    this.#removes.clear();
    this.#historyBuffer = [];
    this.#historyAt = [];
    this.#historyEntries = 0;
    this.#buffers = this.#buffers.map(() => EMPTY);
    this.cleared = true;
  }

  clear(): void {
    this.#forget();
    this.#buffers = [];
    this.cleared = false;
  }
}

const EMPTY = new Uint8Array(0);
