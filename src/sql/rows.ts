// Rows for the SQL tables, decoded from the store's own bytes into JS
// values: an instance from its key and stored value
// (store/instance-value.ts), a history entry from a history block
// (store/history.ts). This is what a row means; the SQL thread writes rows
// without decoding them (staging.ts, which falls back on jsonText and
// keyParts for escaped text), and the tests hold that fast path to these.

import { INSTANCE_HEADER, V_APP_LEN, V_IP_LEN, V_SINCE, V_SLOT, V_VER_LEN, V_WRITTEN_AT } from '../store/layout.js';
import { EntryFlag, type EntryView } from '../store/history.js';
import { valueLabels } from '../store/instance-value.js';
import { jsonText } from '../store/json-text.js';
import { splitKey } from '../store/keys.js';

const utf8 = new TextDecoder();

/** A Buffer over the same bytes (no copy), for Buffer's fast string decoding. */
function view(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A versions row: app, app_id, host, host_ip, instance, ver, labels (JSON or null), since, written_at, slot. */
export type InstanceRow = [string, string, string, string, number, string, string | null, number, number, number];

/** A history row: app, app_id, host, host_ip, instance, ver, prev_ver, labels (JSON or null), time, change. */
export type HistoryRow = [string, string, string, string | null, number, string | null, string | null, string | null, number, string];

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** The (app_id, host, instance) of an instance key. */
export function keyParts(key: Uint8Array): [string, string, number] {
  // The common case without the key escape byte (0x01): decoded in place.
  const b = view(key);
  const appEnd = b.indexOf(0);
  const hostEnd = b.indexOf(0, appEnd + 1);
  if (hostEnd === key.length - 3 && b.indexOf(1, 0) < 0) {
    return [b.toString('latin1', 0, appEnd), b.toString('utf8', appEnd + 1, hostEnd), (key[hostEnd + 1]! << 8) | key[hostEnd + 2]!];
  }
  const {
    parts: [appId, host],
    rest,
  } = splitKey(key, 2);
  return [appId!, host!, (key[rest]! << 8) | key[rest + 1]!];
}

/** The versions row of a stored instance. */
export function instanceRow(key: Uint8Array, value: Uint8Array): InstanceRow {
  const [appId, host, instance] = keyParts(key);
  const appLen = u16(value, V_APP_LEN);
  const verLen = u16(value, V_VER_LEN);
  const ipLen = value[V_IP_LEN]!;
  const verAt = INSTANCE_HEADER + appLen;
  const ipAt = verAt + verLen;
  const labels = valueLabels(value);
  const v = view(value);
  return [
    jsonText(value.subarray(INSTANCE_HEADER, verAt)),
    appId,
    host,
    v.toString('latin1', ipAt, ipAt + ipLen),
    instance,
    jsonText(value.subarray(verAt, ipAt)),
    labels.length === 0 ? null : view(labels).toString('utf8'),
    u32(value, V_SINCE),
    u32(value, V_WRITTEN_AT),
    u32(value, V_SLOT),
  ];
}

/** The history row of an entry. */
export function historyRow(e: EntryView): HistoryRow {
  const removed = (e.flags & EntryFlag.removed) !== 0;
  const first = (e.flags & EntryFlag.first) !== 0;
  const change = removed ? 'removed' : first ? 'new' : (e.flags & EntryFlag.labels) !== 0 ? 'labels' : 'version';
  return [
    jsonText(e.app),
    jsonText(e.appId),
    jsonText(e.host),
    e.hostIp.length === 0 ? null : utf8.decode(e.hostIp),
    e.instance,
    removed ? null : jsonText(e.ver),
    first ? null : jsonText(e.prevVer),
    e.labels.length === 0 ? null : utf8.decode(e.labels),
    e.time,
    change,
  ];
}
