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
// - removals (--trim, DELETE), and clear, are resolved in memory too;
// - every first sight, version change and removal becomes a history entry
//   (history.ts), and instances not updated for --stale seconds turn stale
//   (up/stale counts in the summaries; fleet-counts.ts).
//
// commit() persists in one durable LMDB transaction: a clear, removals,
// every priority instance (those an HTTP client waits for), then up to
// PERSIST_BATCH queued instances in arrival order and as many history
// entries, the dirty app and host summaries and app version counts, the
// clocks when due, and a slice of history pruning. A random B-tree write costs LMDB a few
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
import { FleetCounts, INSTANCES, PEERS, STALE as STALE_COUNT, SUMMARY_COLUMNS } from './fleet-counts.js';
import { HistoryQueue, historyKey, historyTime, historyValue, type HistoryEntry } from './history.js';
import { APP_FRAG_HEAD, HOST_FRAG_HEAD, appSummaryValue, hostSummaryValue, summaryName, versionsJson } from './summaries.js';
import { buildKey, encodeKeyPart, splitKey } from './keys.js';
import {
  CLOCK_CHUNK, ClockKind, DB, INSTANCE_HEADER, SCHEMA_VERSION,
  S_SLOT, S_WRITTEN_AT, V_SINCE, V_SLOT, V_VER_LEN, V_VER_OFF, V_WRITTEN_AT, envOptions,
} from './layout.js';
import { SlotClock, type ClockBuffers } from './slot-clock.js';
import { RowStream, u16, u32 } from './row-stream.js';
import { decodeSelector, type Selector } from './selector.js';

export interface WriterOptions {
  path: string;
  /** Remove instances not updated for this many seconds (0 = keep forever). */
  trimSeconds: number;
  /** An instance not updated for this many seconds is stale (0 = never). */
  staleSeconds?: number;
  /** Keep history entries this many days (0 = forever). */
  historyDays?: number;
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
  /** [seq, instances removed] of the DELETE requests this commit acknowledges. */
  results: [number, number][];
}

export type ChangeEvent =
  | { type: 'new'; version: Record<string, unknown> }
  | { type: 'changed'; version: Record<string, unknown>; old_ver: string }
  | { type: 'removed'; version: Record<string, unknown>; reason: 'trim' | 'delete' }
  | { type: 'stale'; version: Record<string, unknown> }
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
/** Bit 1: the key is stored in LMDB. Bit 2: queued. Bit 4: in the priority queue. Bit 8: stale. */
const FLAGS = 6;
const STORED = 1;
const QUEUED = 2;
const PRIORITY = 4;
const STALE = 8;
/** The instance's version id (fleet-counts.ts). */
const VER = 7;
const INSTANCE_COLUMNS = 8;

/** Queued instances persisted per commit (besides priority ones). */
const PERSIST_BATCH = 2048;
// abortable, synchronous commit, flushed before returning (lmdb's TransactionFlags)
const SYNC_FLAGS = (TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT) as TransactionFlags;
const EMPTY = Buffer.alloc(0);
const KEY_SCRATCH = 8192;
/** Arena size kept once the backlog is empty. */
const ARENA_KEEP_BYTES = 1 << 20;
/** History entries pruning examines per commit. */
const PRUNE_BATCH = 2000;

const utf8 = new TextDecoder();
const LAST_UPDATE_TAIL = Buffer.from('"last_update":');
const PREV_NULL = Buffer.from('"prev_ver":null');
const PREV_OPEN = Buffer.from('"prev_ver":"');

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
  readonly #staleSeconds: number;
  readonly #historySeconds: number;
  readonly #historyDb: Database<Buffer, Buffer>;
  readonly #histhostDb: Database<Buffer, Buffer>;
  readonly #appversDb: Database<Buffer, Buffer>;
  readonly #clockPersistMs: number;
  readonly #minCommitMs: number;
  readonly #instClock: SlotClock;
  readonly #hostClock: SlotClock;
  readonly #appClock: SlotClock;

  #inst = new KeyIndex(INSTANCE_COLUMNS, 1 << 16);
  #hosts = new KeyIndex(SUMMARY_COLUMNS);
  #apps = new KeyIndex(SUMMARY_COLUMNS);
  #counts = new FleetCounts(this.#hosts, this.#apps);
  /** App display names (JSON string content) by app slot. */
  #appNames = new Map<number, Buffer>();
  /** histhost keys waiting to be persisted. */
  #hostApps: Buffer[] = [];
  /** History entries waiting to be persisted. */
  #history = new HistoryQueue();
  /** Where history pruning resumes (null: from the start). */
  #pruneFrom: Buffer | null = null;
  /** Stale transitions (events) since the last commit. */
  #staleEvents: ChangeEvent[] = [];
  /** Results of DELETE requests absorbed since the last commit. */
  #results: [number, number][] = [];

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
    this.#staleSeconds = options.staleSeconds ?? 0;
    this.#historySeconds = (options.historyDays ?? 0) * 86400;
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
    this.#historyDb = this.#env.openDB<Buffer, Buffer>(DB.history, bin);
    this.#histhostDb = this.#env.openDB<Buffer, Buffer>(DB.histhost, bin);
    this.#appversDb = this.#env.openDB<Buffer, Buffer>(DB.appvers, bin);
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
    return { instances: this.#pendingSlots, bytes: this.#arenaUsed - this.#arenaGarbage + this.#history.bytes };
  }

  /**
   * A generous bound on the bytes the next commit may write: a full disk
   * is then noticed before LMDB fails halfway through a commit (which can
   * leave its environment unusable until the process restarts).
   */
  nextCommitBytes(batch = PERSIST_BATCH): number {
    const instances = this.#priority.length + Math.min(this.#queue.length - this.#queueHead, batch) + this.#removals.length;
    const history = Math.min(this.#history.length, batch);
    const clockChunks = this.#instClock.dirtyCount + this.#hostClock.dirtyCount + this.#appClock.dirtyCount;
    const summaries = this.#counts.dirtyApps.size + this.#counts.dirtyHosts.size;
    // A random B-tree write dirties about a page per tree; summaries are
    // small and share pages; a clock chunk is a page.
    return (instances * 4 + history + clockChunks) * 4096 + summaries * 512 + (1 << 20);
  }

  /** Turn change events on or off (off: no event work at all). */
  set eventsWanted(on: boolean) {
    this.#eventsWanted = on;
  }

  // --- loading --------------------------------------------------------------

  /**
   * Builds the in-memory state from LMDB (once, at startup). Counts are
   * recomputed from the instances, and every summary is rewritten at the
   * first commit (so a data folder from an older layout heals itself).
   */
  load(): void {
    const clock = this.#instClock;
    this.#loadSummaries(this.#hostsDb, this.#hosts, this.#hostClock, null);
    this.#loadSummaries(this.#appsDb, this.#apps, this.#appClock, this.#appNames);
    const inst = this.#inst;
    const counts = this.#counts;
    const apps = this.#apps;
    const hosts = this.#hosts;
    // A million instances load in a few seconds, during which the rings
    // fill: rows are read straight from lmdb-js's buffers (RowStream), into
    // an index sized for them up front.
    inst.reserve((this.#instDb.getStats() as { entryCount: number }).entryCount);
    new RowStream(this.#env, DB.inst).each(undefined, undefined, false, (key, keyLength, value, size) => {
      const slot = u32(value, V_SLOT);
      inst.insertAt(slot, key, 0, keyLength, hash32(key, 0, keyLength));
      hashBytes(value, INSTANCE_HEADER, size);
      inst.cols[FRAG_A]![slot] = hashOut[0]!;
      inst.cols[FRAG_B]![slot] = hashOut[1]!;
      inst.cols[FLAGS]![slot] = STORED;
      clock.ensure(slot);
      clock.ts[slot] = Math.max(clock.ts[slot]!, u32(value, V_WRITTEN_AT));
      let appEnd = 0;
      while (key[appEnd] !== 0) appEnd++;
      appEnd++;
      const a = apps.find(key, 0, appEnd, hash32(key, 0, appEnd));
      const h = hosts.find(key, appEnd, keyLength - 2 - appEnd, hash32(key, appEnd, keyLength - 2));
      inst.cols[APP]![slot] = a;
      inst.cols[HOST]![slot] = h;
      const verAt = INSTANCE_HEADER + u16(value, V_VER_OFF);
      const v = counts.versionId(a, value.subarray(verAt, verAt + u16(value, V_VER_LEN)));
      inst.cols[VER]![slot] = v;
      counts.add(h, a, v, null);
      return true;
    });
    inst.collectFreeSlots();
    counts.markAllDirty();
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

  /** Adopts the stored summaries' slots and times (their counts are recomputed). */
  #loadSummaries(db: Database<Buffer, Buffer>, index: KeyIndex, clock: SlotClock, names: Map<number, Buffer> | null): void {
    for (const { key, value } of db.getRange({})) {
      const slot = value.readUInt32LE(S_SLOT);
      index.insertAt(slot, key, 0, key.length, hash32(key, 0, key.length));
      clock.ensure(slot);
      clock.ts[slot] = Math.max(clock.ts[slot]!, value.readUInt32LE(S_WRITTEN_AT));
      if (names !== null) names.set(slot, Buffer.from(summaryName(value, APP_FRAG_HEAD)));
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
      const n = this.#removeSelected(decodeSelector(rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen)));
      this.#results.push([seq, n]);
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
    const verOff = fragOff + get16(rec, off + R_VER_OFF);
    const verJson = rec.subarray(verOff, verOff + get16(rec, off + R_VER_LEN));
    let prevVer: Buffer | null = null;
    if (slot < 0) {
      slot = inst.insert(rec, keyOff, keyLen, keyHash);
      this.#instClock.reset(slot);
      const appIdLen = rec[off + R_APP_ID_LEN]!;
      const hostOff = fragOff + get16(rec, off + R_HOST_OFF);
      const a = this.#summarySlot(this.#apps, this.#appClock, rec, keyOff, appIdLen + 1);
      const h = this.#summarySlot(this.#hosts, this.#hostClock, rec, keyOff + appIdLen + 1, keyLen - appIdLen - 3);
      const v = this.#counts.versionId(a, verJson);
      inst.cols[APP]![slot] = a;
      inst.cols[HOST]![slot] = h;
      inst.cols[VER]![slot] = v;
      const newPair = this.#counts.add(h, a, v, rec.subarray(hostOff, hostOff + get16(rec, off + R_HOST_LEN)));
      this.#recordHistory(rec.subarray(keyOff, keyOff + keyLen), rec.subarray(fragOff, fragOff + get16(rec, off + R_FRAG_LEN)), null, time);
      if (newPair) {
        // host|app_id| : lets a host's history be found after its instances are gone.
        const hostKey = rec.subarray(keyOff + appIdLen + 1, keyOff + keyLen - 2);
        this.#hostApps.push(Buffer.concat([hostKey, rec.subarray(keyOff, keyOff + appIdLen + 1)]));
      }
    } else {
      const a = inst.cols[APP]![slot]!;
      const from = inst.cols[VER]![slot]!;
      const to = this.#counts.versionId(a, verJson);
      if (to !== from) {
        prevVer = this.#counts.version(from).json;
        this.#counts.changeVersion(a, from, to, (inst.cols[FLAGS]![slot]! & STALE) !== 0);
        inst.cols[VER]![slot] = to;
        this.#recordHistory(rec.subarray(keyOff, keyOff + keyLen), rec.subarray(fragOff, fragOff + get16(rec, off + R_FRAG_LEN)), prevVer, time);
      }
    }
    const a = inst.cols[APP]![slot]!;
    const appName = rec.subarray(fragOff + FRAG_APP_OFF, fragOff + FRAG_APP_OFF + get16(rec, off + R_APP_LEN));
    const known = this.#appNames.get(a);
    if (known === undefined || Buffer.compare(known, appName) !== 0) {
      // The app's display name follows its latest update.
      this.#appNames.set(a, Buffer.from(appName));
      this.#counts.dirtyApps.add(a);
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
    if (previous !== 0) {
      this.#arenaGarbage += this.#arenaRecordLength(previous - 1);
      // Garbage now: a compaction while growing must not keep it.
      inst.cols[PENDING]![slot] = 0;
    } else {
      this.#pendingSlots++;
    }
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

  /**
   * Queues the history entry of a first sight (prevVer null) or a version
   * change, from the record: the value is the stored fragment, whose tail
   * `"last_update":` gives way to `"prev_ver":…,"time":T}`. No parsing: a
   * storm of first sights makes one per update.
   */
  #recordHistory(key: Uint8Array, frag: Uint8Array, prevVer: Uint8Array | null, time: number): void {
    const head = frag.subarray(0, frag.length - LAST_UPDATE_TAIL.length);
    const tail = Buffer.from(`","time":${time}}`);
    if (prevVer === null) this.#history.push(historyKey(key, time), head, PREV_NULL, tail.subarray(1));
    else this.#history.push(historyKey(key, time), head, PREV_OPEN, prevVer, tail);
  }

  /** Removes an instance in memory; its LMDB records go at the next commit. */
  #forgetInstance(slot: number, reason: 'trim' | 'delete'): void {
    const inst = this.#inst;
    const h = inst.cols[HOST]![slot]!;
    const a = inst.cols[APP]![slot]!;
    const v = inst.cols[VER]![slot]!;
    const stale = (inst.cols[FLAGS]![slot]! & STALE) !== 0;
    this.#recordRemoval(slot, v);
    // Records it absorbed but never persisted were superseded by the removal:
    // they count as applied when the removal commits.
    this.#superseded += inst.cols[PENDING_N]![slot]!;
    this.#dropPending(slot);
    inst.remove(slot);
    this.#releaseAfterCommit.push({ index: inst, slot });
    if ((inst.cols[FLAGS]![slot]! & STORED) !== 0) this.#removals.push({ slot, reason });
    inst.cols[FLAGS]![slot] = 0;
    const { hostEmpty, appEmpty } = this.#counts.remove(h, a, v, stale);
    if (hostEmpty) {
      this.#hosts.remove(h);
      this.#releaseAfterCommit.push({ index: this.#hosts, slot: h });
    }
    if (appEmpty) {
      this.#apps.remove(a);
      this.#releaseAfterCommit.push({ index: this.#apps, slot: a });
    }
  }

  /** The history entry of a removal, from what memory knows of the instance. */
  #recordRemoval(slot: number, version: number): void {
    const key = this.#inst.keyOf(slot);
    const { parts: [appId, host] } = splitKey(key, 2);
    const time = Math.max(Math.floor(Date.now() / 1000), this.#instClock.get(slot));
    const entry: HistoryEntry = {
      app: (this.#appNames.get(this.#inst.cols[APP]![slot]!) ?? EMPTY).toString('utf8'),
      app_id: appId!,
      host: host!,
      instance: (key[key.length - 2]! << 8) | key[key.length - 1]!,
      ver: null,
      prev_ver: jsonString(this.#counts.version(version).json),
      host_ip: null,
      time,
    };
    this.#history.push(historyKey(key, time), historyValue(entry));
  }

  /** Removes every live instance a selector matches (DELETE endpoints); returns how many. */
  #removeSelected(sel: Selector): number {
    const inst = this.#inst;
    const a = sel.appId === undefined ? -1 : this.#findKey(this.#apps, buildKey([sel.appId]));
    const h = sel.host === undefined ? -1 : this.#findKey(this.#hosts, buildKey([sel.host]));
    if ((sel.appId !== undefined && a < 0) || (sel.host !== undefined && h < 0)) return 0;
    let n = 0;
    for (let s = 0; s < inst.highWater; s++) {
      if (inst.state[s] !== SlotState.live) continue;
      if (a >= 0 && inst.cols[APP]![s] !== a) continue;
      if (h >= 0 && inst.cols[HOST]![s] !== h) continue;
      if (sel.instance !== undefined) {
        const key = inst.keyOf(s);
        if (((key[key.length - 2]! << 8) | key[key.length - 1]!) !== sel.instance) continue;
      }
      this.#forgetInstance(s, 'delete');
      n++;
    }
    return n;
  }

  /** Moves an instance's clock (and its host's and app's) forward to time. */
  #touch(slot: number, time: number): void {
    const inst = this.#inst;
    if ((inst.cols[FLAGS]![slot]! & STALE) !== 0) {
      inst.cols[FLAGS]![slot]! &= ~STALE;
      this.#counts.setStale(inst.cols[HOST]![slot]!, inst.cols[APP]![slot]!, inst.cols[VER]![slot]!, false);
    }
    this.#instClock.advance(slot, time);
    this.#hostClock.advance(inst.cols[HOST]![slot]!, time);
    this.#appClock.advance(inst.cols[APP]![slot]!, time);
  }

  /** Forgets every instance; the next commit empties LMDB first. */
  #clearMemory(): void {
    // Records absorbed but never persisted count as applied when the clear commits.
    const inst = this.#inst;
    for (let s = 0; s < inst.highWater; s++) this.#superseded += inst.cols[PENDING_N]![s]!;
    this.#inst = new KeyIndex(INSTANCE_COLUMNS, 1 << 16);
    this.#hosts = new KeyIndex(SUMMARY_COLUMNS);
    this.#apps = new KeyIndex(SUMMARY_COLUMNS);
    this.#counts = new FleetCounts(this.#hosts, this.#apps);
    this.#instClock.clear();
    this.#hostClock.clear();
    this.#appClock.clear();
    this.#appNames = new Map();
    this.#history.clear();
    this.#hostApps = [];
    this.#staleEvents = [];
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
   * Once a second: removes (in memory) every instance older than the trim
   * window, and marks stale every instance not updated for --stale seconds.
   * Returns how many instances changed.
   */
  sweep(nowSeconds: number): number {
    const trimCutoff = this.#trimSeconds > 0 ? nowSeconds - this.#trimSeconds : -1;
    const staleCutoff = this.#staleSeconds > 0 ? nowSeconds - this.#staleSeconds : -1;
    if (trimCutoff < 0 && staleCutoff < 0) return 0;
    const inst = this.#inst;
    const ts = this.#instClock.ts;
    const flags = inst.cols[FLAGS]!;
    let n = 0;
    for (let s = 0; s < inst.highWater; s++) {
      if (inst.state[s] !== SlotState.live) continue;
      const t = ts[s]!;
      if (t < trimCutoff) {
        this.#forgetInstance(s, 'trim');
        n++;
      } else if (t < staleCutoff && (flags[s]! & STALE) === 0) {
        flags[s]! |= STALE;
        this.#counts.setStale(inst.cols[HOST]![s]!, inst.cols[APP]![s]!, inst.cols[VER]![s]!, true);
        if (this.#eventsWanted) this.#staleEvents.push({ type: 'stale', version: this.#memoryVersion(s) });
        n++;
      }
    }
    return n;
  }

  /** What memory knows of an instance as a version-object-like event payload. */
  #memoryVersion(slot: number): Record<string, unknown> {
    const key = this.#inst.keyOf(slot);
    const { parts: [appId, host] } = splitKey(key, 2);
    return {
      app: (this.#appNames.get(this.#inst.cols[APP]![slot]!) ?? EMPTY).toString('utf8'),
      app_id: appId,
      host,
      instance: (key[key.length - 2]! << 8) | key[key.length - 1]!,
      ver: jsonString(this.#counts.version(this.#inst.cols[VER]![slot]!).json),
      last_update: this.#instClock.get(slot),
      status: 'stale',
    };
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
      this.#history.length > 0 || this.#counts.dirtyApps.size > 0 || this.#counts.dirtyHosts.size > 0;
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
   * priority instance, up to `size` queued instances and history entries,
   * the dirty summaries, and (when due, or `final`) the clocks. If LMDB
   * refuses, this throws and nothing changes: the next commit tries again.
   */
  commit(nowMs: number, final = false, size = PERSIST_BATCH): CommitResult {
    const inst = this.#inst;
    const persistClock = final || nowMs - this.#lastClockPersist >= this.#clockPersistMs;
    const batch = this.#priority.slice();
    const prioritized = new Set(batch);
    let take = this.#queueHead;
    const end = Math.min(this.#queue.length, this.#queueHead + size);
    for (; take < end; take++) {
      const slot = this.#queue[take]!;
      if (!prioritized.has(slot)) batch.push(slot);
    }
    const removals = this.#removals;
    const historyCount = Math.min(this.#history.length, size);
    const events: ChangeEvent[] = [];
    let written = 0;
    let removed = 0;
    let pruned: Buffer | null | undefined;
    const writtenSlots: number[] = [];

    this.#env.transactionSync(() => {
      if (this.#clearPending) {
        for (const db of [this.#instDb, this.#byhostDb, this.#byverDb, this.#appsDb, this.#hostsDb, this.#clockDb, this.#historyDb, this.#histhostDb, this.#appversDb]) db.clearSync();
        if (this.#eventsWanted) events.push({ type: 'cleared' });
      }
      for (const r of removals) if (this.#deleteInstance(inst.keyOf(r.slot), r.reason, events)) removed++;
      for (const slot of batch) {
        if (inst.state[slot] !== SlotState.live || inst.cols[PENDING]![slot] === 0) continue;
        this.#writeInstance(slot, events);
        writtenSlots.push(slot);
        written++;
      }
      this.#history.peek(historyCount, (key, value) => this.#historyDb.putSync(key, value));
      for (const key of this.#hostApps) this.#histhostDb.putSync(key, EMPTY);
      this.#writeSummaries();
      if (persistClock) this.#writeClocks();
      if (this.#historySeconds > 0) pruned = this.#pruneHistory(Math.floor(nowMs / 1000) - this.#historySeconds);
    }, SYNC_FLAGS);

    // Committed: now memory may move on.
    let applied = this.#pendingControl + this.#superseded;
    this.#pendingControl = 0;
    this.#superseded = 0;
    this.#clearPending = false;
    for (const slot of writtenSlots) {
      applied += inst.cols[PENDING_N]![slot]!;
      this.#dropPending(slot);
      // Stored now; no longer queued. Staleness is not about storage: it stays.
      inst.cols[FLAGS]![slot] = STORED | (inst.cols[FLAGS]![slot]! & STALE);
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
    this.#history.drop(historyCount);
    this.#hostApps = [];
    if (pruned !== undefined) this.#pruneFrom = pruned;
    if (this.#eventsWanted) events.push(...this.#staleEvents);
    this.#staleEvents = [];
    if (persistClock) {
      applied += this.#pendingClockOnly;
      this.#pendingClockOnly = 0;
      this.#lastClockPersist = nowMs;
    }
    this.#lastCommit = nowMs;
    for (const { index, slot } of this.#releaseAfterCommit) index.release(slot);
    this.#releaseAfterCommit = [];
    this.#counts.dirtyApps.clear();
    this.#counts.dirtyHosts.clear();
    const ackSeq = this.#ackSeq;
    this.#ackSeq = 0;
    const results = this.#results;
    this.#results = [];
    return { applied, ackSeq, written, removed, events, results };
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

  /** Rewrites the dirty app and host summaries (and app version counts); deletes emptied ones. */
  #writeSummaries(): void {
    const apps = this.#apps;
    const hosts = this.#hosts;
    for (const a of this.#counts.dirtyApps) {
      const key = Buffer.from(apps.keyOf(a));
      if (apps.state[a] !== SlotState.live) {
        this.#appsDb.removeSync(key);
        this.#appversDb.removeSync(key);
        continue;
      }
      const counts = { peers: apps.cols[PEERS]![a]!, instances: apps.cols[INSTANCES]![a]!, stale: apps.cols[STALE_COUNT]![a]! };
      const appId = key.subarray(0, key.length - 1).toString('latin1');
      this.#appsDb.putSync(key, appSummaryValue(a, this.#appNames.get(a) ?? EMPTY, appId, counts, this.#appClock.get(a)));
      this.#appversDb.putSync(key, versionsJson(this.#counts.versionsOf(a)));
    }
    for (const [h, knownName] of this.#counts.dirtyHosts) {
      const key = Buffer.from(hosts.keyOf(h));
      if (hosts.state[h] !== SlotState.live) {
        this.#hostsDb.removeSync(key);
        continue;
      }
      const stored = knownName === null ? this.#hostsDb.getBinary(key) : undefined;
      const name = knownName ?? (stored === undefined ? EMPTY : Buffer.from(summaryName(stored, HOST_FRAG_HEAD)));
      const counts = { peers: hosts.cols[PEERS]![h]!, instances: hosts.cols[INSTANCES]![h]!, stale: hosts.cols[STALE_COUNT]![h]! };
      this.#hostsDb.putSync(key, hostSummaryValue(h, name, counts, this.#hostClock.get(h)));
    }
  }

  /**
   * Deletes history entries older than cutoff, examining at most
   * PRUNE_BATCH entries from where the last call stopped. Returns where the
   * next call resumes (null: start over).
   */
  #pruneHistory(cutoff: number): Buffer | null {
    let examined = 0;
    let last: Buffer | null = null;
    const old: Buffer[] = [];
    for (const key of this.#historyDb.getKeys({ start: this.#pruneFrom ?? undefined, limit: PRUNE_BATCH })) {
      examined++;
      last = key;
      if (historyTime(key) < cutoff) old.push(Buffer.from(key));
    }
    for (const key of old) this.#historyDb.removeSync(key);
    if (examined < PRUNE_BATCH || last === null) return null;
    // Resume just after the last key examined.
    return Buffer.concat([last, Buffer.from([0])]);
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
