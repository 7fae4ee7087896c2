// The writer thread: drains every ring into the StoreWriter and commits.
//
// Loop: read everything ready (bounded per ring, so one busy ring cannot
// starve the others or make a transaction huge), sweep expired instances
// once a second when --trim is on, commit when due, release ring space when
// no operation read from it still waits for a commit, then sleep.
//
// Ingest workers never wake the writer: it polls the rings every POLL_MS
// while busy (a wake-up per datagram batch would cost more than the batch),
// which a ring holds thousands of times over. The HTTP front does wake it
// (Ctl.WAKE), because a client waits for the answer.

import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from './ring.js';
import { Ctl, Stat, WRITER_REGION, statRegion } from './shared-layout.js';
import type { WriterMessage, WriterThreadData } from './messages.js';
import { StoreWriter } from '../store/writer.js';

/** Most records taken from one ring per pass (bounds a transaction's size). */
const MAX_PER_RING = 4096;
/** Pause after a failed commit before retrying. */
const RETRY_MS = 500;
/** Sleep between polls while records flow, and when idle. */
const POLL_MS = 1;
const IDLE_POLL_MS = 20;

function post(msg: WriterMessage): void {
  parentPort!.postMessage(msg);
}

function run(data: WriterThreadData): void {
  const control = new Int32Array(data.control);
  const stats = statRegion(data.stats, WRITER_REGION);
  const started = performance.now();
  const writer = new StoreWriter(
    { path: data.path, trimSeconds: data.trimSeconds, clockPersistMs: data.clockPersistMs, minCommitMs: data.minCommitMs },
    data.clocks,
  );
  post({ type: 'OPENED' });
  writer.load();
  const rings = data.rings.map((sab) => new RingConsumer(sab));
  const visit = (bytes: Uint8Array, offset: number, length: number): void => writer.apply(bytes, offset, length);
  const publishCounts = (): void => {
    const c = writer.counts;
    stats[Stat.instances] = c.instances;
    stats[Stat.hosts] = c.hosts;
    stats[Stat.apps] = c.apps;
  };
  publishCounts();
  stats[Stat.ready] = 1;
  post({ type: 'READY', ...writer.counts, loadMs: Math.round(performance.now() - started) });

  let lastSweep = 0;
  let retryAt = 0;
  let drainedAfterStop = 0;
  let idlePasses = 0;

  const commit = (nowMs: number, final: boolean): boolean => {
    try {
      const r = writer.commit(nowMs, final);
      stats[Stat.applied]! += r.applied;
      stats[Stat.commits]!++;
      stats[Stat.written]! += r.written;
      stats[Stat.removed]! += r.removed;
      publishCounts();
      if (r.ackSeq > 0 || r.events.length > 0) post({ type: 'COMMITTED', ackSeq: r.ackSeq, events: r.events });
      return true;
    } catch (err) {
      // The writer has reloaded its state from LMDB; read the uncommitted
      // records again.
      for (const ring of rings) ring.rewind();
      stats[Stat.commitErrors]!++;
      retryAt = nowMs + RETRY_MS;
      const e = err as Error & { code?: string };
      post({ type: 'COMMIT_ERROR', message: e.message, code: e.code });
      return false;
    }
  };

  for (;;) {
    const wake = Atomics.load(control, Ctl.WAKE);
    const stopping = Atomics.load(control, Ctl.STOP_WRITER) === 1;
    let n = 0;
    for (const ring of rings) n += ring.read(visit, MAX_PER_RING);
    if (stopping) drainedAfterStop += n;
    const nowMs = Date.now();
    if (nowMs - lastSweep >= 1000) {
      writer.sweep(Math.floor(nowMs / 1000));
      lastSweep = nowMs;
    }
    writer.eventsWanted = Atomics.load(control, Ctl.EVENTS_WANTED) === 1;
    if (nowMs >= retryAt && writer.msUntilDue(nowMs) === 0) commit(nowMs, false);
    if (writer.canRelease()) {
      for (const ring of rings) ring.release();
      writer.released();
    }

    if (stopping && n === 0 && rings.every((r) => r.pending() === 0)) {
      if (commit(Date.now(), true)) break;
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
