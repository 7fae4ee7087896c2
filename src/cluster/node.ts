// A partiscid node in a cluster (--cluster), on the main thread: the link
// between this node's engine and NATS JetStream.
//
//   writer --batch + outbox entry--> commit thread --COMMITTED--> gate (here)
//   gate: publish the entry to PARTISCI (partisci.c.<node>), wait for
//         JetStream's acknowledgement (stream replicated), then let the
//         engine answer the batch's HTTP requests and delete the entry.
//   consumer: every message of PARTISCI from this node's position on ->
//         its records into the HTTP ring, flagged remote (the writer
//         applies each only if it wins the conflict rule, cluster/remote.ts)
//         -> once committed, the position moves (META.clusterSeq).
//   liveness: the writer's digests -> core NATS partisci.live.<node>; a
//         peer's digest -> a touch record into the HTTP ring.
//
// NATS being away never stops the node: ingest and queries go on, local
// changes wait in the outbox (bounded, outbox.ts), and the link comes back
// by itself (the client reconnects forever).

import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type ConsumerMessages,
} from '@nats-io/jetstream';
import { RECORD_HEADER, R_FLAGS, R_KEY_LEN, R_TIME, R_TYPE, RecordFlag, RecordType, MAX_RECORD_BYTES } from '../ingest/record.js';
import type { ClusterStats } from '../api/types.js';
import type { Logger } from '../log.js';
import { META } from '../store/layout.js';
import { Ctl } from '../workers/shared-layout.js';
import type { Engine } from '../workers/engine.js';
import { ClusterStore } from './outbox.js';
import { recordOfValue } from './record-of-value.js';
import { writeClock, writeOrigin } from './remote.js';
import { DIGEST_ENTRY, DIGEST_HEADER, DIGEST_PART_ENTRIES } from './liveness.js';
import { WireKind, WireWriter, fromOrigin, readWire } from './wire.js';
import { ensureSnapshotStream, lastUpdate, readHead, readSnapshot, writeSnapshot } from './snapshot.js';
import { SlotClock } from '../store/slot-clock.js';

export const STREAM = 'PARTISCI';
export const CHANGES_SUBJECT = 'partisci.c';
export const LIVE_SUBJECT = 'partisci.live';

export interface ClusterOptions {
  servers: string[];
  node: string;
  /** Stream replicas (3 for a 3-server JetStream cluster). */
  replicas: number;
  /** The change stream's bound (bytes; oldest messages go first). */
  streamBytes: number;
  /** The outbox's bound (bytes of unpublished entries). */
  outboxBytes: number;
  /** How long an HTTP write waits for the cluster's acknowledgement before 503 NOT_REPLICATED. */
  ackTimeoutMs: number;
  /** How often the elected node writes a snapshot (ms; 0 = never). */
  snapshotMs: number;
}

/** Outbox entries published together (JetStream keeps one connection's publishes in order). */
const PUBLISH_WINDOW = 32;
/** Remote messages pushed but not yet committed, at most. */
const APPLY_WINDOW = 64;
const RETRY_MS = 500;
/**
 * A publish not acknowledged within this is sent again (same message id:
 * JetStream drops the duplicate). Short, because a publish lost with a
 * server would otherwise hold every later answer.
 */
const PUBLISH_TIMEOUT_MS = 2000;
/** Largest message published (NATS's default max_payload is 1 MiB). */
const MAX_MESSAGE_BYTES = 512 * 1024;
const HEARTBEAT_MS = 1000;
/** A node not heard from for this long is gone; when it comes back it gets a full digest. */
const PEER_GONE_MS = 5000;
/** No message for this long while the stream has newer ones: the consumer is restarted. */
const STALL_MS = 3000;
const LAG_WINDOW = 2048;

interface Gated {
  id: number;
  bytes: number;
  release: () => void;
  at: number;
}

export class ClusterNode {
  readonly #engine: Engine;
  readonly #options: ClusterOptions;
  readonly #log: Logger;
  readonly #store: ClusterStore;
  readonly #self: Buffer;
  #nc: NatsConnection | null = null;
  #js: JetStreamClient | null = null;
  #jsm: JetStreamManager | null = null;
  #snapshotting = false;
  #lastSnapshotSeq = -1;
  #snapshot = { written: 0, last_seq: 0, last_instances: 0, last_ms: 0, last_ms_at: 0, loaded_instances: 0, loaded_ms: 0, loaded_seq: 0 };
  #ready = false;
  #connected = false;
  #messages: ConsumerMessages | null = null;
  #delivered = 0;
  #lastDelivery = 0;
  #consumerRestarts = 0;
  /** The consumer has reached the end of the stream once since start. */
  #caughtUp = false;
  #closed = false;
  #queue: Gated[] = [];
  #outboxBytes = 0;
  #wake: (() => void) | null = null;
  #position: number;
  #savedPosition: number;
  #catchingUp: boolean;
  #lastPublish = 0;
  #liveSub: Subscription | null = null;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #lastSeen = new Map<string, number>();
  readonly #publishLags: number[] = [];
  readonly #replicationLags: number[] = [];
  readonly #scratch = Buffer.allocUnsafe(MAX_RECORD_BYTES + 256);
  readonly #touchScratch = Buffer.allocUnsafe(RECORD_HEADER + DIGEST_HEADER + DIGEST_PART_ENTRIES * DIGEST_ENTRY);
  readonly #counts = {
    published_messages: 0,
    published_changes: 0,
    published_bytes: 0,
    received_messages: 0,
    received_changes: 0,
    publish_errors: 0,
    digests_sent: 0,
    digests_received: 0,
    digest_bytes_sent: 0,
  };

  private constructor(engine: Engine, dataDir: string, options: ClusterOptions, log: Logger) {
    this.#engine = engine;
    this.#options = options;
    this.#log = log;
    this.#self = Buffer.from(options.node);
    this.#store = new ClusterStore(dataDir);
    this.#position = this.#store.clusterSeq;
    this.#savedPosition = this.#position;
    // A store that never followed the stream takes every message, its own too.
    this.#catchingUp = this.#position === 0;
    // Entries committed before this process published them (a crash, NATS away).
    for (const e of this.#store.entries()) {
      this.#queue.push({ id: e.id, bytes: e.bytes, release: () => {}, at: Date.now() });
      this.#outboxBytes += e.bytes;
    }
    const listed = this.#queue.length === 0 ? 0 : this.#queue[this.#queue.length - 1]!.id;
    engine.setCommitGate((id, bytes, release) => {
      // Already queued from the store (committed just before the gate was set).
      if (id <= listed && bytes > 0) bytes = 0;
      this.#queue.push({ id, bytes, release, at: Date.now() });
      this.#outboxBytes += bytes;
      this.#checkBound();
      this.#kick();
    }, options.ackTimeoutMs);
    if (this.#position === 0 && this.#store.instanceCount() > 0 && !this.#store.resyncWanted) {
      // A single node's store joining a cluster: what it knows has never been published.
      engine.housekeep([], [[META.clusterResync, '1']]);
    }
    engine.on('digest', (parts) => this.#sendDigest(parts));
    this.#checkBound();
  }

  /** Starts the node's link; it connects (and reconnects) in the background. */
  static start(engine: Engine, dataDir: string, options: ClusterOptions, log: Logger): ClusterNode {
    const node = new ClusterNode(engine, dataDir, options, log);
    void node.#run();
    return node;
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#nc === null) {
      try {
        this.#nc = await connect({
          servers: this.#options.servers,
          name: `partiscid-${this.#options.node}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          timeout: 2000,
        });
      } catch (err) {
        this.#log.warn('cluster: cannot reach NATS yet', { servers: this.#options.servers.join(','), error: (err as Error).message });
        await sleep(1000);
      }
    }
    const nc = this.#nc;
    if (nc === null) return;
    this.#connected = true;
    this.#log.info('cluster: connected to NATS', { server: nc.getServer(), node: this.#options.node });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.#connected = false;
        if (s.type === 'reconnect') {
          this.#connected = true;
          // Digests sent while the link was down are lost: tell everything again.
          this.#fullDigest();
        }
        if (s.type === 'disconnect') this.#log.warn('cluster: NATS connection lost; changes wait in the outbox');
        else if (s.type === 'reconnect') {
          this.#log.info('cluster: NATS connection back', { server: nc.getServer() });
          this.#kick();
        }
      }
    })();
    this.#js = jetstream(nc, { timeout: 5000 });
    await this.#ensureStream();
    // Publishing first: commits (the catch-up's too) are released through it.
    void this.#publishLoop();
    await this.#catchUp();
    this.#ready = true;
    if (this.#options.snapshotMs > 0) this.#timers.push(setInterval(() => void this.#maybeSnapshot(), Math.min(this.#options.snapshotMs, 5000)).unref());
    this.#liveSub = nc.subscribe(`${LIVE_SUBJECT}.*`, {
      callback: (err, msg) => {
        if (err === null) this.#onLive(msg.subject, msg.data);
      },
    });
    this.#timers.push(setInterval(() => this.#heartbeat(), HEARTBEAT_MS).unref());
    this.#timers.push(setInterval(() => this.#savePosition(), 1000).unref());
    void this.#consumeLoop();
  }

  async #ensureStream(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const jsm = await jetstreamManager(this.#nc!, { timeout: 5000 });
        const config = {
          name: STREAM,
          subjects: [`${CHANGES_SUBJECT}.>`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          num_replicas: this.#options.replicas,
          max_bytes: this.#options.streamBytes,
          discard: DiscardPolicy.Old,
          duplicate_window: 120 * 1_000_000_000,
        };
        try {
          await jsm.streams.info(STREAM);
        } catch {
          await jsm.streams.add(config);
          this.#log.info('cluster: stream created', { stream: STREAM, replicas: this.#options.replicas, max_bytes: this.#options.streamBytes });
        }
        await ensureSnapshotStream(jsm, this.#options.replicas);
        this.#jsm = jsm;
        return;
      } catch (err) {
        if (attempt % 10 === 0) this.#log.warn('cluster: JetStream not ready', { error: (err as Error).message });
        await sleep(RETRY_MS);
      }
    }
  }

  #kick(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  #checkBound(): void {
    const control = this.#engine.control;
    const full = Atomics.load(control, Ctl.OUTBOX_FULL) === 1;
    if (!full && this.#outboxBytes > this.#options.outboxBytes) {
      Atomics.store(control, Ctl.OUTBOX_FULL, 1);
      this.#log.warn('cluster: outbox full; further changes will be published by a resync', { bytes: this.#outboxBytes });
    } else if (full && this.#outboxBytes < this.#options.outboxBytes / 2) {
      Atomics.store(control, Ctl.OUTBOX_FULL, 0);
    }
  }

  // --- publishing -----------------------------------------------------------

  async #publishLoop(): Promise<void> {
    while (!this.#closed) {
      // Batches without local changes only wait for those before them.
      while (this.#queue.length > 0 && this.#queue[0]!.bytes === 0) this.#queue.shift()!.release();
      if (this.#queue.length === 0) {
        if (this.#store.resyncWanted) await this.#resync();
        else await this.#idle(1000);
        continue;
      }
      const take = this.#queue.slice(0, PUBLISH_WINDOW);
      try {
        const sent = await Promise.all(take.map((g) => (g.bytes === 0 ? Promise.resolve(null) : this.#publishEntry(g.id))));
        const now = Date.now();
        const done: number[] = [];
        for (let i = 0; i < take.length; i++) {
          const g = take[i]!;
          if (g.bytes > 0) {
            done.push(g.id);
            this.#outboxBytes -= g.bytes;
            pushLag(this.#publishLags, now - g.at);
            const n = sent[i];
            if (n !== null && n !== undefined) {
              this.#counts.published_messages++;
              this.#counts.published_changes += n.changes;
              this.#counts.published_bytes += n.bytes;
            }
          }
          g.release();
        }
        this.#queue.splice(0, take.length);
        this.#lastPublish = now;
        this.#engine.housekeep(done);
        this.#checkBound();
      } catch (err) {
        this.#counts.publish_errors++;
        if (this.#counts.publish_errors % 20 === 1)
          this.#log.warn('cluster: publish failed, will retry', { error: (err as Error).message, outbox_entries: this.#queue.length });
        await this.#idle(RETRY_MS);
      }
    }
  }

  /** Publishes an outbox entry: one message, or several when it is larger than a NATS message may be. */
  async #publishEntry(id: number): Promise<{ changes: number; bytes: number } | null> {
    const entry = this.#store.entry(id);
    if (entry === null) {
      // Only a published entry is deleted: this one was, before a restart.
      this.#log.warn('cluster: outbox entry already gone', { id });
      return null;
    }
    const subject = `${CHANGES_SUBJECT}.${this.#options.node}`;
    const msgID = `${this.#options.node}:${this.#epoch()}:${id}`;
    const changes = entry.readUInt32LE(3 + entry[2]!);
    if (entry.length <= MAX_MESSAGE_BYTES) {
      await this.#js!.publish(subject, entry, { msgID, timeout: PUBLISH_TIMEOUT_MS });
      return { changes, bytes: entry.length };
    }
    // Parts: a header of their own, then a run of the entry's records as they are (one copy).
    const wire = readWire(entry);
    const head = 3 + wire.origin.length;
    const parts: Buffer[] = [];
    const { spans } = wire;
    for (let i = 0; i < spans.length; ) {
      const start = spans[i]! - 4;
      let end = start;
      let n = 0;
      while (i < spans.length && (n === 0 || end + 4 + spans[i + 1]! - start + head + 4 <= MAX_MESSAGE_BYTES)) {
        end = spans[i]! + spans[i + 1]!;
        n++;
        i += 2;
      }
      const header = Buffer.allocUnsafe(head + 4);
      entry.copy(header, 0, 0, head);
      header.writeUInt32LE(n, head);
      parts.push(Buffer.concat([header, entry.subarray(start, end)]));
    }
    // In order, each acknowledged before the next: receivers see the batch's records in commit order.
    for (let i = 0; i < parts.length; i++) await this.#js!.publish(subject, parts[i]!, { msgID: `${msgID}:${i}`, timeout: PUBLISH_TIMEOUT_MS });
    return { changes, bytes: entry.length };
  }

  /** Tells outbox entries of this store apart from those of a wiped one (message ids are deduplicated). */
  #epoch(): string {
    let e = this.#store.meta('cluster_epoch');
    if (e === null) {
      e = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
      this.#engine.housekeep([], [['cluster_epoch', e]]);
      this.#epochValue = e;
    }
    return this.#epochValue ?? e;
  }

  #epochValue: string | null = null;

  /** Publishes every instance this node is the origin of (after the outbox overflowed, or a single node's store joined). */
  async #resync(): Promise<void> {
    this.#log.info('cluster: resync: publishing the instances this node is the origin of');
    let published = 0;
    const rows: Buffer[] = [];
    const clocks = SlotClock.view(this.#engine.clocks.instance);
    this.#store.instRows.each(undefined, undefined, false, (key, keyLength, value) => {
      const r = recordOfValue(key, keyLength, value, this.#scratch);
      if (r.origin === null || Buffer.compare(Buffer.from(r.origin), this.#self) === 0) {
        // As a snapshot's records: origin and last_update after the record.
        const end = writeClock(this.#scratch, writeOrigin(this.#scratch, r.length, this.#self), lastUpdate(value, clocks));
        rows.push(Buffer.from(this.#scratch.subarray(0, end)));
      }
      return true;
    });
    try {
      for (let i = 0; i < rows.length; i += 400) {
        const w = new WireWriter(WireKind.snapshot, this.#self, 1 << 17);
        for (const r of rows.slice(i, i + 400)) w.add(r, 0, r.length);
        await this.#js!.publish(`${CHANGES_SUBJECT}.${this.#options.node}`, w.bytes(), { timeout: 5000 });
        published += w.count;
      }
      this.#engine.housekeep([], [[META.clusterResync, null]]);
      // Wait until the commit thread has cleared the mark.
      for (let i = 0; i < 50 && this.#store.resyncWanted; i++) await sleep(20);
      this.#log.info('cluster: resync done', { instances: published });
      // The resync carried content times; the clocks follow in a full digest.
      this.#fullDigest();
    } catch (err) {
      this.#log.warn('cluster: resync failed, will retry', { error: (err as Error).message });
      await this.#idle(RETRY_MS);
    }
  }

  // --- catching up -----------------------------------------------------------

  /**
   * A node that is new, wiped, or behind the stream's oldest message starts
   * from the last snapshot (snapshot.ts), then follows the stream from it.
   */
  async #catchUp(): Promise<void> {
    for (;;) {
      try {
        const jsm = this.#jsm!;
        const info = await jsm.streams.info(STREAM);
        const first = info.state.first_seq;
        const head = await readHead(jsm);
        const behind = this.#position === 0 || this.#position + 1 < first;
        if (head === null || head.seq <= this.#position || !behind) {
          if (this.#position + 1 < first && info.state.messages > 0) {
            this.#log.warn('cluster: the stream no longer holds every change this node missed, and no snapshot covers them', {
              position: this.#position,
              first_seq: first,
            });
          }
          return;
        }
        const started = Date.now();
        this.#catchingUp = true;
        this.#log.info('cluster: catching up from a snapshot', { snapshot: head.id, seq: head.seq, instances: head.instances });
        let last = 0;
        const n = await readSnapshot(jsm, head, async (bytes, at, length) => {
          this.#scratch.set(bytes.subarray(at, at + length), 0);
          this.#scratch[R_FLAGS] = RecordFlag.remote;
          for (;;) {
            last = this.#engine.pushRemote(this.#scratch, length);
            if (last !== 0) return;
            await sleep(1);
          }
        });
        if (last !== 0) await this.#engine.committed(last);
        this.#position = head.seq;
        this.#savePosition();
        this.#snapshot.loaded_instances = n;
        this.#snapshot.loaded_seq = head.seq;
        this.#snapshot.loaded_ms = Date.now() - started;
        this.#log.info('cluster: snapshot loaded', { instances: n, seq: head.seq, ms: this.#snapshot.loaded_ms });
        return;
      } catch (err) {
        this.#log.warn('cluster: catching up failed, will retry', { error: (err as Error).message });
        await sleep(RETRY_MS);
      }
    }
  }

  /** The elected node (the smallest name alive) writes a snapshot when the stream moved since the last one. */
  async #maybeSnapshot(): Promise<void> {
    if (this.#snapshotting || this.#catchingUp || !this.#connected || this.#jsm === null) return;
    const now = Date.now();
    for (const [name, seen] of this.#lastSeen) if (now - seen < 10_000 && name < this.#options.node) return;
    if (now - this.#snapshot.last_ms_at < this.#options.snapshotMs) return;
    this.#snapshotting = true;
    try {
      if (this.#lastSnapshotSeq < 0) this.#lastSnapshotSeq = (await readHead(this.#jsm))?.seq ?? 0;
      if (this.#position <= this.#lastSnapshotSeq) return;
      const started = Date.now();
      const head = await writeSnapshot(this.#js!, this.#jsm, this.#store, this.#self, this.#position, () => SlotClock.view(this.#engine.clocks.instance));
      this.#lastSnapshotSeq = head.seq;
      this.#snapshot.written++;
      this.#snapshot.last_seq = head.seq;
      this.#snapshot.last_instances = head.instances;
      this.#snapshot.last_ms = Date.now() - started;
      this.#log.info('cluster: snapshot written', { seq: head.seq, instances: head.instances, chunks: head.chunks, ms: this.#snapshot.last_ms });
    } catch (err) {
      this.#log.warn('cluster: snapshot failed', { error: (err as Error).message });
    } finally {
      this.#snapshot.last_ms_at = Date.now();
      this.#snapshotting = false;
    }
  }

  // --- consuming ------------------------------------------------------------

  async #consumeLoop(): Promise<void> {
    this.#timers.push(setInterval(() => void this.#watchConsumer(), 1000).unref());
    while (!this.#closed) {
      try {
        const start = this.#position + 1;
        const consumer = await withTimeout(
          this.#js!.consumers.get(STREAM, {
            filter_subjects: `${CHANGES_SUBJECT}.>`,
            ...(start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All }),
          }),
          10_000,
        );
        const info = await this.#jsm!.streams.info(STREAM);
        if (info.state.last_seq <= this.#position) this.#caughtUp = true;
        // Short pulls: a lost server is noticed (missed heartbeats) within seconds, and the consumer resets.
        const messages = await withTimeout(consumer.consume({ max_messages: 256, expires: 2000 }), 10_000);
        this.#messages = messages;
        this.#delivered = this.#position;
        this.#lastDelivery = Date.now();
        const inFlight: Promise<void>[] = [];
        for await (const m of messages) {
          if (this.#closed) break;
          this.#lastDelivery = Date.now();
          this.#delivered = m.seq;
          // One message's records are all pushed before the next's (the scratch buffer, their order).
          const { committed } = await this.#apply(m);
          inFlight.push(committed);
          if (inFlight.length >= APPLY_WINDOW) await inFlight.shift();
        }
        this.#messages = null;
        await Promise.all(inFlight);
      } catch (err) {
        if (this.#closed) return;
        this.#log.warn('cluster: consumer stopped, resuming from the last committed position', { position: this.#position, error: (err as Error).message });
        await sleep(RETRY_MS);
      }
    }
  }

  /**
   * The ordered consumer is meant to recover by itself from a lost server,
   * but it can stall when the server it lived on dies during a leader
   * election: if the stream holds messages past the last one delivered and
   * nothing came for STALL_MS, stop it; the loop starts a new one from the
   * last committed position.
   */
  async #watchConsumer(): Promise<void> {
    const messages = this.#messages;
    if (messages === null || Date.now() - this.#lastDelivery < STALL_MS || this.#jsm === null) return;
    try {
      const info = await this.#jsm.streams.info(STREAM);
      if (info.state.last_seq > this.#delivered && this.#messages === messages) {
        this.#log.warn('cluster: consumer stalled; starting a new one', { position: this.#position, stream_last_seq: info.state.last_seq });
        this.#consumerRestarts++;
        messages.stop();
      }
    } catch {
      // JetStream unreachable: nothing to compare with yet.
    }
    this.#lastDelivery = Date.now();
  }

  /**
   * Pushes a message's records into the HTTP ring (waiting while it is
   * full); `committed` resolves once they are committed (the position moves).
   */
  async #apply(m: JsMsg): Promise<{ committed: Promise<void> }> {
    const seq = m.seq;
    const own = fromOrigin(m.data, this.#self);
    if (m.info.pending === 0) {
      this.#catchingUp = false;
      this.#caughtUp = true;
    }
    this.#counts.received_messages++;
    if (own && !this.#catchingUp) {
      // Its own changes are already here.
      if (seq > this.#position) this.#position = seq;
      return { committed: Promise.resolve() };
    }
    const wire = readWire(m.data);
    const { bytes, spans } = wire;
    // A resync's records carry their origin and last_update already.
    const withTrailer = wire.kind === WireKind.snapshot;
    let last = 0;
    for (let i = 0; i < spans.length; i += 2) {
      const len = withTrailer ? this.#copyRemote(bytes, spans[i]!, spans[i + 1]!) : this.#remoteRecord(bytes, spans[i]!, spans[i + 1]!, wire.origin);
      last = this.#engine.pushRemote(this.#scratch, len);
      while (last === 0) {
        await sleep(2);
        last = this.#engine.pushRemote(this.#scratch, len);
      }
    }
    this.#counts.received_changes += wire.count;
    if (last === 0) return { committed: Promise.resolve() };
    const published = Number(m.info.timestampNanos) / 1e6;
    const committed = this.#engine.committed(last).then(() => {
      pushLag(this.#replicationLags, Date.now() - published);
      if (seq > this.#position) this.#position = seq;
    });
    // Awaited later by the consume loop; a writer restart rejects it before then.
    committed.catch(() => {});
    return { committed };
  }

  /** Copies a wire record into the scratch buffer as a remote ring record with its origin after it. */
  #remoteRecord(bytes: Uint8Array, at: number, length: number, origin: Uint8Array): number {
    const s = this.#scratch;
    s.set(bytes.subarray(at, at + length), 0);
    s[R_FLAGS] = RecordFlag.remote;
    return writeOrigin(s, length, origin);
  }

  #copyRemote(bytes: Uint8Array, at: number, length: number): number {
    this.#scratch.set(bytes.subarray(at, at + length), 0);
    this.#scratch[R_FLAGS] = RecordFlag.remote;
    return length;
  }

  #savePosition(): void {
    if (this.#position === this.#savedPosition) return;
    this.#savedPosition = this.#position;
    this.#engine.housekeep([], [[META.clusterSeq, String(this.#position)]]);
  }

  // --- liveness -------------------------------------------------------------

  #sendDigest(parts: Uint8Array[]): void {
    if (!this.#ready || this.#nc === null || this.#nc.isClosed()) return;
    for (const p of parts) {
      this.#nc.publish(`${LIVE_SUBJECT}.${this.#options.node}`, p);
      this.#counts.digests_sent++;
      this.#counts.digest_bytes_sent += p.length;
    }
  }

  #heartbeat(): void {
    // Silent until caught up with the stream: the others' full digest must find the instances here.
    if (this.#nc === null || this.#nc.isClosed() || !this.#caughtUp) return;
    this.#nc.publish(`${LIVE_SUBJECT}.${this.#options.node}`, this.#session);
  }

  /** Heartbeat body: when this process started (8 bytes; a digest part is never 8 bytes long). */
  readonly #session = (() => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(Date.now() + Math.random(), 0);
    return b;
  })();

  readonly #sessions = new Map<string, number>();

  /** The next digest names every instance with its last_update. */
  #fullDigest(): void {
    Atomics.store(this.#engine.control, Ctl.DIGEST_ALL, 1);
  }

  #onLive(subject: string, data: Uint8Array): void {
    const node = subject.slice(LIVE_SUBJECT.length + 1);
    if (node === this.#options.node) return;
    const seen = this.#lastSeen.get(node);
    // A node that is new, restarted, wiped or back from a partition missed digests.
    if (seen === undefined || Date.now() - seen > PEER_GONE_MS) this.#fullDigest();
    this.#lastSeen.set(node, Date.now());
    if (data.length === 8) {
      const session = Buffer.from(data.buffer, data.byteOffset, 8).readDoubleLE(0);
      if (this.#sessions.get(node) !== session) {
        if (this.#sessions.has(node)) this.#fullDigest();
        this.#sessions.set(node, session);
      }
      return;
    }
    if (data.length === 0) return;
    this.#counts.digests_received++;
    const s = this.#touchScratch;
    if (RECORD_HEADER + data.length > s.length || data.length > 0xffff) return;
    s.fill(0, 0, RECORD_HEADER);
    s[R_TYPE] = RecordType.touch;
    s[R_FLAGS] = RecordFlag.remote;
    s.writeUInt16LE(data.length, R_KEY_LEN);
    s.writeUInt32LE(Math.floor(Date.now() / 1000), R_TIME);
    s.set(data, RECORD_HEADER);
    // Liveness is soft state: a digest that finds the ring full is dropped.
    this.#engine.pushRemote(s, RECORD_HEADER + data.length);
  }

  // --- state ----------------------------------------------------------------

  stats(): Omit<ClusterStats, 'remote_lost' | 'digest_entries'> {
    const now = Date.now();
    const nodes: Record<string, { last_seen_ms_ago: number }> = {};
    for (const [n, t] of this.#lastSeen) nodes[n] = { last_seen_ms_ago: now - t };
    return {
      node: this.#options.node,
      servers: this.#options.servers,
      connected: this.#connected,
      stream_ready: this.#ready,
      ...this.#counts,
      publish_lag_ms: quantiles(this.#publishLags),
      replication_lag_ms: quantiles(this.#replicationLags),
      outbox_entries: this.#queue.filter((g) => g.bytes > 0).length,
      outbox_bytes: this.#outboxBytes,
      outbox_full: Atomics.load(this.#engine.control, Ctl.OUTBOX_FULL) === 1,
      resync_pending: this.#store.resyncWanted,
      position: this.#position,
      catching_up: this.#catchingUp,
      consumer_restarts: this.#consumerRestarts,
      snapshots: {
        written: this.#snapshot.written,
        last_seq: this.#snapshot.last_seq,
        last_instances: this.#snapshot.last_instances,
        last_ms: this.#snapshot.last_ms,
        loaded_instances: this.#snapshot.loaded_instances,
        loaded_seq: this.#snapshot.loaded_seq,
        loaded_ms: this.#snapshot.loaded_ms,
      },
      nodes,
    };
  }

  /** Last publish time (ms), for tests and the bench. */
  get lastPublish(): number {
    return this.#lastPublish;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#kick();
    for (const t of this.#timers) clearInterval(t);
    this.#savePosition();
    this.#liveSub?.unsubscribe();
    try {
      await this.#nc?.drain();
    } catch {
      // already closed
    }
    await this.#store.close();
  }
}

/** p, or a rejection after ms. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pushLag(window: number[], ms: number): void {
  window.push(ms);
  if (window.length > LAG_WINDOW) window.splice(0, window.length - LAG_WINDOW);
}

function quantiles(values: number[]): { p50: number; p99: number } {
  if (values.length === 0) return { p50: 0, p99: 0 };
  const s = [...values].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]! };
}
