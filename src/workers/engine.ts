// The ingest engine as the main thread sees it: UDP sockets (sockets.ts),
// shared memory (shared-memory.ts), threads kept running (supervisor.ts),
// and HTTP writes answered when their batch is committed (acks.ts).
//
//   UDP socket i --recvmmsg--> ingest worker i --ring i--> writer --batch--> commit thread --> LMDB
//   HTTP front (main) -------------------------HTTP ring--^                        |
//              ^---------------- COMMITTED {ackSeq, batch} ------------------------'

import { EventEmitter } from 'node:events';
import { NotReplicatedError, QueueFullError, ShuttingDownError, StorageUnavailableError, WriterUnavailableError } from '../errors.js';
import type { OpenedSocket } from '../ingest/native.js';
import { MAX_RECORD_BYTES, type RecordType, encodeControl } from '../ingest/record.js';
import { changesOf, type ChangeEvent } from '../store/changes.js';
import type { ClockBuffers } from '../store/slot-clock.js';
import { PendingAcks } from './acks.js';
import type { CommitMessage, WriterMessage } from './messages.js';
import { RingProducer } from './ring.js';
import { OpKind, findOp } from '../store/batch.js';
import { DbId } from '../store/layout.js';
import { R_SEQ } from '../ingest/record.js';
import { Ctl, Stat, wakeWriter } from './shared-layout.js';
import { SharedMemory } from './shared-memory.js';
import { closeSockets, openSockets } from './sockets.js';
import { Supervisor, type Logger } from './supervisor.js';

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
  /** Longest an absorbed change should wait to be committed (ms). */
  latencyTargetMs?: number;
  /** Cluster mode: this node's name (src/cluster). */
  nodeName?: string;
  /** Cluster mode: how often a liveness digest is built (ms). */
  digestMs?: number;
}

/**
 * Cluster mode: decides when a committed batch's waiting requests are
 * answered. `release` must be called once the batch's outbox entry (if
 * it has one) is acknowledged by the cluster, batches in commit order.
 */
export type CommitGate = (id: number, outboxBytes: number, release: () => void) => void;

export type { Logger };

/** A socket wakes from recvmmsg at least this often to notice a stop request. */
const RECV_TIMEOUT_MS = 100;

export interface LoadInfo {
  instances: number;
  hosts: number;
  apps: number;
  loadMs: number;
}

export class Engine extends EventEmitter<{ events: [ChangeEvent[]]; commitError: [string]; batch: [number, ArrayBuffer, number]; digest: [Uint8Array[]] }> {
  readonly options: EngineOptions;
  readonly sockets: OpenedSocket[];
  readonly #memory: SharedMemory;
  readonly #supervisor: Supervisor;
  readonly #log: Logger;
  readonly #httpRing: RingProducer;
  readonly #acks = new PendingAcks();
  readonly #scratch = new Uint8Array(MAX_RECORD_BYTES);
  #stopping = false;
  #seq = 0;
  #lastCommitError: string | null = null;
  #gate: CommitGate | null = null;
  #replicationTimeoutMs = 0;
  #markReady!: (info: LoadInfo) => void;
  /** Set once the first writer has rebuilt its index. */
  readonly writerReady: Promise<LoadInfo>;

  private constructor(options: EngineOptions, sockets: OpenedSocket[], log: Logger) {
    super();
    this.options = options;
    this.sockets = sockets;
    this.#log = log;
    this.#memory = new SharedMemory(sockets.length, options.ringBytes, options.httpRingBytes ?? 1 << 20);
    this.#httpRing = new RingProducer(this.#memory.httpRing);
    this.writerReady = new Promise((resolve) => {
      this.#markReady = resolve;
    });
    this.#supervisor = new Supervisor(
      {
        dataDir: options.dataDir,
        trimSeconds: options.trimSeconds,
        staleSeconds: options.staleSeconds,
        historyDays: options.historyDays,
        allow: options.allow ?? '',
        ...(options.clockPersistMs === undefined ? {} : { clockPersistMs: options.clockPersistMs }),
        ...(options.latencyTargetMs === undefined ? {} : { latencyTargetMs: options.latencyTargetMs }),
        ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName, digestMs: options.digestMs }),
      },
      this.#memory,
      sockets,
      log,
    );
    this.#supervisor.on('writer', (msg) => this.#onWriter(msg));
    this.#supervisor.on('commit', (msg) => this.#onCommit(msg));
    this.#supervisor.on('writerDown', ({ reason }) => {
      // What the dead writer had read never reaches a batch; what it had not
      // read yet waits for the next writer, which may die too. Either way,
      // nobody waits through a restart: the client is told to send again
      // (an update may be stored twice, never lost while answered 200).
      this.#acks.fail(Infinity, new WriterUnavailableError(`${reason}; the update may not be stored: send it again`));
    });
  }

  /**
   * Opens the sockets (failing fast, e.g. EADDRINUSE), then starts the
   * threads and waits until the store is open (so readers may open it
   * too); the writer goes on rebuilding its index in the background.
   */
  static async start(options: EngineOptions, log: Logger): Promise<Engine> {
    const sockets = openSockets({
      listenIp: options.listenIp,
      port: options.port,
      count: options.workers,
      rcvbufBytes: options.rcvbufBytes,
      recvTimeoutMs: RECV_TIMEOUT_MS,
    });
    const engine = new Engine(options, sockets, log);
    try {
      await engine.#supervisor.start();
    } catch (err) {
      closeSockets(sockets);
      throw err;
    }
    return engine;
  }

  #onWriter(msg: WriterMessage): void {
    if (msg.type === 'READY') this.#markReady(msg);
    else if (msg.type === 'DIGEST') this.emit('digest', msg.parts);
  }

  #onCommit(msg: CommitMessage): void {
    switch (msg.type) {
      case 'COMMITTED':
        this.#lastCommitError = null;
        if (this.#gate !== null) {
          const { ackSeq, results } = msg;
          this.#gate(msg.id, outboxEntryBytes(msg.buffer, msg.length), () => {
            if (ackSeq > 0) this.#acks.acknowledge(ackSeq, new Map(results));
          });
        } else if (msg.ackSeq > 0) {
          this.#acks.acknowledge(msg.ackSeq, new Map(msg.results));
        }
        if (this.listenerCount('events') > 0 && this.eventsWantedNow) {
          const events = changesOf(msg.buffer, msg.length);
          if (events.length > 0) this.emit('events', events);
        }
        // Listeners (the SQL tables) copy what they need now: the buffer goes back to the writer.
        if (this.listenerCount('batch') > 0) this.emit('batch', msg.id, msg.buffer, msg.length);
        this.#supervisor.recycle(msg.buffer);
        break;
      case 'COMMIT_ERROR':
        if (this.#lastCommitError !== msg.message) this.#log(`commit failed: ${msg.message} (will retry)`);
        this.#lastCommitError = msg.message;
        this.emit('commitError', msg.message);
        break;
      default:
        break;
    }
  }

  get statsBuffer(): SharedArrayBuffer {
    return this.#memory.stats;
  }

  get control(): Int32Array {
    return this.#memory.control;
  }

  get clocks(): ClockBuffers {
    return this.#memory.clocks;
  }

  /** Threads restarted after dying (ingest workers and writers). */
  get restarts(): number {
    return this.#supervisor.ingestRestarts + this.#supervisor.writerRestarts;
  }

  get writerRestarts(): number {
    return this.#supervisor.writerRestarts;
  }

  get lastWriterError(): string | null {
    return this.#supervisor.lastWriterError;
  }

  /** Updates dead writers had read but never made durable. */
  get lostOnWriterCrash(): number {
    return this.#supervisor.lostOnWriterCrash;
  }

  /** The last commit error, while commits are failing (null when healthy). */
  get commitError(): string | null {
    return this.#lastCommitError;
  }

  get eventsWantedNow(): boolean {
    return Atomics.load(this.#memory.control, Ctl.EVENTS_WANTED) === 1;
  }

  set eventsWanted(on: boolean) {
    Atomics.store(this.#memory.control, Ctl.EVENTS_WANTED, on ? 1 : 0);
  }

  /** Next sequence number for an HTTP record (they are acknowledged in order). */
  nextSeq(): number {
    this.#seq = (this.#seq % 0xfffffff0) + 1;
    return this.#seq;
  }

  /**
   * Queues an encoded HTTP record (its seq from nextSeq()) for the writer.
   * Resolves once it is committed; rejects at once when it cannot be taken.
   */
  submit(record: Uint8Array, length: number, seq: number): Promise<number> {
    if (this.#stopping) return Promise.reject(new ShuttingDownError('server is shutting down'));
    if (!this.#supervisor.writerRunning)
      return Promise.reject(new WriterUnavailableError(`no writer is running (${this.#supervisor.lastWriterError ?? 'starting'}); try again`));
    // While commits fail (a full disk), say so at once rather than wait.
    if (this.#lastCommitError !== null) return Promise.reject(new StorageUnavailableError(`storage unavailable: ${this.#lastCommitError}`));
    if (!this.#httpRing.tryPush(record, 0, length)) {
      this.#memory.httpStats[Stat.ringFull]!++;
      return Promise.reject(new QueueFullError('update queue is full, try again'));
    }
    this.#memory.httpStats[Stat.accepted]!++;
    const done = this.#acks.wait(seq);
    wakeWriter(this.#memory.control);
    if (this.#gate === null) return done;
    // Cluster mode: answered once the cluster acknowledged it; past the
    // timeout the client learns that it is committed here but not replicated yet.
    const ms = this.#replicationTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new NotReplicatedError(
              `committed on this node but not acknowledged by the cluster within ${ms} ms; it will be published when the cluster is reachable`,
            ),
          ),
        ms,
      );
      done.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e as Error);
        },
      );
    });
  }

  /** Cluster mode: from now on, committed batches answer their requests when the gate releases them. */
  setCommitGate(gate: CommitGate, replicationTimeoutMs: number): void {
    this.#gate = gate;
    this.#replicationTimeoutMs = replicationTimeoutMs;
  }

  /**
   * Cluster mode: queues a record from another node (flagged remote, its
   * origin after it) with the next sequence number, and returns that
   * number; 0 when the ring is full or no writer runs (try again shortly).
   * Wait for it with committed(seq) right after pushing (same tick), so
   * waits stay in sequence order.
   */
  pushRemote(record: Uint8Array, length: number): number {
    if (this.#stopping || !this.#supervisor.writerRunning) return 0;
    const seq = this.nextSeq();
    record[R_SEQ] = seq;
    record[R_SEQ + 1] = seq >>> 8;
    record[R_SEQ + 2] = seq >>> 16;
    record[R_SEQ + 3] = seq >>> 24;
    if (!this.#httpRing.tryPush(record, 0, length)) return 0;
    return seq;
  }

  /** Resolves once the record with this sequence number (and all before it) is committed. */
  committed(seq: number): Promise<number> {
    const done = this.#acks.wait(seq);
    wakeWriter(this.#memory.control);
    return done;
  }

  /** Cluster mode: outbox entries published (the commit thread deletes them) and meta values to set. */
  housekeep(ids: number[], meta: [string, string | null][] = []): void {
    this.#supervisor.housekeep(ids, meta);
  }

  /** Queues a control operation (clear, remove) and resolves after its commit. */
  submitControl(type: (typeof RecordType)['clear' | 'remove'], payload: Uint8Array = new Uint8Array(0)): Promise<number> {
    const seq = this.nextSeq();
    const len = encodeControl(type, seq, Math.floor(Date.now() / 1000), payload, this.#scratch);
    return this.submit(this.#scratch, len, seq);
  }

  /**
   * Graceful stop: stop receiving, let the writer drain every ring and
   * hand over its last batch, commit it, close the store. Resolves with the
   * number of records drained after the stop request.
   */
  async stop(): Promise<number> {
    if (this.#stopping) return 0;
    this.#stopping = true;
    const drained = await this.#supervisor.stop();
    closeSockets(this.sockets);
    this.#acks.fail(Infinity, new ShuttingDownError('server stopped before committing'));
    return drained;
  }

  /** Ends an ingest worker thread abruptly (testing, with --danger): it is restarted like one that crashed. */
  crashIngestWorker(i: number): boolean {
    return this.#supervisor.crashIngest(i);
  }

  /** Ends the writer thread abruptly (testing, with --danger): it is restarted like one that crashed. */
  crashWriter(): boolean {
    return this.#supervisor.crashWriter();
  }

  /** Counts HTTP-front statistics (the main thread's region). */
  countHttp(stat: number, by = 1): void {
    this.#memory.httpStats[stat]! += by;
  }
}

/** The size of a committed batch's outbox entry (cluster mode: local changes to publish); 0 if none. */
function outboxEntryBytes(buffer: ArrayBuffer, length: number): number {
  return Math.max(0, findOp(buffer, length, DbId.outbox, OpKind.put));
}
