// The store writer: the only code that writes LMDB. It runs on the writer
// thread (src/workers/writer-thread.ts), which feeds it ring records.
//
// apply() takes one record. A repeated update (its key is live and its
// content fingerprint unchanged) only moves the instance's clock entry and
// its host's and app's: no LMDB access at all. Anything else (a new
// instance, a changed version or address, an HTTP update, a removal, a
// clear) becomes an operation, executed in order inside the next commit's
// write transaction, where the indexes and the app/host summaries are
// maintained incrementally.
//
// commit() writes pending operations, and the dirty clock chunks when the
// clock is due (every clockFlushMs). A commit is fsynced when it carries
// HTTP updates or control operations (they are acknowledged to a client) or
// at least every syncIntervalMs; other commits are written without waiting
// for the disk (they survive a process crash, not a power loss).

import { open, type Database, type RootDatabase } from 'lmdb';
import { hashBytes, hashOut } from '../ingest/hash.js';
import {
  FRAG_APP_OFF, RECORD_HEADER, RecordFlag, RecordType,
  R_APP_ID_LEN, R_APP_LEN, R_FLAGS, R_FRAG_HASH_A, R_FRAG_HASH_B, R_FRAG_LEN, R_HOST_LEN, R_HOST_OFF,
  R_KEY_HASH, R_KEY_LEN, R_SEQ, R_TIME, R_TYPE, R_VER_LEN, R_VER_OFF, get16, get32, getI32,
} from '../ingest/record.js';
import { InstanceIndex } from './instance-index.js';
import { buildKey, encodeKeyPart, prefixEnd } from './keys.js';
import {
  CLOCK_CHUNK, ClockKind, DB, INSTANCE_HEADER, SCHEMA_VERSION, SUMMARY_HEADER,
  S_COUNT, S_NAME_LEN, S_SLOT, S_WRITTEN_AT, V_SINCE, V_SLOT, V_VER_LEN, V_VER_OFF, V_WRITTEN_AT,
} from './layout.js';
import { SlotClock, SummarySlots } from './slot-clock.js';
import { decodeSelector, type Selector } from './selector.js';

export interface WriterOptions {
  path: string;
  /** Remove instances not updated for this many seconds (0 = keep forever). */
  trimSeconds: number;
  /** How often repeated updates' last_update reach LMDB. */
  clockFlushMs?: number;
  /** Longest time between fsynced commits. */
  syncIntervalMs?: number;
  /** LMDB map size in bytes (address space reserved, not disk used). */
  mapSize?: number;
}

/** What one commit did, for counters, acknowledgements and the change feed. */
export interface CommitResult {
  /** Updates now reflected in committed data (repeats count when their clock is flushed). */
  applied: number;
  /** Highest HTTP/control sequence number now committed (0 if none). */
  ackSeq: number;
  /** Records written (upserts and removals). */
  written: number;
  removed: number;
  synced: boolean;
  /** Every record read so far is committed: the rings may be released. */
  caughtUp: boolean;
  events: ChangeEvent[];
}

export type ChangeEvent =
  | { type: 'new'; version: Record<string, unknown> }
  | { type: 'changed'; version: Record<string, unknown>; old_ver: string }
  | { type: 'removed'; version: Record<string, unknown>; reason: 'trim' | 'delete' | 'clear' };

const OP_UPSERT = 1;
const OP_REMOVE = 2;
const OP_CLEAR = 3;
const OP_REMOVE_SELECTOR = 4;

interface Op {
  kind: number;
  slot: number;
  /** Record copy (upserts) in #opArena. */
  at: number;
  len: number;
  reason?: 'trim' | 'delete';
  selector?: Selector;
}

interface Summary {
  key: Buffer;
  slot: number;
  count: number;
  writtenAt: number;
  name: Uint8Array;
  dirty: boolean;
}

const SYNC_FLAGS = 3; // abortable, synchronous commit, flushed before returning
const NO_FLUSH_FLAGS = 3 | 0x10000; // same, but return before the disk flush

const utf8 = new TextDecoder();
const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

export class StoreWriter {
  readonly #env: RootDatabase;
  readonly #instDb: Database<Buffer, Buffer>;
  readonly #byhostDb: Database<Buffer, Buffer>;
  readonly #byverDb: Database<Buffer, Buffer>;
  readonly #appsDb: Database<Buffer, Buffer>;
  readonly #hostsDb: Database<Buffer, Buffer>;
  readonly #clockDb: Database<Buffer, Buffer>;
  readonly #trimSeconds: number;
  readonly #clockFlushMs: number;
  readonly #syncIntervalMs: number;

  readonly #index = new InstanceIndex();
  readonly #instClock = new SlotClock(ClockKind.instance);
  readonly #hostSlots = new SummarySlots(ClockKind.host);
  readonly #appSlots = new SummarySlots(ClockKind.app);

  #ops: Op[] = [];
  #opArena = Buffer.alloc(1 << 16);
  #opUsed = 0;
  #pendingStructural = 0;
  #pendingClockOnly = 0;
  #ackSeq = 0;
  #mustSync = false;
  #lastClockFlush = 0;
  #lastSync = 0;
  /** Slots whose removal is in the current commit: reusable after it. */
  #releaseAfterCommit: number[] = [];
  #eventsWanted = false;

  constructor(options: WriterOptions) {
    this.#trimSeconds = options.trimSeconds;
    this.#clockFlushMs = options.clockFlushMs ?? 200;
    this.#syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.#env = open({
      path: options.path,
      maxDbs: 16,
      mapSize: options.mapSize ?? 2 ** 34,
      // Sync commits with overlappingSync still fsync before returning; we
      // pick per commit instead (see the header comment).
      overlappingSync: false,
    });
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.#instDb = this.#env.openDB<Buffer, Buffer>(DB.inst, bin);
    this.#byhostDb = this.#env.openDB<Buffer, Buffer>(DB.byhost, bin);
    this.#byverDb = this.#env.openDB<Buffer, Buffer>(DB.byver, bin);
    this.#appsDb = this.#env.openDB<Buffer, Buffer>(DB.apps, bin);
    this.#hostsDb = this.#env.openDB<Buffer, Buffer>(DB.hosts, bin);
    this.#clockDb = this.#env.openDB<Buffer, Buffer>(DB.clock, bin);
    const meta = this.#env.openDB<unknown, string>(DB.meta, { encoding: 'json' });
    const schema = meta.get('schema');
    if (schema === undefined) {
      meta.putSync('schema', SCHEMA_VERSION);
    } else if (schema !== SCHEMA_VERSION) {
      throw new Error(`data folder has schema ${String(schema)}, this partiscid needs ${SCHEMA_VERSION}`);
    }
  }

  /** Live instances, hosts and apps. */
  get counts(): { instances: number; hosts: number; apps: number } {
    return { instances: this.#index.size, hosts: this.#hostSlots.live, apps: this.#appSlots.live };
  }

  /** Turn change events on or off (off: no event work at all). */
  set eventsWanted(on: boolean) {
    this.#eventsWanted = on;
  }

  /** Rebuilds the in-memory index from LMDB (once, before the first apply). */
  load(): void {
    const hostSlots = this.#loadSummaries(this.#hostsDb, this.#hostSlots);
    const appSlots = this.#loadSummaries(this.#appsDb, this.#appSlots);
    const index = this.#index;
    const clock = this.#instClock;
    for (const { key, value } of this.#instDb.getRange({})) {
      const slot = value.readUInt32LE(V_SLOT);
      hashBytes(key, 0, key.length);
      index.insertAt(slot, key, 0, key.length, hashOut[0]!);
      hashBytes(value, INSTANCE_HEADER, value.length);
      index.fragA[slot] = hashOut[0]!;
      index.fragB[slot] = hashOut[1]!;
      clock.reset(slot);
      clock.ts[slot] = value.readUInt32LE(V_WRITTEN_AT);
      const appIdEnd = key.indexOf(0);
      index.app[slot] = appSlots.get(latin1(key.subarray(0, appIdEnd + 1))) ?? -1;
      index.host[slot] = hostSlots.get(latin1(key.subarray(appIdEnd + 1, key.length - 2))) ?? -1;
    }
    index.collectFreeSlots();
    for (const { key, value } of this.#clockDb.getRange({})) {
      const base = key.readUInt32BE(1) * CLOCK_CHUNK;
      const times = new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length));
      if (key[0] === ClockKind.instance) {
        // Only live slots: a free slot's old time must not leak into its next owner.
        for (let i = 0; i < times.length; i++) {
          const s = base + i;
          if (s < index.highWater && index.state[s] === 1 && times[i]! > clock.ts[s]!) clock.ts[s] = times[i]!;
        }
      } else if (key[0] === ClockKind.host) {
        this.#hostSlots.clock.mergeChunk(base, times);
      } else if (key[0] === ClockKind.app) {
        this.#appSlots.clock.mergeChunk(base, times);
      }
    }
  }

  /** Adopts every stored summary's slot; returns key (latin1) -> slot. */
  #loadSummaries(db: Database<Buffer, Buffer>, slots: SummarySlots): Map<string, number> {
    const bySlotKey = new Map<string, number>();
    for (const { key, value } of db.getRange({})) {
      const slot = value.readUInt32LE(S_SLOT);
      slots.adopt(slot, value.readUInt32LE(S_WRITTEN_AT));
      bySlotKey.set(latin1(key), slot);
    }
    slots.collectFree();
    return bySlotKey;
  }

  /** Takes one ring record (bytes[off, off+len)). */
  apply(rec: Uint8Array, off: number, len: number): void {
    const type = rec[off + R_TYPE];
    if (type === RecordType.update) {
      this.#applyUpdate(rec, off, len);
      return;
    }
    const seq = get32(rec, off + R_SEQ);
    if (seq > this.#ackSeq) this.#ackSeq = seq;
    this.#mustSync = true;
    this.#pendingStructural++;
    if (type === RecordType.clear) {
      this.#clearMemory();
      this.#ops.push({ kind: OP_CLEAR, slot: -1, at: 0, len: 0 });
    } else if (type === RecordType.remove) {
      const keyLen = get16(rec, off + R_KEY_LEN);
      const selector = decodeSelector(rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen));
      this.#ops.push({ kind: OP_REMOVE_SELECTOR, slot: -1, at: 0, len: 0, selector });
    }
  }

  #applyUpdate(rec: Uint8Array, off: number, len: number): void {
    const index = this.#index;
    const keyLen = get16(rec, off + R_KEY_LEN);
    const keyOff = off + RECORD_HEADER;
    const keyHash = getI32(rec, off + R_KEY_HASH);
    const fa = getI32(rec, off + R_FRAG_HASH_A);
    const fb = getI32(rec, off + R_FRAG_HASH_B);
    const time = get32(rec, off + R_TIME);
    const http = (rec[off + R_FLAGS]! & RecordFlag.http) !== 0;
    let slot = index.find(rec, keyOff, keyLen, keyHash);

    if (slot >= 0 && index.fragA[slot] === fa && index.fragB[slot] === fb && !http) {
      this.#touch(slot, time);
      this.#pendingClockOnly++;
      return;
    }
    if (slot < 0) {
      slot = index.insert(rec, keyOff, keyLen, keyHash);
      this.#instClock.reset(slot);
    }
    index.fragA[slot] = fa;
    index.fragB[slot] = fb;
    this.#touch(slot, time);
    this.#ops.push({ kind: OP_UPSERT, slot, at: this.#copyToArena(rec, off, len), len });
    this.#pendingStructural++;
    if (http) {
      const seq = get32(rec, off + R_SEQ);
      if (seq > this.#ackSeq) this.#ackSeq = seq;
      this.#mustSync = true;
    }
  }

  /** Moves an instance's clock (and its host's and app's) forward to time. */
  #touch(slot: number, time: number): void {
    const index = this.#index;
    this.#instClock.advance(slot, time);
    const h = index.host[slot]!;
    if (h >= 0) this.#hostSlots.clock.advance(h, time);
    const a = index.app[slot]!;
    if (a >= 0) this.#appSlots.clock.advance(a, time);
  }

  #copyToArena(rec: Uint8Array, off: number, len: number): number {
    if (this.#opUsed + len > this.#opArena.length) {
      const grown = Buffer.alloc(Math.max(this.#opArena.length * 2, this.#opUsed + len));
      grown.set(this.#opArena.subarray(0, this.#opUsed));
      this.#opArena = grown;
    }
    const at = this.#opUsed;
    this.#opArena.set(rec.subarray(off, off + len), at);
    this.#opUsed += len;
    return at;
  }

  #clearMemory(): void {
    this.#ops = [];
    this.#opUsed = 0;
    this.#index.clear();
    this.#instClock.clear();
    this.#hostSlots.clear();
    this.#appSlots.clear();
    this.#releaseAfterCommit = [];
  }

  /**
   * Queues removal of every instance whose last_update is older than the
   * trim window. Returns how many were queued.
   */
  sweep(nowSeconds: number): number {
    if (this.#trimSeconds <= 0) return 0;
    const cutoff = nowSeconds - this.#trimSeconds;
    const index = this.#index;
    const ts = this.#instClock.ts;
    let n = 0;
    for (let s = 0; s < index.highWater; s++) {
      if (index.state[s] === 1 && ts[s]! < cutoff) {
        index.remove(s);
        this.#ops.push({ kind: OP_REMOVE, slot: s, at: 0, len: 0, reason: 'trim' });
        n++;
      }
    }
    return n;
  }

  #clockDirty(): boolean {
    return this.#instClock.dirtyCount + this.#hostSlots.clock.dirtyCount + this.#appSlots.clock.dirtyCount > 0;
  }

  /** Is a commit worth doing now? */
  commitDue(nowMs: number): boolean {
    if (this.#ops.length > 0) return true;
    return (this.#clockDirty() || this.#pendingClockOnly > 0) && nowMs - this.#lastClockFlush >= this.#clockFlushMs;
  }

  /** Milliseconds until a commit is due (how long the writer may sleep). */
  msUntilDue(nowMs: number): number {
    if (this.#ops.length > 0) return 0;
    if (!this.#clockDirty() && this.#pendingClockOnly === 0) return this.#clockFlushMs;
    return Math.max(0, this.#lastClockFlush + this.#clockFlushMs - nowMs);
  }

  /**
   * Writes pending operations (and the clock, when due) in one transaction;
   * `final` forces the clock flush and an fsync (shutdown). Throws if LMDB
   * refuses; pending work is kept, so a later commit retries.
   */
  commit(nowMs: number, final = false): CommitResult {
    const flushClock = final || nowMs - this.#lastClockFlush >= this.#clockFlushMs;
    const sync = final || this.#mustSync || nowMs - this.#lastSync >= this.#syncIntervalMs;
    const ops = this.#ops;
    const events: ChangeEvent[] = [];
    let written = 0;
    let removed = 0;
    const txn = new CommitTxn(this, events);
    this.#env.transactionSync(() => {
      for (const op of ops) {
        if (op.kind === OP_UPSERT) {
          this.#upsert(op, txn);
          written++;
        } else if (op.kind === OP_REMOVE) {
          if (this.#remove(op.slot, op.reason ?? 'trim', txn)) removed++;
        } else if (op.kind === OP_REMOVE_SELECTOR) {
          removed += this.#removeSelected(op.selector!, txn);
        } else if (op.kind === OP_CLEAR) {
          this.#clearStore(txn);
        }
      }
      txn.writeSummaries();
      if (flushClock) this.#writeClock();
    }, sync ? SYNC_FLAGS : NO_FLUSH_FLAGS);

    // Committed: now the bookkeeping may move on.
    const applied = this.#pendingStructural + (flushClock ? this.#pendingClockOnly : 0);
    this.#pendingStructural = 0;
    if (flushClock) {
      this.#pendingClockOnly = 0;
      this.#lastClockFlush = nowMs;
    }
    if (sync) this.#lastSync = nowMs;
    for (const slot of this.#releaseAfterCommit) this.#index.release(slot);
    this.#releaseAfterCommit = [];
    txn.releaseSummarySlots();
    const ackSeq = this.#ackSeq;
    this.#ackSeq = 0;
    this.#mustSync = false;
    this.#ops = [];
    this.#opUsed = 0;
    return { applied, ackSeq, written, removed, synced: sync, caughtUp: this.#pendingClockOnly === 0, events };
  }

  // --- operations, inside the write transaction -------------------------

  #upsert(op: Op, txn: CommitTxn): void {
    const index = this.#index;
    const rec = this.#opArena;
    const off = op.at;
    const slot = op.slot;
    // A removal or clear later in the same batch may have taken the slot
    // away; the record is then stale (its successor op, if any, follows).
    if (index.state[slot] !== 1) return;
    const keyLen = get16(rec, off + R_KEY_LEN);
    const key = rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen);
    const fragLen = get16(rec, off + R_FRAG_LEN);
    const frag = rec.subarray(off + RECORD_HEADER + keyLen, off + RECORD_HEADER + keyLen + fragLen);
    const appIdLen = rec[off + R_APP_ID_LEN]!;
    const verOff = get16(rec, off + R_VER_OFF);
    const verLen = get16(rec, off + R_VER_LEN);
    const appKey = key.subarray(0, appIdLen + 1);
    const hostKey = key.subarray(appIdLen + 1, keyLen - 2);
    const instance = key.subarray(keyLen - 2);
    const now = this.#instClock.ts[slot]!;
    const verJson = frag.subarray(verOff, verOff + verLen);

    const old = this.#instDb.getBinary(key);
    let since = get32(rec, off + R_TIME);
    if (old === undefined) {
      const app = txn.app(appKey, frag.subarray(FRAG_APP_OFF, FRAG_APP_OFF + get16(rec, off + R_APP_LEN)));
      const host = txn.host(hostKey, frag.subarray(get16(rec, off + R_HOST_OFF), get16(rec, off + R_HOST_OFF) + get16(rec, off + R_HOST_LEN)));
      const pairPrefix = concat(hostKey, appKey);
      if (!this.#hasPrefix(this.#byhostDb, pairPrefix)) {
        app.count++;
        host.count++;
        app.dirty = host.dirty = true;
      }
      this.#byhostDb.putSync(concat(pairPrefix, instance), EMPTY);
      index.app[slot] = app.slot;
      index.host[slot] = host.slot;
      if (this.#eventsWanted) txn.events.push({ type: 'new', version: versionOf(frag, now) });
    } else {
      const oldVerOff = INSTANCE_HEADER + old.readUInt16LE(V_VER_OFF);
      const oldVer = old.subarray(oldVerOff, oldVerOff + old.readUInt16LE(V_VER_LEN));
      if (Buffer.compare(oldVer, verJson) === 0) {
        since = old.readUInt32LE(V_SINCE);
      } else {
        this.#byverDb.removeSync(byverKey(appKey, oldVer, hostKey, instance));
        if (this.#eventsWanted) {
          txn.events.push({ type: 'changed', version: versionOf(frag, now), old_ver: jsonString(oldVer) });
        }
      }
      // The app's display name follows its latest update.
      const app = txn.app(appKey, frag.subarray(FRAG_APP_OFF, FRAG_APP_OFF + get16(rec, off + R_APP_LEN)));
      index.app[slot] = app.slot;
      const host = txn.host(hostKey, null);
      index.host[slot] = host.slot;
    }
    this.#byverDb.putSync(byverKey(appKey, verJson, hostKey, instance), EMPTY);
    const value = Buffer.allocUnsafe(INSTANCE_HEADER + fragLen);
    value.writeUInt32LE(slot, V_SLOT);
    value.writeUInt32LE(since, V_SINCE);
    value.writeUInt32LE(now, V_WRITTEN_AT);
    value.writeUInt16LE(verOff, V_VER_OFF);
    value.writeUInt16LE(verLen, V_VER_LEN);
    value.set(frag, INSTANCE_HEADER);
    this.#instDb.putSync(key, value);
    this.#hostSlots.clock.advance(index.host[slot]!, now);
    this.#appSlots.clock.advance(index.app[slot]!, now);
  }

  /** Removes one instance by slot; false if it was not stored. */
  #remove(slot: number, reason: 'trim' | 'delete' | 'clear', txn: CommitTxn): boolean {
    const index = this.#index;
    this.#releaseAfterCommit.push(slot);
    const key = Buffer.from(index.keyOf(slot));
    const old = this.#instDb.getBinary(key);
    if (old === undefined) return false;
    const appIdLen = key.indexOf(0);
    const appKey = key.subarray(0, appIdLen + 1);
    const hostKey = key.subarray(appIdLen + 1, key.length - 2);
    const instance = key.subarray(key.length - 2);
    const verOff = INSTANCE_HEADER + old.readUInt16LE(V_VER_OFF);
    const verJson = old.subarray(verOff, verOff + old.readUInt16LE(V_VER_LEN));
    if (this.#eventsWanted) {
      txn.events.push({ type: 'removed', version: versionOf(old.subarray(INSTANCE_HEADER), this.#instClock.get(slot)), reason });
    }
    this.#instDb.removeSync(key);
    this.#byverDb.removeSync(byverKey(appKey, verJson, hostKey, instance));
    const pairPrefix = concat(hostKey, appKey);
    this.#byhostDb.removeSync(concat(pairPrefix, instance));
    if (!this.#hasPrefix(this.#byhostDb, pairPrefix)) {
      const app = txn.app(appKey, null);
      const host = txn.host(hostKey, null);
      app.count--;
      host.count--;
      app.dirty = host.dirty = true;
    }
    return true;
  }

  #removeSelected(selector: Selector, txn: CommitTxn): number {
    const index = this.#index;
    let n = 0;
    for (const key of selectorKeys(selector, this.#instDb, this.#byhostDb)) {
      hashBytes(key, 0, key.length);
      const slot = index.find(key, 0, key.length, hashOut[0]!);
      if (slot < 0) continue;
      index.remove(slot);
      if (this.#remove(slot, 'delete', txn)) n++;
    }
    return n;
  }

  #clearStore(txn: CommitTxn): void {
    if (this.#eventsWanted) txn.events.push({ type: 'removed', version: {}, reason: 'clear' });
    for (const db of [this.#instDb, this.#byhostDb, this.#byverDb, this.#appsDb, this.#hostsDb, this.#clockDb]) db.clearSync();
    txn.forget();
  }

  #hasPrefix(db: Database<Buffer, Buffer>, prefix: Buffer): boolean {
    for (const _ of db.getKeys({ start: prefix, end: prefixEnd(prefix), limit: 1 })) return true;
    return false;
  }

  #writeClock(): void {
    const put = (key: Buffer, bytes: Buffer): void => {
      this.#clockDb.putSync(key, bytes);
    };
    this.#instClock.flush(put);
    this.#hostSlots.clock.flush(put);
    this.#appSlots.clock.flush(put);
  }

  // --- summary access for CommitTxn -------------------------------------

  /** @internal */
  readSummary(kind: 'app' | 'host', key: Buffer): Buffer | undefined {
    return (kind === 'app' ? this.#appsDb : this.#hostsDb).getBinary(key);
  }

  /** @internal */
  writeSummary(kind: 'app' | 'host', s: Summary): void {
    const db = kind === 'app' ? this.#appsDb : this.#hostsDb;
    const slots = this.summarySlots(kind);
    if (s.count <= 0) {
      db.removeSync(s.key);
      slots.freeAfterCommit(s.slot);
      return;
    }
    s.writtenAt = Math.max(s.writtenAt, slots.clock.get(s.slot));
    const frag = kind === 'app' ? appFragment(s) : hostFragment(s);
    const value = Buffer.allocUnsafe(SUMMARY_HEADER + frag.length);
    value.writeUInt32LE(s.slot, S_SLOT);
    value.writeUInt32LE(s.count, S_COUNT);
    value.writeUInt32LE(s.writtenAt, S_WRITTEN_AT);
    value.writeUInt16LE(s.name.length, S_NAME_LEN);
    value.writeUInt16LE(0, S_NAME_LEN + 2);
    value.set(frag, SUMMARY_HEADER);
    db.putSync(s.key, value);
  }

  /** @internal */
  summarySlots(kind: 'app' | 'host'): SummarySlots {
    return kind === 'app' ? this.#appSlots : this.#hostSlots;
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}

/** Per-commit cache of the app and host summaries an operation touches. */
class CommitTxn {
  readonly #writer: StoreWriter;
  readonly events: ChangeEvent[];
  #apps = new Map<string, Summary>();
  #hosts = new Map<string, Summary>();

  constructor(writer: StoreWriter, events: ChangeEvent[]) {
    this.#writer = writer;
    this.events = events;
  }

  app(key: Uint8Array, name: Uint8Array | null): Summary {
    return this.#get('app', this.#apps, key, name);
  }

  host(key: Uint8Array, name: Uint8Array | null): Summary {
    return this.#get('host', this.#hosts, key, name);
  }

  #get(kind: 'app' | 'host', cache: Map<string, Summary>, key: Uint8Array, name: Uint8Array | null): Summary {
    const id = latin1(key);
    let s = cache.get(id);
    if (s === undefined) {
      const stored = this.#writer.readSummary(kind, Buffer.from(key));
      if (stored !== undefined) {
        const nameLen = stored.readUInt16LE(S_NAME_LEN);
        const nameAt = SUMMARY_HEADER + (kind === 'app' ? APP_FRAG_HEAD.length : HOST_FRAG_HEAD.length);
        s = {
          key: Buffer.from(key),
          slot: stored.readUInt32LE(S_SLOT),
          count: stored.readUInt32LE(S_COUNT),
          writtenAt: stored.readUInt32LE(S_WRITTEN_AT),
          name: Buffer.from(stored.subarray(nameAt, nameAt + nameLen)),
          dirty: false,
        };
      } else {
        const slots = this.#writer.summarySlots(kind);
        s = { key: Buffer.from(key), slot: slots.allocate(), count: 0, writtenAt: 0, name: Buffer.from(name ?? EMPTY), dirty: true };
      }
      cache.set(id, s);
    }
    if (name !== null && Buffer.compare(s.name, name) !== 0) {
      s.name = Buffer.from(name);
      s.dirty = true;
    }
    return s;
  }

  writeSummaries(): void {
    for (const s of this.#apps.values()) if (s.dirty) this.#writer.writeSummary('app', s);
    for (const s of this.#hosts.values()) if (s.dirty) this.#writer.writeSummary('host', s);
  }

  releaseSummarySlots(): void {
    this.#writer.summarySlots('app').releasePending();
    this.#writer.summarySlots('host').releasePending();
  }

  /** After a clear: cached summaries describe nothing anymore. */
  forget(): void {
    this.#apps.clear();
    this.#hosts.clear();
  }
}

const EMPTY = Buffer.alloc(0);
const APP_FRAG_HEAD = Buffer.from('{"app":"');
const HOST_FRAG_HEAD = Buffer.from('{"host":"');

function appFragment(s: Summary): Buffer {
  const appId = s.key.subarray(0, s.key.length - 1);
  return Buffer.concat([
    APP_FRAG_HEAD, s.name, Buffer.from('","app_id":"'), appId,
    Buffer.from(`","host_count":${s.count},"last_update":`),
  ]);
}

function hostFragment(s: Summary): Buffer {
  return Buffer.concat([HOST_FRAG_HEAD, s.name, Buffer.from(`","app_count":${s.count},"last_update":`)]);
}

function concat(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** byver key: app_id| ver| host| instance, from ver's JSON content. */
function byverKey(appKey: Uint8Array, verJson: Uint8Array, hostKey: Uint8Array, instance: Uint8Array): Buffer {
  const ver = rawFromJson(verJson);
  const out = Buffer.allocUnsafe(appKey.length + ver.length * 2 + 1 + hostKey.length + instance.length);
  out.set(appKey, 0);
  let o = encodeKeyPart(ver, 0, ver.length, out, appKey.length);
  out.set(hostKey, o);
  o += hostKey.length;
  out.set(instance, o);
  return out.subarray(0, o + instance.length);
}

/** Decoded bytes of JSON string content (usually the same bytes: no escapes). */
function rawFromJson(json: Uint8Array): Uint8Array {
  if (!json.includes(0x5c)) return json;
  return Buffer.from(jsonString(json), 'utf8');
}

function jsonString(json: Uint8Array): string {
  return JSON.parse(`"${utf8.decode(json)}"`) as string;
}

function versionOf(frag: Uint8Array, lastUpdate: number): Record<string, unknown> {
  return JSON.parse(utf8.decode(frag) + lastUpdate + '}') as Record<string, unknown>;
}

/** Keys of stored instances matching a selector (for DELETE). */
function* selectorKeys(sel: Selector, inst: Database<Buffer, Buffer>, byhost: Database<Buffer, Buffer>): Generator<Buffer> {
  if (sel.appId !== undefined) {
    const prefix = sel.host !== undefined ? Buffer.concat([buildKey([sel.appId]), buildKey([sel.host])]) : buildKey([sel.appId]);
    const keys = [...inst.getKeys({ start: prefix, end: prefixEnd(prefix) })];
    for (const key of keys) {
      if (sel.host !== undefined && key.length !== prefix.length + 2) continue;
      if (sel.instance !== undefined && key.readUInt16BE(key.length - 2) !== sel.instance) continue;
      yield Buffer.from(key);
    }
    return;
  }
  if (sel.host !== undefined) {
    const prefix = buildKey([sel.host]);
    const keys = [...byhost.getKeys({ start: prefix, end: prefixEnd(prefix) })];
    for (const key of keys) {
      // byhost: host| app_id| instance -> inst: app_id| host| instance
      const rest = key.subarray(prefix.length);
      const appEnd = rest.indexOf(0) + 1;
      const instance = rest.subarray(rest.length - 2);
      if (sel.instance !== undefined && instance.readUInt16BE(0) !== sel.instance) continue;
      yield Buffer.concat([rest.subarray(0, appEnd), prefix, instance]);
    }
  }
}
