// The outbox, read side (main thread). The writer puts a batch's local
// changes in the `outbox` database in the same transaction as the batch
// itself (fleet.ts: key = batch id, value = a wire message), so a change
// committed here is published even if the process dies right after the
// commit. The publisher (node.ts) reads entries in batch order, publishes
// each, and once JetStream has acknowledged it asks the commit thread to
// delete it (Engine.housekeep).
//
// Bounded: past `maxBytes` of unpublished entries main sets Ctl.OUTBOX_FULL,
// the writer stops adding entries and marks the store for a resync
// (META.clusterResync); once the outbox has drained, the node publishes
// every instance it is the origin of (its own state is the compacted form
// of everything it could not publish) and clears the mark.

import { open, type Database, type RootDatabase } from 'lmdb';
import { DB, META, envOptions } from '../store/layout.js';
import { RowStream } from '../store/row-stream.js';

export function outboxKey(id: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeUInt32BE(Math.floor(id / 2 ** 32), 0);
  key.writeUInt32BE(id >>> 0, 4);
  return key;
}

export function outboxId(key: Uint8Array): number {
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4);
}

/** Read access to what the cluster keeps in LMDB: the outbox, meta values and the instances (for snapshots). */
export class ClusterStore {
  readonly #env: RootDatabase;
  readonly #outbox: Database<Buffer, Buffer>;
  readonly #meta: Database<Buffer, Buffer>;
  readonly instRows: RowStream;

  constructor(path: string) {
    this.#env = open(envOptions(path));
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.#outbox = this.#env.openDB<Buffer, Buffer>(DB.outbox, bin);
    this.#meta = this.#env.openDB<Buffer, Buffer>(DB.meta, bin);
    this.instRows = new RowStream(this.#env, DB.inst);
  }

  /** Ids and sizes of every entry, oldest first. */
  entries(): { id: number; bytes: number }[] {
    const out: { id: number; bytes: number }[] = [];
    for (const { key, value } of this.#outbox.getRange({})) out.push({ id: outboxId(key), bytes: value.length });
    return out;
  }

  /**
   * An entry's message (a copy), or null once deleted. The main thread's
   * read snapshot may predate the commit that wrote the entry (lmdb-js
   * renews it lazily): a miss is retried on a fresh snapshot.
   */
  entry(id: number): Buffer | null {
    let v = this.#outbox.getBinary(outboxKey(id));
    if (v === undefined) {
      this.#outbox.resetReadTxn();
      v = this.#outbox.getBinary(outboxKey(id));
    }
    if (v === undefined) return null;
    // A copy (lmdb-js reuses the buffer on the next read); allocUnsafe: no zero-filling of megabytes.
    const copy = Buffer.allocUnsafe(v.length);
    v.copy(copy);
    return copy;
  }

  /** A meta value, as last committed (on a fresh read snapshot). */
  meta(name: string): string | null {
    this.#meta.resetReadTxn();
    const v = this.#meta.getBinary(Buffer.from(name));
    return v === undefined ? null : v.toString('utf8');
  }

  get clusterSeq(): number {
    return Number(this.meta(META.clusterSeq) ?? 0);
  }

  get resyncWanted(): boolean {
    return this.meta(META.clusterResync) !== null;
  }

  instanceCount(): number {
    return (this.#env.openDB(DB.inst, { keyEncoding: 'binary', encoding: 'binary' }).getStats() as { entryCount: number }).entryCount;
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}
