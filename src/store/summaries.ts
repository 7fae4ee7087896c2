// Encoding of the stored app and host summaries (DB apps, hosts) and of an
// app's version counts (DB appvers). The writer builds them; the reader
// copies their fragments into responses, appending last_update.

import type { KeyIndex } from './key-index.js';
import { decodeKeyPart } from './keys.js';
import { SUMMARY_HEADER, S_COUNT, S_FRAG_LEN, S_NAME_LEN, S_SLOT, S_WRITTEN_AT } from './layout.js';
import type { VersionCount } from './fleet-counts.js';

export const APP_FRAG_HEAD = Buffer.from('{"app":"');
export const HOST_FRAG_HEAD = Buffer.from('{"host":"');

export interface SummaryCounts {
  /** host_count of an app, app_count of a host. */
  peers: number;
  instances: number;
  stale: number;
}

// label_counts (instances per label value, label-sets.ts) sits in the
// fragment before last_update when any instance has labels: lists and
// single summaries carry it alike, and stores without labels are unchanged.
function countsJson(peersName: string, c: SummaryCounts, labelCounts: string): string {
  const labels = labelCounts === '' ? '' : `"label_counts":${labelCounts},`;
  return `"${peersName}":${c.peers},"instance_count":${c.instances},"up_count":${c.instances - c.stale},"stale_count":${c.stale},${labels}"last_update":`;
}

/** Stored value: header, then `{"app":…,"app_id":…,"host_count":…,…,"last_update":`. */
export function appSummaryValue(slot: number, name: Uint8Array, appId: string, c: SummaryCounts, writtenAt: number, labelCounts = ''): Buffer {
  return value(
    slot,
    name.length,
    c.peers,
    writtenAt,
    [APP_FRAG_HEAD, name, Buffer.from(`","app_id":"${appId}",${countsJson('host_count', c, labelCounts)}`)],
    [],
  );
}

/**
 * Stored value: header, then `{"host":…,"app_count":…,…,"last_update":`,
 * then the app_id key parts of its apps (sorted: a host's instances are
 * listed app by app in key order).
 */
export function hostSummaryValue(slot: number, name: Uint8Array, c: SummaryCounts, writtenAt: number, appKeys: Uint8Array[], labelCounts = ''): Buffer {
  return value(slot, name.length, c.peers, writtenAt, [HOST_FRAG_HEAD, name, Buffer.from(`",${countsJson('app_count', c, labelCounts)}`)], appKeys);
}

function value(slot: number, nameLen: number, peers: number, writtenAt: number, parts: Uint8Array[], trailer: Uint8Array[]): Buffer {
  let fragLen = 0;
  for (const p of parts) fragLen += p.length;
  let size = SUMMARY_HEADER + fragLen;
  for (const t of trailer) size += t.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(slot, S_SLOT);
  out.writeUInt32LE(peers, S_COUNT);
  out.writeUInt32LE(writtenAt, S_WRITTEN_AT);
  out.writeUInt16LE(nameLen, S_NAME_LEN);
  out.writeUInt16LE(0, S_NAME_LEN + 2);
  out.writeUInt32LE(fragLen, S_FRAG_LEN);
  let o = SUMMARY_HEADER;
  for (const p of [...parts, ...trailer]) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const HOST_COUNTS_OPEN = Buffer.from('","app_count":');
const INSTANCE_COUNT = Buffer.from(',"instance_count":');
const UP_COUNT = Buffer.from(',"up_count":');
const STALE_COUNT = Buffer.from(',"stale_count":');
const LAST_UPDATE = Buffer.from(',"last_update":');

function decimalLength(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
}

function putDecimal(dst: Uint8Array, o: number, v: number): number {
  const end = o + decimalLength(v);
  let at = end;
  do {
    dst[--at] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  } while (v > 0);
  return end;
}

function putBytes(dst: Uint8Array, o: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) dst[o++] = src[i]!;
  return o;
}

/**
 * hostSummaryValue written straight into a batch (`begin` reserves room
 * and returns where the value starts; `bytes` is then the batch's buffer):
 * a cut during a storm of changes rewrites every host's summary, and
 * building each as separate buffers cost more than the rest of the cut.
 * The app_id key parts are copied from the apps index (`appSlots`, in
 * key order), not viewed one by one.
 */
export function putHostSummary(
  begin: (valueLength: number) => number,
  bytes: () => Uint8Array,
  slot: number,
  name: Uint8Array,
  c: SummaryCounts,
  writtenAt: number,
  apps: KeyIndex,
  appSlots: readonly number[],
  labelCounts = '',
): void {
  const up = c.instances - c.stale;
  // label_counts (label-sets.ts) before last_update, when any instance has labels.
  const labels = labelCounts === '' ? null : Buffer.from(`,"label_counts":${labelCounts}`);
  const fragLen =
    HOST_FRAG_HEAD.length +
    name.length +
    HOST_COUNTS_OPEN.length +
    decimalLength(c.peers) +
    INSTANCE_COUNT.length +
    decimalLength(c.instances) +
    UP_COUNT.length +
    decimalLength(up) +
    STALE_COUNT.length +
    decimalLength(c.stale) +
    (labels?.length ?? 0) +
    LAST_UPDATE.length;
  let size = SUMMARY_HEADER + fragLen;
  for (const a of appSlots) size += apps.keyLength(a);
  const at = begin(size);
  const b = bytes();
  const view = new DataView(b.buffer, b.byteOffset + at, SUMMARY_HEADER);
  view.setUint32(S_SLOT, slot, true);
  view.setUint32(S_COUNT, c.peers, true);
  view.setUint32(S_WRITTEN_AT, writtenAt, true);
  view.setUint16(S_NAME_LEN, name.length, true);
  view.setUint16(S_NAME_LEN + 2, 0, true);
  view.setUint32(S_FRAG_LEN, fragLen, true);
  let o = putBytes(b, at + SUMMARY_HEADER, HOST_FRAG_HEAD);
  o = putBytes(b, o, name);
  o = putBytes(b, o, HOST_COUNTS_OPEN);
  o = putDecimal(b, o, c.peers);
  o = putBytes(b, o, INSTANCE_COUNT);
  o = putDecimal(b, o, c.instances);
  o = putBytes(b, o, UP_COUNT);
  o = putDecimal(b, o, up);
  o = putBytes(b, o, STALE_COUNT);
  o = putDecimal(b, o, c.stale);
  if (labels !== null) o = putBytes(b, o, labels);
  o = putBytes(b, o, LAST_UPDATE);
  for (const a of appSlots) o = apps.copyKey(a, b, o);
}

/** The name's JSON content inside a stored summary value. */
export function summaryName(value: Uint8Array, head: Uint8Array): Uint8Array {
  const at = SUMMARY_HEADER + head.length;
  return value.subarray(at, at + (value[S_NAME_LEN]! | (value[S_NAME_LEN + 1]! << 8)));
}

/** The fragment's end inside a stored summary value. */
export function summaryFragEnd(value: Uint8Array): number {
  return SUMMARY_HEADER + ((value[S_FRAG_LEN]! | (value[S_FRAG_LEN + 1]! << 8) | (value[S_FRAG_LEN + 2]! << 16)) + value[S_FRAG_LEN + 3]! * 2 ** 24);
}

/** The app_id key parts listed after a host summary's fragment. */
export function summaryAppKeys(value: Uint8Array, size = value.length): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = summaryFragEnd(value);
  while (at < size) {
    let end = at;
    while (value[end] !== 0) end++;
    out.push(value.subarray(at, end + 1));
    at = end + 1;
  }
  return out;
}

/** An app's versions as JSON: most instances first. */
export function versionsJson(versions: readonly VersionCount[]): Buffer {
  const sorted = [...versions].sort((a, b) => b.count - a.count || Buffer.compare(a.json, b.json));
  const parts = sorted.map((v) => `{"ver":"${v.json.toString('utf8')}","count":${v.count},"up_count":${v.count - v.stale},"stale_count":${v.stale}}`);
  return Buffer.from(`[${parts.join(',')}]`);
}

const JSON_ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) JSON_ESCAPE[c] = 1;
JSON_ESCAPE[0x22] = 1;
JSON_ESCAPE[0x5c] = 1;

/**
 * The JSON string content of a key part (a host or app name as stored in
 * its key): the same bytes for ordinary names, escaped when the name holds
 * quotes, backslashes or control characters. With `scratch` (as long as
 * the key, or longer) the result may be a view into it.
 */
export function keyPartJson(key: Uint8Array, at = 0, scratch?: Uint8Array): Uint8Array {
  const raw = scratch !== undefined && scratch.length >= key.length ? scratch : new Uint8Array(key.length);
  const n = decodeKeyPart(key, at, raw);
  for (let i = 0; i < n; i++) {
    if (JSON_ESCAPE[raw[i]!] === 1) return Buffer.from(JSON.stringify(Buffer.from(raw.subarray(0, n)).toString('utf8')).slice(1, -1));
  }
  return raw.subarray(0, n);
}
