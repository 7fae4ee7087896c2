// The prebuilt store: the whole benchmark fleet (1,000,000 instances) in an
// LMDB folder under bench/.cache/, written once with the real writer and
// committer (DirectWriter).
// The query micro-benchmarks read it, the writer micro-benchmarks and the
// end-to-end run work on copies of it (copying ~800 MB takes about a second;
// sending the fleet through partiscid takes minutes, because a first sight
// costs the writer a random B-tree write).
//
// Built in key order: the records are the same as the fleet's first
// 1,000,000 updates, but applied sorted by storage key, so LMDB appends
// instead of splitting pages at random. That builds the store in ~25 s
// instead of ~50 s, and leaves its pages fuller than a store grown by
// random arrivals (a little smaller, a little friendlier to scans).
//
// The cache is rebuilt when anything that decides its bytes changes (the
// compiled store, ingest and fleet code: a content hash names the folder),
// and when it is older than MAX_AGE_S: its last_update times are the build
// time, and partiscid's default --stale (25 h) would otherwise turn the
// whole fleet stale and make the first storm a stale-to-up storm.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_HEADER, R_KEY_LEN, encodeUpdate, MAX_RECORD_BYTES } from '../src/ingest/record.js';
import { Reason } from '../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../src/ingest/update.js';
import { MAX_CLOCK_SLOTS, createClockBuffer, type ClockBuffers } from '../src/store/slot-clock.js';
import { DirectWriter } from '../src/store/direct-writer.js';
import { FLEET, FLEET_SIZE, SENDER_IP, trafficOf, unixNow } from './fleet.js';
import type { FleetShape } from '../tools/fuzz/fleet.js';
import { CACHE_DIR, DIST } from './paths.js';

/** Bump when this builder changes what it writes. */
const BUILDER_VERSION = 2;
const MAX_AGE_S = 20 * 3600;
/** Records applied per durable transaction while building. */
const BUILD_CHUNK = 100_000;

export interface CachedStore {
  dir: string;
  key: string;
  instances: number;
  /** Unix seconds: every instance's last_update. */
  builtAt: number;
  /** ms spent building it in this run (0 when it came from the cache). */
  buildMs: number;
}

interface Meta {
  key: string;
  instances: number;
  hosts: number;
  apps: number;
  built_at: number;
  build_ms: number;
}

export function newClocks(): ClockBuffers {
  return {
    instance: createClockBuffer(MAX_CLOCK_SLOTS.instance),
    host: createClockBuffer(MAX_CLOCK_SLOTS.host),
    app: createClockBuffer(MAX_CLOCK_SLOTS.app),
  };
}

function jsFiles(dir: string, only?: readonly string[]): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.js') && (only === undefined || only.includes(f)))
    .sort()
    .map((f) => join(dir, f));
}

/** Hash of everything that decides the cached bytes. */
function cacheKey(shape: Readonly<FleetShape>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ BUILDER_VERSION, FLEET: shape }));
  const files = [
    ...jsFiles(join(DIST, 'src/store')),
    ...jsFiles(join(DIST, 'src/ingest')),
    ...jsFiles(join(DIST, 'tools/fuzz'), ['fleet.js', 'names.js', 'versions.js', 'permutation.js', 'prng.js', 'traffic.js']),
  ];
  for (const f of files) h.update(f.slice(DIST.length)).update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

function readMeta(dir: string): Meta | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return null;
  }
}

/** The cached store, built first if missing, outdated or too old. */
export async function ensureStore(log: (line: string) => void, rebuild = false, shape: Readonly<FleetShape> = FLEET): Promise<CachedStore> {
  mkdirSync(CACHE_DIR, { recursive: true });
  // Never committed, whatever the repository's .gitignore says.
  writeFileSync(join(CACHE_DIR, '.gitignore'), '*\n');
  const key = cacheKey(shape);
  // The labelled fleet's store (the labels section) is kept beside the plain one.
  const prefix = shape.labels === true ? 'labelled-' : 'store-';
  const dir = join(CACHE_DIR, `${prefix}${key}`);
  const meta = readMeta(dir);
  const fresh = meta !== null && meta.key === key && meta.instances === FLEET_SIZE && unixNow() - meta.built_at < MAX_AGE_S;
  if (fresh && !rebuild) return { dir, key, instances: meta.instances, builtAt: meta.built_at, buildMs: 0 };

  // One store at a time: older ones are ~800 MB each.
  for (const name of readdirSync(CACHE_DIR)) if (name.startsWith(prefix)) rmSync(join(CACHE_DIR, name), { recursive: true, force: true });
  // No dot in the name: lmdb-js takes a path with an extension for a file.
  const building = `${dir}-building`;
  mkdirSync(building, { recursive: true });
  log(`building the ${FLEET_SIZE.toLocaleString('en-US')}-instance store in ${dir} (once; ~30 s)`);
  const started = performance.now();
  const builtAt = unixNow();
  const counts = await buildStore(building, builtAt, shape);
  const buildMs = Math.round(performance.now() - started);
  const m: Meta = { key, ...counts, built_at: builtAt, build_ms: buildMs };
  writeFileSync(join(building, 'meta.json'), `${JSON.stringify(m, null, 2)}\n`);
  renameSync(building, dir);
  log(`store built in ${(buildMs / 1000).toFixed(1)} s`);
  return { dir, key, instances: counts.instances, builtAt, buildMs };
}

async function buildStore(dir: string, time: number, shape: Readonly<FleetShape>): Promise<{ instances: number; hosts: number; apps: number }> {
  const traffic = trafficOf(shape);
  const enc = new TextEncoder();
  const parsed = new ParsedUpdate();
  // All records in one buffer (~300 MB), then applied in key order.
  let buf = Buffer.allocUnsafe(FLEET_SIZE * 300);
  const offsets = new Int32Array(FLEET_SIZE + 1);
  const keys: string[] = new Array<string>(FLEET_SIZE);
  let o = 0;
  for (let n = 0; n < FLEET_SIZE; n++) {
    const packet = enc.encode(traffic.goodJson(n));
    if (parseUpdate(packet, 0, packet.length, parsed) !== Reason.ok) throw new Error(`fleet packet ${n} was rejected`);
    if (o + MAX_RECORD_BYTES > buf.length) {
      const grown = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(grown, 0, 0, o);
      buf = grown;
    }
    const len = encodeUpdate(parsed, SENDER_IP, 0, SENDER_IP.length, time, 0, 0, buf.subarray(o));
    offsets[n] = o;
    keys[n] = buf.toString('latin1', o + RECORD_HEADER, o + RECORD_HEADER + buf.readUInt16LE(o + R_KEY_LEN));
    o += len;
  }
  offsets[FLEET_SIZE] = o;
  const order = Array.from({ length: FLEET_SIZE }, (_, i) => i);
  order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));

  const writer = new DirectWriter({ path: dir, trimSeconds: 0 }, newClocks());
  try {
    writer.load();
    for (let i = 0; i < FLEET_SIZE; i += BUILD_CHUNK) {
      for (let j = i; j < Math.min(FLEET_SIZE, i + BUILD_CHUNK); j++) {
        const n = order[j]!;
        writer.apply(buf, offsets[n]!, offsets[n + 1]! - offsets[n]!);
      }
      // One commit per chunk (clocks included): few, big transactions.
      writer.commit();
    }
    return writer.counts;
  } finally {
    await writer.close();
  }
}

/** Copies the cached store's data file into dest (created), for a run that writes to it. */
export function copyStore(store: CachedStore, dest: string): number {
  const started = performance.now();
  mkdirSync(dest, { recursive: true });
  copyFileSync(join(store.dir, 'data.mdb'), join(dest, 'data.mdb'));
  if (!existsSync(join(dest, 'data.mdb'))) throw new Error(`copy of ${store.dir} failed`);
  return performance.now() - started;
}
