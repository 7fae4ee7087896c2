// How the SQL tables follow the store: from every committed batch
// (store/batch.ts) the main thread copies the operations they need (the
// instance puts and deletes, a clear, the per-app history blocks) into a
// buffer of their own, in the batch's format, and posts it to the SQL
// thread; the batch itself goes straight back to the writer for reuse.
// The SQL thread folds them into PendingChanges (the latest state per
// instance) and writes those into DuckDB before a query, or every second.

import { OpKind, OP_HEADER, eachOp } from '../store/batch.js';
import { entryOffsets, newEntryView, readEntry } from '../store/history.js';
import { DbId } from '../store/layout.js';
import { historyRow, instanceRow, keyParts, type HistoryRow, type InstanceRow } from './rows.js';

const pad4 = (n: number): number => (n + 3) & ~3;

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

/** Changes not yet written into DuckDB: the latest state per instance, history rows in order. */
export class PendingChanges {
  /** Instances to (re)write, by key (latin1). */
  readonly upserts = new Map<string, InstanceRow>();
  /** Instances to delete, by key: (app_id, host, instance). */
  readonly deletes = new Map<string, [string, string, number]>();
  history: HistoryRow[] = [];
  /** Everything before was cleared. */
  cleared = false;

  get size(): number {
    return this.upserts.size + this.deletes.size + this.history.length;
  }

  get empty(): boolean {
    return this.size === 0 && !this.cleared;
  }

  /** Folds in the operations of takeSqlChanges' buffer. */
  add(buffer: ArrayBuffer): void {
    const entry = newEntryView();
    eachOp(buffer, buffer.byteLength, (op) => {
      if (op.kind === OpKind.clear) {
        if (op.db !== DbId.inst) return;
        this.upserts.clear();
        this.deletes.clear();
        this.history = [];
        this.cleared = true;
        return;
      }
      if (op.db === DbId.history) {
        for (const at of entryOffsets(op.value)) this.history.push(historyRow(readEntry(op.value, at, entry)));
        return;
      }
      const name = Buffer.from(op.key.buffer, op.key.byteOffset, op.key.length).toString('latin1');
      if (op.kind === OpKind.put) {
        this.upserts.set(name, instanceRow(op.key, op.value));
        // The put replaces whatever row the key has: no separate delete needed.
        this.deletes.delete(name);
      } else {
        this.upserts.delete(name);
        this.deletes.set(name, keyParts(op.key));
      }
    });
  }

  clear(): void {
    this.upserts.clear();
    this.deletes.clear();
    this.history = [];
    this.cleared = false;
  }
}
