// Runs the sender threads: one finite piscina task per --workers thread,
// each sending its share of the packet stream, all started together at a
// barrier once every thread has built its fleet and opened its sockets.

import { Piscina } from 'piscina';
import { HUGE_HTTP, HUGE_UDP } from './bad-packets.js';
import { type FuzzOptions, fleetShapeOf } from './options.js';
import { shareOf } from './pace.js';
import type { SenderTask } from './sender-task.js';
import { hostHeader, type ServerAddress } from './server-address.js';
import { SharedState, type ProgressTotals } from './shared-state.js';
import { combineResults, type SenderResult } from './tally.js';
import { DEFAULT_TRAFFIC } from './traffic.js';

/** Send buffer asked for per UDP socket (the kernel caps it at wmem_max). */
const UDP_SNDBUF_BYTES = 1 << 20;
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 5;
export const PROGRESS_INTERVAL_MS = 1000;

export interface Progress extends ProgressTotals {
  elapsedMs: number;
}

export type SendSummary = Omit<SenderResult, 'worker'> & {
  interrupted: boolean;
  /** performance.now() of this (main) thread when the senders were started; elapsedMs counts from about then. */
  startedAtMs: number;
};

/** --waves: which wave to send (0-based) and its version. */
export interface WaveToSend {
  index: number;
  version: string;
}

/** The task of each sender thread; with `wave`, that wave (every fleet member once) instead of the stream. */
export function buildTasks(options: FuzzOptions, address: ServerAddress, shared: SharedArrayBuffer, wave?: WaveToSend): SenderTask[] {
  const workers = options.workers;
  const fleet = fleetShapeOf(options);
  return Array.from(
    { length: workers },
    (_, worker): SenderTask => ({
      worker,
      workers,
      shared,
      traffic: {
        ...DEFAULT_TRAFFIC,
        fleet,
        badFraction: options.bad,
        badKinds: options.badKinds,
        // Fleet time follows the schedule; at "max" it runs at a nominal rate.
        clockRate: options.rate > 0 ? options.rate : DEFAULT_TRAFFIC.clockRate,
        hugeSize: options.http ? HUGE_HTTP : HUGE_UDP,
      },
      ...(wave === undefined ? {} : { wave: { fleet, wave: wave.index, version: wave.version } }),
      pace:
        wave === undefined
          ? {
              rate: options.rate,
              burst: options.burst,
              count: options.count ?? Infinity,
              durationMs: options.durationS === null ? Infinity : options.durationS * 1000,
            }
          : { rate: options.rate, burst: options.burst, count: options.hosts * options.apps * options.instances, durationMs: Infinity },
      target: options.http
        ? {
            kind: 'http',
            ip: address.ip,
            port: address.port,
            hostHeader: hostHeader(address),
            connections: Math.max(1, shareOf(options.connections, worker, workers)),
          }
        : {
            kind: 'udp',
            ip: address.ip,
            family: address.family,
            port: address.port,
            sockets: Math.max(1, shareOf(options.sockets, worker, workers)),
            sndbuf: UDP_SNDBUF_BYTES,
          },
    }),
  );
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntilReady(shared: SharedState, failure: Promise<never>): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (shared.readyCount() < shared.workers) {
    if (performance.now() > deadline) throw new Error(`sender threads not ready within ${READY_TIMEOUT_MS} ms`);
    await Promise.race([delay(READY_POLL_MS), failure]);
  }
}

export async function runSenders(
  options: FuzzOptions,
  address: ServerAddress,
  stop: AbortSignal,
  onProgress: (progress: Progress) => void,
  wave?: WaveToSend,
): Promise<SendSummary> {
  const shared = SharedState.create(options.workers);
  const pool = new Piscina({
    // Resolved next to this file, so it works from dist/ as installed.
    filename: new URL('./sender-task.js', import.meta.url).href,
    minThreads: options.workers,
    maxThreads: options.workers,
  });
  const onStop = (): void => shared.requestStop();
  stop.addEventListener('abort', onStop);
  let progressTimer: NodeJS.Timeout | undefined;
  const runs = buildTasks(options, address, shared.buffer, wave).map((task) => pool.run(task) as Promise<SenderResult>);
  try {
    // Any thread failing (say, no socket) ends the run; the others are told to stop.
    const failure = Promise.race(runs.map((run) => run.then(() => new Promise<never>(() => {}))));
    failure.catch(() => shared.requestStop());
    await waitUntilReady(shared, failure);
    shared.go();
    const start = performance.now();
    progressTimer = setInterval(() => onProgress({ ...shared.totals(), elapsedMs: performance.now() - start }), PROGRESS_INTERVAL_MS);
    const results = await Promise.all(runs);
    return { ...combineResults(results), interrupted: stop.aborted, startedAtMs: start };
  } catch (err) {
    shared.requestStop();
    await Promise.allSettled(runs);
    throw err;
  } finally {
    clearInterval(progressTimer);
    stop.removeEventListener('abort', onStop);
    await pool.destroy();
  }
}
