// The stored instance value (layout.ts: header, then app, ver, host_ip,
// labels): written by the writer from a ring record, read back by the query
// side as the version object
//   {"app":…,"app_id":…,"host":…,"host_ip":…,"instance":N,"ver":…,"last_update":T
// (the reader closes it with status and since). app_id, host and instance
// come from the key.

import {
  FRAG_APP_OFF,
  FRAG_HOST_IP_GAP,
  FRAG_LABELS_GAP,
  RECORD_HEADER,
  R_APP_LEN,
  R_FRAG_HASH_A,
  R_FRAG_HASH_B,
  R_HOST_LEN,
  R_HOST_OFF,
  R_IP_LEN,
  R_KEY_LEN,
  R_LABELS_LEN,
  R_VER_LEN,
  R_VER_OFF,
  get16,
} from '../ingest/record.js';
import type { JsonBytes } from './json-bytes.js';
import { INSTANCE_HEADER, V_APP_LEN, V_FLAGS, V_FP_A, V_FP_B, V_IP_LEN, V_LABELS_LEN, V_SINCE, V_SLOT, V_VER_LEN, V_WRITTEN_AT, ValueFlag } from './layout.js';

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

function copy(dst: Uint8Array, o: number, src: Uint8Array, s: number, e: number): number {
  for (let i = s; i < e; i++) dst[o++] = src[i]!;
  return o;
}

/** The length of the value for the update record at rec[off]. */
export function valueLength(rec: Uint8Array, off: number): number {
  return INSTANCE_HEADER + get16(rec, off + R_APP_LEN) + get16(rec, off + R_VER_LEN) + rec[off + R_IP_LEN]! + get16(rec, off + R_LABELS_LEN);
}

/** Writes the value for the update record at rec[off] into out[at, at + valueLength). */
export function writeValue(rec: Uint8Array, off: number, out: Uint8Array, at: number, slot: number, since: number, writtenAt: number): void {
  const frag = off + RECORD_HEADER + get16(rec, off + R_KEY_LEN);
  const appLen = get16(rec, off + R_APP_LEN);
  const verOff = frag + get16(rec, off + R_VER_OFF);
  const verLen = get16(rec, off + R_VER_LEN);
  const ipOff = frag + get16(rec, off + R_HOST_OFF) + get16(rec, off + R_HOST_LEN) + FRAG_HOST_IP_GAP;
  const ipLen = rec[off + R_IP_LEN]!;
  const labelsLen = get16(rec, off + R_LABELS_LEN);
  put32(out, at + V_SLOT, slot);
  put32(out, at + V_SINCE, since);
  put32(out, at + V_WRITTEN_AT, writtenAt);
  for (let i = 0; i < 4; i++) out[at + V_FP_A + i] = rec[off + R_FRAG_HASH_A + i]!;
  for (let i = 0; i < 4; i++) out[at + V_FP_B + i] = rec[off + R_FRAG_HASH_B + i]!;
  put16(out, at + V_APP_LEN, appLen);
  put16(out, at + V_VER_LEN, verLen);
  put16(out, at + V_LABELS_LEN, labelsLen);
  out[at + V_IP_LEN] = ipLen;
  out[at + V_IP_LEN + 1] = 0;
  let o = copy(out, at + INSTANCE_HEADER, rec, frag + FRAG_APP_OFF, frag + FRAG_APP_OFF + appLen);
  o = copy(out, o, rec, verOff, verOff + verLen);
  o = copy(out, o, rec, ipOff, ipOff + ipLen);
  if (labelsLen > 0) {
    const labelsAt = verOff + verLen + FRAG_LABELS_GAP;
    copy(out, o, rec, labelsAt, labelsAt + labelsLen);
  }
}

/** The labels object of a stored value (empty: no labels). */
export function valueLabels(value: Uint8Array): Uint8Array {
  const at = INSTANCE_HEADER + u16(value, V_APP_LEN) + u16(value, V_VER_LEN) + value[V_IP_LEN]!;
  return value.subarray(at, at + u16(value, V_LABELS_LEN));
}

/** Where ver's JSON content starts in a value (its length: u16 at V_VER_LEN). */
export function verOffset(value: Uint8Array): number {
  return INSTANCE_HEADER + u16(value, V_APP_LEN);
}

export function verLength(value: Uint8Array): number {
  return u16(value, V_VER_LEN);
}

const JSON_SPECIAL = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) JSON_SPECIAL[c] = 1;
JSON_SPECIAL[0x22] = 1;
JSON_SPECIAL[0x5c] = 1;

/**
 * Appends a key part (key[start, end), escaped as keys.ts does, without its
 * terminator) as JSON string content. Ordinary names (no quote, backslash
 * or control character, which includes the key escape byte 0x01) are
 * copied as they are.
 */
export function keyPartAsJson(key: Uint8Array, start: number, end: number, out: JsonBytes): void {
  let plain = true;
  for (let i = start; i < end; i++) {
    if (JSON_SPECIAL[key[i]!] === 1) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.bytes(key, start, end);
    return;
  }
  const raw: number[] = [];
  for (let i = start; i < end; i++) {
    const c = key[i]!;
    raw.push(c === 1 ? key[++i]! - 1 : c);
  }
  out.bytes(Buffer.from(JSON.stringify(Buffer.from(raw).toString('utf8')).slice(1, -1), 'utf8'));
}

/**
 * Appends the version object of a stored instance up to and including
 * `"last_update":T` (no closing brace). key[0, keyLength) is its key.
 */
export function writeVersionJson(key: Uint8Array, keyLength: number, value: Uint8Array, lastUpdate: number, out: JsonBytes): void {
  let appEnd = 0;
  while (key[appEnd] !== 0) appEnd++;
  const hostEnd = keyLength - 3;
  const appLen = u16(value, V_APP_LEN);
  const verLen = u16(value, V_VER_LEN);
  const ipLen = value[V_IP_LEN]!;
  const appAt = INSTANCE_HEADER;
  const verAt = appAt + appLen;
  const ipAt = verAt + verLen;
  const labelsLen = u16(value, V_LABELS_LEN);
  out.ascii('{"app":"').bytes(value, appAt, verAt).ascii('","app_id":"').bytes(key, 0, appEnd).ascii('","host":"');
  keyPartAsJson(key, appEnd + 1, hostEnd, out);
  out
    .ascii('","host_ip":"')
    .bytes(value, ipAt, ipAt + ipLen)
    .ascii('","instance":')
    .uint((key[keyLength - 2]! << 8) | key[keyLength - 1]!);
  out.ascii(',"ver":"').bytes(value, verAt, ipAt).ascii('"');
  if (labelsLen > 0) out.ascii(',"labels":').bytes(value, ipAt + ipLen, ipAt + ipLen + labelsLen);
  out.ascii(',"last_update":').uint(lastUpdate);
}

/** Where a value's labels end: the cluster trailer, if any, starts there. */
function trailerOffset(value: Uint8Array): number {
  return INSTANCE_HEADER + u16(value, V_APP_LEN) + u16(value, V_VER_LEN) + value[V_IP_LEN]! + u16(value, V_LABELS_LEN);
}

/** Bytes of a cluster trailer naming origin (layout.ts ValueFlag.cluster). */
export function clusterTrailerLength(origin: Uint8Array): number {
  return 5 + origin.length;
}

/**
 * Appends the cluster trailer to the value just written at out[at] (its
 * room reserved: clusterTrailerLength) and flags the value as having it.
 */
export function writeClusterTrailer(out: Uint8Array, at: number, contentTime: number, origin: Uint8Array): void {
  const o = at + trailerOffset(out.subarray(at));
  put32(out, o, contentTime);
  out[o + 4] = origin.length;
  out.set(origin, o + 5);
  out[at + V_FLAGS] = out[at + V_FLAGS]! | ValueFlag.cluster;
}

/** The content time and origin node of a stored value (null: written by a single node). */
export function readClusterTrailer(value: Uint8Array): { contentTime: number; origin: Uint8Array } | null {
  if ((value[V_FLAGS]! & ValueFlag.cluster) === 0) return null;
  const o = trailerOffset(value);
  const contentTime = (value[o]! | (value[o + 1]! << 8) | (value[o + 2]! << 16) | (value[o + 3]! << 24)) >>> 0;
  return { contentTime, origin: value.subarray(o + 5, o + 5 + value[o + 4]!) };
}
