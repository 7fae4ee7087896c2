// Starts the engine's threads and keeps them running: the commit thread,
// the writer thread and one ingest worker per socket.
//
// A dead ingest worker is simply started again (its socket and ring are
// intact). A dead writer takes more care, because it held updates it had
// read from the rings but not yet handed over in a batch:
//   1. writes are refused (`writerDown`) until a new writer runs;
//   2. the commit thread commits every batch the dead writer handed over
//      (DRAIN → IDLE);
//   3. what the writer had read but no batch made durable is counted as
//      lost (`lostOnWriterCrash`), and every HTTP request still waiting is
//      answered with an error (never with success: its commit may never
//      come);
//   4. a new writer starts: at once if the dead one had loaded the store
//      and was working (a crash), after a backoff that doubles (up to
//      MAX_BACKOFF_MS) while writers keep dying before they are ready (the
//      store cannot be opened or loaded), forever.
// A dead commit thread takes the writer down with it (its batch is gone)
// and both restart the same way.

import { EventEmitter } from 'node:events';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { OpenedSocket } from '../ingest/native.js';
import type { IngestWorkerData } from './ingest-worker.js';
import type { CommitControl, CommitMessage, CommitThreadData, WriterMessage, WriterThreadData } from './messages.js';
import type { SharedMemory } from './shared-memory.js';
import { COMMIT_REGION, Ctl, Stat, WRITER_REGION, statRegion, wakeWriter } from './shared-layout.js';

const INGEST_WORKER = new URL('./ingest-worker.js', import.meta.url);
const WRITER_THREAD = new URL('./writer-thread.js', import.meta.url);
const COMMIT_THREAD = new URL('./commit-thread.js', import.meta.url);
/**
 * V8's default young generation is sized for allocation-heavy apps (tens
 * of MiB per thread); these threads allocate little, and every thread's
 * heap counts in the resident memory.
 */
const YOUNG_GENERATION_MB = 4;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

export interface ThreadOptions {
  dataDir: string;
  trimSeconds: number;
  staleSeconds: number;
  historyDays: number;
  allow: string;
  clockPersistMs?: number;
  latencyTargetMs?: number;
  /** Cluster mode: this node's name. */
  nodeName?: string;
  digestMs?: number;
}

export type Logger = (line: string) => void;

interface SupervisorEvents {
  writer: [WriterMessage];
  commit: [CommitMessage];
  /** No writer runs: writes must be refused, and waiting requests answered. */
  writerDown: [{ reason: string }];
  /** A (new) writer runs and takes writes. */
  writerUp: [];
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #options: ThreadOptions;
  readonly #memory: SharedMemory;
  readonly #sockets: readonly OpenedSocket[];
  readonly #log: Logger;
  readonly #writerStats: Float64Array;
  readonly #commitStats: Float64Array;
  readonly #ingest: (Worker | null)[] = [];
  #commit: Worker | null = null;
  #writer: Worker | null = null;
  /** Main's end of the current writer's recycle channel. */
  #recycle: MessagePort | null = null;
  #writerReady = false;
  /** End the writer as soon as it is ready (#terminateWriter). */
  #terminateWhenReady = false;
  /** The writer was ended on purpose (crashWriter): no backoff for it. */
  #writerKilled = false;
  #backoffMs = FIRST_BACKOFF_MS;
  #stopping = false;
  #recovering = false;
  #idle: (() => void) | null = null;
  /** Ingest workers restarted after dying. */
  ingestRestarts = 0;
  /** Writers restarted after dying (or failing to start). */
  writerRestarts = 0;
  lastWriterError: string | null = null;
  /** Updates a dead writer had read but never made durable. */
  lostOnWriterCrash = 0;

  constructor(options: ThreadOptions, memory: SharedMemory, sockets: readonly OpenedSocket[], log: Logger) {
    super();
    this.#options = options;
    this.#memory = memory;
    this.#sockets = sockets;
    this.#log = log;
    this.#writerStats = statRegion(memory.stats, WRITER_REGION);
    this.#commitStats = statRegion(memory.stats, COMMIT_REGION);
  }

  get writerRunning(): boolean {
    return this.#writer !== null && !this.#recovering;
  }

  /** Starts every thread; resolves once the store is open (readers may open it). */
  async start(): Promise<void> {
    await this.#startCommit();
    this.#startWriter(this.#newPort());
    for (let i = 0; i < this.#sockets.length; i++) this.#startIngest(i);
  }

  #startCommit(): Promise<void> {
    const data: CommitThreadData = { path: this.#options.dataDir, control: this.#memory.control.buffer as SharedArrayBuffer, stats: this.#memory.stats };
    const commit = new Worker(COMMIT_THREAD, { workerData: data, name: 'partisci-commit', resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.#commit = commit;
    return new Promise((resolve, reject) => {
      let opened = false;
      let openError: string | null = null;
      commit.on('message', (msg: CommitMessage) => {
        if (msg.type === 'OPENED') {
          opened = true;
          resolve();
        } else if (msg.type === 'IDLE') {
          this.#idle?.();
        } else if (msg.type === 'COMMIT_ERROR' && !opened) {
          openError = msg.message;
        } else {
          this.emit('commit', msg);
        }
      });
      commit.on('error', (err) => {
        if (!opened) reject(err);
        else this.#log(`commit thread failed: ${err.message}`);
      });
      commit.on('exit', (code) => {
        this.#commit = null;
        if (!opened) {
          reject(new Error(openError ?? `commit thread exited (${code}) before opening the store`));
          return;
        }
        if (this.#stopping) return;
        // Its batch in flight is gone: the writer must reload from LMDB.
        this.#log(`commit thread exited (code ${code}); restarting it and the writer`);
        void this.#startCommit().then(
          () => this.#terminateWriter(),
          (e: Error) => this.#log(`commit thread restart failed: ${e.message}`),
        );
      });
    });
  }

  /** A new writer ↔ commit thread channel: the commit thread gets one end now. */
  #newPort(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    const msg: CommitControl = { type: 'PORT', port: port2 };
    this.#commit!.postMessage(msg, [port2]);
    return port1;
  }

  #startWriter(port: MessagePort): void {
    const o = this.#options;
    const recycle = new MessageChannel();
    this.#recycle?.close();
    this.#recycle = recycle.port1;
    const data: WriterThreadData = {
      path: o.dataDir,
      trimSeconds: o.trimSeconds,
      staleSeconds: o.staleSeconds,
      historyDays: o.historyDays,
      rings: this.#memory.rings,
      control: this.#memory.control.buffer as SharedArrayBuffer,
      stats: this.#memory.stats,
      clocks: this.#memory.clocks,
      commitPort: port,
      recyclePort: recycle.port2,
      ...(o.clockPersistMs === undefined ? {} : { clockPersistMs: o.clockPersistMs }),
      ...(o.latencyTargetMs === undefined ? {} : { latencyTargetMs: o.latencyTargetMs }),
      ...(o.nodeName === undefined ? {} : { nodeName: o.nodeName }),
      ...(o.digestMs === undefined ? {} : { digestMs: o.digestMs }),
    };
    const writer = new Worker(WRITER_THREAD, {
      workerData: data,
      transferList: [port, recycle.port2],
      name: 'partisci-writer',
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.#writer = writer;
    this.#writerReady = false;
    this.#terminateWhenReady = false;
    this.#writerKilled = false;
    this.#writerStats[Stat.ready] = 0;
    let lastError = '';
    writer.on('message', (msg: WriterMessage) => {
      if (msg.type === 'READY') {
        this.#writerReady = true;
        if (this.#terminateWhenReady) {
          this.#terminateWhenReady = false;
          void writer.terminate();
        }
      }
      this.emit('writer', msg);
    });
    writer.on('error', (err) => {
      lastError = err.message;
    });
    writer.on('exit', (code) => {
      if (this.#writer === writer) this.#writer = null;
      if (this.#stopping) return;
      const reason = lastError === '' ? `writer thread exited (code ${code})` : `writer thread failed: ${lastError}`;
      void this.#recoverWriter(reason);
    });
    this.emit('writerUp');
  }

  /** After a writer died: settle what it held, then start the next one (see the file comment). */
  async #recoverWriter(reason: string): Promise<void> {
    this.#recovering = true;
    this.lastWriterError = reason;
    if (this.#commit !== null) {
      // Its batches are committed (and their requests answered) first.
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        const msg: CommitControl = { type: 'DRAIN' };
        this.#commit!.postMessage(msg);
      });
      this.#idle = null;
    }
    this.emit('writerDown', { reason });
    const lost = Math.max(0, this.#writerStats[Stat.drained]! - this.#commitStats[Stat.applied]!);
    const newlyLost = lost - this.lostOnWriterCrash;
    this.lostOnWriterCrash = lost;
    this.writerRestarts++;
    // A writer that was working restarts at once; one that died before it
    // was ready (it could not open or load the store) backs off.
    this.#backoffMs = this.#writerReady || this.#writerKilled ? FIRST_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2);
    this.#log(`${reason}; ${newlyLost} updates it had not committed are lost; restarting in ${this.#backoffMs} ms`);
    setTimeout(() => {
      if (this.#stopping) return;
      if (this.#commit === null) {
        // The commit thread is restarting too: try again shortly.
        void this.#recoverWriter(reason);
        return;
      }
      this.#recovering = false;
      this.#startWriter(this.#newPort());
    }, this.#backoffMs);
  }

  #startIngest(i: number): void {
    const data: IngestWorkerData = {
      index: i,
      fd: this.#sockets[i]!.fd,
      ring: this.#memory.rings[i]!,
      control: this.#memory.control.buffer as SharedArrayBuffer,
      stats: this.#memory.stats,
      allow: this.#options.allow,
    };
    const worker = new Worker(INGEST_WORKER, {
      workerData: data,
      name: `partisci-ingest-${i}`,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.#ingest[i] = worker;
    worker.on('error', (err) => this.#log(`ingest worker ${i} failed: ${err.message}`));
    worker.on('exit', (code) => {
      this.#ingest[i] = null;
      if (this.#stopping) return;
      this.ingestRestarts++;
      this.#log(`ingest worker ${i} exited (code ${code}); restarting`);
      setTimeout(() => {
        if (!this.#stopping) this.#startIngest(i);
      }, 100);
    });
  }

  /** Cluster: published outbox entries to delete and meta values to set (the commit thread writes them). */
  housekeep(ids: number[], meta: [string, string | null][]): void {
    const msg: CommitControl = { type: 'OUTBOX_DONE', ids, meta };
    this.#commit?.postMessage(msg);
  }

  /** Gives a committed batch's buffer back to the writer, which reuses it (fewer fresh pages per batch). */
  recycle(buffer: ArrayBuffer): void {
    if (this.#recycle !== null && buffer.byteLength > 0) this.#recycle.postMessage(buffer, [buffer]);
  }

  /** Ends an ingest worker abruptly (testing, with --danger): it is restarted like one that crashed. */
  crashIngest(i: number): boolean {
    const worker = this.#ingest[i];
    if (worker === undefined || worker === null) return false;
    void worker.terminate();
    return true;
  }

  /**
   * Ends the writer abruptly (testing, with --danger): it is restarted like
   * one that crashed. Not while it loads the store (false: try again).
   */
  crashWriter(): boolean {
    if (this.#writer === null || this.#recovering || !this.#writerReady) return false;
    this.#writerKilled = true;
    void this.#writer.terminate();
    return true;
  }

  /**
   * Ends the writer now, or once it has loaded the store: a worker ended
   * inside an lmdb-js call (the loader's) can abort the whole process
   * (lmdb-js cannot throw into a terminating thread: "FATAL ERROR:
   * Error::ThrowAsJavaScriptException napi_throw", seen in the writer-crash
   * stress test). Once loaded, the writer makes no LMDB calls.
   */
  #terminateWriter(): void {
    if (this.#writer === null) return;
    if (this.#writerReady) void this.#writer.terminate();
    else this.#terminateWhenReady = true;
  }

  /**
   * Graceful stop: ingest workers first (the sockets stop being read), then
   * the writer (it drains the rings and hands over a last batch), then the
   * commit thread (once that batch is committed). Resolves with the records
   * the writer drained after the stop request.
   */
  async stop(): Promise<number> {
    this.#stopping = true;
    const control = this.#memory.control;
    Atomics.store(control, Ctl.STOP_INGEST, 1);
    await Promise.all(this.#ingest.map((w) => (w === null ? undefined : new Promise((r) => w.once('exit', r)))));
    let drained = 0;
    const writer = this.#writer;
    if (writer !== null) {
      drained = await new Promise<number>((resolve) => {
        const onMessage = (msg: WriterMessage): void => {
          if (msg.type === 'STOPPED') resolve(msg.drained);
        };
        writer.on('message', onMessage);
        writer.once('exit', () => resolve(0));
        Atomics.store(control, Ctl.STOP_WRITER, 1);
        wakeWriter(control);
      });
      await writer.terminate();
    }
    const commit = this.#commit;
    if (commit !== null) {
      const exited = new Promise((r) => commit.once('exit', r));
      const msg: CommitControl = { type: 'STOP' };
      commit.postMessage(msg);
      await exited;
    }
    return drained;
  }
}
