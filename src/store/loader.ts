// Rebuilds the writer's in-memory fleet (fleet.ts) from LMDB, once, when
// the writer thread starts. Counts are recomputed from the instances, and
// every summary is rewritten in the first batch (so a summary that
// disagreed with its instances heals itself).
//
// A million instances load in a second or two, during which updates keep
// arriving: every LOAD_SLICE rows the loader calls `meanwhile`, which the
// writer thread uses to move ring records aside so the rings never fill.

import { open, type RootDatabase } from 'lmdb';
import { hash32 } from '../ingest/hash.js';
import type { Fleet } from './fleet.js';
import { BUCKET } from './fleet-counts.js';
import { hostBucket } from './history.js';
import { APP, CTIME, FLAGS, FRAG_A, FRAG_B, HOST, LABELS, ORIGIN, SINCE, STORED, VER } from './instance-columns.js';
import { readClusterTrailer, valueLabels, verLength, verOffset } from './instance-value.js';
import { SlotState } from './key-index.js';
import { CLOCK_CHUNK, ClockKind, DB, META, S_SLOT, S_WRITTEN_AT, V_FP_A, V_FP_B, V_SINCE, V_SLOT, V_WRITTEN_AT, envOptions } from './layout.js';
import { RowStream, u32 } from './row-stream.js';
import { APP_FRAG_HEAD, summaryName } from './summaries.js';

/** Rows loaded between two calls of `meanwhile`. */
const LOAD_SLICE = 20_000;

export function loadFleet(path: string, fleet: Fleet, meanwhile: () => void = () => {}): void {
  const env: RootDatabase = open(envOptions(path));
  try {
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    const meta = env.openDB<Buffer, Buffer>(DB.meta, bin);
    const next = meta.getBinary(Buffer.from(META.nextBlock));
    fleet.nextBatch = next === undefined ? 1 : Number(next.toString('latin1'));
    for (const [kind, name] of [
      ['host', DB.hosts],
      ['app', DB.apps],
    ] as const) {
      for (const { key, value } of env.openDB<Buffer, Buffer>(name, bin).getRange({})) {
        loadSummary(fleet, kind, key, value.readUInt32LE(S_SLOT), value.readUInt32LE(S_WRITTEN_AT), kind === 'app' ? summaryName(value, APP_FRAG_HEAD) : null);
      }
    }
    const instDb = env.openDB<Buffer, Buffer>(DB.inst, bin);
    fleet.inst.reserve((instDb.getStats() as { entryCount: number }).entryCount);
    // Rows straight from lmdb-js's buffers (RowStream): no object per row.
    let rows = 0;
    new RowStream(env, DB.inst).each(undefined, undefined, false, (key, keyLength, value) => {
      loadInstance(fleet, key, keyLength, value);
      if (++rows % LOAD_SLICE === 0) meanwhile();
      return true;
    });
    const clocks = { [ClockKind.instance]: fleet.instClock, [ClockKind.host]: fleet.hostClock, [ClockKind.app]: fleet.appClock };
    for (const { key, value } of env.openDB<Buffer, Buffer>(DB.clock, bin).getRange({})) {
      const clock = clocks[key[0] as 1 | 2 | 3];
      if (clock === undefined) continue;
      const times = new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length));
      clock.mergeChunk(key.readUInt32BE(1) * CLOCK_CHUNK, times);
    }
    loaded(fleet);
    // lmdb-js ends a thread's read snapshot on its next event-loop turn,
    // which the writer thread (asleep in Atomics.wait) never reaches: an
    // open snapshot would stop LMDB from reusing any page freed after it.
    instDb.resetReadTxn();
  } finally {
    // The environment is shared with the process's other threads: closing
    // this handle only drops this thread's reference.
    void env.close();
  }
}

/** A stored summary: adopts its slot and time. */
function loadSummary(fleet: Fleet, kind: 'app' | 'host', key: Uint8Array, slot: number, writtenAt: number, name: Uint8Array | null): void {
  const index = kind === 'app' ? fleet.apps : fleet.hosts;
  const clock = kind === 'app' ? fleet.appClock : fleet.hostClock;
  index.insertAt(slot, key, 0, key.length, hash32(key, 0, key.length));
  if (kind === 'host') index.cols[BUCKET]![slot] = hostBucket(key);
  clock.ensure(slot);
  clock.ts[slot] = Math.max(clock.ts[slot]!, writtenAt);
  if (name !== null) fleet.appNames[slot] = Buffer.from(name);
}

/** A stored instance: key bytes and its stored value (instance-value.ts). */
function loadInstance(fleet: Fleet, key: Uint8Array, keyLength: number, value: Uint8Array): void {
  const inst = fleet.inst;
  const slot = u32(value, V_SLOT);
  inst.insertAt(slot, key, 0, keyLength, hash32(key, 0, keyLength));
  inst.cols[FRAG_A]![slot] = u32(value, V_FP_A) | 0;
  inst.cols[FRAG_B]![slot] = u32(value, V_FP_B) | 0;
  inst.cols[FLAGS]![slot] = STORED;
  inst.cols[SINCE]![slot] = u32(value, V_SINCE);
  if (fleet.cluster !== null) {
    // Written by a single node (no trailer): its content is this node's, as old as its version.
    const t = readClusterTrailer(value);
    inst.cols[CTIME]![slot] = t === null ? u32(value, V_SINCE) : t.contentTime;
    inst.cols[ORIGIN]![slot] = t === null ? 0 : fleet.cluster.originId(t.origin);
  }
  const clock = fleet.instClock;
  clock.ensure(slot);
  clock.ts[slot] = Math.max(clock.ts[slot]!, u32(value, V_WRITTEN_AT));
  let appEnd = 0;
  while (key[appEnd] !== 0) appEnd++;
  appEnd++;
  const a = fleet.apps.find(key, 0, appEnd, hash32(key, 0, appEnd));
  const h = fleet.hosts.find(key, appEnd, keyLength - 2 - appEnd, hash32(key, appEnd, keyLength - 2));
  if (a < 0 || h < 0) throw new Error('store is inconsistent: an instance without its app or host summary');
  inst.cols[APP]![slot] = a;
  inst.cols[HOST]![slot] = h;
  const verAt = verOffset(value);
  const v = fleet.counts.versionId(a, value, verAt, verAt + verLength(value));
  inst.cols[VER]![slot] = v;
  fleet.counts.add(h, a, v);
  const l = fleet.labels.idOf(valueLabels(value));
  inst.cols[LABELS]![slot] = l;
  fleet.labels.add(h, a, l);
}

/** Loading is done: free slots collected, every summary rewritten in the first batch. */
function loaded(fleet: Fleet): void {
  fleet.inst.collectFreeSlots();
  fleet.hosts.collectFreeSlots();
  fleet.apps.collectFreeSlots();
  fleet.counts.markAllDirty();
  // The clock buffers outlive a writer thread: a restarted writer finds
  // times ahead of LMDB (persisted again in the next batch), and times of
  // slots that no longer exist (which must not leak into their next owner).
  for (const [index, c] of [
    [fleet.inst, fleet.instClock],
    [fleet.hosts, fleet.hostClock],
    [fleet.apps, fleet.appClock],
  ] as const) {
    c.zeroUnless((s) => s < index.highWater && index.state[s] === SlotState.live);
    c.markAllDirty(index.highWater);
  }
}
