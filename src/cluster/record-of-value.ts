// A ring record rebuilt from a stored instance (key + value), for the
// snapshots and resyncs a node publishes (node.ts). The fragment is built
// as the ingest side builds it; the content fingerprint is the stored one,
// so a receiver that already has this content sees a repeat.

import { hash32 } from '../ingest/hash.js';
import {
  RECORD_HEADER,
  R_APP_ID_LEN,
  R_APP_LEN,
  R_FLAGS,
  R_FRAG_HASH_A,
  R_FRAG_HASH_B,
  R_FRAG_LEN,
  R_HOST_LEN,
  R_HOST_OFF,
  R_INSTANCE,
  R_IP_LEN,
  R_KEY_HASH,
  R_KEY_LEN,
  R_LABELS_LEN,
  R_SEQ,
  R_TIME,
  R_TYPE,
  R_VER_LEN,
  R_VER_OFF,
  RecordType,
} from '../ingest/record.js';
import { readClusterTrailer } from '../store/instance-value.js';
import { JsonBytes } from '../store/json-bytes.js';
import { keyPartAsJson } from '../store/instance-value.js';
import { INSTANCE_HEADER, V_APP_LEN, V_FP_A, V_FP_B, V_IP_LEN, V_LABELS_LEN, V_SINCE, V_VER_LEN } from '../store/layout.js';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const APP = ascii('{"app":"');
const APP_ID = ascii('","app_id":"');
const HOST = ascii('","host":"');
const HOST_IP = ascii('","host_ip":"');
const INSTANCE = ascii('","instance":');
const VER = ascii(',"ver":"');
const LAST = ascii('","last_update":');
const LABELS = ascii('","labels":');
const LAST_AFTER_LABELS = ascii(',"last_update":');

/** The stored instance as a record in out[0, n); returns n, and its origin (null: written by a single node). */
export function recordOfValue(key: Uint8Array, keyLength: number, valueBytes: Uint8Array, out: Buffer): { length: number; origin: Uint8Array | null } {
  const value = Buffer.from(valueBytes.buffer, valueBytes.byteOffset, valueBytes.byteLength);
  const appLen = value.readUInt16LE(V_APP_LEN);
  const verLen = value.readUInt16LE(V_VER_LEN);
  const ipLen = value[V_IP_LEN]!;
  const appAt = INSTANCE_HEADER;
  const verAt = appAt + appLen;
  const ipAt = verAt + verLen;
  const labelsAt = ipAt + ipLen;
  const labelsLen = value.readUInt16LE(V_LABELS_LEN);
  let appEnd = 0;
  while (key[appEnd] !== 0) appEnd++;
  const instance = (key[keyLength - 2]! << 8) | key[keyLength - 1]!;
  const host = new JsonBytes(256);
  keyPartAsJson(key, appEnd + 1, keyLength - 3, host);
  const hostJson = host.view();

  out.fill(0, 0, RECORD_HEADER);
  let o = RECORD_HEADER;
  out.set(key.subarray(0, keyLength), o);
  o += keyLength;
  const frag = o;
  const put = (b: Uint8Array): void => {
    out.set(b, o);
    o += b.length;
  };
  put(APP);
  put(value.subarray(appAt, verAt));
  put(APP_ID);
  put(key.subarray(0, appEnd));
  put(HOST);
  const hostOff = o - frag;
  put(hostJson);
  put(HOST_IP);
  put(value.subarray(ipAt, ipAt + ipLen));
  put(INSTANCE);
  put(ascii(String(instance)));
  put(VER);
  const verOff = o - frag;
  put(value.subarray(verAt, ipAt));
  if (labelsLen > 0) {
    put(LABELS);
    put(value.subarray(labelsAt, labelsAt + labelsLen));
    put(LAST_AFTER_LABELS);
  } else {
    put(LAST);
  }
  const trailer = readClusterTrailer(value);
  out[R_TYPE] = RecordType.update;
  out[R_FLAGS] = 0;
  out.writeUInt16LE(keyLength, R_KEY_LEN);
  out.writeUInt32LE(0, R_SEQ);
  out.writeUInt32LE(trailer === null ? value.readUInt32LE(V_SINCE) : trailer.contentTime, R_TIME);
  out.writeInt32LE(hash32(key, 0, keyLength), R_KEY_HASH);
  out.writeInt32LE(value.readInt32LE(V_FP_A), R_FRAG_HASH_A);
  out.writeInt32LE(value.readInt32LE(V_FP_B), R_FRAG_HASH_B);
  out.writeUInt16LE(o - frag, R_FRAG_LEN);
  out.writeUInt16LE(verOff, R_VER_OFF);
  out.writeUInt16LE(verLen, R_VER_LEN);
  out.writeUInt16LE(appLen, R_APP_LEN);
  out.writeUInt16LE(hostOff, R_HOST_OFF);
  out.writeUInt16LE(hostJson.length, R_HOST_LEN);
  out[R_APP_ID_LEN] = appEnd;
  out[R_IP_LEN] = ipLen;
  out.writeUInt16LE(instance, R_INSTANCE);
  out.writeUInt16LE(labelsLen, R_LABELS_LEN);
  return { length: o, origin: trailer === null ? null : trailer.origin };
}
