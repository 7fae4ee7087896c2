// The writer thread: drains every ring into the in-memory fleet (fleet.ts)
// and, when a batch is due, cuts one and hands it to the commit thread,
// then goes straight back to draining: it never waits for the disk.
//
// Loop: read what is ready (bounded per ring, so one busy ring cannot
// starve the others), absorb it, release the ring space (the fleet holds
// what it needs; an HTTP client is answered only once its update's batch is
// committed); sweep once a second; cut when due; sleep a millisecond.
//
// Ingest workers never wake the writer: it polls the rings every POLL_MS
// while records flow (a wake-up per datagram batch would cost more than the
// batch), and a ring holds thousands of times that. The HTTP front and the
// commit thread do wake it (Ctl.WAKE), because someone waits.
//
// When to cut (cutDue), once the batch in flight is committed: at once when
// a client waits (HTTP, DELETE) or when the changes stopped coming
// (QUIET_MS); otherwise once the oldest change has waited long enough that
// it will still be on disk within LATENCY_TARGET_MS, given how long the
// last commit took. Larger batches cost LMDB much less per change (it
// touches each page once per commit), so under load batches grow to fill
// the latency budget.

import { receiveMessageOnPort, parentPort, workerData } from 'node:worker_threads';
import { Fleet } from '../store/fleet.js';
import { ClusterState } from '../cluster/remote.js';
import { loadFleet } from '../store/loader.js';
import { udp } from '../ingest/native.js';
import { RingConsumer } from './ring.js';
import { Staging } from './staging.js';
import { threadLogger } from './thread-log.js';
import { Ctl, Stat, WRITER_REGION, statRegion } from './shared-layout.js';
import type { BatchMessage, DoneMessage, WriterMessage, WriterThreadData } from './messages.js';

/** Most records taken from one ring per pass. */
const MAX_PER_RING = 4096;
/** Sleep between polls while records flow, and when idle. */
const POLL_MS = 1;
const IDLE_POLL_MS = 20;
/** Absorbed-but-uncommitted bytes the writer may hold: past it, it stops reading the rings. */
const MAX_BACKLOG_BYTES = 96 * 1024 * 1024;
/**
 * Records staged while the store loads, at most: a 100,000/s storm of
 * ~160-byte records for the ~10 s a loaded machine takes to load
 * 1,000,000 instances. Given back once they are absorbed.
 */
const LOAD_STAGING_BYTES = 256 * 1024 * 1024;
/** No new change for this long: the burst is over, cut now. */
const QUIET_MS = 20;
const DEFAULT_LATENCY_TARGET_MS = 850;
/**
 * Batches handed over and not committed yet: one. The next is cut once it
 * is committed, so it holds everything absorbed meanwhile. (Two, the next
 * cut just before the first was done so that cutting and committing
 * overlapped, made more and smaller commits: in the 1,000,000-instance
 * waves at 100,000/s 51-56 commits instead of 40, 8-16% more commit CPU,
 * and changes waited behind two commits instead of one.)
 */
const MAX_IN_FLIGHT = 1;
/** Trim the C heap once no change has been written for this long (repeats may go on). */
const TRIM_AFTER_QUIET_MS = 60_000;
/** How long a stopping writer waits for its last batch to be committed. */
const STOP_GIVE_UP_MS = 10_000;
const DEFAULT_DIGEST_MS = 1000;

function post(msg: WriterMessage): void {
  parentPort!.postMessage(msg);
}

function run(data: WriterThreadData): void {
  udp.setThreadName('ps-writer');
  const control = new Int32Array(data.control);
  const stats = statRegion(data.stats, WRITER_REGION);
  const log = threadLogger(control, 'writer');
  const started = performance.now();
  const latencyTarget = data.latencyTargetMs ?? DEFAULT_LATENCY_TARGET_MS;
  const cluster = data.nodeName === undefined ? null : new ClusterState(data.nodeName);
  if (cluster !== null) cluster.outboxOpen = () => Atomics.load(control, Ctl.OUTBOX_FULL) === 0;
  const fleet = new Fleet(
    {
      trimSeconds: data.trimSeconds,
      staleSeconds: data.staleSeconds,
      historyDays: data.historyDays,
      clockPersistMs: data.clockPersistMs,
      ...(cluster === null ? {} : { cluster }),
    },
    data.clocks,
  );
  const digestMs = data.digestMs ?? DEFAULT_DIGEST_MS;
  let lastDigest = 0;
  const rings = data.rings.map((sab) => new RingConsumer(sab));
  const publish = (): void => {
    const s = fleet.size;
    stats[Stat.instances] = s.instances;
    stats[Stat.hosts] = s.hosts;
    stats[Stat.apps] = s.apps;
    // Not committed yet: what the fleet holds, what waits in staging (read,
    // not yet absorbed) and what the commit thread has.
    const b = fleet.backlog;
    let changes = 0;
    let bytes = 0;
    for (const f of inFlight.values()) {
      changes += f.changes;
      bytes += f.bytes;
    }
    stats[Stat.backlog] = b.instances + staging.count + changes;
    stats[Stat.backlogBytes] = b.bytes + staging.bytes + bytes;
  };
  /** Batches handed to the commit thread and not yet committed, by id. */
  const inFlight = new Map<number, { changes: number; bytes: number }>();

  // While the store loads, records are moved aside so the rings keep room:
  // as many as a restart (an upgrade) in a storm brings while millions of
  // instances load. Past that, ring records wait in a buffer of the usual
  // size while the writer cuts.
  let staging = new Staging(LOAD_STAGING_BYTES);
  loadFleet(data.path, fleet, () => {
    const n = staging.take(rings, MAX_PER_RING);
    publish();
    stats[Stat.drained]! += n;
  });
  staging.replay((bytes, offset, length) => fleet.apply(bytes, offset, length));
  staging = new Staging(MAX_BACKLOG_BYTES);
  // What the store holds is not news to the other nodes: the first digest starts from here.
  cluster?.liveness.build(fleet.inst, fleet.instClock.ts, Math.floor(Date.now() / 1000));
  publish();
  stats[Stat.ready] = 1;
  post({ type: 'READY', ...fleet.size, loadMs: Math.round(performance.now() - started) });

  const port = data.commitPort;
  const absorb = (bytes: Uint8Array, offset: number, length: number): void => fleet.apply(bytes, offset, length);
  let lastCommitMs = 0;
  let lastChangeMs = 0;
  let lastPending = 0;
  let lastSweep = 0;
  let lastTrim = 0;
  let lastBusyMs = 0;
  let drainedAfterStop = 0;
  let idlePasses = 0;
  let stopDeadline = 0;
  let finalCut = false;

  const cutDue = (nowMs: number): boolean => {
    if (inFlight.size >= MAX_IN_FLIGHT) return false;
    const work = fleet.pendingWork;
    const clocks = fleet.clocksDue(nowMs);
    if (!work.any) return clocks;
    if (work.urgent) return true;
    // Gather as long as the latency budget allows (larger batches cost less
    // per change), but never wait once the changes stopped coming.
    const gather = Math.max(QUIET_MS, Math.min(latencyTarget - 1.2 * lastCommitMs, 8 * lastCommitMs));
    const quiet = nowMs - lastChangeMs >= QUIET_MS || clocks || work.oldestMs === 0;
    return quiet || nowMs >= work.oldestMs + gather;
  };

  /**
   * Buffers of committed batches, back for reuse, largest first. Kept, not
   * freed: fresh memory costs a page fault per 4 KiB on first touch (on
   * this kind of VM ~16 µs each, ~4 ns per byte of a batch), reused memory
   * nothing. As many as can be in use at once: one in flight, one spare.
   */
  const spares: ArrayBuffer[] = [];
  const cut = (nowMs: number, clocks: boolean): void => {
    for (let m = receiveMessageOnPort(data.recyclePort); m !== undefined; m = receiveMessageOnPort(data.recyclePort)) {
      spares.push(m.message as ArrayBuffer);
    }
    spares.sort((a, b) => b.byteLength - a.byteLength);
    spares.length = Math.min(spares.length, MAX_IN_FLIGHT + 1);
    const spare = spares.shift();
    const started = performance.now();
    // While it cuts, ring records wait in the staging buffer (not in the rings, which could fill).
    const meanwhile = (): void => {
      const n = staging.take(rings, MAX_PER_RING);
      // Waiting before drained (as in the loop): whoever sees them drained
      // sees a backlog. Not publish(): mid-cut, the batch being cut is
      // neither pending nor in flight yet.
      stats[Stat.backlog]! += n;
      stats[Stat.drained]! += n;
    };
    const batch = fleet.cut(nowMs, { clocks, meanwhile, ...(spare === undefined ? {} : { buffer: spare }) });
    // Too small for this batch: still good for a later one.
    if (spare !== undefined && batch.buffer !== spare) spares.push(spare);
    const ms = performance.now() - started;
    stats[Stat.lastCutMs] = ms;
    if (ms > stats[Stat.maxCutMs]!) stats[Stat.maxCutMs] = ms;
    staging.replay(absorb);
    inFlight.set(batch.id, { changes: batch.written + batch.removed, bytes: batch.length });
    // Busy means changes to write; the clocks' batches of a repeat storm are not.
    if (batch.written + batch.removed > 0) lastBusyMs = nowMs;
    if (log.enabled('debug')) {
      log.debug('batch cut', {
        id: batch.id,
        changes: batch.changes,
        written: batch.written,
        removed: batch.removed,
        applied: batch.applied,
        bytes: batch.length,
        ms: Math.round(ms),
      });
    }
    const msg: BatchMessage = { type: 'BATCH', ...batch };
    port.postMessage(msg, [batch.buffer]);
    publish();
  };

  for (;;) {
    const wake = Atomics.load(control, Ctl.WAKE);
    const stopping = Atomics.load(control, Ctl.STOP_WRITER) === 1;
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      const done = m.message as DoneMessage;
      fleet.committed(done.id);
      lastCommitMs = done.ms;
      if (inFlight.delete(done.id)) publish();
    }
    let n = 0;
    if (fleet.backlog.bytes < MAX_BACKLOG_BYTES) {
      for (const ring of rings) n += ring.read(absorb, MAX_PER_RING);
      // Backlog first, then `drained`: whoever sees the records counted as
      // drained also sees the backlog they made.
      if (n > 0) publish();
      stats[Stat.drained]! += n;
      for (const ring of rings) ring.release();
    }
    if (stopping) drainedAfterStop += n;
    const nowMs = Date.now();
    const pending = fleet.backlog.instances;
    if (pending !== lastPending) {
      if (pending > lastPending) lastChangeMs = nowMs;
      lastPending = pending;
    }
    if (nowMs - lastSweep >= 1000) {
      if (fleet.sweep(Math.floor(nowMs / 1000)) > 0) publish();
      lastSweep = nowMs;
    }
    fleet.eventsWanted = Atomics.load(control, Ctl.EVENTS_WANTED) === 1;
    if (cluster !== null && nowMs - lastDigest >= digestMs) {
      // Liveness for the other nodes: what moved since the last digest (a scan, off the update path).
      lastDigest = nowMs;
      if (Atomics.exchange(control, Ctl.DIGEST_ALL, 0) === 1) cluster.liveness.reset();
      const parts = cluster.liveness.build(fleet.inst, fleet.instClock.ts, Math.floor(nowMs / 1000));
      stats[Stat.remoteLost] = cluster.lost;
      if (parts.length > 0) {
        for (const p of parts) stats[Stat.digestEntries]! += p.readUInt32LE(4);
        post({ type: 'DIGEST', parts });
      }
    }

    if (stopping && n === 0 && rings.every((r) => r.pending() === 0)) {
      // Everything is absorbed: one last batch with the clocks, then wait
      // for it (and any before it) to be committed, or give up.
      stopDeadline ||= nowMs + STOP_GIVE_UP_MS;
      if (inFlight.size === 0 && !finalCut) {
        cut(nowMs, true);
        finalCut = true;
      }
      if (inFlight.size === 0 || nowMs > stopDeadline) break;
    } else if (cutDue(nowMs)) {
      cut(nowMs, false);
    }

    if (fleet.backlog.instances > 0) lastBusyMs = nowMs;
    if (nowMs - lastBusyMs > TRIM_AFTER_QUIET_MS && lastTrim < lastBusyMs) {
      // The storms are over: hand the memory they freed back to the kernel
      // (not sooner: the next wave would fault it all in again).
      spares.length = 0;
      udp.trimMemory();
      lastTrim = nowMs;
    }
    if (n < MAX_PER_RING) {
      // Idle for a while: sleep longer, but never past a due cut.
      idlePasses = n === 0 ? idlePasses + 1 : 0;
      const wait = idlePasses > 100 && inFlight.size === 0 && !fleet.pendingWork.any ? IDLE_POLL_MS : POLL_MS;
      Atomics.store(control, Ctl.WRITER_SLEEPING, 1);
      if (Atomics.load(control, Ctl.WAKE) === wake) Atomics.wait(control, Ctl.WAKE, wake, wait);
      Atomics.store(control, Ctl.WRITER_SLEEPING, 0);
    }
  }
  publish();
  post({ type: 'STOPPED', drained: drainedAfterStop });
}

run(workerData as WriterThreadData);
