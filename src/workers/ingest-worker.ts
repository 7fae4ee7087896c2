// An ingest worker thread: owns one SO_REUSEPORT UDP socket and one ring.
// It blocks in recvmmsg (up to 64 datagrams per call), parses and validates
// each datagram, and pushes compact records to its ring for the writer.
// The thread never touches LMDB and never waits for the writer: when the
// ring is full the datagram is dropped and counted.
//
// Its event loop is deliberately blocked; control (stop) arrives through
// shared memory, checked at least every receive timeout (engine.ts). With
// -v it logs what it rejects, at most one line per reason per second.

import { workerData } from 'node:worker_threads';
import { ADDR_SLOT_SIZE, udp } from '../ingest/native.js';
import { MAX_DATAGRAM_BYTES } from '../ingest/limits.js';
import { MAX_RECORD_BYTES, encodeUpdate } from '../ingest/record.js';
import { Reason, reasonName } from '../ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../ingest/update.js';
import { AllowList } from '../ingest/allow-list.js';
import { sampleOf } from '../log.js';
import { RingProducer } from './ring.js';
import { Ctl, LOG_KEY_REFUSED, LOG_KEY_RING_FULL, Stat, ingestRegion, statRegion } from './shared-layout.js';
import { LogGate, threadLogger } from './thread-log.js';

export interface IngestWorkerData {
  index: number;
  fd: number;
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /** --allow: CIDR blocks UDP senders must be in ('' = everyone). */
  allow: string;
}

/** Datagrams per recvmmsg call. */
const BATCH = 64;
/**
 * After a small batch, wait this long before the next receive, so that at
 * moderate rates one system call still moves many datagrams: a call per
 * datagram would cost more CPU than parsing it. The kernel buffer holds
 * far more than a millisecond of traffic; a datagram waits at most this
 * long longer.
 */
const SMALL_BATCH = 16;
const GATHER_MS = 1;

function run(data: IngestWorkerData): void {
  udp.setThreadName(`ps-ingest-${data.index}`);
  const control = new Int32Array(data.control);
  const stats = statRegion(data.stats, ingestRegion(data.index));
  const ring = new RingProducer(data.ring);
  // One slot per datagram, one byte larger than the limit: a datagram that
  // fills the slot exactly may be a truncated larger one, and the addon
  // reports the real length anyway.
  const slot = MAX_DATAGRAM_BYTES + 1;
  const buf = new Uint8Array(slot * BATCH);
  const lengths = new Int32Array(BATCH);
  const addrs = new Uint8Array(ADDR_SLOT_SIZE * BATCH);
  const record = new Uint8Array(MAX_RECORD_BYTES);
  const parsed = new ParsedUpdate();
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const allow = data.allow === '' ? null : new AllowList(data.allow);
  const log = threadLogger(control, `ingest-${data.index}`);
  const gate = new LogGate(control);
  /** Logs a rejection at debug level: at most one line per reason per second, over all the workers. */
  const rejected = (key: number, from: string, start: number, len: number): void => {
    const skipped = gate.take(key);
    if (skipped === null) return;
    const reason = key === LOG_KEY_REFUSED ? 'refused' : key === LOG_KEY_RING_FULL ? 'ring_full' : reasonName(key);
    // The bytes, when they are what was wrong.
    const sample = key === LOG_KEY_REFUSED || key === LOG_KEY_RING_FULL || key === Reason.oversize ? undefined : sampleOf(buf, start, start + len);
    log.debug('udp update rejected', { reason, from, bytes: len, sample, skipped });
  };
  const sender = (i: number): string => Buffer.from(addrs.buffer, i * ADDR_SLOT_SIZE + 1, addrs[i * ADDR_SLOT_SIZE]!).toString('latin1');

  while (Atomics.load(control, Ctl.STOP_INGEST) === 0) {
    const n = udp.udpRecv(data.fd, buf, slot, lengths, addrs, BATCH);
    if (n === 0) continue;
    const now = Math.floor(Date.now() / 1000);
    let pushed = 0;
    for (let i = 0; i < n; i++) {
      const len = lengths[i]!;
      const start = i * slot;
      const a = i * ADDR_SLOT_SIZE;
      if (allow !== null) {
        const from = sender(i);
        if (!allow.allows(from)) {
          stats[Stat.refused]!++;
          if (log.enabled('debug')) rejected(LOG_KEY_REFUSED, from, start, len);
          continue;
        }
      }
      let reason: number;
      if (len > MAX_DATAGRAM_BYTES) reason = Reason.oversize;
      else reason = parseUpdate(buf, start, start + len, parsed);
      if (reason !== Reason.ok) {
        stats[Stat.rejected]!++;
        stats[Stat.rejectBase + reason]!++;
        if (log.enabled('debug')) rejected(reason, sender(i), start, len);
        continue;
      }
      const recLen = encodeUpdate(parsed, addrs, a + 1, a + 1 + addrs[a]!, now, 0, 0, record);
      if (ring.tryPush(record, 0, recLen)) {
        pushed++;
      } else {
        stats[Stat.ringFull]!++;
        if (log.enabled('debug')) rejected(LOG_KEY_RING_FULL, sender(i), start, len);
      }
    }
    stats[Stat.datagrams]! += n;
    stats[Stat.accepted]! += pushed;
    // The writer polls the rings (see writer-thread.ts): no wake-up call.
    if (n < SMALL_BATCH) Atomics.wait(nap, 0, 0, GATHER_MS);
  }
}

run(workerData as IngestWorkerData);
