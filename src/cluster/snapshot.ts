// Snapshots: how a new or wiped node catches up while the change stream
// stays bounded (oldest messages are dropped past --cluster-stream-mb).
//
// One node at a time (the one with the smallest name among those alive)
// writes, every SNAPSHOT_MS when the stream moved, its whole store into
// the PARTISCI_SNAP stream: chunks of records (wire kind snapshot, each
// record with its own origin after it, as remote records carry it) on
// `partisci.snap.<slot>.<n>`, then a head on `partisci.snap.head` naming
// the slot, the chunk count, an id and the change-stream position S the
// store covers. The stream keeps one message per subject, and two slots
// alternate, so the last complete snapshot stays readable while the next
// is written. Every chunk carries the snapshot id; a reader that finds a
// chunk of another snapshot (two writers at once) gives up and replays
// the change stream instead.
//
// A snapshot read at position S holds every change up to S (they were
// committed before the read started) and possibly later ones: replaying
// the stream from S + 1 over it is harmless, because applying a change
// twice, or an older change after a newer one, changes nothing (the
// conflict rule, remote.ts).
//
// JetStream 2.9 offers no per-key compaction worth using here: a message
// per instance on its own subject (max_msgs_per_subject = 1) publishes at
// ~8,000/s and reads back at ~34,000/s on this machine, against ~45 MiB/s
// for large messages (see ARCHITECTURE.md).

import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ClusterStore } from './outbox.js';
import { recordOfValue } from './record-of-value.js';
import { writeClock, writeOrigin } from './remote.js';
import { V_SLOT, V_WRITTEN_AT } from '../store/layout.js';
import { WireKind, WireWriter, readWire } from './wire.js';

export const SNAP_STREAM = 'PARTISCI_SNAP';
export const SNAP_SUBJECT = 'partisci.snap';
const HEAD = `${SNAP_SUBJECT}.head`;
/** Bytes of records per chunk (NATS's default max_payload is 1 MiB). */
const CHUNK_BYTES = 512 * 1024;
/** Rows read per turn of the event loop while a snapshot is written. */
const ROWS_PER_TURN = 20_000;

export interface SnapshotHead {
  id: string;
  slot: 'a' | 'b';
  chunks: number;
  /** Change-stream position the snapshot covers. */
  seq: number;
  instances: number;
  node: string;
  time: number;
}

export async function ensureSnapshotStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  try {
    await jsm.streams.info(SNAP_STREAM);
  } catch {
    await jsm.streams.add({
      name: SNAP_STREAM,
      subjects: [`${SNAP_SUBJECT}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.Old,
    });
  }
}

export async function readHead(jsm: JetStreamManager): Promise<SnapshotHead | null> {
  try {
    const m = await jsm.streams.getMessage(SNAP_STREAM, { last_by_subj: HEAD });
    return m === null ? null : (JSON.parse(Buffer.from(m.data).toString('utf8')) as SnapshotHead);
  } catch {
    return null;
  }
}

/**
 * Writes a snapshot of the store covering position `seq`. Records without
 * an origin (written by a single node) get this node's.
 */
export async function writeSnapshot(
  js: JetStreamClient,
  jsm: JetStreamManager,
  store: ClusterStore,
  self: Buffer,
  seq: number,
  clock: () => Uint32Array,
): Promise<SnapshotHead> {
  const previous = await readHead(jsm);
  const slot: 'a' | 'b' = previous?.slot === 'a' ? 'b' : 'a';
  const id = `${self.toString()}-${Date.now().toString(36)}`;
  const idBytes = Buffer.from(id);
  const scratch = Buffer.allocUnsafe(8192);
  let chunk = new WireWriter(WireKind.snapshot, idBytes, CHUNK_BYTES + 8192);
  let chunks = 0;
  let instances = 0;
  const flush = async (): Promise<void> => {
    if (chunk.count === 0) return;
    await js.publish(`${SNAP_SUBJECT}.${slot}.${chunks}`, chunk.bytes(), { timeout: 10_000 });
    chunks++;
    chunk = new WireWriter(WireKind.snapshot, idBytes, CHUNK_BYTES + 8192);
  };
  let after: Buffer | undefined;
  for (;;) {
    let rows = 0;
    let last: Buffer | undefined;
    const clocks = clock();
    store.instRows.each(after, undefined, after !== undefined, (key, keyLength, value) => {
      const r = recordOfValue(key, keyLength, value, scratch);
      const end = writeClock(scratch, writeOrigin(scratch, r.length, r.origin ?? self), lastUpdate(value, clocks));
      chunk.add(scratch, 0, end);
      instances++;
      // A chunk is published between turns: stop the turn once one is full.
      if (++rows === ROWS_PER_TURN || chunk.length >= CHUNK_BYTES) {
        last = Buffer.from(key.subarray(0, keyLength));
        return false;
      }
      return true;
    });
    while (chunk.length >= CHUNK_BYTES) await flush();
    if (last === undefined) break;
    after = last;
    await new Promise((r) => setImmediate(r));
  }
  await flush();
  const head: SnapshotHead = { id, slot, chunks, seq, instances, node: self.toString(), time: Math.floor(Date.now() / 1000) };
  await js.publish(HEAD, Buffer.from(JSON.stringify(head)), { timeout: 10_000 });
  return head;
}

/**
 * Reads a snapshot's chunks in order, handing each record (with its origin
 * trailer) to `take`. Throws if a chunk is missing or of another snapshot.
 */
export async function readSnapshot(
  jsm: JetStreamManager,
  head: SnapshotHead,
  take: (bytes: Buffer, at: number, length: number) => Promise<void>,
): Promise<number> {
  let n = 0;
  for (let i = 0; i < head.chunks; i++) {
    const m = await jsm.streams.getMessage(SNAP_STREAM, { last_by_subj: `${SNAP_SUBJECT}.${head.slot}.${i}` });
    if (m === null) throw new Error(`snapshot ${head.id}: chunk ${i} is missing`);
    const wire = readWire(m.data);
    if (wire.origin.toString() !== head.id) throw new Error(`snapshot ${head.id}: chunk ${i} belongs to snapshot ${wire.origin.toString()}`);
    const records: [Buffer, number, number][] = [];
    wire.each((bytes, at, length) => records.push([bytes, at, length]));
    for (const [bytes, at, length] of records) await take(bytes, at, length);
    n += records.length;
  }
  return n;
}

/** A stored instance's last_update: the later of its written_at and the live clock (as the reader answers it). */
export function lastUpdate(value: Uint8Array, clock: Uint32Array): number {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Math.max(v.readUInt32LE(V_WRITTEN_AT), clock[v.readUInt32LE(V_SLOT)] ?? 0);
}
