// Cutting a write batch (batch.ts) from the writer's fleet: every pending
// instance, the removals, the history blocks, the dirty summaries and, when
// due, the clocks. A cut takes *all* of the change set, so the batch's
// summaries describe exactly the instances it writes: once it is
// committed, app/ and version/ agree.

import type { ClusterState } from '../cluster/remote.js';
import { outboxKey } from '../cluster/outbox.js';
import { WireKind, WireWriter } from '../cluster/wire.js';
import { BatchWriter, ChangeKind, OpKind } from './batch.js';
import type { ChangeSet } from './change-set.js';
import { type FleetCounts, INSTANCES, PEERS, STALE as STALE_COUNT } from './fleet-counts.js';
import { MEANWHILE_EVERY, blockKey, bucketPart } from './history.js';
import { APP, CTIME, DIRTY, FLAGS, ORIGIN, PENDING, PENDING_N, SINCE, STORED, VER } from './instance-columns.js';
import { clusterTrailerLength, put32, writeClusterTrailer } from './instance-value.js';
import { jsonText } from './json-text.js';
import { type KeyIndex, SlotState } from './key-index.js';
import { splitKey } from './keys.js';
import type { LabelSets } from './label-sets.js';
import { DbId, META, V_SINCE, V_SLOT, V_WRITTEN_AT } from './layout.js';
import { ENTRY_HEADER as PENDING_ENTRY_HEADER } from './pending.js';
import type { SlotClock } from './slot-clock.js';
import { appSummaryValue, keyPartJson, putHostSummary, versionsJson } from './summaries.js';

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

/** What a cut reads of the fleet (fleet.ts). */
export interface FleetState {
  readonly inst: KeyIndex;
  readonly hosts: KeyIndex;
  readonly apps: KeyIndex;
  readonly counts: FleetCounts;
  readonly labels: LabelSets;
  readonly appNames: (Buffer | undefined)[];
  readonly instClock: SlotClock;
  readonly hostClock: SlotClock;
  readonly appClock: SlotClock;
  readonly cluster: ClusterState | null;
}

const EMPTY = Buffer.alloc(0);

/**
 * The change set as batch `id`. The caller resets the change set afterwards
 * (its releases belong to this batch).
 */
export function cutBatch(fleet: FleetState, set: ChangeSet, id: number, nowMs: number, withClocks: boolean, pruneBefore: number, options: CutOptions): Cut {
  // A big cut takes a while: let the caller keep the rings moving (it
  // must not apply anything to this fleet until the cut returns).
  const meanwhile = options.meanwhile ?? ((): void => {});
  const inst = fleet.inst;
  // Instance operations are smaller than their records; blocks hold each entry twice.
  const need = set.pending.bytes + set.history.bytes * 2 + (set.outbox?.length ?? 0) + (1 << 16);
  const out = new BatchWriter(options.buffer !== undefined && options.buffer.byteLength >= need ? options.buffer : Math.ceil((need * 5) / 4));
  let written = 0;
  let removed = 0;
  let applied = set.control + set.superseded;
  let pages = 0;

  if (set.clearPending) {
    for (const db of [DbId.inst, DbId.apps, DbId.hosts, DbId.appvers, DbId.history, DbId.histhost, DbId.clock]) out.clear(db);
  }
  for (const r of set.removals) {
    if (r.stored) {
      out.del(DbId.inst, inst.keyOf(r.slot));
      removed++;
    }
  }
  const arena = set.pending.arena;
  let n = 0;
  for (const slot of set.dirty) {
    if ((++n & MEANWHILE_EVERY) === 0) meanwhile();
    inst.cols[FLAGS]![slot]! &= ~DIRTY;
    if (inst.state[slot] !== SlotState.live) continue;
    const at = set.pending.offsetOf(slot);
    if (at < 0) continue;
    putInstance(fleet, out, slot, arena, at);
    applied += inst.cols[PENDING_N]![slot]!;
    inst.cols[PENDING_N]![slot] = 0;
    inst.cols[PENDING]![slot] = 0;
    inst.cols[FLAGS]![slot]! |= STORED;
    written++;
  }
  // Every pending record is in the batch now (removed slots dropped theirs).
  set.pending.clear();

  meanwhile();
  if (set.history.length > 0) {
    set.history.blocks(
      (kind, slot, size) => {
        const part = kind === 'app' ? fleet.apps.keyOf(slot) : bucketPart(slot);
        pages += 1 + (size >> 14);
        return out.begin(kind === 'app' ? DbId.history : DbId.histhost, OpKind.put, blockKey(part, id), size);
      },
      () => out.bytes,
      meanwhile,
    );
    set.history.clear();
  }
  out.put(DbId.meta, Buffer.from(META.nextBlock), Buffer.from(String(id + 1)));
  if (set.outbox !== null) finishOutbox(fleet.cluster!, set, out, id);
  meanwhile();
  pages += putSummaries(fleet, out, meanwhile);
  if (withClocks) {
    const put = (key: Buffer, bytes: Buffer): void => out.put(DbId.clock, key, bytes);
    pages += fleet.instClock.dirtyCount + fleet.hostClock.dirtyCount + fleet.appClock.dirtyCount;
    fleet.instClock.flush(put);
    fleet.hostClock.flush(put);
    fleet.appClock.flush(put);
    applied += set.clockOnly;
    set.clockOnly = 0;
  }
  for (const slot of set.staleSlots) {
    if (inst.state[slot] === SlotState.live) out.note(DbId.inst, inst.keyOf(slot), staleNote(fleet, slot));
  }

  const { buffer, length, count } = out.take();
  return {
    id,
    buffer,
    length,
    ops: count,
    ackSeq: set.ackSeq,
    results: set.results,
    applied,
    written,
    removed,
    changes: set.changes,
    oldestMs: set.oldestMs,
    cutMs: nowMs,
    pruneBefore,
    // A write dirties about a leaf page per instance (16 KiB each) plus
    // the tree's branches; summaries share pages; blocks and clocks were
    // counted as they were added.
    bytesBound: (written + removed + pages) * 2 * 16384 + (4 << 20),
  };
}

/** Puts an instance's pending key and value, with its slot, since and written_at filled in. */
function putInstance(fleet: FleetState, out: BatchWriter, slot: number, arena: Buffer, off: number): void {
  const keyLen = arena[off]! | (arena[off + 1]! << 8);
  const valueLen = arena[off + 2]! | (arena[off + 3]! << 8);
  const keyAt = off + PENDING_ENTRY_HEADER;
  const cols = fleet.inst.cols;
  const origin = fleet.cluster === null ? null : fleet.cluster.name(cols[ORIGIN]![slot]!);
  const trailer = origin === null ? 0 : clusterTrailerLength(origin);
  const at = out.begin(DbId.inst, OpKind.put, arena.subarray(keyAt, keyAt + keyLen), valueLen + trailer);
  const b = out.bytes;
  b.set(arena.subarray(keyAt + keyLen, keyAt + keyLen + valueLen), at);
  put32(b, at + V_SLOT, slot);
  put32(b, at + V_SINCE, cols[SINCE]![slot]!);
  put32(b, at + V_WRITTEN_AT, fleet.instClock.ts[slot]!);
  if (origin !== null) writeClusterTrailer(b, at, cols[CTIME]![slot]!, origin);
}

/** An empty outbox entry (cluster mode): this node's changes until the next cut. */
export function newOutbox(cluster: ClusterState): WireWriter {
  return new WireWriter(WireKind.changes, cluster.self, 1 << 16);
}

/**
 * Puts the batch's outbox entry (this node's changes since the last cut),
 * key = batch id, and starts the next. While the outbox is full the entry
 * is dropped and the store marked for a resync (cluster/outbox.ts).
 */
function finishOutbox(cluster: ClusterState, set: ChangeSet, out: BatchWriter, id: number): void {
  const outbox = set.outbox!;
  if (outbox.count === 0) return;
  set.outbox = newOutbox(cluster);
  if (cluster.outboxOpen()) {
    out.put(DbId.outbox, outboxKey(id), outbox.bytes());
  } else if (!set.resyncMarked) {
    out.put(DbId.meta, Buffer.from(META.clusterResync), Buffer.from('1'));
    set.resyncMarked = true;
  }
}

/** Puts the dirty app and host summaries (and app version counts); deletes emptied ones. Returns pages touched, roughly. */
function putSummaries(fleet: FleetState, out: BatchWriter, meanwhile: () => void): number {
  const { apps, hosts, counts, labels } = fleet;
  for (const a of counts.dirtyApps) {
    const key = apps.keyOf(a);
    if (apps.state[a] !== SlotState.live) {
      out.del(DbId.apps, key);
      out.del(DbId.appvers, key);
      continue;
    }
    const c = { peers: apps.cols[PEERS]![a]!, instances: apps.cols[INSTANCES]![a]!, stale: apps.cols[STALE_COUNT]![a]! };
    const appId = Buffer.from(key.subarray(0, key.length - 1)).toString('latin1');
    out.put(DbId.apps, key, appSummaryValue(a, fleet.appNames[a] ?? EMPTY, appId, c, fleet.appClock.get(a), labels.countsJson('app', a)));
    out.put(DbId.appvers, key, versionsJson(counts.versionsOf(a)));
  }
  // A host lists its apps in key order: rank the apps once.
  const rank = new Int32Array(apps.highWater);
  const live: number[] = [];
  for (let a = 0; a < apps.highWater; a++) if (apps.state[a] === SlotState.live) live.push(a);
  live
    .sort((x, y) => Buffer.compare(apps.keyOf(x), apps.keyOf(y)))
    .forEach((a, i) => {
      rank[a] = i;
    });
  const byRank = (x: number, y: number): number => rank[x]! - rank[y]!;
  let n = 0;
  let key: Uint8Array = EMPTY;
  const begin = (size: number): number => out.begin(DbId.hosts, OpKind.put, key, size);
  const bytes = (): Uint8Array => out.bytes;
  // Reused for every host: a cut in a storm writes thousands of summaries.
  const appSlots: number[] = [];
  // Enough for a host name of MAX_FIELD_CHARS (limits.ts) characters of plain text;
  // a longer key gets a buffer of its own (keyPartJson).
  const nameScratch = new Uint8Array(256);
  for (const h of counts.dirtyHosts) {
    if ((++n & MEANWHILE_EVERY) === 0) meanwhile();
    key = hosts.keyOf(h);
    if (hosts.state[h] !== SlotState.live) {
      out.del(DbId.hosts, key);
      continue;
    }
    const c = { peers: hosts.cols[PEERS]![h]!, instances: hosts.cols[INSTANCES]![h]!, stale: hosts.cols[STALE_COUNT]![h]! };
    sortByRank(counts.appsOf(h, appSlots), rank, byRank);
    putHostSummary(begin, bytes, h, keyPartJson(key, 0, nameScratch), c, fleet.hostClock.get(h), apps, appSlots, labels.countsJson('host', h));
  }
  const pages = (counts.dirtyApps.size + counts.dirtyHosts.size) / 16;
  counts.dirtyApps.clear();
  counts.dirtyHosts.clear();
  return Math.ceil(pages);
}

/** Sorts app slots by their rank; a host has few apps, and an insertion sort of a few is cheaper than the builtin's. */
function sortByRank(slots: number[], rank: Int32Array, byRank: (x: number, y: number) => number): void {
  if (slots.length > 32) {
    slots.sort(byRank);
    return;
  }
  for (let i = 1; i < slots.length; i++) {
    const s = slots[i]!;
    const r = rank[s]!;
    let j = i;
    for (; j > 0 && rank[slots[j - 1]!]! > r; j--) slots[j] = slots[j - 1]!;
    slots[j] = s;
  }
}

/** The change-feed note of an instance that turned stale: what memory knows of it. */
function staleNote(fleet: FleetState, slot: number): Uint8Array {
  const key = fleet.inst.keyOf(slot);
  const {
    parts: [appId, host],
  } = splitKey(key, 2);
  const version = {
    app: (fleet.appNames[fleet.inst.cols[APP]![slot]!] ?? EMPTY).toString('utf8'),
    app_id: appId,
    host,
    instance: (key[key.length - 2]! << 8) | key[key.length - 1]!,
    ver: jsonText(fleet.counts.version(fleet.inst.cols[VER]![slot]!).json),
    last_update: fleet.instClock.get(slot),
    status: 'stale',
  };
  const json = Buffer.from(JSON.stringify(version));
  const extra = Buffer.allocUnsafe(1 + json.length);
  extra[0] = ChangeKind.stale;
  json.copy(extra, 1);
  return extra;
}
