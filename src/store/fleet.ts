// The fleet in memory: what the writer thread knows of every instance, host
// and app, and what changed since the last cut (change-set.ts).
//
// apply() takes a ring record in about a microsecond, whatever it says:
//
// - a repeated update (same key, same content fingerprint, which covers the
//   labels) moves three entries of the shared clocks (instance, host, app),
//   which the query side reads directly; no LMDB work until the clocks are
//   next persisted;
// - anything else (a new instance, a changed version or address, an HTTP
//   update) becomes the instance's pending state (pending.ts: the latest
//   record, one per instance however many arrive); counts change in memory;
//   first sights, version changes and changes of labels become history
//   entries; labels are counted per app and host (label-sets.ts);
// - removals (--trim, DELETE) and clear are resolved in memory too;
// - in cluster mode, changes other nodes committed go through the conflict
//   rule first (fleet-remote.ts).
//
// cut() turns the change set into one write batch (cut.ts). The writer
// thread hands the batch to the commit thread and goes on absorbing;
// committed(id) is called when the batch is durable (slots of removed
// instances become reusable). The loader (loader.ts) fills a fresh fleet
// from LMDB.

import {
  FRAG_APP_OFF,
  RECORD_HEADER,
  RecordFlag,
  RecordType,
  R_APP_ID_LEN,
  R_APP_LEN,
  R_FLAGS,
  R_FRAG_HASH_A,
  R_FRAG_HASH_B,
  R_HOST_LEN,
  R_HOST_OFF,
  R_IP_LEN,
  R_KEY_HASH,
  R_KEY_LEN,
  R_LABELS_LEN,
  R_SEQ,
  R_TIME,
  R_TYPE,
  R_VER_LEN,
  R_VER_OFF,
  get16,
  get32,
  getI32,
  labelsOffset,
} from '../ingest/record.js';
import { hash32 } from '../ingest/hash.js';
import type { ClusterState } from '../cluster/remote.js';
import { recordLength } from '../cluster/wire.js';
import { ChangeSet, type Release } from './change-set.js';
import { type Cut, type CutOptions, cutBatch, newOutbox } from './cut.js';
import { BUCKET, FleetCounts, SUMMARY_COLUMNS } from './fleet-counts.js';
import { RemoteChanges } from './fleet-remote.js';
import { EntryFlag, hostBucket } from './history.js';
import {
  APP,
  CLUSTER_COLUMNS,
  CTIME,
  DIRTY,
  FLAGS,
  FRAG_A,
  FRAG_B,
  HOST,
  INSTANCE_COLUMNS,
  LABELS,
  ORIGIN,
  PENDING,
  PENDING_N,
  SINCE,
  STALE,
  STORED,
  VER,
} from './instance-columns.js';
import { KeyIndex, SlotState } from './key-index.js';
import { LabelSets } from './label-sets.js';
import { buildKey } from './keys.js';
import { ClockKind } from './layout.js';
import { PendingRecords } from './pending.js';
import { decodeSelector, type Selector } from './selector.js';
import { SlotClock, type ClockBuffers } from './slot-clock.js';
import { keyPartJson } from './summaries.js';

export type { Cut, CutOptions } from './cut.js';

export interface FleetOptions {
  /** Remove instances not updated for this many seconds (0 = keep forever). */
  trimSeconds: number;
  /** An instance not updated for this many seconds is stale (0 = never). */
  staleSeconds?: number;
  /** Keep history this many days (0 = forever). */
  historyDays?: number;
  /** How often the clocks (last_update of repeated updates) are persisted. */
  clockPersistMs?: number;
  /** Cluster mode (src/cluster): the conflict rule, the outbox and liveness. */
  cluster?: ClusterState;
}

const EMPTY = Buffer.alloc(0);
/** Bytes between a fragment's host and its host_ip: `","host_ip":"`. */
const HOST_IP_GAP = 13;

export class Fleet {
  readonly #trimSeconds: number;
  readonly #staleSeconds: number;
  readonly #historySeconds: number;
  readonly #clockPersistMs: number;
  readonly instClock: SlotClock;
  readonly hostClock: SlotClock;
  readonly appClock: SlotClock;
  /** Cluster mode: the conflict rule, the outbox and liveness (null on a single node). */
  readonly cluster: ClusterState | null;

  inst: KeyIndex;
  hosts = new KeyIndex(SUMMARY_COLUMNS);
  apps = new KeyIndex(SUMMARY_COLUMNS);
  counts = new FleetCounts(this.hosts, this.apps);
  labels = new LabelSets();
  /** App display names (JSON string content) by app slot. */
  appNames: (Buffer | undefined)[] = [];
  /** What changed since the last cut. */
  readonly #set: ChangeSet;
  /** Field offsets of the record a history entry is built from (HistoryLog.pushFields). */
  readonly #fields = new Int32Array(14);
  /** Per batch on its way: the slots it removed, reusable once it is committed. */
  readonly #releasesByBatch = new Map<number, Release[]>();
  #lastClockCut = 0;
  #nextBatch = 1;
  eventsWanted = false;
  readonly #instColumns: number;
  readonly #remote: RemoteChanges | null = null;

  constructor(options: FleetOptions, clocks: ClockBuffers) {
    this.#trimSeconds = options.trimSeconds;
    this.#staleSeconds = options.staleSeconds ?? 0;
    this.#historySeconds = (options.historyDays ?? 0) * 86400;
    this.#clockPersistMs = options.clockPersistMs ?? 2000;
    this.instClock = new SlotClock(ClockKind.instance, clocks.instance);
    this.hostClock = new SlotClock(ClockKind.host, clocks.host);
    this.appClock = new SlotClock(ClockKind.app, clocks.app);
    this.cluster = options.cluster ?? null;
    this.#instColumns = INSTANCE_COLUMNS + (this.cluster === null ? 0 : CLUSTER_COLUMNS);
    this.inst = new KeyIndex(this.#instColumns, 1 << 16);
    this.#set = new ChangeSet(this.inst);
    if (this.cluster !== null) {
      this.#set.outbox = newOutbox(this.cluster);
      this.#remote = new RemoteChanges(this.cluster, {
        inst: () => this.inst,
        changes: this.#set,
        update: (rec, off, origin) => this.#applyUpdate(rec, off, origin),
        touch: (slot, time) => this.#touch(slot, time),
      });
    }
  }

  /** Live instances, hosts and apps (including what is not committed yet). */
  get size(): { instances: number; hosts: number; apps: number } {
    return { instances: this.inst.size, hosts: this.hosts.size, apps: this.apps.size };
  }

  /** Instances changed since the last cut, and the bytes they hold. */
  get backlog(): { instances: number; bytes: number } {
    return { instances: this.#set.pending.count, bytes: this.#set.pending.bytes + this.#set.history.bytes };
  }

  /** Whether the next cut has anything to write, and whether a client waits for it. */
  get pendingWork(): { any: boolean; urgent: boolean; oldestMs: number } {
    const set = this.#set;
    const any = set.any || this.counts.dirtyApps.size > 0 || this.counts.dirtyHosts.size > 0;
    return { any, urgent: set.urgent, oldestMs: set.oldestMs };
  }

  /** Whether the clocks are due to be persisted. */
  clocksDue(nowMs: number): boolean {
    const dirty = this.instClock.dirtyCount + this.hostClock.dirtyCount + this.appClock.dirtyCount > 0;
    return (dirty || this.#set.clockOnly > 0) && nowMs - this.#lastClockCut >= this.#clockPersistMs;
  }

  /** The next batch id (set by the loader from meta). */
  set nextBatch(id: number) {
    this.#nextBatch = id;
  }

  // --- absorbing records ------------------------------------------------------

  /** Takes one ring record at rec[off] (its length, as the ring gives it, is in the record too); afterwards its ring space may be reused. */
  apply(rec: Uint8Array, off: number, length?: number): void {
    const type = rec[off + R_TYPE];
    if (type === RecordType.update) {
      // Remote records take a way of their own (fleet-remote.ts): #applyUpdate stays as small as on a single node.
      if ((rec[off + R_FLAGS]! & RecordFlag.remote) !== 0) this.#remote?.update(rec, off, length);
      else this.#applyUpdate(rec, off, 0);
      return;
    }
    if (type === RecordType.touch) {
      this.#remote?.digest(rec, off);
      return;
    }
    const seq = get32(rec, off + R_SEQ);
    this.#set.noteSeq(seq);
    this.#set.control++;
    const cluster = this.cluster;
    const remote = cluster !== null && (rec[off + R_FLAGS]! & RecordFlag.remote) !== 0;
    // A local removal or clear travels to the other nodes with the batch that commits it.
    if (cluster !== null && !remote) this.#set.outbox!.add(rec, off, recordLength(rec, off));
    if (type === RecordType.clear) {
      this.#clear();
    } else if (type === RecordType.remove) {
      const keyLen = get16(rec, off + R_KEY_LEN);
      const sel = decodeSelector(rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen));
      let n: number;
      if (cluster === null) {
        n = this.#removeSelected(sel);
      } else {
        // The conflict rule (cluster/remote.ts): a removal takes only what is older than itself.
        const time = get32(rec, off + R_TIME);
        const origin = remote ? cluster.recordOrigin(rec, off) : 0;
        const ctime = this.inst.cols[CTIME]!;
        const from = this.inst.cols[ORIGIN]!;
        n = this.#removeSelected(sel, remote ? (s) => cluster.compare(ctime[s]!, from[s]!, time, origin) <= 0 : undefined);
        cluster.addTombstone(sel, time, origin);
      }
      this.#set.results.push([seq, n]);
    }
  }

  /** Cluster: the instance's content is now (time, origin); a local change goes to the outbox. */
  #setContent(slot: number, time: number, origin: number, rec: Uint8Array, off: number): void {
    this.inst.cols[CTIME]![slot] = time;
    this.inst.cols[ORIGIN]![slot] = origin;
    if (origin !== 0) this.cluster!.liveness.heard(slot, time);
    else this.#set.outbox!.add(rec, off, recordLength(rec, off));
  }

  // --- updates ---------------------------------------------------------------

  /** An update record from `origin` (0: this node); returns the instance's slot. */
  #applyUpdate(rec: Uint8Array, off: number, origin: number): number {
    const inst = this.inst;
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
      this.#set.clockOnly++;
      return slot;
    }
    const fragOff = keyOff + keyLen;
    const verOff = fragOff + get16(rec, off + R_VER_OFF);
    const verEnd = verOff + get16(rec, off + R_VER_LEN);
    const appIdLen = rec[off + R_APP_ID_LEN]!;
    if (slot < 0) {
      slot = inst.insert(rec, keyOff, keyLen, keyHash);
      this.instClock.reset(slot);
      const a = this.#summarySlot(this.apps, this.appClock, rec, keyOff, appIdLen + 1);
      const h = this.#hostSlot(rec, keyOff + appIdLen + 1, keyLen - appIdLen - 3);
      const v = this.counts.versionId(a, rec, verOff, verEnd);
      inst.cols[APP]![slot] = a;
      inst.cols[HOST]![slot] = h;
      inst.cols[VER]![slot] = v;
      inst.cols[SINCE]![slot] = time;
      this.counts.add(h, a, v);
      const l = this.#labelSet(rec, off);
      inst.cols[LABELS]![slot] = l;
      this.labels.add(h, a, l);
      this.#recordChange(slot, rec, off, fragOff, null, time);
    } else {
      const a = inst.cols[APP]![slot]!;
      const from = inst.cols[VER]![slot]!;
      const to = this.counts.versionId(a, rec, verOff, verEnd);
      const relabelled = this.#relabel(slot, rec, off);
      if (to !== from) {
        const prevVer = this.counts.version(from).json;
        this.counts.changeVersion(a, from, to, (inst.cols[FLAGS]![slot]! & STALE) !== 0);
        inst.cols[VER]![slot] = to;
        inst.cols[SINCE]![slot] = time;
        this.#recordChange(slot, rec, off, fragOff, prevVer, time);
      } else if (relabelled) {
        // Same version, other labels: an entry with prev_ver = ver.
        this.#recordChange(slot, rec, off, fragOff, this.counts.version(to).json, time, EntryFlag.labels);
      }
    }
    const a = inst.cols[APP]![slot]!;
    const appAt = fragOff + FRAG_APP_OFF;
    const appLen = get16(rec, off + R_APP_LEN);
    const known = this.appNames[a];
    if (known === undefined || !bytesEqualAt(known, rec, appAt, appLen)) {
      // The app's display name follows its latest update.
      this.appNames[a] = Buffer.from(rec.subarray(appAt, appAt + appLen));
      this.counts.dirtyApps.add(a);
    }
    inst.cols[FRAG_A]![slot] = fa;
    inst.cols[FRAG_B]![slot] = fb;
    if (this.cluster !== null) this.#setContent(slot, time, origin, rec, off);
    this.#touch(slot, time);
    this.#set.pending.set(slot, rec, off);
    inst.cols[PENDING_N]![slot]!++;
    if ((inst.cols[FLAGS]![slot]! & DIRTY) === 0) {
      inst.cols[FLAGS]![slot]! |= DIRTY;
      this.#set.dirty.push(slot);
    }
    if (this.#set.oldestMs === 0) this.#set.oldestMs = Date.now();
    if (http) this.#set.noteSeq(get32(rec, off + R_SEQ));
    return slot;
  }

  /**
   * A first sight (prevVer null) or version change: counted, and a history
   * entry built from the record (history.ts: no parsing).
   */
  #recordChange(slot: number, rec: Uint8Array, off: number, fragOff: number, prevVer: Uint8Array | null, time: number, flags = 0): void {
    this.#set.changes++;
    const keyOff = off + RECORD_HEADER;
    const keyLen = get16(rec, off + R_KEY_LEN);
    const hostOff = fragOff + get16(rec, off + R_HOST_OFF);
    const hostLen = get16(rec, off + R_HOST_LEN);
    const f = this.#fields;
    f[0] = keyOff; // app_id
    f[1] = rec[off + R_APP_ID_LEN]!;
    f[2] = fragOff + FRAG_APP_OFF; // app
    f[3] = get16(rec, off + R_APP_LEN);
    f[4] = hostOff; // host
    f[5] = hostLen;
    f[6] = fragOff + get16(rec, off + R_VER_OFF); // ver
    f[7] = get16(rec, off + R_VER_LEN);
    f[10] = hostOff + hostLen + HOST_IP_GAP; // host_ip: `","host_ip":"` follows the host
    f[11] = rec[off + R_IP_LEN]!;
    f[12] = labelsOffset(rec, off); // labels (the record's: the instance's now)
    f[13] = get16(rec, off + R_LABELS_LEN);
    const instance = (rec[keyOff + keyLen - 2]! << 8) | rec[keyOff + keyLen - 1]!;
    const app = this.inst.cols[APP]![slot]!;
    const bucket = this.hosts.cols[BUCKET]![this.inst.cols[HOST]![slot]!]!;
    this.#set.history.pushFields(app, bucket, time, instance, prevVer === null ? EntryFlag.first : flags, rec, f, prevVer ?? EMPTY);
  }

  /** The slot of a host key (rec[at, at+len)), added (with its history bucket) if new. */
  #hostSlot(rec: Uint8Array, at: number, len: number): number {
    const known = this.hosts.size;
    const h = this.#summarySlot(this.hosts, this.hostClock, rec, at, len);
    if (this.hosts.size !== known) this.hosts.cols[BUCKET]![h] = hostBucket(rec.subarray(at, at + len));
    return h;
  }

  /** The label set id of an update record's labels (0: none). */
  #labelSet(rec: Uint8Array, off: number): number {
    const len = get16(rec, off + R_LABELS_LEN);
    if (len === 0) return 0;
    const at = labelsOffset(rec, off);
    return this.labels.idOf(rec.subarray(at, at + len));
  }

  /** Takes an update's labels for a known instance; true when they changed (counted, summaries dirty). */
  #relabel(slot: number, rec: Uint8Array, off: number): boolean {
    const inst = this.inst;
    const from = inst.cols[LABELS]![slot]!;
    const to = this.#labelSet(rec, off);
    if (to === from) return false;
    const h = inst.cols[HOST]![slot]!;
    const a = inst.cols[APP]![slot]!;
    this.labels.add(h, a, to);
    this.labels.remove(h, a, from);
    inst.cols[LABELS]![slot] = to;
    this.counts.dirtyApps.add(a);
    this.counts.dirtyHosts.add(h);
    return true;
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

  /** Moves an instance's clock (and its host's and app's) forward to time. */
  #touch(slot: number, time: number): void {
    const inst = this.inst;
    if ((inst.cols[FLAGS]![slot]! & STALE) !== 0) {
      inst.cols[FLAGS]![slot]! &= ~STALE;
      this.counts.setStale(inst.cols[HOST]![slot]!, inst.cols[APP]![slot]!, inst.cols[VER]![slot]!, false);
    }
    this.instClock.advance(slot, time);
    this.hostClock.advance(inst.cols[HOST]![slot]!, time);
    this.appClock.advance(inst.cols[APP]![slot]!, time);
  }

  // --- removals -------------------------------------------------------------

  /** Removes an instance in memory; its LMDB record goes in the next batch. */
  #forget(slot: number, reason: 'trim' | 'delete'): void {
    const inst = this.inst;
    const h = inst.cols[HOST]![slot]!;
    const a = inst.cols[APP]![slot]!;
    const v = inst.cols[VER]![slot]!;
    const flags = inst.cols[FLAGS]![slot]!;
    this.#recordRemoval(slot, v, reason);
    this.labels.remove(h, a, inst.cols[LABELS]![slot]!);
    inst.cols[LABELS]![slot] = 0;
    // Records it absorbed but never wrote were superseded by the removal:
    // they count as applied when the removal commits.
    this.#set.superseded += inst.cols[PENDING_N]![slot]!;
    inst.cols[PENDING_N]![slot] = 0;
    this.#set.pending.drop(slot);
    inst.remove(slot);
    this.#set.releases.push({ index: inst, slot });
    this.#set.removals.push({ slot, stored: (flags & STORED) !== 0 });
    // Still in the dirty list (if it was): the cut skips removed slots.
    inst.cols[FLAGS]![slot] = flags & DIRTY;
    const { hostEmpty, appEmpty } = this.counts.remove(h, a, v, (flags & STALE) !== 0);
    if (hostEmpty) {
      this.hosts.remove(h);
      this.#set.releases.push({ index: this.hosts, slot: h });
    }
    if (appEmpty) {
      this.apps.remove(a);
      this.#set.releases.push({ index: this.apps, slot: a });
    }
  }

  /** The history entry of a removal, from what memory knows of the instance. */
  #recordRemoval(slot: number, version: number, reason: 'trim' | 'delete'): void {
    this.#set.noteChange();
    const key = this.inst.keyOf(slot);
    const a = this.inst.cols[APP]![slot]!;
    const appEnd = key.indexOf(0);
    this.#set.history.push(
      a,
      this.hosts.cols[BUCKET]![this.inst.cols[HOST]![slot]!]!,
      Math.max(Math.floor(Date.now() / 1000), this.instClock.get(slot)),
      (key[key.length - 2]! << 8) | key[key.length - 1]!,
      EntryFlag.removed | (reason === 'trim' ? EntryFlag.trimmed : 0),
      key.subarray(0, appEnd),
      this.appNames[a] ?? EMPTY,
      keyPartJson(key, appEnd + 1),
      EMPTY,
      this.counts.version(version).json,
      EMPTY,
      this.labels.json(this.inst.cols[LABELS]![slot]!),
    );
  }

  /** Removes every live instance a selector matches (DELETE endpoints); returns how many. */
  #removeSelected(sel: Selector, older?: (slot: number) => boolean): number {
    const inst = this.inst;
    const findKey = (index: KeyIndex, key: Uint8Array): number => index.find(key, 0, key.length, hash32(key, 0, key.length));
    const a = sel.appId === undefined ? -1 : findKey(this.apps, buildKey([sel.appId]));
    const h = sel.host === undefined ? -1 : findKey(this.hosts, buildKey([sel.host]));
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
      if (older !== undefined && !older(s)) continue;
      this.#forget(s, 'delete');
      n++;
    }
    return n;
  }

  /** Forgets every instance; the next batch empties LMDB first. */
  #clear(): void {
    // Records absorbed but never written count as applied when the clear commits.
    const inst = this.inst;
    for (let s = 0; s < inst.highWater; s++) this.#set.superseded += inst.cols[PENDING_N]![s]!;
    this.inst = new KeyIndex(this.#instColumns, 1 << 16);
    this.hosts = new KeyIndex(SUMMARY_COLUMNS);
    this.apps = new KeyIndex(SUMMARY_COLUMNS);
    this.counts = new FleetCounts(this.hosts, this.apps);
    this.labels = new LabelSets();
    this.#set.pending = new PendingRecords(this.inst, PENDING);
    this.instClock.clear();
    this.hostClock.clear();
    this.appClock.clear();
    this.appNames = [];
    this.#set.history.clear();
    this.#set.dirty = [];
    this.#set.removals = [];
    this.#set.staleSlots = [];
    // Slots of the old indexes: nothing to release any more.
    this.#set.releases = [];
    this.#releasesByBatch.clear();
    this.#set.clearPending = true;
    this.cluster?.liveness.reset();
  }

  // --- liveness -------------------------------------------------------------

  /**
   * Once a second: removes (in memory) every instance older than the trim
   * window, and marks stale every instance not updated for --stale seconds.
   * Returns how many instances changed.
   */
  sweep(nowSeconds: number): number {
    const trimCutoff = this.#trimSeconds > 0 ? nowSeconds - this.#trimSeconds : -1;
    const staleCutoff = this.#staleSeconds > 0 ? nowSeconds - this.#staleSeconds : -1;
    if (trimCutoff < 0 && staleCutoff < 0) return 0;
    const inst = this.inst;
    const ts = this.instClock.ts;
    const flags = inst.cols[FLAGS]!;
    let n = 0;
    for (let s = 0; s < inst.highWater; s++) {
      if (inst.state[s] !== SlotState.live) continue;
      const t = ts[s]!;
      if (t < trimCutoff) {
        this.#forget(s, 'trim');
        n++;
      } else if (t < staleCutoff && (flags[s]! & STALE) === 0) {
        flags[s]! |= STALE;
        this.counts.setStale(inst.cols[HOST]![s]!, inst.cols[APP]![s]!, inst.cols[VER]![s]!, true);
        if (this.eventsWanted) this.#set.staleSlots.push(s);
        n++;
      }
    }
    return n;
  }

  // --- cutting a batch --------------------------------------------------------

  /**
   * Everything changed since the last cut, as one write batch (cut.ts).
   * Memory moves on at once (the next changes go to the next batch); the
   * batch must be committed before any later one, and committed(id) called
   * after.
   */
  cut(nowMs: number, options: CutOptions = {}): Cut {
    const withClocks = options.clocks === true || this.clocksDue(nowMs);
    const pruneBefore = this.#historySeconds > 0 ? Math.floor(nowMs / 1000) - this.#historySeconds : 0;
    const cut = cutBatch(this, this.#set, this.#nextBatch++, nowMs, withClocks, pruneBefore, options);
    if (withClocks) this.#lastClockCut = nowMs;
    this.#releasesByBatch.set(cut.id, this.#set.releases);
    this.#set.reset();
    return cut;
  }

  /** A batch is durable: the slots it removed may be reused. */
  committed(id: number): void {
    const releases = this.#releasesByBatch.get(id);
    if (releases === undefined) return;
    this.#releasesByBatch.delete(id);
    for (const { index, slot } of releases) index.release(slot);
  }
}

/** Whether a equals src[at, at+len). */
function bytesEqualAt(a: Uint8Array, src: Uint8Array, at: number, len: number): boolean {
  if (a.length !== len) return false;
  for (let i = 0; i < len; i++) if (a[i] !== src[at + i]) return false;
  return true;
}
