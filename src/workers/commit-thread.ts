// The commit thread: commits the writer's batches to LMDB, one durable
// transaction each, in the order they come, while the writer thread goes
// on draining the rings (the drain loop never waits for the disk).
//
// After a commit it tells the writer (DONE, through their port, plus a
// wake-up in shared memory) and main (COMMITTED: HTTP acknowledgements and
// the change feed). A failed commit (a full disk) is reported and retried
// with the same batch; nothing after it is committed before it.
//
// It outlives the writer thread: if the writer dies, main asks the commit
// thread to DRAIN (commit what the dead writer had handed over), then gives
// the next writer a new port.

import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { udp } from '../ingest/native.js';
import { DiskFullError } from '../errors.js';
import { Committer } from '../store/committer.js';
import { PAGE_SIZE } from '../store/layout.js';
import type { BatchMessage, CommitControl, CommitMessage, CommitThreadData, DoneMessage } from './messages.js';
import { COMMIT_REGION, Stat, statRegion, wakeWriter } from './shared-layout.js';
import { threadLogger } from './thread-log.js';

/** This thread's nice value (the others run at 0). */
const COMMIT_NICE = 10;
/** The fewest operations a part of a batch has on a nearly full disk. */
const PART_MIN_OPS = 16;
/** Pause after a failed commit before retrying. */
const RETRY_MS = 500;
/** Commits the lag figures cover. */
const LAG_WINDOW_MS = 60_000;

const data = workerData as CommitThreadData;
udp.setThreadName('ps-commit');
// Commits can wait a little; ingest, the writer and queries cannot: under
// overload this thread yields, batches grow (which makes each change
// cheaper to commit) and nothing is dropped at the rings.
udp.setThreadNice(COMMIT_NICE);
const control = new Int32Array(data.control);
const stats = statRegion(data.stats, COMMIT_REGION);
const log = threadLogger(control, 'commit');
const post = (msg: CommitMessage, transfer: ArrayBuffer[] = []): void => parentPort!.postMessage(msg, transfer);

let committer: Committer;
try {
  committer = new Committer(data.path);
} catch (err) {
  const e = err as Error & { code?: string };
  post({ type: 'COMMIT_ERROR', message: e.message, code: e.code ?? 'OPEN' });
  process.exit(1);
}
post({ type: 'OPENED' });

const queue: BatchMessage[] = [];
let port: MessagePort | null = null;
let retryTimer: NodeJS.Timeout | null = null;
let drainWanted = false;
let lastError = '';
/** [finished at ms, lag ms] of recent commits. */
const lags: [number, number][] = [];

function receive(msg: BatchMessage): void {
  queue.push(msg);
  if (retryTimer === null) work();
}

/** Where the first queued batch's next part starts (0: not split). */
let resumeAt = 0;

/**
 * Commits queued batches in order until one fails (then retries later). A
 * batch the disk cannot hold at once is committed in parts, each durable,
 * so that a nearly full disk still makes progress (the parts of one batch
 * are idempotent puts and deletes: a part committed twice after a crash
 * changes nothing). Its requests are acknowledged once every part is in.
 */
function work(): void {
  retryTimer = null;
  while (queue.length > 0) {
    const batch = queue[0]!;
    try {
      let r: { ms: number; pruned: number; end: number };
      if (resumeAt === 0) {
        try {
          r = committer.commit(batch);
        } catch (err) {
          if (!(err instanceof DiskFullError)) throw err;
          r = commitInParts(batch);
        }
      } else {
        r = commitInParts(batch);
      }
      committer.release();
      queue.shift();
      resumeAt = 0;
      done(batch, r.ms, r.pruned);
    } catch (err) {
      const e = err as Error & { code?: string };
      stats[Stat.commitErrors]!++;
      if (e.message !== lastError) post({ type: 'COMMIT_ERROR', message: e.message, code: e.code });
      lastError = e.message;
      retryTimer = setTimeout(work, RETRY_MS);
      return;
    }
  }
  if (drainWanted) {
    drainWanted = false;
    post({ type: 'IDLE' });
  }
}

/**
 * Commits the rest of a batch a part at a time: as many operations as could
 * each copy a page into half the free disk.
 */
function commitInParts(batch: BatchMessage): { ms: number; pruned: number; end: number } {
  let ms = 0;
  let pruned = 0;
  while (resumeAt < batch.length) {
    const free = committer.freeBytes() ?? 0;
    const r = committer.commit(batch, { from: resumeAt, ops: Math.max(PART_MIN_OPS, Math.floor(free / 2 / (PAGE_SIZE * 1.25))) });
    ms += r.ms;
    pruned += r.pruned;
    resumeAt = r.end;
  }
  return { ms, pruned, end: resumeAt };
}

function done(batch: BatchMessage, ms: number, pruned: number): void {
  const now = Date.now();
  stats[Stat.applied]! += batch.applied;
  stats[Stat.commits]!++;
  stats[Stat.written]! += batch.written;
  stats[Stat.removed]! += batch.removed;
  stats[Stat.pruned]! += pruned;
  stats[Stat.lastCommitMs] = ms;
  if (batch.oldestMs > 0) recordLag(now, now - batch.oldestMs);
  if (log.enabled('debug'))
    log.debug('batch committed', {
      id: batch.id,
      written: batch.written,
      removed: batch.removed,
      bytes: batch.length,
      ms: Math.round(ms),
      lag_ms: batch.oldestMs > 0 ? now - batch.oldestMs : 0,
      pruned,
    });
  lastError = '';
  const reply: DoneMessage = { type: 'DONE', id: batch.id, ms };
  port?.postMessage(reply);
  wakeWriter(control);
  post({ type: 'COMMITTED', id: batch.id, ackSeq: batch.ackSeq, results: batch.results, buffer: batch.buffer, length: batch.length }, [batch.buffer]);
}

function recordLag(now: number, lag: number): void {
  lags.push([now, lag]);
  while (lags.length > 0 && lags[0]![0] < now - LAG_WINDOW_MS) lags.shift();
  const sorted = lags.map(([, l]) => l).sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  stats[Stat.lagP50] = at(0.5);
  stats[Stat.lagP99] = at(0.99);
  stats[Stat.lagMax] = sorted[sorted.length - 1]!;
}

function attach(next: MessagePort): void {
  port?.close();
  port = next;
  port.on('message', receive);
}

parentPort!.on('message', (msg: CommitControl) => {
  switch (msg.type) {
    case 'PORT':
      attach(msg.port);
      break;
    case 'DRAIN': {
      // Batches the dead writer posted but this thread has not seen yet.
      if (port !== null) for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) queue.push(m.message as BatchMessage);
      drainWanted = true;
      if (retryTimer === null) work();
      break;
    }
    case 'OUTBOX_DONE':
      try {
        committer.housekeep(msg.ids, msg.meta);
      } catch (err) {
        // Not fatal: an entry left behind is published again (and deduplicated) after a restart.
        post({ type: 'COMMIT_ERROR', message: `outbox cleanup: ${(err as Error).message}`, code: (err as { code?: string }).code });
      }
      break;
    case 'STOP':
      if (retryTimer !== null) clearTimeout(retryTimer);
      port?.close();
      void committer.close().then(() => process.exit(0));
      break;
  }
});
