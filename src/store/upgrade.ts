// Upgrades a data folder written by partiscid 0.1 (LMDB layout 1) to the
// current layout (2), once, when partiscid starts on it: nothing a user
// stored is lost by installing a newer partiscid.
//
// Layout 1 kept each instance's version object as a JSON fragment, history
// as one JSON entry per change keyed by instance, 4 KiB pages and clock
// chunks of 1020 slots. The new store is written beside the old one
// (DIR/upgrade-2/), then moved into place; the old data file is kept as
// DIR/data-layout1.mdb until the user deletes it.

import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TransactionFlags, open, type Database, type RootDatabase } from 'lmdb';
import { hashBytes, hashOut } from '../ingest/hash.js';
import { BatchWriter, OpKind, eachOp } from './batch.js';
import { EntryFlag, HistoryLog, blockKey, bucketPart, hostBucket } from './history.js';
import {
  CLOCK_CHUNK,
  DATA_FILE,
  DB,
  DB_IDS,
  DbId,
  INSTANCE_HEADER,
  META,
  SCHEMA_VERSION,
  SUMMARY_HEADER,
  V_APP_LEN,
  V_FP_A,
  V_FP_B,
  V_IP_LEN,
  V_LABELS_LEN,
  V_SINCE,
  V_SLOT,
  V_VER_LEN,
  V_WRITTEN_AT,
  envOptions,
  clockKey,
} from './layout.js';

const LAYOUT_1 = { header: 16, clockChunk: 1020, verOff: 12, verLen: 14 } as const;
const SYNC = (TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT) as TransactionFlags;
/** Rows per write transaction while copying. */
const CHUNK = 50_000;
const OLD_FILE = 'data-layout1.mdb';

const enc = new TextEncoder();
const jsonContent = (s: string): Uint8Array => enc.encode(JSON.stringify(s).slice(1, -1));

/** The layout of the store in dir: null when there is none yet. */
export function storedLayout(dir: string): number | null {
  if (!existsSync(join(dir, DATA_FILE))) return null;
  const env = open({ path: dir, maxDbs: 16, readOnly: true, noSubdir: false });
  try {
    const meta = env.openDB<Buffer, Buffer>(DB.meta, { keyEncoding: 'binary', encoding: 'binary' });
    const schema = meta.getBinary(Buffer.from(META.schema));
    return schema === undefined ? null : Number(schema.toString('latin1'));
  } finally {
    void env.close();
  }
}

/** Upgrades dir from layout 1 when it holds one; returns what it did (null: nothing to do). */
export function upgradeIfNeeded(
  dir: string,
  log: (message: string, fields?: Record<string, unknown>) => void,
): { instances: number; history: number; ms: number } | null {
  if (storedLayout(dir) !== 1) return null;
  const started = performance.now();
  const target = join(dir, 'upgrade-2');
  rmSync(target, { recursive: true, force: true });
  log('upgrading the data folder from layout 1', { dir, bytes: statSync(join(dir, DATA_FILE)).size });
  const from = open({ path: dir, maxDbs: 16, noSubdir: false });
  const to = open(envOptions(target));
  let counts: { instances: number; history: number };
  try {
    counts = copy(from, to);
  } finally {
    void from.close();
    void to.close();
  }
  renameSync(join(dir, DATA_FILE), join(dir, OLD_FILE));
  rmSync(join(dir, 'lock.mdb'), { force: true });
  renameSync(join(target, DATA_FILE), join(dir, DATA_FILE));
  rmSync(target, { recursive: true, force: true });
  const ms = Math.round(performance.now() - started);
  log('data folder upgraded to layout 2', { ...counts, ms, kept: join(dir, OLD_FILE) });
  return { ...counts, ms };
}

function copy(from: RootDatabase, to: RootDatabase): { instances: number; history: number } {
  const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
  const old = (name: string): Database<Buffer, Buffer> => from.openDB<Buffer, Buffer>(name, bin);
  const dbs = DB_IDS.map((name) => to.openDB<Buffer, Buffer>(name, bin));
  let out = new BatchWriter();
  const flush = (): void => {
    const batch = out.take();
    to.transactionSync(() => {
      eachOp(batch.buffer, batch.length, (op) => {
        if (op.kind === OpKind.put) dbs[op.db]!.putSync(op.key as Buffer, op.value as Buffer);
      });
    }, SYNC);
    out = new BatchWriter();
  };

  // Instances: the fragment's fields into the compact value; the fingerprint
  // is the fragment's hash, as the ingest side computes it, so repeats stay
  // repeats. Each host's apps, for its summary.
  const appsOfHost = new Map<string, Set<string>>();
  let instances = 0;
  for (const { key, value } of old(DB.inst).getRange({})) {
    const frag = value.subarray(LAYOUT_1.header);
    const text = frag.toString('latin1');
    const appEnd = text.indexOf('","app_id":"');
    const ipStart = text.indexOf('","host_ip":"') + 13;
    const ipEnd = text.indexOf('","instance":', ipStart);
    const verAt = LAYOUT_1.header + value.readUInt16LE(LAYOUT_1.verOff);
    const ver = value.subarray(verAt, verAt + value.readUInt16LE(LAYOUT_1.verLen));
    const app = frag.subarray(8, appEnd);
    const ip = frag.subarray(ipStart, ipEnd);
    hashBytes(frag, 0, frag.length);
    const v = Buffer.alloc(INSTANCE_HEADER + app.length + ver.length + ip.length);
    v.writeUInt32LE(value.readUInt32LE(0), V_SLOT);
    v.writeUInt32LE(value.readUInt32LE(4), V_SINCE);
    v.writeUInt32LE(value.readUInt32LE(8), V_WRITTEN_AT);
    v.writeInt32LE(hashOut[0]! | 0, V_FP_A);
    v.writeInt32LE(hashOut[1]! | 0, V_FP_B);
    v.writeUInt16LE(app.length, V_APP_LEN);
    v.writeUInt16LE(ver.length, V_VER_LEN);
    v.writeUInt16LE(0, V_LABELS_LEN);
    v[V_IP_LEN] = ip.length;
    app.copy(v, INSTANCE_HEADER);
    ver.copy(v, INSTANCE_HEADER + app.length);
    ip.copy(v, INSTANCE_HEADER + app.length + ver.length);
    out.put(DbId.inst, key, v);
    const split = key.indexOf(0) + 1;
    const hostKey = key.subarray(split, key.length - 2).toString('latin1');
    let apps = appsOfHost.get(hostKey);
    if (apps === undefined) appsOfHost.set(hostKey, (apps = new Set()));
    apps.add(key.subarray(0, split).toString('latin1'));
    if (++instances % CHUNK === 0) flush();
  }

  // Summaries: a fragment length after the header; hosts list their apps.
  // (The writer rewrites every summary from the instances once it loads.)
  for (const [name, id] of [
    [DB.apps, DbId.apps],
    [DB.hosts, DbId.hosts],
  ] as const) {
    for (const { key, value } of old(name).getRange({})) {
      const frag = value.subarray(LAYOUT_1.header);
      const trailer = id === DbId.hosts ? [...(appsOfHost.get(key.toString('latin1')) ?? [])].sort().map((a) => Buffer.from(a, 'latin1')) : [];
      const v = Buffer.concat([value.subarray(0, LAYOUT_1.header), Buffer.alloc(SUMMARY_HEADER - LAYOUT_1.header), frag, ...trailer]);
      v.writeUInt32LE(frag.length, LAYOUT_1.header);
      out.put(id, key, v);
    }
  }
  for (const { key, value } of old(DB.appvers).getRange({})) out.put(DbId.appvers, key, value);

  // History: every entry into one block per app and per host bucket (block 1).
  const log = new HistoryLog();
  const appSlots = new Map<string, number>();
  const appParts: Buffer[] = [];
  const appSlot = (part: Buffer): number => {
    const k = part.toString('latin1');
    let s = appSlots.get(k);
    if (s === undefined) {
      s = appSlots.size;
      appSlots.set(k, s);
      // A copy: lmdb-js reuses the key buffer of a range between rows.
      appParts[s] = Buffer.from(part);
    }
    return s;
  };
  // Blocks hold entries oldest first (queries read them backwards); layout 1
  // kept each instance's newest first.
  type Old = { app: string; app_id: string; host: string; instance: number; ver: string | null; prev_ver: string | null; host_ip: string | null; time: number };
  const entries: { e: Old; app: number; host: number }[] = [];
  for (const { key, value } of old('history').getRange({})) {
    const split = key.indexOf(0) + 1;
    entries.push({
      e: JSON.parse(value.toString('utf8')) as Old,
      app: appSlot(key.subarray(0, split)),
      host: hostBucket(key.subarray(split, key.length - 10)),
    });
  }
  entries.sort((a, b) => a.e.time - b.e.time);
  for (const { e, app, host } of entries) {
    const flags = (e.ver === null ? EntryFlag.removed : 0) | (e.prev_ver === null ? EntryFlag.first : 0);
    log.push(
      app,
      host,
      e.time,
      e.instance,
      flags,
      enc.encode(e.app_id),
      jsonContent(e.app),
      jsonContent(e.host),
      e.ver === null ? new Uint8Array(0) : jsonContent(e.ver),
      e.prev_ver === null ? new Uint8Array(0) : jsonContent(e.prev_ver),
      e.host_ip === null ? new Uint8Array(0) : enc.encode(e.host_ip),
    );
  }
  const history = entries.length;
  if (history > 0) {
    log.blocks(
      (kind, slot, size) =>
        out.begin(kind === 'app' ? DbId.history : DbId.histhost, OpKind.put, blockKey(kind === 'app' ? appParts[slot]! : bucketPart(slot), 1), size),
      () => out.bytes,
    );
  }

  // Clocks: the same times, in the new chunk size.
  const times = new Map<number, number[]>();
  for (const { key, value } of old(DB.clock).getRange({})) {
    const all = times.get(key[0]!) ?? [];
    const base = key.readUInt32BE(1) * LAYOUT_1.clockChunk;
    for (let i = 0; i < LAYOUT_1.clockChunk && i * 4 < value.length; i++) all[base + i] = value.readUInt32LE(i * 4);
    times.set(key[0]!, all);
  }
  for (const [kind, all] of times) {
    for (let c = 0; c * CLOCK_CHUNK < all.length; c++) {
      const chunk = Buffer.alloc(CLOCK_CHUNK * 4);
      for (let i = 0; i < CLOCK_CHUNK; i++) chunk.writeUInt32LE(all[c * CLOCK_CHUNK + i] ?? 0, i * 4);
      out.put(DbId.clock, clockKey(kind, c), chunk);
    }
  }
  out.put(DbId.meta, Buffer.from(META.schema), Buffer.from(String(SCHEMA_VERSION)));
  out.put(DbId.meta, Buffer.from(META.nextBlock), Buffer.from('2'));
  flush();
  return { instances, history };
}
