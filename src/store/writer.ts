// The store writer: the only code that writes LMDB. It runs on the writer
// thread (src/workers/writer-thread.ts), which feeds it ring records.
//
// Absorb in memory, persist behind. apply() takes a record in about a
// microsecond, whatever it says:
//
// - a repeated update (same key, same content fingerprint) moves three
//   entries of the shared clocks (instance, host, app), which the query
//   side reads directly; the clocks reach LMDB every clockPersistMs;
// - anything else (a new instance, a changed version or address, an HTTP
//   update) becomes the instance's pending state: the latest record, kept in
//   an arena, one per instance however many arrive (coalescing); the
//   instance joins the persist queue; host/app counts change in memory;
// - removals (--trim, DELETE), and clear, are resolved in memory too.
//
// commit() persists in one durable LMDB transaction: a clear, removals,
// every priority instance (those an HTTP client waits for), then up to
// PERSIST_BATCH queued instances in arrival order, the dirty app and host
// summaries, and the clocks when due. A random B-tree write costs LMDB a few
// page writes, so during a storm of new or changed instances persistence
// runs behind ingest (the backlog is /debug/vars `write_backlog`) instead of
// ingest dropping updates; queries show the persisted state plus live
// clocks. Nothing in memory changes until a commit succeeds, so a failed
// commit (disk full) is simply retried.
//
// Durability: a commit returns once its data is flushed (lmdb-js's default
// overlappingSync, which also lets a database that lost power reopen at its
// last flushed transaction); an HTTP update is acknowledged only after. The
// memory map is not writable (no useWritemap): a full disk then fails a
// commit with ENOSPC instead of killing the process with SIGBUS.

import { TransactionFlags, open, type Database, type RootDatabase } from 'lmdb';
import { hash32, hashBytes, hashOut } from '../ingest/hash.js';
import {
  FRAG_APP_OFF, RECORD_HEADER, RecordFlag, RecordType,
  R_APP_ID_LEN, R_APP_LEN, R_FLAGS, R_FRAG_HASH_A, R_FRAG_HASH_B, R_FRAG_LEN, R_HOST_LEN, R_HOST_OFF,
  R_KEY_HASH, R_KEY_LEN, R_SEQ, R_TIME, R_TYPE, R_VER_LEN, R_VER_OFF, get16, get32, getI32,
} from '../ingest/record.js';
import { KeyIndex, SlotState } from './key-index.js';
import { buildKey, encodeKeyPart } from './keys.js';
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
  /** Updates now reflected in committed data. */
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
/** Offset+1 of the pending record in the arena; 0 = nothing to persist. */
const PENDING = 4;
/** Records coalesced into the pending state (they count as applied when it is written). */
const PENDING_N = 5;
/** Bit 1: the key is stored in LMDB. Bit 2: queued. Bit 4: in the priority queue. */
const FLAGS = 6;
const STORED = 1;
const QUEUED = 2;
const PRIORITY = 4;
// Host and app column: apps on the host / hosts running the app.
const COUNT = 0;

/** Queued instances persisted per commit (besides priority ones). */
const PERSIST_BATCH = 2048;
// abortable, synchronous commit, flushed before returning (lmdb's TransactionFlags)
const SYNC_FLAGS = (TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT) as TransactionFlags;
const PAIR_SHIFT = 2 ** 22; // pair key = host slot * PAIR_SHIFT + app slot
const EMPTY = Buffer.alloc(0);
const KEY_SCRATCH = 8192;
/** Arena size kept once the backlog is empty. */
const ARENA_KEEP_BYTES = 1 << 20;
const APP_FRAG_HEAD = Buffer.from('{"app":"');
const HOST_FRAG_HEAD = Buffer.from('{"host":"');

const utf8 = new TextDecoder();

interface Removal {
  slot: number;
  reason: 'trim' | 'delete';
}

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

  #inst = new KeyIndex(7, 1 << 16);
  #hosts = new KeyIndex(1);
  #apps = new KeyIndex(1);
  /** App display names (JSON string content) by app slot. */
  #appNames = new Map<number, Buffer>();
  /** Instances per host/app pair. */
  #pairs = new Map<number, number>();
  /** Summaries to rewrite at the next commit; hosts map to a known name or null. */
  #dirtyHosts = new Map<number, Buffer | null>();
  #dirtyApps = new Set<number>();

  /** Latest records of instances waiting to be persisted. */
  #arena = Buffer.alloc(ARENA_KEEP_BYTES);
  #arenaUsed = 0;
  #arenaGarbage = 0;
  #pendingSlots = 0;
  #queue: number[] = [];
  #queueHead = 0;
  #priority: number[] = [];
  #removals: Removal[] = [];
  /** Slots removed in memory, reusable once their removal is committed. */
  #releaseAfterCommit: { index: KeyIndex; slot: number }[] = [];
  #clearPending = false;

  /** Repeated updates not yet in a persisted clock chunk. */
  #pendingClockOnly = 0;
  /** Control records (clear, delete) not yet committed. */
  #pendingControl = 0;
  /** Absorbed records whose pending state a removal or clear superseded. */
  #superseded = 0;
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

  /** Live instances, hosts and apps (including what is not persisted yet). */
  get counts(): { instances: number; hosts: number; apps: number } {
    return { instances: this.#inst.size, hosts: this.#hosts.size, apps: this.#apps.size };
  }

  /** Instances whose latest state is not persisted yet, and the bytes that holds. */
  get backlog(): { instances: number; bytes: number } {
    return { instances: this.#pendingSlots, bytes: this.#arenaUsed - this.#arenaGarbage };
  }

  /** Turn change events on or off (off: no event work at all). */
  set eventsWanted(on: boolean) {
    this.#eventsWanted = on;
  }

  // --- loading --------------------------------------------------------------

  /** Builds the in-memory state from LMDB (once, at startup). */
  load(): void {
    const clock = this.#instClock;
    this.#loadSummaries(this.#hostsDb, this.#hosts, this.#hostClock, null);
    this.#loadSummaries(this.#appsDb, this.#apps, this.#appClock, this.#appNames);
    const inst = this.#inst;
    for (const { key, value } of this.#instDb.getRange({})) {
      const slot = value.readUInt32LE(V_SLOT);
      inst.insertAt(slot, key, 0, key.length, hash32(key, 0, key.length));
      hashBytes(value, INSTANCE_HEADER, value.length);
      inst.cols[FRAG_A]![slot] = hashOut[0]!;
      inst.cols[FRAG_B]![slot] = hashOut[1]!;
      inst.cols[FLAGS]![slot] = STORED;
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
    // The buffers outlive a writer thread: a restarted writer finds times
    // ahead of LMDB (persisted again at the next clock commit), and times of
    // slots that no longer exist (which must not leak into their next owner).
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

  // --- absorbing records ------------------------------------------------------

  /** Takes one ring record (rec[off, off+len)); afterwards its ring space may be reused. */
  apply(rec: Uint8Array, off: number, len: number): void {
    const type = rec[off + R_TYPE];
    if (type === RecordType.update) {
      this.#applyUpdate(rec, off, len);
      return;
    }
    const seq = get32(rec, off + R_SEQ);
    if (seq > this.#ackSeq) this.#ackSeq = seq;
    this.#pendingControl++;
    if (type === RecordType.clear) {
      this.#clearMemory();
    } else if (type === RecordType.remove) {
      const keyLen = get16(rec, off + R_KEY_LEN);
      this.#removeSelected(decodeSelector(rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen)));
    }
  }

  #applyUpdate(rec: Uint8Array, off: number, len: number): void {
    const inst = this.#inst;
    const keyLen = get16(rec, off + R_KEY_LEN);
    const keyOff = off + RECORD_HEADER;
    const keyHash = getI32(rec, off + R_KEY_HASH);
    const fa = getI32(rec, off + R_FRAG_HASH_A);
    const fb = getI32(rec, off + R_FRAG_HASH_B);
    const time = get32(rec, off + R_TIME);
    const http = (rec[off + R_FLAGS]! & RecordFlag.http) !== 0;
    let slot = inst.find(rec, keyOff, keyLen, keyHash);

    if (slot >= 0 && inst.cols[FRAG_A]![slot] === fa && inst.cols[FRAG_B]![slot] === fb && !http) {
      this.#touch(slot, time);
      this.#pendingClockOnly++;
      return;
    }
    const fragOff = keyOff + keyLen;
    if (slot < 0) {
      slot = inst.insert(rec, keyOff, keyLen, keyHash);
      this.#instClock.reset(slot);
      const appIdLen = rec[off + R_APP_ID_LEN]!;
      const hostOff = fragOff + get16(rec, off + R_HOST_OFF);
      const a = this.#summarySlot(this.#apps, this.#appClock, rec, keyOff, appIdLen + 1);
      const h = this.#summarySlot(this.#hosts, this.#hostClock, rec, keyOff + appIdLen + 1, keyLen - appIdLen - 3);
      inst.cols[APP]![slot] = a;
      inst.cols[HOST]![slot] = h;
      this.#addToPair(h, a, rec.subarray(hostOff, hostOff + get16(rec, off + R_HOST_LEN)));
    }
    const a = inst.cols[APP]![slot]!;
    const appName = rec.subarray(fragOff + FRAG_APP_OFF, fragOff + FRAG_APP_OFF + get16(rec, off + R_APP_LEN));
    const known = this.#appNames.get(a);
    if (known === undefined || Buffer.compare(known, appName) !== 0) {
      // The app's display name follows its latest update.
      this.#appNames.set(a, Buffer.from(appName));
      this.#dirtyApps.add(a);
    }
    inst.cols[FRAG_A]![slot] = fa;
    inst.cols[FRAG_B]![slot] = fb;
    this.#touch(slot, time);
    this.#setPending(slot, rec, off, len);
    if (http) {
      const seq = get32(rec, off + R_SEQ);
      if (seq > this.#ackSeq) this.#ackSeq = seq;
      if ((inst.cols[FLAGS]![slot]! & PRIORITY) === 0) {
        inst.cols[FLAGS]![slot]! |= PRIORITY;
        this.#priority.push(slot);
      }
    }
  }

  /** Makes rec the slot's pending state (replacing an older one) and queues the slot. */
  #setPending(slot: number, rec: Uint8Array, off: number, len: number): void {
    const inst = this.#inst;
    const previous = inst.cols[PENDING]![slot]!;
    if (previous !== 0) this.#arenaGarbage += this.#arenaRecordLength(previous - 1);
    else this.#pendingSlots++;
    if (this.#arenaUsed + len > this.#arena.length) this.#growArena(len);
    const at = this.#arenaUsed;
    this.#arena.set(rec.subarray(off, off + len), at);
    this.#arenaUsed += len;
    inst.cols[PENDING]![slot] = at + 1;
    inst.cols[PENDING_N]![slot]!++;
    if ((inst.cols[FLAGS]![slot]! & QUEUED) === 0) {
      inst.cols[FLAGS]![slot]! |= QUEUED;
      this.#queue.push(slot);
    }
  }

  #arenaRecordLength(at: number): number {
    const keyLen = get16(this.#arena, at + R_KEY_LEN);
    return RECORD_HEADER + keyLen + get16(this.#arena, at + R_FRAG_LEN);
  }

  #growArena(need: number): void {
    // Drop superseded records first; grow only if that is not enough.
    if (this.#arenaGarbage * 2 > this.#arenaUsed) {
      this.#compactArena();
      if (this.#arenaUsed + need <= this.#arena.length) return;
    }
    const grown = Buffer.alloc(Math.max(this.#arena.length * 2, this.#arenaUsed + need));
    this.#arena.copy(grown, 0, 0, this.#arenaUsed);
    this.#arena = grown;
  }

  #compactArena(): void {
    const inst = this.#inst;
    const next = Buffer.alloc(this.#arena.length);
    let used = 0;
    const pending = inst.cols[PENDING]!;
    for (let s = 0; s < inst.highWater; s++) {
      const at = pending[s]!;
      if (at === 0) continue;
      const len = this.#arenaRecordLength(at - 1);
      this.#arena.copy(next, used, at - 1, at - 1 + len);
      pending[s] = used + 1;
      used += len;
    }
    this.#arena = next;
    this.#arenaUsed = used;
    this.#arenaGarbage = 0;
  }

  /** Drops a slot's pending state (the slot is being removed or written). */
  #dropPending(slot: number): void {
    const inst = this.#inst;
    const at = inst.cols[PENDING]![slot]!;
    if (at === 0) return;
    this.#arenaGarbage += this.#arenaRecordLength(at - 1);
    inst.cols[PENDING]![slot] = 0;
    inst.cols[PENDING_N]![slot] = 0;
    this.#pendingSlots--;
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

  #addToPair(h: number, a: number, hostName: Uint8Array): void {
    const pair = h * PAIR_SHIFT + a;
    const n = this.#pairs.get(pair) ?? 0;
    this.#pairs.set(pair, n + 1);
    if (n === 0) {
      this.#hosts.cols[COUNT]![h]!++;
      this.#apps.cols[COUNT]![a]!++;
      this.#dirtyApps.add(a);
      this.#dirtyHosts.set(h, Buffer.from(hostName));
    }
  }

  /** Removes an instance in memory; its LMDB records go at the next commit. */
  #forgetInstance(slot: number, reason: 'trim' | 'delete'): void {
    const inst = this.#inst;
    const h = inst.cols[HOST]![slot]!;
    const a = inst.cols[APP]![slot]!;
    // Records it absorbed but never persisted were superseded by the removal:
    // they count as applied when the removal commits.
    this.#superseded += inst.cols[PENDING_N]![slot]!;
    this.#dropPending(slot);
    inst.remove(slot);
    this.#releaseAfterCommit.push({ index: inst, slot });
    if ((inst.cols[FLAGS]![slot]! & STORED) !== 0) this.#removals.push({ slot, reason });
    inst.cols[FLAGS]![slot] = 0;
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
      this.#releaseAfterCommit.push({ index: this.#hosts, slot: h });
    }
    if (apps[a] === 0) {
      this.#apps.remove(a);
      this.#releaseAfterCommit.push({ index: this.#apps, slot: a });
    }
  }

  /** Removes every live instance a selector matches (DELETE endpoints). */
  #removeSelected(sel: Selector): void {
    const inst = this.#inst;
    const a = sel.appId === undefined ? -1 : this.#findKey(this.#apps, buildKey([sel.appId]));
    const h = sel.host === undefined ? -1 : this.#findKey(this.#hosts, buildKey([sel.host]));
    if ((sel.appId !== undefined && a < 0) || (sel.host !== undefined && h < 0)) return;
    for (let s = 0; s < inst.highWater; s++) {
      if (inst.state[s] !== SlotState.live) continue;
      if (a >= 0 && inst.cols[APP]![s] !== a) continue;
      if (h >= 0 && inst.cols[HOST]![s] !== h) continue;
      if (sel.instance !== undefined) {
        const key = inst.keyOf(s);
        if (((key[key.length - 2]! << 8) | key[key.length - 1]!) !== sel.instance) continue;
      }
      this.#forgetInstance(s, 'delete');
    }
  }

  /** Moves an instance's clock (and its host's and app's) forward to time. */
  #touch(slot: number, time: number): void {
    const inst = this.#inst;
    this.#instClock.advance(slot, time);
    this.#hostClock.advance(inst.cols[HOST]![slot]!, time);
    this.#appClock.advance(inst.cols[APP]![slot]!, time);
  }

  /** Forgets every instance; the next commit empties LMDB first. */
  #clearMemory(): void {
    // Records absorbed but never persisted count as applied when the clear commits.
    const inst = this.#inst;
    for (let s = 0; s < inst.highWater; s++) this.#superseded += inst.cols[PENDING_N]![s]!;
    this.#inst = new KeyIndex(7, 1 << 16);
    this.#hosts = new KeyIndex(1);
    this.#apps = new KeyIndex(1);
    this.#instClock.clear();
    this.#hostClock.clear();
    this.#appClock.clear();
    this.#appNames = new Map();
    this.#pairs = new Map();
    this.#dirtyHosts = new Map();
    this.#dirtyApps = new Set();
    this.#arenaUsed = 0;
    this.#arenaGarbage = 0;
    this.#pendingSlots = 0;
    this.#queue = [];
    this.#queueHead = 0;
    this.#priority = [];
    this.#removals = [];
    this.#releaseAfterCommit = [];
    this.#clearPending = true;
  }


  /**
   * Removes, in memory, every instance whose last_update is older than the
   * trim window. Returns how many.
   */
  sweep(nowSeconds: number): number {
    if (this.#trimSeconds <= 0) return 0;
    const cutoff = nowSeconds - this.#trimSeconds;
    const inst = this.#inst;
    const ts = this.#instClock.ts;
    let n = 0;
    for (let s = 0; s < inst.highWater; s++) {
      if (inst.state[s] === SlotState.live && ts[s]! < cutoff) {
        this.#forgetInstance(s, 'trim');
        n++;
      }
    }
    return n;
  }

  // --- persisting ---------------------------------------------------------------

  #clockDirty(): boolean {
    return this.#instClock.dirtyCount + this.#hostClock.dirtyCount + this.#appClock.dirtyCount > 0;
  }

  #urgent(): boolean {
    return this.#priority.length > 0 || this.#pendingControl > 0 || this.#clearPending;
  }

  #structuralPending(): boolean {
    return this.#queueHead < this.#queue.length || this.#removals.length > 0 || this.#urgent() ||
      this.#dirtyApps.size > 0 || this.#dirtyHosts.size > 0;
  }

  /** Milliseconds until a commit is due: 0 = now (how long the writer may sleep). */
  msUntilDue(nowMs: number): number {
    let due = Infinity;
    if (this.#structuralPending()) due = this.#lastCommit + this.#minCommitMs;
    if (this.#clockDirty() || this.#pendingClockOnly > 0) due = Math.min(due, this.#lastClockPersist + this.#clockPersistMs);
    return due === Infinity ? this.#clockPersistMs : Math.max(0, due - nowMs);
  }

  /**
   * Persists, in one durable transaction: a pending clear, removals, every
   * priority instance, up to PERSIST_BATCH queued instances, the dirty
   * summaries, and (when due, or `final`) the clocks. If LMDB refuses, this
   * throws and nothing changes: the next commit tries again.
   */
  commit(nowMs: number, final = false): CommitResult {
    const inst = this.#inst;
    const persistClock = final || nowMs - this.#lastClockPersist >= this.#clockPersistMs;
    const batch = this.#priority.slice();
    const prioritized = new Set(batch);
    let take = this.#queueHead;
    const end = final ? this.#queue.length : Math.min(this.#queue.length, this.#queueHead + PERSIST_BATCH);
    for (; take < end; take++) {
      const slot = this.#queue[take]!;
      if (!prioritized.has(slot)) batch.push(slot);
    }
    const removals = this.#removals;
    const events: ChangeEvent[] = [];
    let written = 0;
    let removed = 0;
    const writtenSlots: number[] = [];

    this.#env.transactionSync(() => {
      if (this.#clearPending) {
        for (const db of [this.#instDb, this.#byhostDb, this.#byverDb, this.#appsDb, this.#hostsDb, this.#clockDb]) db.clearSync();
        if (this.#eventsWanted) events.push({ type: 'cleared' });
      }
      for (const r of removals) if (this.#deleteInstance(inst.keyOf(r.slot), r.reason, events)) removed++;
      for (const slot of batch) {
        if (inst.state[slot] !== SlotState.live || inst.cols[PENDING]![slot] === 0) continue;
        this.#writeInstance(slot, events);
        writtenSlots.push(slot);
        written++;
      }
      this.#writeSummaries();
      if (persistClock) this.#writeClocks();
    }, SYNC_FLAGS);

    // Committed: now memory may move on.
    let applied = this.#pendingControl + this.#superseded;
    this.#pendingControl = 0;
    this.#superseded = 0;
    this.#clearPending = false;
    for (const slot of writtenSlots) {
      applied += inst.cols[PENDING_N]![slot]!;
      this.#dropPending(slot);
      inst.cols[FLAGS]![slot] = STORED;
    }
    // Queue entries taken but not written (removed meanwhile) just leave.
    for (let i = this.#queueHead; i < take; i++) inst.cols[FLAGS]![this.#queue[i]!]! &= ~QUEUED;
    if (this.#pendingSlots === 0 && this.#arena.length > ARENA_KEEP_BYTES) {
      // A storm's backlog is gone: give its memory back.
      this.#arena = Buffer.alloc(ARENA_KEEP_BYTES);
      this.#arenaUsed = 0;
      this.#arenaGarbage = 0;
    }
    this.#queueHead = take;
    if (this.#queueHead > 65536 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    for (const slot of this.#priority) inst.cols[FLAGS]![slot]! &= ~PRIORITY;
    this.#priority = [];
    this.#removals = [];
    if (persistClock) {
      applied += this.#pendingClockOnly;
      this.#pendingClockOnly = 0;
      this.#lastClockPersist = nowMs;
    }
    this.#lastCommit = nowMs;
    for (const { index, slot } of this.#releaseAfterCommit) index.release(slot);
    this.#releaseAfterCommit = [];
    this.#dirtyApps.clear();
    this.#dirtyHosts.clear();
    const ackSeq = this.#ackSeq;
    this.#ackSeq = 0;
    return { applied, ackSeq, written, removed, events };
  }

  // --- inside the write transaction (no memory changes here) ---------------

  /** Writes an instance's pending record and its index entries. */
  #writeInstance(slot: number, events: ChangeEvent[]): void {
    const inst = this.#inst;
    const rec = this.#arena;
    const off = inst.cols[PENDING]![slot]! - 1;
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
    const now = this.#instClock.ts[slot]!;
    let since = get32(rec, off + R_TIME);

    // A key never stored needs no read (the index mirrors LMDB).
    const old = (inst.cols[FLAGS]![slot]! & STORED) === 0 ? undefined : this.#instDb.getBinary(key);
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
    value.writeUInt32LE(slot, V_SLOT);
    value.writeUInt32LE(since, V_SINCE);
    value.writeUInt32LE(now, V_WRITTEN_AT);
    value.writeUInt16LE(verOff, V_VER_OFF);
    value.writeUInt16LE(verLen, V_VER_LEN);
    value.set(frag, INSTANCE_HEADER);
    this.#instDb.putSync(key, value);
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

  #writeSummaries(): void {
    for (const a of this.#dirtyApps) {
      const key = this.#apps.keyOf(a);
      if (this.#apps.state[a] !== SlotState.live) {
        this.#appsDb.removeSync(Buffer.from(key));
        continue;
      }
      const name = this.#appNames.get(a) ?? EMPTY;
      const count = this.#apps.cols[COUNT]![a]!;
      const appId = Buffer.from(key.subarray(0, key.length - 1)).toString('latin1');
      const frag = Buffer.concat([APP_FRAG_HEAD, name, Buffer.from(`","app_id":"${appId}","host_count":${count},"last_update":`)]);
      this.#putSummary(this.#appsDb, key, a, count, this.#appClock.get(a), name.length, frag);
    }
    for (const [h, knownName] of this.#dirtyHosts) {
      const key = Buffer.from(this.#hosts.keyOf(h));
      if (this.#hosts.state[h] !== SlotState.live) {
        this.#hostsDb.removeSync(key);
        continue;
      }
      const name = knownName ?? this.#storedHostName(key);
      const count = this.#hosts.cols[COUNT]![h]!;
      const frag = Buffer.concat([HOST_FRAG_HEAD, name, Buffer.from(`","app_count":${count},"last_update":`)]);
      this.#putSummary(this.#hostsDb, key, h, count, this.#hostClock.get(h), name.length, frag);
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

  #writeClocks(): void {
    const put = (key: Buffer, bytes: Buffer): void => {
      this.#clockDb.putSync(key, bytes);
    };
    this.#instClock.flush(put);
    this.#hostClock.flush(put);
    this.#appClock.flush(put);
  }

  /** a|b|c in the key scratch (valid until the next #join/#byverKey). */
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
    out.set(appKey, KEY_SCRATCH);
    let o = encodeKeyPart(ver, 0, ver.length, out, KEY_SCRATCH + appKey.length);
    out.set(hostKey, o);
    o += hostKey.length;
    out.set(instance, o);
    return out.subarray(KEY_SCRATCH, o + instance.length);
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}

function jsonString(json: Uint8Array): string {
  return JSON.parse(`"${utf8.decode(json)}"`) as string;
}

function versionOf(frag: Uint8Array, lastUpdate: number): Record<string, unknown> {
  return JSON.parse(utf8.decode(frag) + lastUpdate + '}') as Record<string, unknown>;
}
