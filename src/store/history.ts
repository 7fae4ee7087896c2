// Version history: one entry per first sight, version change, change of
// labels and removal of an instance, kept for --history-days.
//
// Entries are stored in blocks: one per app and one per host bucket per
// commit (DB history: app_id| block; DB histhost: bucket (u16 BE) block;
// block is the batch id, u64 big-endian, so an app's or a bucket's blocks
// are in time order). A host's entries are in its bucket's blocks (hosts
// hash into HOST_BUCKETS buckets), among other hosts'. A change therefore
// costs no LMDB write of its own, and a commit of a storm's 100,000 changes
// over 10,000 hosts writes a few dozen app blocks and a few hundred bucket
// blocks: each a place in a B-tree the commit must rewrite a page for, which
// a block per host (10,000 places) made as costly as the instances.
//
// Block value: [u32 entry count][u32 oldest time][u32 newest time][u32 0] then entries.
// Entry:       [u16 size][u32 time][u16 instance][u8 flags][u8 host_ip len]
//              [u16 app_id len][u16 app len][u16 host len][u16 ver len][u16 prev_ver len]
//              then app_id, app, host, ver, prev_ver (JSON string content), host_ip and
//              the instance's labels object (the rest of the entry; absent in entries
//              written before labels, which readers skip by size as ever).
// Compact (about 80 bytes, a third of the entry as JSON): every change is
// written twice (its app's block and its host's), and history is most of
// what a storm of changes writes. Queries build the JSON (writeEntryJson).

import { hash32 } from '../ingest/hash.js';
import type { JsonBytes } from './json-bytes.js';

export const BLOCK_HEADER = 16;
export const ENTRY_HEADER = 20;
/** An entry's strings: app_id, app, host, ver, prev_ver, host_ip, labels (the rest of the entry). */
const FIELDS = 7;
/** prev_ver's and host_ip's places among them. */
const PREV = 4;
const IP = 5;
const EMPTY = new Uint8Array(0);

export const EntryFlag = {
  /** The instance was removed (ver is null). */
  removed: 1,
  /** Removed by --trim (else by a DELETE). */
  trimmed: 2,
  /** First sight (prev_ver is null). */
  first: 4,
  /** Same version, other labels (ver equals prev_ver). */
  labels: 8,
} as const;

/** Host buckets of the histhost database: few enough that a commit touches few places, many enough that a host's history reads little of others'. */
export const HOST_BUCKETS = 256;

/** The bucket of a host, from its key part (keys.ts, terminator included). */
export function hostBucket(hostKey: Uint8Array): number {
  return hash32(hostKey, 0, hostKey.length) & (HOST_BUCKETS - 1);
}

/** The key part of a host bucket in histhost. */
export function bucketPart(bucket: number): Buffer {
  const part = Buffer.allocUnsafe(2);
  part.writeUInt16BE(bucket, 0);
  return part;
}

/** The key of a block: an app's key part or a host bucket's part, then the block id. */
export function blockKey(part: Uint8Array, block: number): Buffer {
  const key = Buffer.allocUnsafe(part.length + 8);
  key.set(part, 0);
  key.writeUInt32BE(Math.floor(block / 2 ** 32), part.length);
  key.writeUInt32BE(block >>> 0, part.length + 4);
  return key;
}

/** The block id of a block key. */
export function blockOf(key: Uint8Array): number {
  const at = key.length - 8;
  const hi = ((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) >>> 0;
  const lo = ((key[at + 4]! << 24) | (key[at + 5]! << 16) | (key[at + 6]! << 8) | key[at + 7]!) >>> 0;
  return hi * 2 ** 32 + lo;
}

/** One entry as read back from a block: views into the block. */
export interface EntryView {
  time: number;
  instance: number;
  flags: number;
  appId: Uint8Array;
  app: Uint8Array;
  host: Uint8Array;
  ver: Uint8Array;
  prevVer: Uint8Array;
  hostIp: Uint8Array;
  /** The labels object (empty: none). */
  labels: Uint8Array;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** The newest entry time in a block. */
export function blockNewest(block: Uint8Array): number {
  return u32(block, 8);
}

/** Offsets of every entry of a block, oldest first. */
export function entryOffsets(block: Uint8Array, size = block.length): number[] {
  const out: number[] = [];
  for (let at = BLOCK_HEADER; at < size; at += u16(block, at)) out.push(at);
  return out;
}

/** Reads the entry at offset `at` of a block. */
export function readEntry(block: Uint8Array, at: number, into: EntryView): EntryView {
  let o = at + ENTRY_HEADER;
  const take = (n: number): Uint8Array => block.subarray(o, (o += n));
  into.time = u32(block, at + 2);
  into.instance = u16(block, at + 6);
  into.flags = block[at + 8]!;
  const ipLen = block[at + 9]!;
  into.appId = take(u16(block, at + 10));
  into.app = take(u16(block, at + 12));
  into.host = take(u16(block, at + 14));
  into.ver = take(u16(block, at + 16));
  into.prevVer = take(u16(block, at + 18));
  into.hostIp = take(ipLen);
  into.labels = block.subarray(o, at + u16(block, at));
  return into;
}

export function newEntryView(): EntryView {
  const empty = new Uint8Array(0);
  return { time: 0, instance: 0, flags: 0, appId: empty, app: empty, host: empty, ver: empty, prevVer: empty, hostIp: empty, labels: empty };
}

/** The entry as JSON: {"app","app_id","host","host_ip","instance","ver","prev_ver","time"} and "labels" when it has some. */
export function writeEntryJson(e: EntryView, out: JsonBytes): void {
  out.ascii('{"app":"').bytes(e.app).ascii('","app_id":"').bytes(e.appId).ascii('","host":"').bytes(e.host);
  if (e.hostIp.length === 0) out.ascii('","host_ip":null,"instance":');
  else out.ascii('","host_ip":"').bytes(e.hostIp).ascii('","instance":');
  out.uint(e.instance);
  if ((e.flags & EntryFlag.removed) !== 0) out.ascii(',"ver":null');
  else out.ascii(',"ver":"').bytes(e.ver).ascii('"');
  if ((e.flags & EntryFlag.first) !== 0) out.ascii(',"prev_ver":null,"time":');
  else out.ascii(',"prev_ver":"').bytes(e.prevVer).ascii('","time":');
  out.uint(e.time);
  if (e.labels.length > 0) out.ascii(',"labels":').bytes(e.labels);
  out.ascii('}');
}

/** How often (items, minus one: a mask) a long loop of the cut calls its `meanwhile`. */
export const MEANWHILE_EVERY = 4095;

/**
 * The entries absorbed since the last cut, in arrival order, each tagged
 * with its app slot and its host's bucket; blocks() groups them into one
 * block per app and per bucket, written straight into the batch.
 */
export class HistoryLog {
  #buf = Buffer.alloc(1 << 16);
  #used = 0;
  #app = new Int32Array(1024);
  #host = new Int32Array(1024);
  #at = new Int32Array(1024);
  #count = 0;

  get length(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#used;
  }

  /**
   * Appends an entry: appId, app, host, ver and prevVer are JSON string
   * content (as in the stored fragment), hostIp its text, labels the
   * instance's labels object (or empty); a removal has an empty ver, a
   * first sight an empty prevVer (and the flag saying so).
   */
  push(
    app: number,
    bucket: number,
    time: number,
    instance: number,
    flags: number,
    appId: Uint8Array,
    appName: Uint8Array,
    hostJson: Uint8Array,
    ver: Uint8Array,
    prevVer: Uint8Array,
    hostIp: Uint8Array,
    labels: Uint8Array = EMPTY,
  ): void {
    const f = this.#fields;
    const parts = [appId, appName, hostJson, ver, EMPTY, hostIp, labels];
    // One scratch source: the parts side by side.
    let size = 0;
    for (const p of parts) size += p.length;
    const src = new Uint8Array(size);
    let o = 0;
    for (let i = 0; i < parts.length; i++) {
      src.set(parts[i]!, o);
      f[2 * i] = o;
      f[2 * i + 1] = parts[i]!.length;
      o += parts[i]!.length;
    }
    this.pushFields(app, bucket, time, instance, flags, src, f, prevVer);
  }

  /** Field offsets and lengths for pushFields (app_id, app, host, ver, prev_ver, host_ip, labels): reuse it. */
  readonly #fields = new Int32Array(FIELDS * 2);

  /**
   * Appends an entry whose fields are src[fields[2i], +fields[2i+1]) in the
   * order app_id, app, host, ver, (prev_ver: given apart), host_ip, labels (see
   * push): the writer passes its ring record with offsets, so no view is
   * made per change.
   */
  pushFields(app: number, bucket: number, time: number, instance: number, flags: number, src: Uint8Array, fields: Int32Array, prevVer: Uint8Array): void {
    fields[PREV * 2] = 0;
    fields[PREV * 2 + 1] = prevVer.length;
    let size = ENTRY_HEADER;
    for (let i = 0; i < FIELDS; i++) size += fields[2 * i + 1]!;
    const ipLen = fields[2 * IP + 1]!;
    if (size > 0xffff || ipLen > 0xff) throw new RangeError(`history entry of ${size} bytes`);
    if (this.#used + size > this.#buf.length) {
      const grown = Buffer.alloc(Math.max(this.#buf.length * 2, this.#used + size));
      this.#buf.copy(grown, 0, 0, this.#used);
      this.#buf = grown;
    }
    if (this.#count === this.#app.length) {
      const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#app = grow(this.#app);
      this.#host = grow(this.#host);
      this.#at = grow(this.#at);
    }
    const b = this.#buf;
    const at = this.#used;
    put16(b, at, size);
    put32(b, at + 2, time);
    put16(b, at + 6, instance);
    b[at + 8] = flags;
    b[at + 9] = ipLen;
    // Lengths of app_id, app, host, ver, prev_ver at 10..19 (host_ip's at 9; labels take the rest).
    for (let i = 0; i < PREV + 1; i++) put16(b, at + 10 + 2 * i, fields[2 * i + 1]!);
    let o = at + ENTRY_HEADER;
    for (let i = 0; i < FIELDS; i++) {
      const from = fields[2 * i]!;
      const len = fields[2 * i + 1]!;
      const source = i === PREV ? prevVer : src;
      for (let k = 0; k < len; k++) b[o++] = source[from + k]!;
    }
    this.#app[this.#count] = app;
    this.#host[this.#count] = bucket;
    this.#at[this.#count] = at;
    this.#count++;
    this.#used += size;
  }

  /**
   * Groups the entries into one block per app and one per host bucket, in
   * arrival order inside a block. For each block, `place(kind, slot,
   * size)` returns where in `target()` to write its `size` bytes.
   */
  blocks(place: (kind: 'app' | 'bucket', slot: number, size: number) => number, target: () => Uint8Array, meanwhile: () => void = () => {}): void {
    this.#group(this.#app, (slot, size) => place('app', slot, size), target, meanwhile);
    this.#group(this.#host, (slot, size) => place('bucket', slot, size), target, meanwhile);
  }

  #group(slots: Int32Array, place: (slot: number, size: number) => number, target: () => Uint8Array, meanwhile: () => void): void {
    const n = this.#count;
    // Stable grouping by slot (a counting sort: slots are small integers).
    let max = 0;
    for (let i = 0; i < n; i++) if (slots[i]! > max) max = slots[i]!;
    const start = new Int32Array(max + 2);
    for (let i = 0; i < n; i++) start[slots[i]! + 1]!++;
    for (let s = 1; s < start.length; s++) start[s]! += start[s - 1]!;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[start[slots[i]!]!++] = i;
    const buf = this.#buf;
    let i = 0;
    while (i < n) {
      const slot = slots[order[i]!]!;
      let j = i;
      let bytes = BLOCK_HEADER;
      let oldest = 0xffffffff;
      let newest = 0;
      while (j < n && slots[order[j]!] === slot) {
        const at = this.#at[order[j]!]!;
        bytes += u16(buf, at);
        const t = u32(buf, at + 2);
        if (t < oldest) oldest = t;
        if (t > newest) newest = t;
        j++;
      }
      let o = place(slot, bytes);
      const block = target();
      put32(block, o, j - i);
      put32(block, o + 4, oldest);
      put32(block, o + 8, newest);
      put32(block, o + 12, 0);
      o += BLOCK_HEADER;
      for (let k = i; k < j; k++) {
        const at = this.#at[order[k]!]!;
        const end = at + u16(buf, at);
        // A loop, not Buffer.copy: entries are ~100 bytes, where copy's
        // argument checks cost more than the bytes.
        for (let b = at; b < end; b++) block[o++] = buf[b]!;
        // A big cut takes a while: the caller keeps the rings moving.
        if ((k & MEANWHILE_EVERY) === MEANWHILE_EVERY) meanwhile();
      }
      i = j;
    }
  }

  clear(): void {
    this.#used = 0;
    this.#count = 0;
  }
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}
