// The fleet in memory: what the writer thread knows of every instance, host
// and app, and what changed since the last cut.
//
// apply() takes a ring record in about a microsecond, whatever it says:
//
// - a repeated update (same key, same content fingerprint, which covers the
//   labels) moves three
//   entries of the shared clocks (instance, host, app), which the query
//   side reads directly; no LMDB work until the clocks are next persisted;
// - anything else (a new instance, a changed version or address, an HTTP
//   update) becomes the instance's pending state (pending.ts: the latest
//   record, one per instance however many arrive); counts change in memory;
//   first sights, version changes and changes of labels become history
//   entries; labels are counted per app and host (label-sets.ts);
// - removals (--trim, DELETE) and clear are resolved in memory too.
//
// cut() turns everything changed since the last cut into one write batch
// (batch.ts): every pending instance, the removals, the history blocks,
// the dirty summaries and, when due, the clocks. A cut takes *all* of it,
// so the batch's summaries describe exactly the instances it writes: once
// it is committed, app/ and version/ agree. The writer thread hands the
// batch to the commit thread and goes on absorbing; committed(id) is called
// when the batch is durable (slots of removed instances become reusable).

import {
  FRAG_APP_OFF, RECORD_HEADER, RecordFlag, RecordType,
  R_APP_ID_LEN, R_APP_LEN, R_FLAGS, R_FRAG_HASH_A, R_FRAG_HASH_B, R_HOST_LEN, R_HOST_OFF,
  R_IP_LEN, R_KEY_HASH, R_KEY_LEN, R_LABELS_LEN, R_SEQ, R_TIME, R_TYPE, R_VER_LEN, R_VER_OFF, get16, get32, getI32, labelsOffset,
} from '../ingest/record.js';
import { hash32 } from '../ingest/hash.js';
import { applyDigest } from '../cluster/liveness.js';
import { recordBytes, remoteClock, type ClusterState } from '../cluster/remote.js';
import { outboxKey } from '../cluster/outbox.js';
import { WireKind, WireWriter, recordLength } from '../cluster/wire.js';
import { BatchWriter, ChangeKind, OpKind } from './batch.js';
import { BUCKET, FleetCounts, INSTANCES, PEERS, STALE as STALE_COUNT, SUMMARY_COLUMNS } from './fleet-counts.js';
import { EntryFlag, HistoryLog, blockKey, bucketPart, hostBucket } from './history.js';
import { KeyIndex, SlotState } from './key-index.js';
import { LabelSets } from './label-sets.js';
import { buildKey, splitKey } from './keys.js';
import { clusterTrailerLength, readClusterTrailer, valueLabels, verLength, verOffset, writeClusterTrailer } from './instance-value.js';
import { ClockKind, DbId, META, V_FP_A, V_FP_B, V_SINCE, V_SLOT, V_WRITTEN_AT } from './layout.js';
import { ENTRY_HEADER as PENDING_ENTRY_HEADER, PendingRecords } from './pending.js';
import { decodeSelector, type Selector } from './selector.js';
import { SlotClock, type ClockBuffers } from './slot-clock.js';
import { appSummaryValue, keyPartJson, putHostSummary, versionsJson } from './summaries.js';

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

/** One write batch and what it means, as handed to the commit thread. */
export interface Cut {
  /** Batch id: increasing, also the id of its history blocks. */
  id: number;
  buffer: ArrayBuffer;
  length: number;
  /** Operations in the batch. */
  ops: number;
  /** Highest HTTP/control sequence number it acknowledges (0 if none). */
  ackSeq: number;
  /** [seq, instances removed] of the DELETE requests it acknowledges. */
  results: [number, number][];
  /** Ring records this batch makes durable. */
  applied: number;
  /** Instance records written. */
  written: number;
  /** Instance records deleted. */
  removed: number;
  /** First sights, version changes and removals in it. */
  changes: number;
  /** When its oldest change was absorbed (ms since the epoch; 0: no change). */
  oldestMs: number;
  cutMs: number;
  /** History blocks older than this (unix s) may be pruned; 0 = keep all. */
  pruneBefore: number;
  /** A generous bound on the bytes LMDB may need to write it (the disk-space guard). */
  bytesBound: number;
}

export interface CutOptions {
  /** Include the clocks even if they are not due. */
  clocks?: boolean;
  /** A buffer to build the batch in (a recycled one), if large enough. */
  buffer?: ArrayBuffer;
  /** Called every few thousand items while cutting. */
  meanwhile?: () => void;
}

/** How often (items, minus one: a mask) a cut calls `meanwhile`. */
const MEANWHILE_EVERY = 4095;

// Instance columns.
const FRAG_A = 0;
const FRAG_B = 1;
const HOST = 2;
const APP = 3;
/** Offset+1 of the pending record in the arena; 0 = nothing pending. */
const PENDING = 4;
/** Records coalesced into the pending state (they count as applied when it is written). */
const PENDING_N = 5;
/** Bit 1: in LMDB (or in a batch on its way). Bit 2: in the dirty list. Bit 8: stale. */
const FLAGS = 6;
const STORED = 1;
const DIRTY = 2;
const STALE = 8;
/** The instance's version id (fleet-counts.ts). */
const VER = 7;
/** When the instance's version was first seen (unix s). */
const SINCE = 8;
/** The instance's label set id (label-sets.ts; 0 = no labels). */
const LABELS = 9;
const INSTANCE_COLUMNS = 10;
// Cluster mode only (two more columns): when the content was set (unix s)
// and by which node (an origin id of ClusterState; 0 = this node).
const CTIME = 10;
const ORIGIN = 11;
const CLUSTER_COLUMNS = 2;

const EMPTY = Buffer.alloc(0);
/** Bytes between a fragment's host and its host_ip: `","host_ip":"`. */
const HOST_IP_GAP = 13;
const utf8 = new TextDecoder();

interface Removal {
  slot: number;
  stored: boolean;
}

export class Fleet {
  readonly #trimSeconds: number;
  readonly #staleSeconds: number;
  readonly #historySeconds: number;
  readonly #clockPersistMs: number;
  readonly instClock: SlotClock;
  readonly hostClock: SlotClock;
  readonly appClock: SlotClock;

  inst = new KeyIndex(INSTANCE_COLUMNS, 1 << 16);
  hosts = new KeyIndex(SUMMARY_COLUMNS);
  apps = new KeyIndex(SUMMARY_COLUMNS);
  counts = new FleetCounts(this.hosts, this.apps);
  labels = new LabelSets();
  /** App display names (JSON string content) by app slot. */
  appNames: (Buffer | undefined)[] = [];
  #pending = new PendingRecords(this.inst, PENDING);
  /** Field offsets of the record a history entry is built from (HistoryLog.pushFields). */
  readonly #fields = new Int32Array(14);
  #dirty: number[] = [];
  #removals: Removal[] = [];
  #history = new HistoryLog();
  /** Instances that turned stale since the last cut (for the change feed). */
  #staleSlots: number[] = [];
  /** Results of DELETE requests absorbed since the last cut. */
  #results: [number, number][] = [];
  /** Slots removed since the last cut, and per batch on its way: reusable once that batch is committed. */
  #releases: { index: KeyIndex; slot: number }[] = [];
  readonly #releasesByBatch = new Map<number, { index: KeyIndex; slot: number }[]>();
  #clearPending = false;
  /** Repeated updates since the clocks were last put in a batch. */
  #clockOnly = 0;
  /** Control records (clear, delete) since the last cut. */
  #control = 0;
  /** Absorbed records whose pending state a removal or clear superseded. */
  #superseded = 0;
  #ackSeq = 0;
  #changes = 0;
  #oldestMs = 0;
  #lastClockCut = 0;
  #nextBatch = 1;
  eventsWanted = false;
  readonly #cluster: ClusterState | null;
  readonly #instColumns: number;
  /**
   * Cluster: this node's own changes since the last cut, in the order they
   * were absorbed (updates that changed something, removals, clears): the
   * batch's outbox entry, published once it is committed.
   */
  #outbox: WireWriter | null = null;
  #resyncMarked = false;
  /** Origin of the remote record being applied (0: a local one), and the slot it went to. */
  #remoteOrigin = 0;
  #remoteSlot = -1;

  constructor(options: FleetOptions, clocks: ClockBuffers) {
    this.#trimSeconds = options.trimSeconds;
    this.#staleSeconds = options.staleSeconds ?? 0;
    this.#historySeconds = (options.historyDays ?? 0) * 86400;
    this.#clockPersistMs = options.clockPersistMs ?? 2000;
    this.instClock = new SlotClock(ClockKind.instance, clocks.instance);
    this.hostClock = new SlotClock(ClockKind.host, clocks.host);
    this.appClock = new SlotClock(ClockKind.app, clocks.app);
    this.#cluster = options.cluster ?? null;
    this.#instColumns = INSTANCE_COLUMNS + (this.#cluster === null ? 0 : CLUSTER_COLUMNS);
    if (this.#cluster !== null) {
      this.inst = new KeyIndex(this.#instColumns, 1 << 16);
      this.#pending = new PendingRecords(this.inst, PENDING);
      this.#outbox = this.#newOutbox();
    }
  }

  /** Live instances, hosts and apps (including what is not committed yet). */
  get size(): { instances: number; hosts: number; apps: number } {
    return { instances: this.inst.size, hosts: this.hosts.size, apps: this.apps.size };
  }

  /** Instances changed since the last cut, and the bytes they hold. */
  get backlog(): { instances: number; bytes: number } {
    return { instances: this.#pending.count, bytes: this.#pending.bytes + this.#history.bytes };
  }

  /** Whether the next cut has anything to write, and whether a client waits for it. */
  get pendingWork(): { any: boolean; urgent: boolean; oldestMs: number } {
    const urgent = this.#control > 0 || this.#clearPending || this.#ackSeq > 0;
    const any = urgent || this.#dirty.length > 0 || this.#removals.length > 0 || this.#history.length > 0 ||
      this.counts.dirtyApps.size > 0 || this.counts.dirtyHosts.size > 0 || this.#staleSlots.length > 0;
    return { any, urgent, oldestMs: this.#oldestMs };
  }

  /** Whether the clocks are due to be persisted. */
  clocksDue(nowMs: number): boolean {
    const dirty = this.instClock.dirtyCount + this.hostClock.dirtyCount + this.appClock.dirtyCount > 0;
    return (dirty || this.#clockOnly > 0) && nowMs - this.#lastClockCut >= this.#clockPersistMs;
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
      // Remote records take a way of their own: #applyUpdate stays as small as on a single node.
      if ((rec[off + R_FLAGS]! & RecordFlag.remote) !== 0) this.#applyRemote(rec, off, length);
      else this.#applyUpdate(rec, off);
      return;
    }
    if (type === RecordType.touch) {
      this.#applyTouch(rec, off);
      return;
    }
    const seq = get32(rec, off + R_SEQ);
    if (seq > this.#ackSeq) this.#ackSeq = seq;
    this.#control++;
    const cluster = this.#cluster;
    const remote = cluster !== null && (rec[off + R_FLAGS]! & RecordFlag.remote) !== 0;
    // A local removal or clear travels to the other nodes with the batch that commits it.
    if (cluster !== null && !remote) this.#outbox!.add(rec, off, recordLength(rec, off));
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
      this.#results.push([seq, n]);
    }
  }

  // --- cluster: changes from other nodes ----------------------------------------

  /** Cluster: the instance's content is now (time, origin) of the record applied; a local change goes to the outbox. */
  #setContent(slot: number, time: number, rec: Uint8Array, off: number): void {
    this.inst.cols[CTIME]![slot] = time;
    this.inst.cols[ORIGIN]![slot] = this.#remoteOrigin;
    if (this.#remoteOrigin !== 0) {
      this.#cluster!.liveness.heard(slot, time);
      this.#remoteSlot = slot;
    } else {
      this.#outbox!.add(rec, off, recordLength(rec, off));
    }
  }

  /**
   * A change another node committed: applied like a local one (without its
   * origin trailer) if it wins the conflict rule (#admitRemote).
   */
  #applyRemote(rec: Uint8Array, off: number, length: number | undefined): void {
    const cluster = this.#cluster;
    if (cluster === null) return;
    const len = length ?? recordBytes(rec, off);
    const keyLen = get16(rec, off + R_KEY_LEN);
    const slot = this.inst.find(rec, off + RECORD_HEADER, keyLen, getI32(rec, off + R_KEY_HASH));
    const time = get32(rec, off + R_TIME);
    const origin = cluster.recordOrigin(rec, off);
    const clock = remoteClock(rec, off, len);
    if (!this.#admitRemote(slot, rec, off, time, origin, getI32(rec, off + R_FRAG_HASH_A), getI32(rec, off + R_FRAG_HASH_B))) {
      // A snapshot's or resync's instance was heard from later than its content time.
      if (clock > time && slot >= 0) this.#remoteTouch(slot, clock);
      return;
    }
    this.#remoteOrigin = origin;
    this.#remoteSlot = -1;
    try {
      this.#applyUpdate(rec, off);
    } finally {
      this.#remoteOrigin = 0;
    }
    if (clock > time && this.#remoteSlot >= 0) this.#remoteTouch(this.#remoteSlot, clock);
  }

  /** A clock that a peer moved: not to be told again in this node's digests. */
  #remoteTouch(slot: number, time: number): void {
    this.#cluster!.liveness.heard(slot, time);
    this.#touch(slot, time);
  }

  /** A peer's liveness digest (cluster/liveness.ts): move the clocks of the instances it names. */
  #applyTouch(rec: Uint8Array, off: number): void {
    const liveness = this.#cluster?.liveness;
    if (liveness === undefined) return;
    const keyLen = get16(rec, off + R_KEY_LEN);
    applyDigest(rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen), this.inst, (slot, time) => {
      liveness.heard(slot, time);
      this.#touch(slot, time);
    });
    this.#clockOnly++;
  }

  /**
   * A change committed by another node: whether it wins the conflict rule
   * against what this node has (cluster/remote.ts). A losing change, or one
   * that brings nothing new, is settled here; true means: apply it.
   */
  #admitRemote(slot: number, rec: Uint8Array, off: number, time: number, origin: number, fa: number, fb: number): boolean {
    const cluster = this.#cluster!;
    const inst = this.inst;
    const seq = get32(rec, off + R_SEQ);
    if (seq > this.#ackSeq) this.#ackSeq = seq;
    if (slot >= 0) {
      if (cluster.compare(time, origin, inst.cols[CTIME]![slot]!, inst.cols[ORIGIN]![slot]!) < 0) {
        cluster.lost++;
        this.#superseded++;
        return false;
      }
      if (inst.cols[FRAG_A]![slot] === fa && inst.cols[FRAG_B]![slot] === fb) {
        // Same content: only the clocks and the (time, origin) pair move.
        inst.cols[CTIME]![slot] = time;
        inst.cols[ORIGIN]![slot] = origin;
        cluster.liveness.heard(slot, time);
        this.#touch(slot, time);
        this.#clockOnly++;
        return false;
      }
    } else if (
      cluster.buried(time, origin, () => {
        const key = rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + get16(rec, off + R_KEY_LEN));
        const { parts } = splitKey(key, 2);
        return { appId: parts[0]!, host: parts[1]!, instance: (key[key.length - 2]! << 8) | key[key.length - 1]! };
      })
    ) {
      cluster.lost++;
      this.#superseded++;
      return false;
    }
    return true;
  }

  // --- updates ---------------------------------------------------------------

  #applyUpdate(rec: Uint8Array, off: number): void {
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
      this.#clockOnly++;
      return;
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
    if (this.#cluster !== null) this.#setContent(slot, time, rec, off);
    this.#touch(slot, time);
    this.#pending.set(slot, rec, off);
    inst.cols[PENDING_N]![slot]!++;
    if ((inst.cols[FLAGS]![slot]! & DIRTY) === 0) {
      inst.cols[FLAGS]![slot]! |= DIRTY;
      this.#dirty.push(slot);
    }
    if (this.#oldestMs === 0) this.#oldestMs = Date.now();
    if (http) {
      const seq = get32(rec, off + R_SEQ);
      if (seq > this.#ackSeq) this.#ackSeq = seq;
    }
  }

  /**
   * A first sight (prevVer null) or version change: counted, and a history
   * entry built from the record (history.ts: no parsing).
   */
  #recordChange(slot: number, rec: Uint8Array, off: number, fragOff: number, prevVer: Uint8Array | null, time: number, flags = 0): void {
    this.#changes++;
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
    this.#history.pushFields(app, bucket, time, instance, prevVer === null ? EntryFlag.first : flags, rec, f, prevVer ?? EMPTY);
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
    this.#superseded += inst.cols[PENDING_N]![slot]!;
    inst.cols[PENDING_N]![slot] = 0;
    this.#pending.drop(slot);
    inst.remove(slot);
    this.#releases.push({ index: inst, slot });
    this.#removals.push({ slot, stored: (flags & STORED) !== 0 });
    // Still in the dirty list (if it was): the cut skips removed slots.
    inst.cols[FLAGS]![slot] = flags & DIRTY;
    const { hostEmpty, appEmpty } = this.counts.remove(h, a, v, (flags & STALE) !== 0);
    if (hostEmpty) {
      this.hosts.remove(h);
      this.#releases.push({ index: this.hosts, slot: h });
    }
    if (appEmpty) {
      this.apps.remove(a);
      this.#releases.push({ index: this.apps, slot: a });
    }
  }

  /** The history entry of a removal, from what memory knows of the instance. */
  #recordRemoval(slot: number, version: number, reason: 'trim' | 'delete'): void {
    this.#changes++;
    if (this.#oldestMs === 0) this.#oldestMs = Date.now();
    const key = this.inst.keyOf(slot);
    const a = this.inst.cols[APP]![slot]!;
    const appEnd = key.indexOf(0);
    this.#history.push(
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
    for (let s = 0; s < inst.highWater; s++) this.#superseded += inst.cols[PENDING_N]![s]!;
    this.inst = new KeyIndex(this.#instColumns, 1 << 16);
    this.hosts = new KeyIndex(SUMMARY_COLUMNS);
    this.apps = new KeyIndex(SUMMARY_COLUMNS);
    this.counts = new FleetCounts(this.hosts, this.apps);
    this.labels = new LabelSets();
    this.#pending = new PendingRecords(this.inst, PENDING);
    this.instClock.clear();
    this.hostClock.clear();
    this.appClock.clear();
    this.appNames = [];
    this.#history.clear();
    this.#dirty = [];
    this.#removals = [];
    this.#staleSlots = [];
    // Slots of the old indexes: nothing to release any more.
    this.#releases = [];
    this.#releasesByBatch.clear();
    this.#clearPending = true;
    this.#cluster?.liveness.reset();
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
        if (this.eventsWanted) this.#staleSlots.push(s);
        n++;
      }
    }
    return n;
  }

  // --- cutting a batch --------------------------------------------------------

  /**
   * Everything changed since the last cut, as one write batch. Memory moves
   * on at once (the next changes go to the next batch); the batch must be
   * committed before any later one, and committed(id) called after.
   */
  cut(nowMs: number, options: CutOptions = {}): Cut {
    const id = this.#nextBatch++;
    // A big cut takes a while: let the caller keep the rings moving (it
    // must not apply anything to this fleet until the cut returns).
    const meanwhile = options.meanwhile ?? ((): void => {});
    const inst = this.inst;
    // Instance operations are smaller than their records; blocks hold each entry twice.
    const need = this.#pending.bytes + this.#history.bytes * 2 + (this.#outbox?.length ?? 0) + (1 << 16);
    const out = new BatchWriter(options.buffer !== undefined && options.buffer.byteLength >= need ? options.buffer : Math.ceil((need * 5) / 4));
    let written = 0;
    let removed = 0;
    let applied = this.#control + this.#superseded;
    let pages = 0;

    if (this.#clearPending) {
      for (const db of [DbId.inst, DbId.apps, DbId.hosts, DbId.appvers, DbId.history, DbId.histhost, DbId.clock]) out.clear(db);
    }
    for (const r of this.#removals) {
      if (r.stored) {
        out.del(DbId.inst, inst.keyOf(r.slot));
        removed++;
      }
    }
    const arena = this.#pending.arena;
    let n = 0;
    for (const slot of this.#dirty) {
      if ((++n & MEANWHILE_EVERY) === 0) meanwhile();
      inst.cols[FLAGS]![slot]! &= ~DIRTY;
      if (inst.state[slot] !== SlotState.live) continue;
      const at = this.#pending.offsetOf(slot);
      if (at < 0) continue;
      this.#putInstance(out, slot, arena, at);
      applied += inst.cols[PENDING_N]![slot]!;
      inst.cols[PENDING_N]![slot] = 0;
      inst.cols[PENDING]![slot] = 0;
      inst.cols[FLAGS]![slot]! |= STORED;
      written++;
    }
    // Every pending record is in the batch now (removed slots dropped theirs).
    this.#pending.clear();

    meanwhile();
    if (this.#history.length > 0) {
      this.#history.blocks(
        (kind, slot, size) => {
          const part = kind === 'app' ? this.apps.keyOf(slot) : bucketPart(slot);
          pages += 1 + (size >> 14);
          return out.begin(kind === 'app' ? DbId.history : DbId.histhost, OpKind.put, blockKey(part, id), size);
        },
        () => out.bytes,
      );
      this.#history.clear();
    }
    out.put(DbId.meta, Buffer.from(META.nextBlock), Buffer.from(String(id + 1)));
    if (this.#outbox !== null) this.#finishOutbox(out, id);
    meanwhile();
    pages += this.#putSummaries(out, meanwhile);
    const withClocks = options.clocks === true || this.clocksDue(nowMs);
    if (withClocks) {
      const put = (key: Buffer, bytes: Buffer): void => out.put(DbId.clock, key, bytes);
      pages += this.instClock.dirtyCount + this.hostClock.dirtyCount + this.appClock.dirtyCount;
      this.instClock.flush(put);
      this.hostClock.flush(put);
      this.appClock.flush(put);
      applied += this.#clockOnly;
      this.#clockOnly = 0;
      this.#lastClockCut = nowMs;
    }
    for (const slot of this.#staleSlots) {
      if (this.inst.state[slot] === SlotState.live) out.note(DbId.inst, this.inst.keyOf(slot), this.#staleNote(slot));
    }

    const cut: Cut = {
      id,
      ...(({ buffer, length, count }) => ({ buffer, length, ops: count }))(out.take()),
      ackSeq: this.#ackSeq,
      results: this.#results,
      applied,
      written,
      removed,
      changes: this.#changes,
      oldestMs: this.#oldestMs,
      cutMs: nowMs,
      pruneBefore: this.#historySeconds > 0 ? Math.floor(nowMs / 1000) - this.#historySeconds : 0,
      // A write dirties about a leaf page per instance (16 KiB each) plus
      // the tree's branches; summaries share pages; blocks and clocks were
      // counted as they were added.
      bytesBound: (written + removed + pages) * 2 * 16384 + (4 << 20),
    };
    this.#releasesByBatch.set(id, this.#releases);
    this.#releases = [];
    this.#dirty = [];
    this.#removals = [];
    this.#staleSlots = [];
    this.#results = [];
    this.#ackSeq = 0;
    this.#control = 0;
    this.#superseded = 0;
    this.#changes = 0;
    this.#oldestMs = 0;
    this.#clearPending = false;
    return cut;
  }

  /** A batch is durable: the slots it removed may be reused. */
  committed(id: number): void {
    const releases = this.#releasesByBatch.get(id);
    if (releases === undefined) return;
    this.#releasesByBatch.delete(id);
    for (const { index, slot } of releases) index.release(slot);
  }

  /** Puts an instance's pending key and value, with its slot, since and written_at filled in. */
  #putInstance(out: BatchWriter, slot: number, arena: Buffer, off: number): void {
    const keyLen = arena[off]! | (arena[off + 1]! << 8);
    const valueLen = arena[off + 2]! | (arena[off + 3]! << 8);
    const keyAt = off + PENDING_ENTRY_HEADER;
    const origin = this.#cluster === null ? null : this.#cluster.name(this.inst.cols[ORIGIN]![slot]!);
    const trailer = origin === null ? 0 : clusterTrailerLength(origin);
    const at = out.begin(DbId.inst, OpKind.put, arena.subarray(keyAt, keyAt + keyLen), valueLen + trailer);
    const b = out.bytes;
    b.set(arena.subarray(keyAt + keyLen, keyAt + keyLen + valueLen), at);
    put32(b, at + V_SLOT, slot);
    put32(b, at + V_SINCE, this.inst.cols[SINCE]![slot]!);
    put32(b, at + V_WRITTEN_AT, this.instClock.ts[slot]!);
    if (origin !== null) writeClusterTrailer(b, at, this.inst.cols[CTIME]![slot]!, origin);
  }

  #newOutbox(): WireWriter {
    return new WireWriter(WireKind.changes, this.#cluster!.self, 1 << 16);
  }

  /**
   * Puts the batch's outbox entry (this node's changes since the last cut),
   * key = batch id, and starts the next. While the outbox is full the entry
   * is dropped and the store marked for a resync (cluster/outbox.ts).
   */
  #finishOutbox(out: BatchWriter, id: number): void {
    const outbox = this.#outbox!;
    if (outbox.count === 0) return;
    this.#outbox = this.#newOutbox();
    if (this.#cluster!.outboxOpen()) {
      out.put(DbId.outbox, outboxKey(id), outbox.bytes());
    } else if (!this.#resyncMarked) {
      out.put(DbId.meta, Buffer.from(META.clusterResync), Buffer.from('1'));
      this.#resyncMarked = true;
    }
  }

  /** Puts the dirty app and host summaries (and app version counts); deletes emptied ones. Returns pages touched, roughly. */
  #putSummaries(out: BatchWriter, meanwhile: () => void): number {
    const apps = this.apps;
    const hosts = this.hosts;
    const counts = this.counts;
    for (const a of counts.dirtyApps) {
      const key = apps.keyOf(a);
      if (apps.state[a] !== SlotState.live) {
        out.del(DbId.apps, key);
        out.del(DbId.appvers, key);
        continue;
      }
      const c = { peers: apps.cols[PEERS]![a]!, instances: apps.cols[INSTANCES]![a]!, stale: apps.cols[STALE_COUNT]![a]! };
      const appId = Buffer.from(key.subarray(0, key.length - 1)).toString('latin1');
      out.put(DbId.apps, key, appSummaryValue(a, this.appNames[a] ?? EMPTY, appId, c, this.appClock.get(a), this.labels.countsJson('app', a)));
      out.put(DbId.appvers, key, versionsJson(counts.versionsOf(a)));
    }
    // A host lists its apps in key order: rank the apps once.
    const rank = new Int32Array(apps.highWater);
    const live: number[] = [];
    for (let a = 0; a < apps.highWater; a++) if (apps.state[a] === SlotState.live) live.push(a);
    live.sort((x, y) => Buffer.compare(apps.keyOf(x), apps.keyOf(y))).forEach((a, i) => (rank[a] = i));
    const byRank = (x: number, y: number): number => rank[x]! - rank[y]!;
    let n = 0;
    let key: Uint8Array = EMPTY;
    const begin = (size: number): number => out.begin(DbId.hosts, OpKind.put, key, size);
    const bytes = (): Uint8Array => out.bytes;
    for (const h of counts.dirtyHosts) {
      if ((++n & MEANWHILE_EVERY) === 0) meanwhile();
      key = hosts.keyOf(h);
      if (hosts.state[h] !== SlotState.live) {
        out.del(DbId.hosts, key);
        continue;
      }
      const c = { peers: hosts.cols[PEERS]![h]!, instances: hosts.cols[INSTANCES]![h]!, stale: hosts.cols[STALE_COUNT]![h]! };
      const appKeys = counts.appsOf(h).sort(byRank).map((a) => apps.keyOf(a));
      putHostSummary(begin, bytes, h, keyPartJson(key), c, this.hostClock.get(h), appKeys, this.labels.countsJson('host', h));
    }
    const pages = (counts.dirtyApps.size + counts.dirtyHosts.size) / 16;
    counts.dirtyApps.clear();
    counts.dirtyHosts.clear();
    return Math.ceil(pages);
  }

  /** The change-feed note of an instance that turned stale: what memory knows of it. */
  #staleNote(slot: number): Uint8Array {
    const key = this.inst.keyOf(slot);
    const { parts: [appId, host] } = splitKey(key, 2);
    const version = {
      app: (this.appNames[this.inst.cols[APP]![slot]!] ?? EMPTY).toString('utf8'),
      app_id: appId,
      host,
      instance: (key[key.length - 2]! << 8) | key[key.length - 1]!,
      ver: jsonString(this.counts.version(this.inst.cols[VER]![slot]!).json),
      last_update: this.instClock.get(slot),
      status: 'stale',
    };
    const json = Buffer.from(JSON.stringify(version));
    const extra = Buffer.allocUnsafe(1 + json.length);
    extra[0] = ChangeKind.stale;
    json.copy(extra, 1);
    return extra;
  }

  // --- loading --------------------------------------------------------------

  /** A stored summary (loading): adopts its slot and time. */
  loadSummary(kind: 'app' | 'host', key: Uint8Array, slot: number, writtenAt: number, name: Uint8Array | null): void {
    const index = kind === 'app' ? this.apps : this.hosts;
    const clock = kind === 'app' ? this.appClock : this.hostClock;
    index.insertAt(slot, key, 0, key.length, hash32(key, 0, key.length));
    if (kind === 'host') index.cols[BUCKET]![slot] = hostBucket(key);
    clock.ensure(slot);
    clock.ts[slot] = Math.max(clock.ts[slot]!, writtenAt);
    if (name !== null) this.appNames[slot] = Buffer.from(name);
  }

  /** A stored instance (loading): key bytes and its stored value. */
  loadInstance(key: Uint8Array, keyLength: number, value: Uint8Array): void {
    const inst = this.inst;
    const slot = u32(value, V_SLOT);
    inst.insertAt(slot, key, 0, keyLength, hash32(key, 0, keyLength));
    inst.cols[FRAG_A]![slot] = u32(value, V_FP_A) | 0;
    inst.cols[FRAG_B]![slot] = u32(value, V_FP_B) | 0;
    inst.cols[FLAGS]![slot] = STORED;
    inst.cols[SINCE]![slot] = u32(value, V_SINCE);
    if (this.#cluster !== null) {
      // Written by a single node (no trailer): its content is this node's, as old as its version.
      const t = readClusterTrailer(value);
      inst.cols[CTIME]![slot] = t === null ? u32(value, V_SINCE) : t.contentTime;
      inst.cols[ORIGIN]![slot] = t === null ? 0 : this.#cluster.originId(t.origin);
    }
    const clock = this.instClock;
    clock.ensure(slot);
    clock.ts[slot] = Math.max(clock.ts[slot]!, u32(value, V_WRITTEN_AT));
    let appEnd = 0;
    while (key[appEnd] !== 0) appEnd++;
    appEnd++;
    const a = this.apps.find(key, 0, appEnd, hash32(key, 0, appEnd));
    const h = this.hosts.find(key, appEnd, keyLength - 2 - appEnd, hash32(key, appEnd, keyLength - 2));
    if (a < 0 || h < 0) throw new Error('store is inconsistent: an instance without its app or host summary');
    inst.cols[APP]![slot] = a;
    inst.cols[HOST]![slot] = h;
    const verAt = verOffset(value);
    const v = this.counts.versionId(a, value, verAt, verAt + verLength(value));
    inst.cols[VER]![slot] = v;
    this.counts.add(h, a, v);
    const l = this.labels.idOf(valueLabels(value));
    inst.cols[LABELS]![slot] = l;
    this.labels.add(h, a, l);
  }

  /** Loading is done: free slots collected, every summary rewritten in the first batch. */
  loaded(): void {
    this.inst.collectFreeSlots();
    this.hosts.collectFreeSlots();
    this.apps.collectFreeSlots();
    this.counts.markAllDirty();
    // The clock buffers outlive a writer thread: a restarted writer finds
    // times ahead of LMDB (persisted again in the next batch), and times of
    // slots that no longer exist (which must not leak into their next owner).
    for (const [index, c] of [[this.inst, this.instClock], [this.hosts, this.hostClock], [this.apps, this.appClock]] as const) {
      c.zeroUnless((s) => s < index.highWater && index.state[s] === SlotState.live);
      c.markAllDirty(index.highWater);
    }
  }
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/** Whether a equals src[at, at+len). */
function bytesEqualAt(a: Uint8Array, src: Uint8Array, at: number, len: number): boolean {
  if (a.length !== len) return false;
  for (let i = 0; i < len; i++) if (a[i] !== src[at + i]) return false;
  return true;
}


function jsonString(json: Uint8Array): string {
  return JSON.parse(`"${utf8.decode(json)}"`) as string;
}
