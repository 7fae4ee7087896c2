// The SQL thread: owns the DuckDB tables (sql/tables.ts). It loads them
// from LMDB slice by slice (read-only, through the store reader), then
// follows the committed batches main posts it (sql/changes.ts), folding
// them into pending changes (the latest per instance) that are written into
// DuckDB before each query, at least once a second, or at once when 50,000
// instances wait. Loading, applying and queries run one at a
// time, in order; DuckDB's own work runs off this thread's event loop
// (node-api's async calls), so an interrupt can stop a query at its limit.
//
//   main ──CHANGES {id, buffer}──► sql thread ──READY / RESULT {id, outcome}──► main
//        ──QUERY {id, sql}──────►

import { parentPort, workerData } from 'node:worker_threads';
import { udp } from '../ingest/native.js';
import { StoreReader } from '../store/reader.js';
import type { ClockBuffers } from '../store/slot-clock.js';
import { PendingChanges } from '../sql/changes.js';
import { SqlTables, type SqlOutcome } from '../sql/tables.js';
import { blockOf } from '../store/history.js';

export interface SqlThreadData {
  path: string;
  clocks: ClockBuffers;
  staleSeconds: number;
  historyDays: number;
  threads: number;
  queryMemoryBytes: number;
  timeoutMs: number;
  maxRows: number;
}

export type SqlRequest = { type: 'CHANGES'; id: number; buffer: ArrayBuffer } | { type: 'QUERY'; id: number; sql: string } | { type: 'STOP' };

export type SqlReply =
  | { type: 'READY'; instances: number; history: number; ms: number }
  | { type: 'RESULT'; id: number; outcome: SqlOutcome }
  | { type: 'STOPPED' };

/** Rows read from LMDB per slice while loading (the thread answers messages in between). */
const LOAD_SLICE = 50_000;
/** Pending instances that make the thread write them in at once rather than at the next tick. */
const APPLY_AT = 50_000;
const APPLY_EVERY_MS = 1000;

const data = workerData as SqlThreadData;
const port = parentPort!;
udp.setThreadName('ps-sql');
// Queries can wait a little; ingest and the HTTP front cannot.
udp.setThreadNice(10);

/** Changes not written in yet. An apply takes the object and leaves a new one: batches keep arriving while DuckDB works. */
let pending = new PendingChanges();
/** Batches posted before the load knew where it started. */
const early: { id: number; buffer: ArrayBuffer }[] = [];
/** Batches below this id are in what was loaded (-1: still loading). */
let loadedBefore = -1;
let stopping = false;

const tables = await SqlTables.open({
  threads: data.threads,
  queryMemoryBytes: data.queryMemoryBytes,
  timeoutMs: data.timeoutMs,
  maxRows: data.maxRows,
  staleSeconds: data.staleSeconds,
  historyDays: data.historyDays,
  clock: data.clocks.instance,
});

/** Loads the store: instances and history, slice by slice. Batches from `next` on are replayed after. */
async function load(): Promise<void> {
  const started = performance.now();
  const reader = new StoreReader(data.path, data.clocks, data.staleSeconds);
  // Read first: a batch committed while the slices are read is replayed
  // after (instance writes are idempotent in order; its history blocks
  // are skipped here by id).
  const next = reader.nextBatch();
  let after: Buffer | null = null;
  let instances = 0;
  do {
    instances += await tables.load((put) => {
      after = reader.instancesAfter(after, LOAD_SLICE, put);
    });
  } while (after !== null);
  let history = 0;
  after = null;
  do {
    history += await tables.history((push) => {
      after = reader.historyBlocksAfter(after, 4 << 20, (key, block) => {
        if (blockOf(key) < next) push(block);
      });
    });
  } while (after !== null);
  reader.release();
  await reader.close();
  await tables.checkpoint();
  loadedBefore = next;
  for (const m of early.splice(0)) if (m.id >= next) pending.add(m.buffer);
  port.postMessage({ type: 'READY', instances, history, ms: Math.round(performance.now() - started) } satisfies SqlReply);
}

/** Loading, applying and queries, one at a time. */
let line: Promise<unknown> = load();
// A load that fails ends the thread (main sees it exit and says why).
line.catch((err: unknown) =>
  setImmediate(() => {
    throw err;
  }),
);
const enqueue = <T>(work: () => Promise<T>): Promise<T> => {
  const next = line.then(work);
  line = next.catch(() => {});
  return next;
};

/**
 * Writes the pending changes in. A failure leaves the tables unlike the
 * store: the thread ends, and main starts a new one that loads afresh.
 */
async function applyPending(): Promise<void> {
  if (pending.empty) return;
  const changes = pending;
  pending = new PendingChanges();
  try {
    await tables.apply(changes);
  } catch (err) {
    setImmediate(() => {
      throw err;
    });
    throw err;
  }
}

let applyQueued = false;
function applySoon(): void {
  if (applyQueued || pending.empty) return;
  applyQueued = true;
  void enqueue(async () => {
    applyQueued = false;
    await applyPending();
  });
}

/** Batches received since the last tick. */
let arrived = 0;
/** Each second: write pending changes in; if no batch came since the last tick, compress (a quiet moment). */
const tick = setInterval(() => {
  if (arrived > 0) {
    arrived = 0;
    applySoon();
  } else if (loadedBefore >= 0) {
    applySoon();
    void enqueue(() => tables.checkpointIfQuiet());
  }
}, APPLY_EVERY_MS);

port.on('message', (msg: SqlRequest) => {
  switch (msg.type) {
    case 'CHANGES':
      arrived++;
      if (loadedBefore < 0) early.push(msg);
      else if (msg.id >= loadedBefore) pending.add(msg.buffer);
      if (pending.instances >= APPLY_AT) applySoon();
      break;
    case 'QUERY':
      void enqueue(async () => {
        await applyPending();
        return tables.query(msg.sql);
      }).then(
        (outcome) => {
          const transfer = outcome.ok && outcome.body.buffer instanceof ArrayBuffer && outcome.body.byteOffset === 0 ? [outcome.body.buffer] : [];
          port.postMessage({ type: 'RESULT', id: msg.id, outcome } satisfies SqlReply, transfer);
        },
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          port.postMessage({ type: 'RESULT', id: msg.id, outcome: { ok: false, code: 'SQL_ERROR', message } } satisfies SqlReply);
        },
      );
      break;
    case 'STOP':
      if (stopping) return;
      stopping = true;
      clearInterval(tick);
      void line.then(() => {
        tables.close();
        port.postMessage({ type: 'STOPPED' } satisfies SqlReply);
        port.close();
      });
      break;
  }
});
