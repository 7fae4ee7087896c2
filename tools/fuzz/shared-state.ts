// State shared between the main thread and the sender threads through one
// SharedArrayBuffer (passed in each task's payload): a start barrier, so
// every thread starts its clock together after setting up, a stop flag for
// Ctrl-C, and per-thread progress counters the main thread reads once a
// second. Final numbers travel back in the task results, not through here.

const STOP = 0;
const READY = 1;
const GO = 2;
const CONTROL_WORDS = 4;
const COUNTERS_OFFSET = CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT;

const SENT = 0;
const SENT_BAD = 1;
const SEND_ERRORS = 2;
const COUNTERS_PER_WORKER = 3;

export interface ProgressTotals {
  sent: number;
  sentBad: number;
  sendErrors: number;
}

export class SharedState {
  readonly buffer: SharedArrayBuffer;
  readonly workers: number;
  private readonly control: Int32Array;
  private readonly counters: BigInt64Array;

  static create(workers: number): SharedState {
    const bytes = COUNTERS_OFFSET + workers * COUNTERS_PER_WORKER * BigInt64Array.BYTES_PER_ELEMENT;
    return new SharedState(new SharedArrayBuffer(bytes), workers);
  }

  constructor(buffer: SharedArrayBuffer, workers: number) {
    this.buffer = buffer;
    this.workers = workers;
    this.control = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.counters = new BigInt64Array(buffer, COUNTERS_OFFSET, workers * COUNTERS_PER_WORKER);
  }

  requestStop(): void {
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, STOP);
    this.go(); // release threads still at the barrier, so they can see the stop
  }

  stopRequested(): boolean {
    return Atomics.load(this.control, STOP) !== 0;
  }

  /** Sender thread: set up and waiting at the barrier. */
  markReady(): void {
    Atomics.add(this.control, READY, 1);
  }

  readyCount(): number {
    return Atomics.load(this.control, READY);
  }

  /** Main thread: every sender may start now. */
  go(): void {
    Atomics.store(this.control, GO, 1);
    Atomics.notify(this.control, GO);
  }

  /** Sender thread: blocks until go() (worker threads may block; the main thread must not). */
  waitForGo(timeoutMs: number): void {
    Atomics.wait(this.control, GO, 0, timeoutMs);
    if (Atomics.load(this.control, GO) === 0) throw new Error(`sender thread was not started within ${timeoutMs} ms`);
  }

  /** Sender thread: sleeps up to ms, waking at once when a stop is requested. */
  sleep(ms: number): void {
    Atomics.wait(this.control, STOP, 0, ms);
  }

  publish(worker: number, progress: ProgressTotals): void {
    const base = worker * COUNTERS_PER_WORKER;
    Atomics.store(this.counters, base + SENT, BigInt(progress.sent));
    Atomics.store(this.counters, base + SENT_BAD, BigInt(progress.sentBad));
    Atomics.store(this.counters, base + SEND_ERRORS, BigInt(progress.sendErrors));
  }

  totals(): ProgressTotals {
    const totals: ProgressTotals = { sent: 0, sentBad: 0, sendErrors: 0 };
    for (let worker = 0; worker < this.workers; worker++) {
      const base = worker * COUNTERS_PER_WORKER;
      totals.sent += Number(Atomics.load(this.counters, base + SENT));
      totals.sentBad += Number(Atomics.load(this.counters, base + SENT_BAD));
      totals.sendErrors += Number(Atomics.load(this.counters, base + SEND_ERRORS));
    }
    return totals;
  }
}
