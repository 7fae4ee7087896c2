// The compact record an ingest thread hands to the writer through its ring.
// It carries everything the writer needs, prepared off the writer thread:
//
// - the storage key (app_id, host, instance; see src/store/keys.ts), and
// - the stored JSON fragment of the version object, all fields except
//   last_update, which the query side appends: `{"app":"…","app_id":"…",
//   "host":"…","host_ip":"…","instance":N,"ver":"…","last_update":`, with
//   `,"labels":{…}` after ver when the update has labels (sorted by name)
// - hashes of both, so a repeated update (same key, same fragment) costs the
//   writer a hash-table probe and a timestamp store, nothing more.
//
// All integers little-endian. Layout (byte offsets):

import { asciiAppIdInto } from './app-id.js';
import { hash32, hashBytes, hashOut } from './hash.js';
import type { ParsedUpdate } from './update.js';
import { encodeKeyPart } from '../store/keys.js';

export const RecordType = {
  /** An update (UDP or HTTP). */
  update: 1,
  /** Remove every instance (POST /api/v1/_danger/clear/). */
  clear: 2,
  /** Remove the instances matching a selector (DELETE endpoints). */
  remove: 3,
  /** A peer's liveness digest (cluster): instances heard from, by key hash (src/cluster/digest.ts). */
  touch: 4,
} as const;

export const RecordFlag = {
  /** Came over HTTP: always written, and acknowledged by seq after commit. */
  http: 1,
  /**
   * Came from another cluster node (src/cluster): applied only if it wins
   * the conflict rule, never published again, acknowledged by seq. The
   * origin node's name follows the record (remoteTrailer in src/cluster/remote.ts).
   */
  remote: 2,
} as const;

export const R_TYPE = 0; // u8
export const R_FLAGS = 1; // u8
export const R_KEY_LEN = 2; // u16
export const R_SEQ = 4; // u32: HTTP request number, 0 for UDP
export const R_TIME = 8; // u32: unix seconds when received
export const R_KEY_HASH = 12; // i32
export const R_FRAG_HASH_A = 16; // i32
export const R_FRAG_HASH_B = 20; // i32
export const R_FRAG_LEN = 24; // u16
export const R_VER_OFF = 26; // u16: ver's JSON content, offset in fragment
export const R_VER_LEN = 28; // u16
export const R_APP_LEN = 30; // u16: app's JSON content starts at fragment offset FRAG_APP_OFF
export const R_HOST_OFF = 32; // u16: host's JSON content, offset in fragment
export const R_HOST_LEN = 34; // u16
export const R_APP_ID_LEN = 36; // u8: app_id bytes at the start of the key
export const R_IP_LEN = 37; // u8: host_ip's length; it starts FRAG_HOST_IP_GAP bytes after host
export const R_INSTANCE = 38; // u16
export const R_LABELS_LEN = 40; // u16: the labels object's length; it starts FRAG_LABELS_GAP bytes after ver (0: no labels)
// 42: u16 reserved (0)
export const RECORD_HEADER = 44;

/** Largest record an update can produce: fields and 16 labels at their limits, fully escaped, take ~8,040 bytes (update.test.ts). */
export const MAX_RECORD_BYTES = 9216;

const FRAG_APP = ascii('{"app":"');
export const FRAG_APP_OFF = FRAG_APP.length;
const FRAG_APP_ID = ascii('","app_id":"');
const FRAG_HOST = ascii('","host":"');
const FRAG_HOST_IP = ascii('","host_ip":"');
/** Bytes between the end of host's JSON content and the start of host_ip in a fragment. */
export const FRAG_HOST_IP_GAP = FRAG_HOST_IP.length;
const FRAG_INSTANCE = ascii('","instance":');
const FRAG_VER = ascii(',"ver":"');
const FRAG_LAST_UPDATE = ascii('","last_update":');
const FRAG_LABELS = ascii('","labels":');
/** Bytes between the end of ver's JSON content and the start of the labels object in a fragment. */
export const FRAG_LABELS_GAP = FRAG_LABELS.length;
const FRAG_LAST_UPDATE_AFTER_LABELS = ascii(',"last_update":');

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

export function get16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function getI32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** Appends a short constant (a loop beats TypedArray.set for a few bytes). */
function lit(dst: Uint8Array, o: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) dst[o++] = bytes[i]!;
  return o;
}

function copy(dst: Uint8Array, o: number, src: Uint8Array, s: number, e: number): number {
  // A loop for short fields (most of them); set() for long ones
  // (bench/micro measures both).
  if (e - s > 64) {
    dst.set(src.subarray(s, e), o);
    return o + (e - s);
  }
  for (let i = s; i < e; i++) dst[o++] = src[i]!;
  return o;
}

function putDecimal(dst: Uint8Array, o: number, v: number): number {
  if (v >= 10) o = putDecimal(dst, o, Math.floor(v / 10));
  dst[o] = 0x30 + (v % 10);
  return o + 1;
}

const utf8 = new TextEncoder();

// app_id of non-ASCII app names, by a hash of the name's bytes (confirmed
// by comparing them): a fleet has few apps, and the per-character mapping
// costs microseconds.
const appIdCache = new Map<number, { name: Uint8Array; id: Uint8Array }>();
const APP_ID_CACHE_MAX = 4096;

function nonAsciiAppId(p: ParsedUpdate): Uint8Array {
  const buf = p.buf;
  const start = p.appRawStart;
  const len = p.appRawEnd - start;
  const h = hash32(buf, start, start + len);
  const hit = appIdCache.get(h);
  if (hit !== undefined && hit.name.length === len) {
    let same = true;
    for (let i = 0; i < len; i++) if (hit.name[i] !== buf[start + i]) same = false;
    if (same) return hit.id;
  }
  if (appIdCache.size >= APP_ID_CACHE_MAX) appIdCache.clear();
  const id = utf8.encode(p.appId());
  appIdCache.set(h, { name: buf.slice(start, start + len), id });
  return id;
}

/**
 * Encodes a validated update as a ring record into out (at least
 * MAX_RECORD_BYTES long) and returns its length. `ip` holds the sender
 * address as text in ip[ipStart, ipEnd); it becomes host_ip, and host when
 * the update names none.
 */
export function encodeUpdate(
  p: ParsedUpdate,
  ip: Uint8Array,
  ipStart: number,
  ipEnd: number,
  time: number,
  seq: number,
  flags: number,
  out: Uint8Array,
): number {
  const src = p.buf;
  const hasHost = p.hostRawStart >= 0;
  const hostRawSrc = hasHost ? src : ip;
  const hostRawStart = hasHost ? p.hostRawStart : ipStart;
  const hostRawEnd = hasHost ? p.hostRawEnd : ipEnd;

  // Key: app_id 0x00 escaped(host) 0x00 instance(u16 BE); see store/keys.ts.
  let o = RECORD_HEADER;
  let appIdLen: number;
  if (p.appAscii) {
    appIdLen = asciiAppIdInto(src, p.appRawStart, p.appRawEnd, out, o);
  } else {
    const id = nonAsciiAppId(p);
    for (let i = 0; i < id.length; i++) out[o + i] = id[i]!;
    appIdLen = id.length;
  }
  o += appIdLen;
  out[o++] = 0;
  o = encodeKeyPart(hostRawSrc, hostRawStart, hostRawEnd, out, o);
  out[o++] = p.instance >>> 8;
  out[o++] = p.instance & 0xff;
  const keyLen = o - RECORD_HEADER;

  // Fragment.
  const f = o;
  o = lit(out, o, FRAG_APP);
  o = copy(out, o, src, p.appJsonStart, p.appJsonEnd);
  o = lit(out, o, FRAG_APP_ID);
  o = copy(out, o, out, RECORD_HEADER, RECORD_HEADER + appIdLen);
  o = lit(out, o, FRAG_HOST);
  const hostOff = o - f;
  o = hasHost ? copy(out, o, src, p.hostJsonStart, p.hostJsonEnd) : copy(out, o, ip, ipStart, ipEnd);
  const hostLen = o - f - hostOff;
  o = lit(out, o, FRAG_HOST_IP);
  o = copy(out, o, ip, ipStart, ipEnd);
  o = lit(out, o, FRAG_INSTANCE);
  o = putDecimal(out, o, p.instance);
  o = lit(out, o, FRAG_VER);
  const verOff = o - f;
  o = copy(out, o, src, p.verJsonStart, p.verJsonEnd);
  const verLen = o - f - verOff;
  let labelsLen = 0;
  if (p.labelCount > 0) {
    o = lit(out, o, FRAG_LABELS);
    const labelsAt = o;
    const l = p.labels;
    out[o++] = 0x7b;
    for (let i = 0; i < p.labelCount; i++) {
      if (i > 0) out[o++] = 0x2c;
      out[o++] = 0x22;
      o = copy(out, o, src, l[4 * i]!, l[4 * i + 1]!);
      out[o++] = 0x22;
      out[o++] = 0x3a;
      out[o++] = 0x22;
      o = copy(out, o, src, l[4 * i + 2]!, l[4 * i + 3]!);
      out[o++] = 0x22;
    }
    out[o++] = 0x7d;
    labelsLen = o - labelsAt;
    o = lit(out, o, FRAG_LAST_UPDATE_AFTER_LABELS);
  } else {
    o = lit(out, o, FRAG_LAST_UPDATE);
  }
  const fragLen = o - f;

  out[R_TYPE] = RecordType.update;
  out[R_FLAGS] = flags;
  put16(out, R_KEY_LEN, keyLen);
  put32(out, R_SEQ, seq);
  put32(out, R_TIME, time);
  put32(out, R_KEY_HASH, hash32(out, RECORD_HEADER, RECORD_HEADER + keyLen));
  hashBytes(out, f, f + fragLen);
  put32(out, R_FRAG_HASH_A, hashOut[0]!);
  put32(out, R_FRAG_HASH_B, hashOut[1]!);
  put16(out, R_FRAG_LEN, fragLen);
  put16(out, R_VER_OFF, verOff);
  put16(out, R_VER_LEN, verLen);
  put16(out, R_APP_LEN, p.appJsonEnd - p.appJsonStart);
  put16(out, R_HOST_OFF, hostOff);
  put16(out, R_HOST_LEN, hostLen);
  out[R_APP_ID_LEN] = appIdLen;
  out[R_IP_LEN] = ipEnd - ipStart;
  put16(out, R_INSTANCE, p.instance);
  put16(out, R_LABELS_LEN, labelsLen);
  put16(out, R_LABELS_LEN + 2, 0);
  return o;
}

/** Where the labels object of the update record at rec[off] starts (its length: u16 at R_LABELS_LEN). */
export function labelsOffset(rec: Uint8Array, off: number): number {
  return off + RECORD_HEADER + get16(rec, off + R_KEY_LEN) + get16(rec, off + R_VER_OFF) + get16(rec, off + R_VER_LEN) + FRAG_LABELS_GAP;
}

/** Encodes a control record (clear/remove) with an opaque payload. */
export function encodeControl(type: number, seq: number, time: number, payload: Uint8Array, out: Uint8Array): number {
  out.fill(0, 0, RECORD_HEADER);
  out[R_TYPE] = type;
  out[R_FLAGS] = RecordFlag.http;
  put32(out, R_SEQ, seq);
  put32(out, R_TIME, time);
  put16(out, R_KEY_LEN, payload.length);
  out.set(payload, RECORD_HEADER);
  return RECORD_HEADER + payload.length;
}

/** The version object a record describes, at time last_update (for tests and events). */
export function recordToVersion(rec: Uint8Array, off = 0): Record<string, unknown> {
  const keyLen = get16(rec, off + R_KEY_LEN);
  const fragStart = off + RECORD_HEADER + keyLen;
  const frag = Buffer.from(rec.buffer, rec.byteOffset + fragStart, get16(rec, off + R_FRAG_LEN)).toString('utf8');
  return JSON.parse(frag + get32(rec, off + R_TIME) + '}') as Record<string, unknown>;
}
