// The writer thread: drains every ring into the StoreWriter and commits.
//
// Loop: read what is ready (bounded per ring, so one busy ring cannot
// starve the others), hand it to the writer, which absorbs it in memory, and
// release the ring space at once; sweep expired instances once a second
// when --trim is on; commit when due; sleep.
//
// Ingest workers never wake the writer: it polls the rings every POLL_MS
// while records flow (a wake-up per datagram batch would cost more than the
// batch), and a ring holds thousands of times that. The HTTP front does
// wake it (Ctl.WAKE), because a client waits for the answer.
//
// When the persist backlog (absorbed but not yet in LMDB) passes
// MAX_BACKLOG_BYTES the writer stops reading the rings until it shrinks:
// the rings fill, and ingest workers drop and count, rather than memory
// growing without bound.

import { statfsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from './ring.js';
import { Ctl, Stat, WRITER_REGION, statRegion } from './shared-layout.js';
import type { WriterMessage, WriterThreadData } from './messages.js';
import { StoreWriter } from '../store/writer.js';
import { udp } from '../ingest/native.js';

/** Most records taken from one ring per pass. */
const MAX_PER_RING = 4096;
/** Instances persisted per commit; fewer when the disk is nearly full. */
const PERSIST_BATCH = 2048;
const MIN_BATCH = 16;
/** Trim the C heap after this many instance writes, at most this often. */
const TRIM_AFTER_WRITES = 10_000;
const TRIM_EVERY_MS = 5_000;
/** How long a stopping writer keeps retrying failed commits. */
const STOP_GIVE_UP_MS = 10_000;
/** Pause after a failed commit before retrying. */
const RETRY_MS = 500;
/** Sleep between polls while records flow, and when idle. */
const POLL_MS = 1;
const IDLE_POLL_MS = 20;
/** Absorbed-but-unpersisted records the writer may hold in memory. */
const MAX_BACKLOG_BYTES = 96 * 1024 * 1024;

function post(msg: WriterMessage): void {
  parentPort!.postMessage(msg);
}

function run(data: WriterThreadData): void {
  const control = new Int32Array(data.control);
  const stats = statRegion(data.stats, WRITER_REGION);
  const started = performance.now();
  const writer = new StoreWriter(
    {
      path: data.path,
      trimSeconds: data.trimSeconds,
      staleSeconds: data.staleSeconds,
      historyDays: data.historyDays,
      clockPersistMs: data.clockPersistMs,
      minCommitMs: data.minCommitMs,
    },
    data.clocks,
  );
  post({ type: 'OPENED' });
  writer.load();
  const rings = data.rings.map((sab) => new RingConsumer(sab));
  const visit = (bytes: Uint8Array, offset: number, length: number): void => writer.apply(bytes, offset, length);
  const publish = (): void => {
    const c = writer.counts;
    stats[Stat.instances] = c.instances;
    stats[Stat.hosts] = c.hosts;
    stats[Stat.apps] = c.apps;
    const b = writer.backlog;
    stats[Stat.backlog] = b.instances;
    stats[Stat.backlogBytes] = b.bytes;
  };
  publish();
  stats[Stat.ready] = 1;
  post({ type: 'READY', ...writer.counts, loadMs: Math.round(performance.now() - started) });

  let lastSweep = 0;
  let retryAt = 0;
  let drainedAfterStop = 0;
  let idlePasses = 0;
  let lastError = '';
  let stopDeadline = 0;
  let lastTrim = 0;
  let writtenSinceTrim = 0;

  /** Free bytes where the data lives (null if the system cannot tell). */
  const freeBytes = (): number | null => {
    try {
      const s = statfsSync(data.path);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  };

  const commit = (nowMs: number, final: boolean): boolean => {
    // Size the batch to the free disk space, and refuse before LMDB fails
    // halfway through a commit (which can need a restart to recover from).
    const free = freeBytes();
    let size = PERSIST_BATCH;
    while (free !== null && size > MIN_BATCH && writer.nextCommitBytes(size) > free) size >>= 1;
    if (free !== null && writer.nextCommitBytes(size) > free) {
      stats[Stat.commitErrors]!++;
      retryAt = nowMs + RETRY_MS;
      const message = `disk full: ${(free / 2 ** 20).toFixed(1)} MiB free in ${data.path}`;
      if (message !== lastError) post({ type: 'COMMIT_ERROR', message, code: 'ENOSPC' });
      lastError = message;
      return false;
    }
    try {
      const r = writer.commit(nowMs, final, size);
      stats[Stat.applied]! += r.applied;
      stats[Stat.commits]!++;
      stats[Stat.written]! += r.written;
      writtenSinceTrim += r.written;
      stats[Stat.removed]! += r.removed;
      publish();
      // After a failure, the first success is news too: writes may resume.
      if (r.ackSeq > 0 || r.events.length > 0 || lastError !== '') post({ type: 'COMMITTED', ackSeq: r.ackSeq, events: r.events, results: r.results });
      lastError = '';
      return true;
    } catch (err) {
      // Nothing changed in memory: the same work is retried after a pause.
      stats[Stat.commitErrors]!++;
      retryAt = nowMs + RETRY_MS;
      const e = err as Error & { code?: string };
      if (e.message !== lastError) post({ type: 'COMMIT_ERROR', message: e.message, code: e.code });
      lastError = e.message;
      return false;
    }
  };

  for (;;) {
    const wake = Atomics.load(control, Ctl.WAKE);
    const stopping = Atomics.load(control, Ctl.STOP_WRITER) === 1;
    let n = 0;
    if (writer.backlog.bytes < MAX_BACKLOG_BYTES) {
      for (const ring of rings) n += ring.read(visit, MAX_PER_RING);
      // Backlog first, then `drained`: whoever sees the records counted as
      // drained also sees the backlog they made.
      if (n > 0) publish();
      stats[Stat.drained]! += n;
      // Absorbed: the writer holds what it needs; the space can be reused.
      for (const ring of rings) ring.release();
    }
    if (stopping) drainedAfterStop += n;
    const nowMs = Date.now();
    if (nowMs - lastSweep >= 1000) {
      if (writer.sweep(Math.floor(nowMs / 1000)) > 0) publish();
      lastSweep = nowMs;
    }
    writer.eventsWanted = Atomics.load(control, Ctl.EVENTS_WANTED) === 1;
    if (nowMs >= retryAt && writer.msUntilDue(nowMs) === 0) commit(nowMs, false);

    if (stopping && n === 0 && rings.every((r) => r.pending() === 0)) {
      // Persist the whole backlog, a batch at a time; give up if the disk
      // stays full, rather than never exit.
      stopDeadline ||= Date.now() + STOP_GIVE_UP_MS;
      if (commit(Date.now(), true) && writer.backlog.instances === 0) break;
      if (Date.now() > stopDeadline) {
        post({ type: 'COMMIT_ERROR', message: `stopping without persisting ${writer.backlog.instances} instances: ${lastError}`, code: 'STOP' });
        break;
      }
      continue;
    }
    if (writtenSinceTrim > TRIM_AFTER_WRITES && nowMs - lastTrim > TRIM_EVERY_MS && writer.backlog.instances === 0) {
      // A storm's transactions are over: hand their malloc'd pages back.
      udp.trimMemory();
      lastTrim = nowMs;
      writtenSinceTrim = 0;
    }
    if (n < MAX_PER_RING) {
      // Idle for a while: sleep longer, but never past a due commit.
      idlePasses = n === 0 ? idlePasses + 1 : 0;
      const poll = idlePasses > 100 ? IDLE_POLL_MS : POLL_MS;
      const wait = Math.max(1, Math.min(poll, writer.msUntilDue(Date.now()), retryAt > nowMs ? retryAt - nowMs : poll));
      Atomics.store(control, Ctl.WRITER_SLEEPING, 1);
      if (Atomics.load(control, Ctl.WAKE) === wake) Atomics.wait(control, Ctl.WAKE, wake, wait);
      Atomics.store(control, Ctl.WRITER_SLEEPING, 0);
    }
  }
  void writer.close().then(() => post({ type: 'STOPPED', drained: drainedAfterStop }));
}

run(workerData as WriterThreadData);
