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
// When to cut (cutDue): at once when a client waits (HTTP, DELETE) or when
// the changes stopped coming (QUIET_MS); otherwise once the oldest change
// has waited long enough that it will still be on disk within
// LATENCY_TARGET_MS, given how long the last commit took. Larger batches
// cost LMDB much less per change (it touches each page once per commit),
// so under load batches grow to fill the latency budget.

import { receiveMessageOnPort, parentPort, workerData } from 'node:worker_threads';
import { Fleet } from '../store/fleet.js';
import { ClusterState } from '../cluster/remote.js';
import { loadFleet } from '../store/loader.js';
import { udp } from '../ingest/native.js';
import { R_SEQ, get32 } from '../ingest/record.js';
import { RingConsumer } from './ring.js';
import { Staging } from './staging.js';
import { Ctl, Stat, WRITER_REGION, statRegion } from './shared-layout.js';
import type { BatchMessage, DoneMessage, WriterMessage, WriterThreadData } from './messages.js';

/** Most records taken from one ring per pass. */
const MAX_PER_RING = 4096;
/** Sleep between polls while records flow, and when idle. */
const POLL_MS = 1;
const IDLE_POLL_MS = 20;
/** Absorbed-but-uncommitted bytes the writer may hold: past it, it stops reading the rings. */
const MAX_BACKLOG_BYTES = 96 * 1024 * 1024;
/** No new change for this long: the burst is over, cut now. */
const QUIET_MS = 20;
const DEFAULT_LATENCY_TARGET_MS = 850;
/** Trim the C heap after a storm, at most this often. */
const TRIM_EVERY_MS = 5_000;
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
  const started = performance.now();
  const latencyTarget = data.latencyTargetMs ?? DEFAULT_LATENCY_TARGET_MS;
  const cluster = data.nodeName === undefined ? null : new ClusterState(data.nodeName);
  if (cluster !== null) cluster.outboxOpen = () => Atomics.load(control, Ctl.OUTBOX_FULL) === 0;
  const fleet = new Fleet(
    { trimSeconds: data.trimSeconds, staleSeconds: data.staleSeconds, historyDays: data.historyDays, clockPersistMs: data.clockPersistMs, ...(cluster === null ? {} : { cluster }) },
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
    // Not committed yet: what the fleet holds and what the commit thread is writing.
    const b = fleet.backlog;
    stats[Stat.backlog] = b.instances + inFlightChanges;
    stats[Stat.backlogBytes] = b.bytes + staging.bytes + inFlightBytes;
  };
  let inFlightChanges = 0;
  let inFlightBytes = 0;

  // The HTTP requests read so far: if this thread dies, main answers them
  // with an error (their batch will never come).
  let seqRead = stats[Stat.httpSeqRead]!;
  const noteSeq = (bytes: Uint8Array, offset: number): void => {
    const seq = get32(bytes, offset + R_SEQ);
    if (seq > seqRead) stats[Stat.httpSeqRead] = seqRead = seq;
  };

  // While the store loads, records are moved aside so the rings keep room.
  const staging = new Staging(MAX_BACKLOG_BYTES);
  loadFleet(data.path, fleet, () => {
    stats[Stat.drained]! += staging.take(rings, MAX_PER_RING, noteSeq);
    publish();
  });
  staging.replay((bytes, offset, length) => fleet.apply(bytes, offset, length));
  // What the store holds is not news to the other nodes: the first digest starts from here.
  cluster?.liveness.build(fleet.inst, fleet.instClock.ts, Math.floor(Date.now() / 1000));
  publish();
  stats[Stat.ready] = 1;
  post({ type: 'READY', ...fleet.size, loadMs: Math.round(performance.now() - started) });

  const port = data.commitPort;
  const absorb = (bytes: Uint8Array, offset: number, length: number): void => {
    noteSeq(bytes, offset);
    fleet.apply(bytes, offset, length);
  };
  /** Id of the batch the commit thread is working on (0: none). */
  let inFlight = 0;
  let lastCommitMs = 0;
  let lastChangeMs = 0;
  let lastPending = 0;
  let lastSweep = 0;
  let lastTrim = 0;
  let drainedAfterStop = 0;
  let idlePasses = 0;
  let stopDeadline = 0;
  let finalCut = false;

  const cutDue = (nowMs: number): boolean => {
    const work = fleet.pendingWork;
    const clocks = fleet.clocksDue(nowMs);
    if (!work.any) return clocks;
    if (work.urgent || clocks || work.oldestMs === 0) return true;
    if (nowMs - lastChangeMs >= QUIET_MS) return true;
    const gather = Math.max(QUIET_MS, Math.min(latencyTarget - 1.2 * lastCommitMs, 8 * lastCommitMs));
    return nowMs - work.oldestMs >= gather;
  };

  /** Buffers of committed batches, back for reuse (the largest first). */
  const spare: ArrayBuffer[] = [];
  const cut = (nowMs: number, clocks: boolean): void => {
    for (let m = receiveMessageOnPort(data.recyclePort); m !== undefined; m = receiveMessageOnPort(data.recyclePort)) spare.push(m.message as ArrayBuffer);
    spare.sort((a, b) => b.byteLength - a.byteLength).splice(2);
    const started = performance.now();
    // While it cuts, ring records wait in the staging buffer (not in the rings, which could fill).
    const meanwhile = (): void => {
      stats[Stat.drained]! += staging.take(rings, MAX_PER_RING, noteSeq);
    };
    const batch = fleet.cut(nowMs, { clocks, meanwhile, ...(spare.length > 0 ? { buffer: spare.shift()! } : {}) });
    const ms = performance.now() - started;
    stats[Stat.lastCutMs] = ms;
    if (ms > stats[Stat.maxCutMs]!) stats[Stat.maxCutMs] = ms;
    staging.replay(absorb);
    inFlight = batch.id;
    inFlightChanges = batch.written + batch.removed;
    inFlightBytes = batch.length;
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
      if (done.id === inFlight) {
        inFlight = 0;
        inFlightChanges = 0;
        inFlightBytes = 0;
        publish();
      }
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
      if (inFlight === 0 && !finalCut) {
        cut(nowMs, true);
        finalCut = true;
      }
      if (inFlight === 0 || nowMs > stopDeadline) break;
    } else if (inFlight === 0 && cutDue(nowMs)) {
      cut(nowMs, false);
    }

    if (inFlight === 0 && fleet.backlog.instances === 0 && nowMs - lastTrim > TRIM_EVERY_MS && lastCommitMs > 50) {
      // A storm's batches are gone: hand their freed memory back to the kernel.
      udp.trimMemory();
      lastTrim = nowMs;
    }
    if (n < MAX_PER_RING) {
      // Idle for a while: sleep longer, but never past a due cut.
      idlePasses = n === 0 ? idlePasses + 1 : 0;
      const wait = idlePasses > 100 && inFlight === 0 && !fleet.pendingWork.any ? IDLE_POLL_MS : POLL_MS;
      Atomics.store(control, Ctl.WRITER_SLEEPING, 1);
      if (Atomics.load(control, Ctl.WAKE) === wake) Atomics.wait(control, Ctl.WAKE, wake, wait);
      Atomics.store(control, Ctl.WRITER_SLEEPING, 0);
    }
  }
  publish();
  post({ type: 'STOPPED', drained: drainedAfterStop });
}

run(workerData as WriterThreadData);
