// Pacing: how many packets should have gone out by a given moment.
//
// Packets are numbered 0, 1, 2, ... over the whole run; with W sender
// threads, thread w sends the numbers w, w + W, w + 2W, ... so the threads
// together send exactly the single-threaded stream. Packet k is due at
// k / rate seconds (evenly spaced); with --burst N, packets come in groups
// of N due together at the start of each period of N / rate seconds. A
// sender wakes every millisecond or so and sends what is due by then, so
// the rate is even at millisecond scale without a timer per packet.

export interface PaceConfig {
  /** Packets per second over all threads; 0 = as fast as possible. */
  rate: number;
  /** Packets due together (1 = evenly spaced). */
  burst: number;
  /** Packets to send over all threads; Infinity when the run is timed. */
  count: number;
  /** Length of the run in ms; Infinity when it is counted. */
  durationMs: number;
}

/** Shortest sleep between two sends: batches packets at high rates. */
export const TICK_MS = 1;
/** Longest sleep, so a slow-rate sender still notices the end of the run. */
export const MAX_SLEEP_MS = 50;
/** A timed, paced run may overrun by this much to send what fell due at the end. */
export const END_GRACE_MS = 5;

/** How many of the packets 0..total-1 thread `worker` of `workers` sends. */
export function shareOf(total: number, worker: number, workers: number): number {
  if (total === Infinity) return Infinity;
  return total > worker ? Math.floor((total - worker - 1) / workers) + 1 : 0;
}

/** Run-wide number of the k-th packet thread `worker` sends. */
export function sequenceOf(k: number, worker: number, workers: number): number {
  return worker + k * workers;
}

export class Pacer {
  /** Packets this thread sends if it keeps up. */
  readonly total: number;
  /** When the run ends, ms after its start. */
  readonly endMs: number;
  private readonly config: PaceConfig;
  private readonly runTotal: number;
  private readonly worker: number;
  private readonly workers: number;

  constructor(config: PaceConfig, worker = 0, workers = 1) {
    if (config.count === Infinity && config.durationMs === Infinity) throw new RangeError('a run needs a count or a duration');
    this.config = config;
    this.worker = worker;
    this.workers = workers;
    const { rate, burst, count, durationMs } = config;
    if (rate === 0) {
      this.runTotal = count;
      this.endMs = count === Infinity ? durationMs : 0;
    } else {
      this.runTotal = Math.min(count, Math.floor((durationMs * rate) / 1000));
      // A counted run lasts until the end of the period of its last packet.
      const countedEndMs = count === Infinity ? Infinity : (Math.ceil(count / burst) * burst * 1000) / rate;
      this.endMs = Math.min(durationMs, countedEndMs);
    }
    this.total = shareOf(this.runTotal, worker, workers);
  }

  /** Packets due over all threads by elapsedMs after the start. */
  runDueBy(elapsedMs: number): number {
    const { rate, burst, durationMs } = this.config;
    if (rate === 0) return this.runTotal;
    const t = Math.min(elapsedMs, durationMs);
    const periods = Math.floor((t * rate) / (1000 * burst));
    return Math.min(this.runTotal, (periods + 1) * burst);
  }

  /** This thread's packets due by elapsedMs. */
  dueBy(elapsedMs: number): number {
    return shareOf(this.runDueBy(elapsedMs), this.worker, this.workers);
  }

  /** True once this thread has nothing left to send and the run has ended. */
  isDone(elapsedMs: number, sent: number): boolean {
    const grace = this.config.rate === 0 ? 0 : END_GRACE_MS;
    return (sent >= this.total && elapsedMs >= this.endMs) || elapsedMs >= this.config.durationMs + grace;
  }

  /** When this thread's next packet falls due, ms after the start (Infinity if none). */
  nextDueMs(sent: number): number {
    if (sent >= this.total) return Infinity;
    const { rate, burst } = this.config;
    if (rate === 0) return 0;
    const next = sequenceOf(sent, this.worker, this.workers);
    return (Math.floor(next / burst) * burst * 1000) / rate;
  }

  /** How long to sleep when nothing is due: until the next packet or the end, within [TICK_MS, MAX_SLEEP_MS]. */
  sleepMs(elapsedMs: number, sent: number): number {
    const wakeAt = Math.min(this.nextDueMs(sent), this.endMs, this.config.durationMs);
    return Math.min(MAX_SLEEP_MS, Math.max(TICK_MS, wakeAt - elapsedMs));
  }
}
