// The committer: the only code that writes LMDB. It runs on the commit
// thread (src/workers/commit-thread.ts) and executes write batches built by
// the writer thread (fleet.ts, batch.ts), one durable transaction each,
// without knowing what the operations mean.
//
// Durability: a commit returns once its data is flushed (lmdb-js's
// overlappingSync with a synchronous commit: a store that lost power
// reopens at its last flushed transaction). The writer thread keeps
// absorbing while a commit runs, so the next batch is as large as the time
// the disk took: commits grow with the load, and a large commit costs far
// less per instance than many small ones.
//
// Disk space: before each commit the blocks it may write are reserved
// (reserve.ts); if the disk cannot hold them the commit is refused with
// code ENOSPC and nothing is written: the same batch is retried later.

import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { TransactionFlags, open, type Database, type RootDatabase } from 'lmdb';
import { DiskFullError, StoreLayoutError } from '../errors.js';
import { OpKind, emptyOp, readOp } from './batch.js';
import { blockNewest } from './history.js';
import { DATA_FILE, DB, DB_IDS, DbId, META, SCHEMA_VERSION, envOptions } from './layout.js';
import { executionOrder } from './key-order.js';
import { FileReservation } from './reserve.js';

// Abortable, synchronous commit, flushed before returning (lmdb's TransactionFlags).
const SYNC_FLAGS = (TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT) as TransactionFlags;
/** History blocks pruning examines per commit, per database. */
const PRUNE_SLICE = 500;
/** Longest time between two pruning passes (s). */
const PRUNE_PASS_EVERY_S = 3600;

/** History pruning in one block database: a pass examines PRUNE_SLICE blocks per commit. */
interface PrunePass {
  /** Where the pass resumes (null: no pass under way). */
  from: Buffer | null;
  /**
   * No block can be old enough to prune before the cutoff passes this
   * (unix s): the oldest block the last pass kept, or that pass's start
   * (blocks written since are newer), or an hour after it ended. Until then
   * pruning reads nothing: a pass reads every block's value, and on a young
   * store it would do so in every commit for nothing.
   */
  idleUntil: number;
  /** The pass under way: the oldest newest-entry time it kept, and when it began. */
  oldestKept: number;
  startedAt: number;
}

function newPrunePass(): PrunePass {
  return { from: null, idleUntil: 0, oldestKept: Infinity, startedAt: 0 };
}

export interface CommitInput {
  buffer: ArrayBuffer;
  length: number;
  /** History blocks whose newest entry is older than this (unix s) go; 0 = keep. */
  pruneBefore: number;
  /** A bound on the bytes the commit may add to the file. */
  bytesBound: number;
}

export class Committer {
  readonly path: string;
  readonly #env: RootDatabase;
  readonly #dbs: Database<Buffer, Buffer>[];
  readonly #reservation: FileReservation;
  readonly #pageSize: number;
  /** History pruning's progress in each block database (history, histhost). */
  #pruning: PrunePass[] = [newPrunePass(), newPrunePass()];

  constructor(path: string, mapSize?: number) {
    this.path = path;
    this.#env = open(envOptions(path, mapSize));
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.#dbs = DB_IDS.map((name) => this.#env.openDB<Buffer, Buffer>(name, bin));
    this.#pageSize = (this.#env.getStats() as { pageSize: number }).pageSize;
    this.#reservation = new FileReservation(join(path, DATA_FILE));
    try {
      // Even the first write (the layout's version) goes through the map.
      this.#reserve(this.usedBytes() + (1 << 20));
      this.#checkSchema();
    } catch (err) {
      this.#reservation.close();
      void this.#env.close();
      throw err;
    }
  }

  #checkSchema(): void {
    const meta = this.#dbs[DbId.meta]!;
    const stored = meta.getBinary(Buffer.from(META.schema));
    if (stored === undefined) {
      const empty = DB_IDS.every((name, id) => name === DB.meta || (this.#dbs[id]!.getStats() as { entryCount: number }).entryCount === 0);
      if (!empty) throw new StoreLayoutError(this.path, 'holds data of an unknown layout');
      meta.putSync(Buffer.from(META.schema), Buffer.from(String(SCHEMA_VERSION)));
      return;
    }
    const schema = Number(stored.toString('latin1'));
    if (schema !== SCHEMA_VERSION) {
      throw new StoreLayoutError(this.path, `has data layout ${schema}; this partiscid reads layout ${SCHEMA_VERSION} (see README: upgrading)`);
    }
  }

  /** Bytes of the data file in use (LMDB's last page). */
  usedBytes(): number {
    const stats = this.#env.getStats() as { lastPageNumber?: number };
    return ((stats.lastPageNumber ?? 0) + 1) * this.#pageSize;
  }

  /** Free bytes where the data lives (null if the system cannot tell). */
  freeBytes(): number | null {
    try {
      const s = statfsSync(this.path);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }

  /**
   * Executes a batch in one durable transaction, or, with `part`, at most
   * `ops` of its operations from byte `from` (a disk too short for the whole
   * batch: see the commit thread). Throws (and writes nothing) if the disk
   * cannot hold it or LMDB refuses. Returns where it ended (the batch's
   * length when it is all done).
   */
  commit(batch: CommitInput, part?: { from: number; ops: number }): { ms: number; pruned: number; end: number } {
    const started = performance.now();
    const from = part?.from ?? 0;
    const maxOps = part?.ops ?? Infinity;
    // What this commit will do, each run of puts or deletes into one
    // database in key order (key-order.ts); its size bounds what it can add
    // to the file.
    const { order, end: limit } = executionOrder(batch.buffer, batch.length, from, maxOps);
    const ops = order.length;
    const span = limit - from;
    const used = this.usedBytes();
    // Copy-on-write: each page a commit touches is copied once at most, so
    // it cannot grow the file by more than the store's size, or a page (and
    // a share of branch pages) per operation, plus room for the new bytes.
    const growth = Math.min(batch.bytesBound, Math.min(used, ops * this.#pageSize * 1.25) + Math.ceil(span * 1.5) + (256 << 10));
    this.#reserve(used + growth);
    let pruned = 0;
    let end = from;
    const dbs = this.#dbs;
    const bytes = new Uint8Array(batch.buffer, 0, limit);
    const view = new DataView(batch.buffer, 0, limit);
    const op = emptyOp();
    this.#env.transactionSync(() => {
      for (const at of order) {
        readOp(bytes, view, at, op);
        const db = dbs[op.db]!;
        switch (op.kind) {
          case OpKind.put:
            db.putSync(op.key as Buffer, op.value as Buffer);
            break;
          case OpKind.del:
            db.removeSync(op.key as Buffer);
            break;
          case OpKind.clear:
            db.clearSync();
            this.#pruning = this.#pruning.map(newPrunePass);
            break;
        }
      }
      end = limit;
      if (end === batch.length && batch.pruneBefore > 0)
        pruned = this.#prune(DbId.history, 0, batch.pruneBefore) + this.#prune(DbId.histhost, 1, batch.pruneBefore);
    }, SYNC_FLAGS);
    return { ms: performance.now() - started, pruned, end };
  }

  /** Reserves the data file's blocks up to `end`; DiskFullError when the disk cannot hold them. */
  #reserve(end: number): void {
    try {
      this.#reservation.ensure(end);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
      const free = this.freeBytes();
      throw new DiskFullError(this.path, free === null ? null : free / 2 ** 20, (end - this.usedBytes()) / 2 ** 20);
    }
  }

  /**
   * Deletes history blocks whose newest entry is older than cutoff,
   * examining at most PRUNE_SLICE blocks from where the last call stopped.
   */
  #prune(id: number, resume: number, cutoff: number): number {
    const pass = this.#pruning[resume]!;
    if (pass.from === null) {
      if (cutoff <= pass.idleUntil) return 0;
      pass.startedAt = Math.floor(Date.now() / 1000);
      pass.oldestKept = Infinity;
    }
    const db = this.#dbs[id]!;
    let examined = 0;
    let last: Buffer | null = null;
    const old: Buffer[] = [];
    for (const { key, value } of db.getRange({ start: pass.from ?? undefined, limit: PRUNE_SLICE })) {
      examined++;
      last = key;
      const newest = blockNewest(value);
      if (newest < cutoff) old.push(Buffer.from(key));
      else if (newest < pass.oldestKept) pass.oldestKept = newest;
    }
    for (const key of old) db.removeSync(key);
    if (examined < PRUNE_SLICE || last === null) {
      // The pass is over: start over once the cutoff can have reached a
      // block, or an hour from now at the latest (a cluster node may write
      // blocks of changes older than their writing).
      pass.from = null;
      pass.idleUntil = Math.min(pass.oldestKept, pass.startedAt, cutoff + PRUNE_PASS_EVERY_S);
    } else {
      // Resume just after the last block examined.
      pass.from = Buffer.concat([last, Buffer.from([0])]);
    }
    return old.length;
  }

  /**
   * Cluster bookkeeping in a transaction of its own: deletes published
   * outbox entries (by batch id) and sets or deletes meta values. Not
   * flushed before returning: losing it to a crash only means publishing
   * an entry again (receivers deduplicate) or an older stream position.
   */
  housekeep(ids: readonly number[], meta: readonly [string, string | null][]): void {
    const outbox = this.#dbs[DbId.outbox]!;
    const metaDb = this.#dbs[DbId.meta]!;
    this.#env.transactionSync(() => {
      for (const id of ids) {
        const key = Buffer.allocUnsafe(8);
        key.writeUInt32BE(Math.floor(id / 2 ** 32), 0);
        key.writeUInt32BE(id >>> 0, 4);
        outbox.removeSync(key);
      }
      for (const [k, v] of meta) {
        if (v === null) metaDb.removeSync(Buffer.from(k));
        else metaDb.putSync(Buffer.from(k), Buffer.from(v));
      }
    });
  }

  /** Ends this thread's read snapshot (the commit thread reads only inside transactions). */
  release(): void {
    this.#dbs[DbId.meta]!.resetReadTxn();
  }

  async close(): Promise<void> {
    this.#reservation.close();
    await this.#env.close();
  }
}
