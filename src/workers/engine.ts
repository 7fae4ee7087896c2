// The ingest engine, as seen from the main thread: it opens the UDP
// sockets, creates the rings and shared memory, starts the writer thread and
// the ingest worker threads (restarting any that die), feeds HTTP updates
// and control requests to the writer through the HTTP ring, and resolves
// them when the writer reports their commit.
//
//   UDP socket i --recvmmsg--> ingest worker i --ring i--> writer --> LMDB
//   HTTP front (main) -------------------------HTTP ring--^    |
//              ^------------- COMMITTED {ackSeq, events} -------'

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { udp, type OpenedSocket } from '../ingest/native.js';
import { MAX_RECORD_BYTES, RecordType, encodeControl } from '../ingest/record.js';
import type { ChangeEvent } from '../store/writer.js';
import { MAX_CLOCK_SLOTS, createClockBuffer, type ClockBuffers } from '../store/slot-clock.js';
import type { IngestWorkerData } from './ingest-worker.js';
import type { WriterMessage, WriterThreadData } from './messages.js';
import { RingProducer, createRing } from './ring.js';
import { CONTROL_SLOTS, Ctl, HTTP_REGION, Stat, statRegion, statsByteLength, wakeWriter } from './shared-layout.js';

export interface EngineOptions {
  dataDir: string;
  listenIp: string;
  port: number;
  workers: number;
  trimSeconds: number;
  staleSeconds: number;
  historyDays: number;
  rcvbufBytes: number;
  ringBytes: number;
  /** --allow CIDR list for UDP senders ('' = everyone). */
  allow?: string;
  /** Bytes of the ring that carries HTTP updates and control records. */
  httpRingBytes?: number;
  clockPersistMs?: number;
  minCommitMs?: number;
}

export type Logger = (line: string) => void;

interface Pending {
  seq: number;
  /** Resolved with the request's result (instances removed by a DELETE; 0 otherwise). */
  resolve: (result: number) => void;
  reject: (err: Error) => void;
}

export class EngineError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}

const INGEST_WORKER = new URL('./ingest-worker.js', import.meta.url);
const WRITER_THREAD = new URL('./writer-thread.js', import.meta.url);
/**
 * V8's default young generation is sized for allocation-heavy apps (tens
 * of MiB per thread); these threads allocate little, and every thread's
 * heap counts in the resident memory.
 */
const YOUNG_GENERATION_MB = 4;
/** A socket wakes from recvmmsg at least this often to notice a stop request. */
const RECV_TIMEOUT_MS = 100;

export class Engine extends EventEmitter<{ events: [ChangeEvent[]]; commitError: [string] }> {
  readonly sockets: OpenedSocket[];
  readonly control: Int32Array;
  readonly statsBuffer: SharedArrayBuffer;
  readonly httpStats: Float64Array;
  /** last_update per instance/host/app slot, written by the writer, read by queries. */
  readonly clocks: ClockBuffers;
  readonly options: EngineOptions;
  /** Worker threads restarted after dying. */
  restarts = 0;
  /** Set once the writer has rebuilt its index. */
  writerReady: Promise<{ instances: number; hosts: number; apps: number; loadMs: number }>;

  readonly #log: Logger;
  readonly #rings: SharedArrayBuffer[];
  readonly #httpRing: RingProducer;
  readonly #scratch = new Uint8Array(MAX_RECORD_BYTES);
  readonly #workers: (Worker | null)[] = [];
  #writer: Worker | null = null;
  #stopping = false;
  #seq = 0;
  #pending: Pending[] = [];
  #lastCommitError: string | null = null;
  #writerStopped: ((drained: number) => void) | null = null;
  #markReady!: (info: { instances: number; hosts: number; apps: number; loadMs: number }) => void;

  private constructor(options: EngineOptions, sockets: OpenedSocket[], log: Logger) {
    super();
    this.options = options;
    this.sockets = sockets;
    this.#log = log;
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
    this.statsBuffer = new SharedArrayBuffer(statsByteLength(options.workers));
    this.httpStats = statRegion(this.statsBuffer, HTTP_REGION);
    this.clocks = {
      instance: createClockBuffer(MAX_CLOCK_SLOTS.instance),
      host: createClockBuffer(MAX_CLOCK_SLOTS.host),
      app: createClockBuffer(MAX_CLOCK_SLOTS.app),
    };
    this.#rings = sockets.map(() => createRing(options.ringBytes));
    const httpRing = createRing(options.httpRingBytes ?? 1 << 20);
    this.#rings.push(httpRing);
    this.#httpRing = new RingProducer(httpRing);
    this.writerReady = new Promise((resolve) => {
      this.#markReady = resolve;
    });
  }

  /**
   * Opens the sockets (failing fast, e.g. EADDRINUSE), then starts the
   * writer and waits until it has opened the store (so readers may open it
   * too); the writer goes on rebuilding its index in the background.
   */
  static async start(options: EngineOptions, log: Logger): Promise<Engine> {
    // SO_REUSEPORT lets any process of the same user join the port, so a
    // second partiscid would silently share it: first bind without it, which
    // fails if anyone holds the port.
    if (options.port !== 0) udp.udpClose(udp.udpOpen(options.listenIp, options.port, {}).fd);
    const sockets: OpenedSocket[] = [];
    try {
      for (let i = 0; i < options.workers; i++) {
        const port = i === 0 ? options.port : sockets[0]!.port;
        sockets.push(udp.udpOpen(options.listenIp, port, { reusePort: true, rcvbuf: options.rcvbufBytes, recvTimeoutMs: RECV_TIMEOUT_MS }));
      }
    } catch (err) {
      for (const s of sockets) udp.udpClose(s.fd);
      throw err;
    }
    const engine = new Engine(options, sockets, log);
    await engine.#startWriter();
    for (let i = 0; i < sockets.length; i++) engine.#startIngest(i);
    return engine;
  }

  #startWriter(): Promise<void> {
    const data: WriterThreadData = {
      path: this.options.dataDir,
      trimSeconds: this.options.trimSeconds,
      staleSeconds: this.options.staleSeconds,
      historyDays: this.options.historyDays,
      rings: this.#rings,
      control: this.control.buffer as SharedArrayBuffer,
      stats: this.statsBuffer,
      clocks: this.clocks,
      clockPersistMs: this.options.clockPersistMs,
      minCommitMs: this.options.minCommitMs,
    };
    const writer = new Worker(WRITER_THREAD, { workerData: data, name: 'partisci-writer', resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.#writer = writer;
    return new Promise((resolve, reject) => {
      let opened = false;
      writer.on('message', (msg: WriterMessage) => {
        if (msg.type === 'OPENED') {
          opened = true;
          resolve();
        } else {
          this.#onWriterMessage(msg);
        }
      });
      writer.on('error', (err) => {
        if (!opened) reject(err);
        else this.#log(`writer thread failed: ${err.message}`);
      });
      writer.on('exit', (code) => {
        if (!opened) {
          reject(new EngineError('WRITER_EXIT', `writer thread exited (${code}) before opening the store`));
          return;
        }
        if (this.#stopping) return;
        // The writer keeps nothing that is not in LMDB or in the rings (ring
        // space is released only after commit), so a new writer rebuilds
        // its index and carries on where the old one stopped.
        this.restarts++;
        this.#log(`writer thread exited (code ${code}); restarting`);
        setTimeout(() => void this.#startWriter().catch((e: Error) => this.#log(`writer restart failed: ${e.message}`)), 200);
      });
    });
  }

  #startIngest(i: number): void {
    const data: IngestWorkerData = {
      index: i,
      fd: this.sockets[i]!.fd,
      ring: this.#rings[i]!,
      control: this.control.buffer as SharedArrayBuffer,
      stats: this.statsBuffer,
      allow: this.options.allow ?? '',
    };
    const worker = new Worker(INGEST_WORKER, { workerData: data, name: `partisci-ingest-${i}`, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.#workers[i] = worker;
    worker.on('error', (err) => this.#log(`ingest worker ${i} failed: ${err.message}`));
    worker.on('exit', (code) => {
      this.#workers[i] = null;
      if (this.#stopping) return;
      this.restarts++;
      this.#log(`ingest worker ${i} exited (code ${code}); restarting`);
      setTimeout(() => {
        if (!this.#stopping) this.#startIngest(i);
      }, 100);
    });
  }

  #onWriterMessage(msg: WriterMessage): void {
    switch (msg.type) {
      case 'READY':
        this.#markReady(msg);
        break;
      case 'COMMITTED':
        this.#lastCommitError = null;
        if (msg.ackSeq > 0) this.#acknowledge(msg.ackSeq, new Map(msg.results));
        if (msg.events.length > 0) this.emit('events', msg.events);
        break;
      case 'COMMIT_ERROR':
        if (this.#lastCommitError !== msg.message) this.#log(`commit failed: ${msg.message} (will retry)`);
        this.#lastCommitError = msg.message;
        this.emit('commitError', msg.message);
        break;
      case 'STOPPED':
        this.#writerStopped?.(msg.drained);
        break;
      case 'OPENED':
        break;
    }
  }

  #acknowledge(ackSeq: number, results: Map<number, number>): void {
    let n = 0;
    while (n < this.#pending.length && this.#pending[n]!.seq <= ackSeq) {
      const p = this.#pending[n++]!;
      p.resolve(results.get(p.seq) ?? 0);
    }
    if (n > 0) this.#pending.splice(0, n);
  }

  /** The last commit error, while commits are failing (null when healthy). */
  get commitError(): string | null {
    return this.#lastCommitError;
  }

  set eventsWanted(on: boolean) {
    Atomics.store(this.control, Ctl.EVENTS_WANTED, on ? 1 : 0);
  }

  /** Next sequence number for an HTTP record (they are acknowledged in order). */
  nextSeq(): number {
    this.#seq = (this.#seq % 0xfffffff0) + 1;
    return this.#seq;
  }

  /**
   * Queues an encoded HTTP record (its seq from nextSeq()) for the writer.
   * Resolves once it is committed; rejects at once if the ring is full.
   */
  submit(record: Uint8Array, length: number, seq: number): Promise<number> {
    if (this.#stopping) return Promise.reject(new EngineError('STOPPING', 'server is shutting down'));
    // While commits fail (a full disk), say so at once rather than wait.
    if (this.#lastCommitError !== null) return Promise.reject(new EngineError('STORAGE', `storage unavailable: ${this.#lastCommitError}`));
    if (!this.#httpRing.tryPush(record, 0, length)) {
      this.httpStats[Stat.ringFull]!++;
      return Promise.reject(new EngineError('BUSY', 'update queue is full, try again'));
    }
    this.httpStats[Stat.accepted]!++;
    wakeWriter(this.control);
    return new Promise((resolve, reject) => this.#pending.push({ seq, resolve, reject }));
  }

  /** Queues a control operation (clear, remove) and resolves after its commit. */
  submitControl(type: (typeof RecordType)['clear' | 'remove'], payload: Uint8Array = new Uint8Array(0)): Promise<number> {
    const seq = this.nextSeq();
    const len = encodeControl(type, seq, Math.floor(Date.now() / 1000), payload, this.#scratch);
    return this.submit(this.#scratch, len, seq);
  }

  /**
   * Graceful stop: stop receiving, let the writer drain every ring and
   * commit, close the store. Resolves with the number of records drained
   * after the stop request.
   */
  async stop(): Promise<number> {
    if (this.#stopping) return 0;
    this.#stopping = true;
    Atomics.store(this.control, Ctl.STOP_INGEST, 1);
    await Promise.all(this.#workers.map((w) => (w === null ? undefined : new Promise((r) => w.once('exit', r)))));
    for (const s of this.sockets) udp.udpClose(s.fd);
    const drained = await new Promise<number>((resolve) => {
      this.#writerStopped = resolve;
      const writer = this.#writer;
      if (writer === null) {
        resolve(0);
        return;
      }
      writer.once('exit', () => resolve(0));
      Atomics.store(this.control, Ctl.STOP_WRITER, 1);
      wakeWriter(this.control);
    });
    for (const p of this.#pending) p.reject(new EngineError('STOPPING', 'server stopped before committing'));
    this.#pending = [];
    return drained;
  }

  /** Ends an ingest worker thread abruptly (testing, with --danger): it is restarted like one that crashed. */
  crashIngestWorker(i: number): boolean {
    const worker = this.#workers[i];
    if (worker === undefined || worker === null) return false;
    void worker.terminate();
    return true;
  }

  /** Counts HTTP-front statistics (the main thread's region). */
  countHttp(stat: number, by = 1): void {
    this.httpStats[stat]! += by;
  }
}

export { Stat };
