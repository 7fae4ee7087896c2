// The store writer: the only code that writes LMDB. It runs on the writer
// thread (src/workers/writer-thread.ts), which feeds it ring records.
//
// All bookkeeping happens in memory as records arrive (apply): which
// instances, hosts and apps exist (KeyIndex), their last_update (SlotClock,
// in shared memory that the query side reads directly), how many instances
// each host/app pair has, and so the app and host summaries' counts. A
// repeated update (same key, same content fingerprint) only moves three
// clock entries: no LMDB access at all; the clocks reach LMDB every
// clockPersistMs, for restarts. Anything else (a new instance, a changed
// version or address, an HTTP update, a removal, a clear) also queues an
// operation, which the next commit writes to LMDB inside one write
// transaction, with the dirty summaries.
//
// Ring space may be released whenever no operation is waiting for a commit
// (canRelease): what a repeated update changed lives on in the shared
// clock. If a commit fails, the in-memory state is rebuilt from LMDB
// (reload) and the caller re-reads the unreleased ring records, so nothing
// is lost and nothing is counted twice.
//
// Durability: every commit is a synchronous LMDB transaction that returns
// once its data is flushed to disk (lmdb-js's default overlappingSync mode,
// which also lets a database that lost power reopen at its last flushed
// transaction). Commits are grouped (at most one per minCommitMs, plus the
// clock every clockFlushMs), so the fsync cost is paid per batch, not per
// update; an HTTP update is acknowledged only after its commit returns.
// The memory map is not writable (no useWritemap): a full disk then fails
// a commit with ENOSPC instead of killing the process with SIGBUS.

import { TransactionFlags, open, type Database, type RootDatabase } from 'lmdb';
import { hash32, hashBytes, hashOut } from '../ingest/hash.js';
import {
  FRAG_APP_OFF, RECORD_HEADER, RecordFlag, RecordType,
  R_APP_ID_LEN, R_APP_LEN, R_FLAGS, R_FRAG_HASH_A, R_FRAG_HASH_B, R_FRAG_LEN, R_HOST_LEN, R_HOST_OFF,
  R_KEY_HASH, R_KEY_LEN, R_SEQ, R_TIME, R_TYPE, R_VER_LEN, R_VER_OFF, get16, get32, getI32,
} from '../ingest/record.js';
import { KeyIndex, SlotState } from './key-index.js';
import { buildKey, encodeKeyPart, prefixEnd } from './keys.js';
import {
  CLOCK_CHUNK, ClockKind, DB, INSTANCE_HEADER, SCHEMA_VERSION, SUMMARY_HEADER,
  S_COUNT, S_NAME_LEN, S_SLOT, S_WRITTEN_AT, V_SINCE, V_SLOT, V_VER_LEN, V_VER_OFF, V_WRITTEN_AT, envOptions,
} from './layout.js';
import { SlotClock, type ClockBuffers } from './slot-clock.js';
import { decodeSelector, type Selector } from './selector.js';

export interface WriterOptions {
  path: string;
  /** Remove instances not updated for this many seconds (0 = keep forever). */
  trimSeconds: number;
  /** How often the clocks (last_update of repeated updates) are persisted. */
  clockPersistMs?: number;
  /** Shortest time between two commits (group commit). */
  minCommitMs?: number;
  /** LMDB map size in bytes (address space reserved, not disk used). */
  mapSize?: number;
}

/** What one commit did, for counters, acknowledgements and the change feed. */
export interface CommitResult {
  /** Updates now reflected in committed data (repeats count when their clock is persisted). */
  applied: number;
  /** Highest HTTP/control sequence number now committed (0 if none). */
  ackSeq: number;
  /** Instance records written. */
  written: number;
  removed: number;
  events: ChangeEvent[];
}

export type ChangeEvent =
  | { type: 'new'; version: Record<string, unknown> }
  | { type: 'changed'; version: Record<string, unknown>; old_ver: string }
  | { type: 'removed'; version: Record<string, unknown>; reason: 'trim' | 'delete' }
  | { type: 'cleared' };

// Instance columns.
const FRAG_A = 0;
const FRAG_B = 1;
const HOST = 2;
const APP = 3;
// Host and app column: apps on the host / hosts running the app.
const COUNT = 0;

const OP_NEW = 1;
const OP_CHANGE = 2;
const OP_REMOVE = 3;
const OP_REMOVE_SELECTOR = 4;
const OP_CLEAR = 5;

interface Op {
  kind: number;
  slot: number;
  /** Record copy (new/change) in the op arena. */
  at: number;
  len: number;
  reason?: 'trim' | 'delete';
  selector?: Selector;
}

// abortable, synchronous commit, flushed before returning (lmdb's TransactionFlags)
const SYNC_FLAGS = (TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT) as TransactionFlags;
const PAIR_SHIFT = 2 ** 22; // pair key = host slot * PAIR_SHIFT + app slot
const EMPTY = Buffer.alloc(0);
const KEY_SCRATCH = 8192;

const utf8 = new TextDecoder();

export class StoreWriter {
  readonly #env: RootDatabase;
  readonly #instDb: Database<Buffer, Buffer>;
  readonly #byhostDb: Database<Buffer, Buffer>;
  readonly #byverDb: Database<Buffer, Buffer>;
  readonly #appsDb: Database<Buffer, Buffer>;
  readonly #hostsDb: Database<Buffer, Buffer>;
  readonly #clockDb: Database<Buffer, Buffer>;
  readonly #trimSeconds: number;
  readonly #clockPersistMs: number;
  readonly #minCommitMs: number;
  readonly #instClock: SlotClock;
  readonly #hostClock: SlotClock;
  readonly #appClock: SlotClock;

  #inst = new KeyIndex(4, 1 << 16);
  #hosts = new KeyIndex(1);
  #apps = new KeyIndex(1);
  /** App display names (JSON string content) by app slot. */
  #appNames = new Map<number, Buffer>();
  /** Instances per host/app pair. */
  #pairs = new Map<number, number>();
  /** Summaries to rewrite at the next commit; hosts map to a known name or null. */
  #dirtyHosts = new Map<number, Buffer | null>();
  #dirtyApps = new Set<number>();
  /** Slots removed since the last commit, reusable after it. */
  #removed: { index: KeyIndex; slot: number }[] = [];

  #ops: Op[] = [];
  #opArena = Buffer.alloc(1 << 16);
  #opUsed = 0;
  #pendingStructural = 0;
  /** Repeated updates not yet in a persisted clock chunk. */
  #pendingClockOnly = 0;
  /** ... of which read since the rings were last released. */
  #clockOnlyUnreleased = 0;
  #ackSeq = 0;
  #lastClockPersist = 0;
  #lastCommit = 0;
  #eventsWanted = false;
  /** [0, KEY_SCRATCH): values; [KEY_SCRATCH, end): keys. Both consumed at once by putSync. */
  #scratch = Buffer.alloc(2 * KEY_SCRATCH);

  constructor(options: WriterOptions, clocks: ClockBuffers) {
    this.#trimSeconds = options.trimSeconds;
    this.#clockPersistMs = options.clockPersistMs ?? 2000;
    this.#minCommitMs = options.minCommitMs ?? 10;
    this.#instClock = new SlotClock(ClockKind.instance, clocks.instance);
    this.#hostClock = new SlotClock(ClockKind.host, clocks.host);
    this.#appClock = new SlotClock(ClockKind.app, clocks.app);
    this.#env = open(envOptions(options.path, options.mapSize));
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
    return { instances: this.#inst.size, hosts: this.#hosts.size, apps: this.#apps.size };
  }

  /** Turn change events on or off (off: no event work at all). */
  set eventsWanted(on: boolean) {
    this.#eventsWanted = on;
  }

  // --- loading ------------------------------------------------------------

  /**
   * (Re)builds the in-memory state from LMDB: at startup, and after a
   * failed commit, when every uncommitted change is dropped (the caller
   * re-reads the unreleased records from the rings). The shared clocks keep
   * their times for slots that are still live (they may be ahead of LMDB).
   */
  load(): void {
    this.#inst = new KeyIndex(4, 1 << 16);
    this.#hosts = new KeyIndex(1);
    this.#apps = new KeyIndex(1);
    this.#appNames = new Map();
    this.#pairs = new Map();
    this.#dirtyHosts = new Map();
    this.#dirtyApps = new Set();
    this.#removed = [];
    this.#ops = [];
    this.#opUsed = 0;
    this.#pendingStructural = 0;
    // Repeats read since the last release will be read again.
    this.#pendingClockOnly -= this.#clockOnlyUnreleased;
    this.#clockOnlyUnreleased = 0;
    this.#ackSeq = 0;

    this.#loadSummaries(this.#hostsDb, this.#hosts, this.#hostClock, null);
    this.#loadSummaries(this.#appsDb, this.#apps, this.#appClock, this.#appNames);
    const inst = this.#inst;
    const clock = this.#instClock;
    for (const { key, value } of this.#instDb.getRange({})) {
      const slot = value.readUInt32LE(V_SLOT);
      inst.insertAt(slot, key, 0, key.length, hash32(key, 0, key.length));
      hashBytes(value, INSTANCE_HEADER, value.length);
      inst.cols[FRAG_A]![slot] = hashOut[0]!;
      inst.cols[FRAG_B]![slot] = hashOut[1]!;
      clock.ensure(slot);
      clock.ts[slot] = Math.max(clock.ts[slot]!, value.readUInt32LE(V_WRITTEN_AT));
      const appEnd = key.indexOf(0) + 1;
      const a = this.#findKey(this.#apps, key.subarray(0, appEnd));
      const h = this.#findKey(this.#hosts, key.subarray(appEnd, key.length - 2));
      inst.cols[APP]![slot] = a;
      inst.cols[HOST]![slot] = h;
      const pair = h * PAIR_SHIFT + a;
      this.#pairs.set(pair, (this.#pairs.get(pair) ?? 0) + 1);
    }
    inst.collectFreeSlots();
    for (const { key, value } of this.#clockDb.getRange({})) {
      const base = key.readUInt32BE(1) * CLOCK_CHUNK;
      const times = new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length));
      const clockOf = key[0] === ClockKind.instance ? clock : key[0] === ClockKind.host ? this.#hostClock : this.#appClock;
      clockOf.mergeChunk(base, times);
    }
    // A free slot's old time must not leak into its next owner; and what
    // the buffers held beyond LMDB must be persisted again.
    for (const [index, c] of [[inst, clock], [this.#hosts, this.#hostClock], [this.#apps, this.#appClock]] as const) {
      c.zeroUnless((s) => s < index.highWater && index.state[s] === SlotState.live);
      c.markAllDirty(index.highWater);
    }
    // lmdb-js ends a thread's read snapshot on its next event-loop turn,
    // which the writer thread (asleep in Atomics.wait) never reaches: an
    // open snapshot would stop LMDB from reusing any page freed after it.
    this.#instDb.resetReadTxn();
  }

  #loadSummaries(db: Database<Buffer, Buffer>, index: KeyIndex, clock: SlotClock, names: Map<number, Buffer> | null): void {
    const headLen = names === null ? HOST_FRAG_HEAD.length : APP_FRAG_HEAD.length;
    for (const { key, value } of db.getRange({})) {
      const slot = value.readUInt32LE(S_SLOT);
      index.insertAt(slot, key, 0, key.length, hash32(key, 0, key.length));
      index.cols[COUNT]![slot] = value.readUInt32LE(S_COUNT);
      clock.ensure(slot);
      clock.ts[slot] = Math.max(clock.ts[slot]!, value.readUInt32LE(S_WRITTEN_AT));
      if (names !== null) {
        const at = SUMMARY_HEADER + headLen;
        names.set(slot, Buffer.from(value.subarray(at, at + value.readUInt16LE(S_NAME_LEN))));
      }
    }
    index.collectFreeSlots();
  }

  #findKey(index: KeyIndex, key: Uint8Array): number {
    return index.find(key, 0, key.length, hash32(key, 0, key.length));
  }

  // --- applying records -----------------------------------------------------

  /** Takes one ring record (rec[off, off+len)). */
  apply(rec: Uint8Array, off: number, len: number): void {
    const type = rec[off + R_TYPE];
    if (type === RecordType.update) {
      this.#applyUpdate(rec, off, len);
      return;
    }
    const seq = get32(rec, off + R_SEQ);
    if (seq > this.#ackSeq) this.#ackSeq = seq;
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
    const inst = this.#inst;
    const keyLen = get16(rec, off + R_KEY_LEN);
    const keyOff = off + RECORD_HEADER;
    const fa = getI32(rec, off + R_FRAG_HASH_A);
    const fb = getI32(rec, off + R_FRAG_HASH_B);
    const time = get32(rec, off + R_TIME);
    const http = (rec[off + R_FLAGS]! & RecordFlag.http) !== 0;
    let slot = inst.find(rec, keyOff, keyLen, getI32(rec, off + R_KEY_HASH));

    if (slot >= 0 && inst.cols[FRAG_A]![slot] === fa && inst.cols[FRAG_B]![slot] === fb && !http) {
      this.#touch(slot, time);
      this.#pendingClockOnly++;
      this.#clockOnlyUnreleased++;
      return;
    }
    const fragOff = keyOff + keyLen;
    const appName = rec.subarray(fragOff + FRAG_APP_OFF, fragOff + FRAG_APP_OFF + get16(rec, off + R_APP_LEN));
    let kind = OP_CHANGE;
    if (slot < 0) {
      kind = OP_NEW;
      slot = inst.insert(rec, keyOff, keyLen, getI32(rec, off + R_KEY_HASH));
      this.#instClock.reset(slot);
      const appIdLen = rec[off + R_APP_ID_LEN]!;
      const hostName = rec.subarray(fragOff + get16(rec, off + R_HOST_OFF), fragOff + get16(rec, off + R_HOST_OFF) + get16(rec, off + R_HOST_LEN));
      const a = this.#summarySlot(this.#apps, this.#appClock, rec, keyOff, appIdLen + 1);
      const h = this.#summarySlot(this.#hosts, this.#hostClock, rec, keyOff + appIdLen + 1, keyLen - appIdLen - 3);
      inst.cols[APP]![slot] = a;
      inst.cols[HOST]![slot] = h;
      this.#addToPair(h, a, hostName);
    }
    const a = inst.cols[APP]![slot]!;
    const known = this.#appNames.get(a);
    if (known === undefined || Buffer.compare(known, appName) !== 0) {
      // The app's display name follows its latest update.
      this.#appNames.set(a, Buffer.from(appName));
      this.#dirtyApps.add(a);
    }
    inst.cols[FRAG_A]![slot] = fa;
    inst.cols[FRAG_B]![slot] = fb;
    this.#touch(slot, time);
    this.#ops.push({ kind, slot, at: this.#copyToArena(rec, off, len), len });
    this.#pendingStructural++;
    if (http) {
      const seq = get32(rec, off + R_SEQ);
      if (seq > this.#ackSeq) this.#ackSeq = seq;
    }
  }

  /** The slot of a host or app key (rec[at, at+len)), added if new. */
  #summarySlot(index: KeyIndex, clock: SlotClock, rec: Uint8Array, at: number, len: number): number {
    const hash = hash32(rec, at, at + len);
    let slot = index.find(rec, at, len, hash);
    if (slot < 0) {
      slot = index.insert(rec, at, len, hash);
      clock.reset(slot);
    }
    return slot;
  }

  #addToPair(h: number, a: number, hostName: Uint8Array | null): void {
    const pair = h * PAIR_SHIFT + a;
    const n = this.#pairs.get(pair) ?? 0;
    this.#pairs.set(pair, n + 1);
    if (n === 0) {
      this.#hosts.cols[COUNT]![h]!++;
      this.#apps.cols[COUNT]![a]!++;
      this.#dirtyApps.add(a);
      this.#dirtyHosts.set(h, hostName === null ? (this.#dirtyHosts.get(h) ?? null) : Buffer.from(hostName));
    }
  }

  /** In-memory side of removing an instance: its pair, and the summaries left empty. */
  #forgetInstance(slot: number): void {
    const inst = this.#inst;
    const h = inst.cols[HOST]![slot]!;
    const a = inst.cols[APP]![slot]!;
    inst.remove(slot);
    this.#removed.push({ index: inst, slot });
    const pair = h * PAIR_SHIFT + a;
    const n = this.#pairs.get(pair) ?? 0;
    if (n > 1) {
      this.#pairs.set(pair, n - 1);
      return;
    }
    this.#pairs.delete(pair);
    const hosts = this.#hosts.cols[COUNT]!;
    const apps = this.#apps.cols[COUNT]!;
    hosts[h]!--;
    apps[a]!--;
    if (!this.#dirtyHosts.has(h)) this.#dirtyHosts.set(h, null);
    this.#dirtyApps.add(a);
    if (hosts[h] === 0) {
      this.#hosts.remove(h);
      this.#removed.push({ index: this.#hosts, slot: h });
    }
    if (apps[a] === 0) {
      this.#apps.remove(a);
      this.#removed.push({ index: this.#apps, slot: a });
    }
  }

  /** Moves an instance's clock (and its host's and app's) forward to time. */
  #touch(slot: number, time: number): void {
    const inst = this.#inst;
    this.#instClock.advance(slot, time);
    this.#hostClock.advance(inst.cols[HOST]![slot]!, time);
    this.#appClock.advance(inst.cols[APP]![slot]!, time);
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

  /** Start from empty indexes; counters keep what the next commit must report. */
  #clearMemory(): void {
    this.#inst = new KeyIndex(4, 1 << 16);
    this.#hosts = new KeyIndex(1);
    this.#apps = new KeyIndex(1);
    this.#instClock.clear();
    this.#hostClock.clear();
    this.#appClock.clear();
    this.#appNames = new Map();
    this.#pairs = new Map();
    this.#dirtyHosts = new Map();
    this.#dirtyApps = new Set();
    this.#removed = [];
    this.#ops = [];
    this.#opUsed = 0;
  }

  /**
   * Queues removal of every instance whose last_update is older than the
   * trim window. Returns how many were queued.
   */
  sweep(nowSeconds: number): number {
    if (this.#trimSeconds <= 0) return 0;
    const cutoff = nowSeconds - this.#trimSeconds;
    const inst = this.#inst;
    const ts = this.#instClock.ts;
    let n = 0;
    for (let s = 0; s < inst.highWater; s++) {
      if (inst.state[s] === SlotState.live && ts[s]! < cutoff) {
        this.#forgetInstance(s);
        this.#ops.push({ kind: OP_REMOVE, slot: s, at: 0, len: 0, reason: 'trim' });
        n++;
      }
    }
    return n;
  }

  // --- committing -------------------------------------------------------------

  #clockDirty(): boolean {
    return this.#instClock.dirtyCount + this.#hostClock.dirtyCount + this.#appClock.dirtyCount > 0;
  }

  #structuralPending(): boolean {
    return this.#ops.length > 0 || this.#dirtyApps.size > 0 || this.#dirtyHosts.size > 0;
  }

  /** Milliseconds until a commit is due: 0 = now (how long the writer may sleep). */
  msUntilDue(nowMs: number): number {
    let due = Infinity;
    if (this.#structuralPending()) due = this.#lastCommit + this.#minCommitMs;
    if (this.#clockDirty() || this.#pendingClockOnly > 0) due = Math.min(due, this.#lastClockPersist + this.#clockPersistMs);
    return due === Infinity ? this.#clockPersistMs : Math.max(0, due - nowMs);
  }

  /** No operation waits for a commit: every record read so far may leave the rings. */
  canRelease(): boolean {
    return !this.#structuralPending();
  }

  /** The caller released the rings. */
  released(): void {
    this.#clockOnlyUnreleased = 0;
  }

  /**
   * Writes pending operations, dirty summaries and (when due) the clocks in
   * one durable transaction; `final` forces the clocks out (shutdown). If
   * LMDB refuses, this throws after reloading the in-memory state from
   * LMDB: the caller must re-read its unreleased records.
   */
  commit(nowMs: number, final = false): CommitResult {
    const flushClock = final || nowMs - this.#lastClockPersist >= this.#clockPersistMs;
    const events: ChangeEvent[] = [];
    let written = 0;
    let removed = 0;
    try {
      this.#env.transactionSync(() => {
        for (const op of this.#ops) {
          switch (op.kind) {
            case OP_NEW:
            case OP_CHANGE:
              if (this.#writeInstance(op, events)) written++;
              break;
            case OP_REMOVE:
              if (this.#deleteInstance(this.#inst.keyOf(op.slot), op.reason ?? 'trim', events)) removed++;
              break;
            case OP_REMOVE_SELECTOR:
              removed += this.#removeSelected(op.selector!, events);
              break;
            case OP_CLEAR:
              for (const db of [this.#instDb, this.#byhostDb, this.#byverDb, this.#appsDb, this.#hostsDb, this.#clockDb]) db.clearSync();
              if (this.#eventsWanted) events.push({ type: 'cleared' });
              break;
          }
        }
        this.#writeSummaries();
        if (flushClock) this.#writeClock();
      }, SYNC_FLAGS);
    } catch (err) {
      this.load();
      throw err;
    }

    // Committed: now the bookkeeping may move on.
    const applied = this.#pendingStructural + (flushClock ? this.#pendingClockOnly : 0);
    this.#pendingStructural = 0;
    if (flushClock) {
      this.#pendingClockOnly = 0;
      this.#lastClockPersist = nowMs;
    }
    this.#lastCommit = nowMs;
    for (const { index, slot } of this.#removed) index.release(slot);
    this.#removed = [];
    this.#dirtyApps.clear();
    this.#dirtyHosts.clear();
    const ackSeq = this.#ackSeq;
    this.#ackSeq = 0;
    this.#ops = [];
    this.#opUsed = 0;
    return { applied, ackSeq, written, removed, events };
  }

  // --- inside the write transaction ---------------------------------------

  /** Writes a new or changed instance record and its index entries. */
  #writeInstance(op: Op, events: ChangeEvent[]): boolean {
    // A removal later in the same batch took the slot away: the record is
    // stale (the removal reads what is stored and deletes that).
    if (this.#inst.state[op.slot] !== SlotState.live) return false;
    const rec = this.#opArena;
    const off = op.at;
    const keyLen = get16(rec, off + R_KEY_LEN);
    const key = rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen);
    const fragLen = get16(rec, off + R_FRAG_LEN);
    const frag = rec.subarray(off + RECORD_HEADER + keyLen, off + RECORD_HEADER + keyLen + fragLen);
    const appIdLen = rec[off + R_APP_ID_LEN]!;
    const verOff = get16(rec, off + R_VER_OFF);
    const verLen = get16(rec, off + R_VER_LEN);
    const verJson = frag.subarray(verOff, verOff + verLen);
    const appKey = key.subarray(0, appIdLen + 1);
    const hostKey = key.subarray(appIdLen + 1, keyLen - 2);
    const instance = key.subarray(keyLen - 2);
    const now = this.#instClock.ts[op.slot]!;
    let since = get32(rec, off + R_TIME);

    // A new key is not in LMDB (the index mirrors it), so only a change reads the old record.
    const old = op.kind === OP_NEW ? undefined : this.#instDb.getBinary(key);
    let verChanged = true;
    if (old === undefined) {
      this.#byhostDb.putSync(this.#join(hostKey, appKey, instance), EMPTY);
      if (this.#eventsWanted) events.push({ type: 'new', version: versionOf(frag, now) });
    } else {
      const oldVerOff = INSTANCE_HEADER + old.readUInt16LE(V_VER_OFF);
      const oldVer = old.subarray(oldVerOff, oldVerOff + old.readUInt16LE(V_VER_LEN));
      verChanged = Buffer.compare(oldVer, verJson) !== 0;
      if (!verChanged) {
        since = old.readUInt32LE(V_SINCE);
      } else {
        this.#byverDb.removeSync(this.#byverKey(appKey, oldVer, hostKey, instance));
        if (this.#eventsWanted) events.push({ type: 'changed', version: versionOf(frag, now), old_ver: jsonString(oldVer) });
      }
    }
    if (verChanged) this.#byverDb.putSync(this.#byverKey(appKey, verJson, hostKey, instance), EMPTY);
    const value = this.#scratch.subarray(0, INSTANCE_HEADER + fragLen);
    value.writeUInt32LE(op.slot, V_SLOT);
    value.writeUInt32LE(since, V_SINCE);
    value.writeUInt32LE(now, V_WRITTEN_AT);
    value.writeUInt16LE(verOff, V_VER_OFF);
    value.writeUInt16LE(verLen, V_VER_LEN);
    value.set(frag, INSTANCE_HEADER);
    this.#instDb.putSync(key, value);
    return true;
  }

  /** Deletes a stored instance and its index entries; false if it was not stored. */
  #deleteInstance(key: Uint8Array, reason: 'trim' | 'delete', events: ChangeEvent[]): boolean {
    const k = Buffer.from(key);
    const old = this.#instDb.getBinary(k);
    if (old === undefined) return false;
    const appEnd = k.indexOf(0) + 1;
    const appKey = k.subarray(0, appEnd);
    const hostKey = k.subarray(appEnd, k.length - 2);
    const instance = k.subarray(k.length - 2);
    const verOff = INSTANCE_HEADER + old.readUInt16LE(V_VER_OFF);
    const verJson = old.subarray(verOff, verOff + old.readUInt16LE(V_VER_LEN));
    if (this.#eventsWanted) {
      const t = Math.max(old.readUInt32LE(V_WRITTEN_AT), this.#instClock.get(old.readUInt32LE(V_SLOT)));
      events.push({ type: 'removed', version: versionOf(old.subarray(INSTANCE_HEADER), t), reason });
    }
    this.#instDb.removeSync(k);
    this.#byverDb.removeSync(this.#byverKey(appKey, verJson, hostKey, instance));
    this.#byhostDb.removeSync(this.#join(hostKey, appKey, instance));
    return true;
  }

  #removeSelected(selector: Selector, events: ChangeEvent[]): number {
    let n = 0;
    for (const key of selectorKeys(selector, this.#instDb, this.#byhostDb)) {
      const slot = this.#findKey(this.#inst, key);
      if (slot < 0) continue;
      this.#forgetInstance(slot);
      if (this.#deleteInstance(key, 'delete', events)) n++;
    }
    return n;
  }

  #writeSummaries(): void {
    for (const a of this.#dirtyApps) {
      const key = this.#apps.keyOf(a);
      if (this.#apps.state[a] !== SlotState.live) {
        this.#appsDb.removeSync(Buffer.from(key));
        this.#appNames.delete(a);
        continue;
      }
      const name = this.#appNames.get(a) ?? EMPTY;
      const frag = Buffer.concat([APP_FRAG_HEAD, name, Buffer.from(`","app_id":"${latin1(key.subarray(0, key.length - 1))}","host_count":${this.#apps.cols[COUNT]![a]},"last_update":`)]);
      this.#putSummary(this.#appsDb, key, a, this.#apps.cols[COUNT]![a]!, this.#appClock.get(a), name.length, frag);
    }
    for (const [h, knownName] of this.#dirtyHosts) {
      const key = Buffer.from(this.#hosts.keyOf(h));
      if (this.#hosts.state[h] !== SlotState.live) {
        this.#hostsDb.removeSync(key);
        continue;
      }
      const name = knownName ?? this.#storedHostName(key);
      const frag = Buffer.concat([HOST_FRAG_HEAD, name, Buffer.from(`","app_count":${this.#hosts.cols[COUNT]![h]},"last_update":`)]);
      this.#putSummary(this.#hostsDb, key, h, this.#hosts.cols[COUNT]![h]!, this.#hostClock.get(h), name.length, frag);
    }
  }

  #storedHostName(key: Buffer): Buffer {
    const stored = this.#hostsDb.getBinary(key);
    if (stored === undefined) return EMPTY;
    const at = SUMMARY_HEADER + HOST_FRAG_HEAD.length;
    return Buffer.from(stored.subarray(at, at + stored.readUInt16LE(S_NAME_LEN)));
  }

  #putSummary(db: Database<Buffer, Buffer>, key: Uint8Array, slot: number, count: number, t: number, nameLen: number, frag: Buffer): void {
    const value = Buffer.allocUnsafe(SUMMARY_HEADER + frag.length);
    value.writeUInt32LE(slot, S_SLOT);
    value.writeUInt32LE(count, S_COUNT);
    value.writeUInt32LE(t, S_WRITTEN_AT);
    value.writeUInt16LE(nameLen, S_NAME_LEN);
    value.writeUInt16LE(0, S_NAME_LEN + 2);
    value.set(frag, SUMMARY_HEADER);
    db.putSync(Buffer.from(key), value);
  }

  #writeClock(): void {
    const put = (key: Buffer, bytes: Buffer): void => {
      this.#clockDb.putSync(key, bytes);
    };
    this.#instClock.flush(put);
    this.#hostClock.flush(put);
    this.#appClock.flush(put);
  }

  /** a|b|c into the scratch buffer (valid until the next #join/#byverKey). */
  #join(a: Uint8Array, b: Uint8Array, c: Uint8Array): Buffer {
    const out = this.#scratch;
    out.set(a, KEY_SCRATCH);
    out.set(b, KEY_SCRATCH + a.length);
    out.set(c, KEY_SCRATCH + a.length + b.length);
    return out.subarray(KEY_SCRATCH, KEY_SCRATCH + a.length + b.length + c.length);
  }

  /** byver key app_id| ver| host| instance, from ver's JSON content. */
  #byverKey(appKey: Uint8Array, verJson: Uint8Array, hostKey: Uint8Array, instance: Uint8Array): Buffer {
    const ver = verJson.includes(0x5c) ? Buffer.from(jsonString(verJson), 'utf8') : verJson;
    const out = this.#scratch;
    const base = KEY_SCRATCH;
    out.set(appKey, base);
    let o = encodeKeyPart(ver, 0, ver.length, out, base + appKey.length);
    out.set(hostKey, o);
    o += hostKey.length;
    out.set(instance, o);
    return out.subarray(base, o + instance.length);
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}

const APP_FRAG_HEAD = Buffer.from('{"app":"');
const HOST_FRAG_HEAD = Buffer.from('{"host":"');

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

function jsonString(json: Uint8Array): string {
  return JSON.parse(`"${utf8.decode(json)}"`) as string;
}

function versionOf(frag: Uint8Array, lastUpdate: number): Record<string, unknown> {
  return JSON.parse(utf8.decode(frag) + lastUpdate + '}') as Record<string, unknown>;
}

/** Keys of stored instances matching a selector (for DELETE). */
function selectorKeys(sel: Selector, inst: Database<Buffer, Buffer>, byhost: Database<Buffer, Buffer>): Buffer[] {
  const out: Buffer[] = [];
  if (sel.appId !== undefined) {
    const prefix = sel.host !== undefined ? buildKey([sel.appId, sel.host]) : buildKey([sel.appId]);
    for (const key of inst.getKeys({ start: prefix, end: prefixEnd(prefix) })) {
      if (sel.instance !== undefined && key.readUInt16BE(key.length - 2) !== sel.instance) continue;
      out.push(Buffer.from(key));
    }
  } else if (sel.host !== undefined) {
    // byhost: host| app_id| instance -> inst: app_id| host| instance
    const prefix = buildKey([sel.host]);
    for (const key of byhost.getKeys({ start: prefix, end: prefixEnd(prefix) })) {
      const rest = key.subarray(prefix.length);
      const appEnd = rest.indexOf(0) + 1;
      const instance = rest.subarray(rest.length - 2);
      if (sel.instance !== undefined && instance.readUInt16BE(0) !== sel.instance) continue;
      out.push(Buffer.concat([rest.subarray(0, appEnd), prefix, instance]));
    }
  }
  return out;
}
