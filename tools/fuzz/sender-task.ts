// The piscina task of one sender thread: "send your share of the packet
// stream, paced, until the run ends". Each thread builds its own fleet and
// traffic from the seed (cheap, and no shared mutable state), waits at the
// start barrier, then loops: send what is due, sleep until more is due.
//
// The UDP loop is synchronous (the addon's sends block, sleeps use
// Atomics.wait on the stop flag so Ctrl-C wakes it at once); the HTTP loop
// is asynchronous because it needs the event loop for its sockets.

import { MAX_BATCH } from '../../src/ingest/native.js';
import { HttpSender, type HttpTarget } from './http-sender.js';
import { Pacer, TICK_MS, sequenceOf, type PaceConfig } from './pace.js';
import { SharedState } from './shared-state.js';
import { SendTally, type SenderResult } from './tally.js';
import { Traffic, type PacketSource, type TrafficConfig } from './traffic.js';
import { UdpBatchSender, type UdpTarget } from './udp-sender.js';
import { WaveTraffic, type WaveConfig } from './waves.js';

export interface SenderTask {
  worker: number;
  workers: number;
  /** SharedState's buffer; shared, never transferred. */
  shared: SharedArrayBuffer;
  traffic: TrafficConfig;
  /** --waves: send this wave (every fleet member once) instead of `traffic`'s stream. */
  wave?: WaveConfig;
  pace: PaceConfig;
  target: UdpTarget | HttpTarget;
}

/** How long a thread waits at the start barrier before giving up. */
const START_TIMEOUT_MS = 60_000;

interface Loop {
  shared: SharedState;
  traffic: PacketSource;
  pacer: Pacer;
  tally: SendTally;
}

function setUp(task: SenderTask): Loop {
  return {
    shared: new SharedState(task.shared, task.workers),
    traffic: task.wave === undefined ? new Traffic(task.traffic) : new WaveTraffic(task.wave),
    pacer: new Pacer(task.pace, task.worker, task.workers),
    tally: new SendTally(),
  };
}

/**
 * The length of this thread's run. A thread that kept up ends at the
 * scheduled end (or its last send, if later), not when it next woke up:
 * the sleep granularity is not sending time and would understate the rate.
 */
function runLength(pacer: Pacer, handled: number, elapsedMs: number, lastSendMs: number): number {
  if (handled < pacer.total) return elapsedMs;
  return Math.min(elapsedMs, Math.max(pacer.endMs, lastSendMs));
}

function runUdp(task: SenderTask, target: UdpTarget): SenderResult {
  const { shared, traffic, pacer, tally } = setUp(task);
  const sender = new UdpBatchSender(target, tally);
  try {
    shared.markReady();
    shared.waitForGo(START_TIMEOUT_MS);
    const start = performance.now();
    let handled = 0; // packets of this thread sent or refused so far
    let elapsed = 0;
    let lastSendMs = 0;
    for (;;) {
      elapsed = performance.now() - start;
      if (shared.stopRequested() || pacer.isDone(elapsed, handled)) break;
      const due = Math.min(pacer.dueBy(elapsed) - handled, MAX_BATCH);
      if (due <= 0) {
        shared.sleep(pacer.sleepMs(elapsed, handled));
        continue;
      }
      for (const end = handled + due; handled < end; handled++) {
        const n = sequenceOf(handled, task.worker, task.workers);
        const kind = traffic.badKindAt(n);
        if (kind === null) sender.addText(traffic.goodJson(n));
        else sender.addBytes(traffic.badPacket(n, kind), kind);
      }
      sender.flush();
      lastSendMs = performance.now() - start;
      shared.publish(task.worker, tally);
    }
    shared.publish(task.worker, tally);
    return tally.result(task.worker, runLength(pacer, handled, elapsed, lastSendMs));
  } finally {
    sender.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function runHttp(task: SenderTask, target: HttpTarget): Promise<SenderResult> {
  const { shared, traffic, pacer, tally } = setUp(task);
  const sender = new HttpSender(target, tally);
  try {
    shared.markReady();
    shared.waitForGo(START_TIMEOUT_MS);
    const start = performance.now();
    let handled = 0;
    for (;;) {
      const elapsed = performance.now() - start;
      if (shared.stopRequested() || pacer.isDone(elapsed, handled)) break;
      let due = pacer.dueBy(elapsed) - handled;
      while (due > 0 && sender.hasCapacity) {
        const n = sequenceOf(handled, task.worker, task.workers);
        const kind = traffic.badKindAt(n);
        sender.send(kind === null ? traffic.goodJson(n) : traffic.badPacket(n, kind), kind);
        handled++;
        due--;
      }
      shared.publish(task.worker, tally);
      if (due > 0) await Promise.race([sender.whenCapacity(), sleep(TICK_MS * 10)]);
      else await sleep(pacer.sleepMs(elapsed, handled));
    }
    await sender.drain();
    shared.publish(task.worker, tally);
    return tally.result(task.worker, performance.now() - start);
  } finally {
    sender.close();
  }
}

export default function senderTask(task: SenderTask): SenderResult | Promise<SenderResult> {
  return task.target.kind === 'udp' ? runUdp(task, task.target) : runHttp(task, task.target);
}
