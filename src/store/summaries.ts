// Encoding of the stored app and host summaries (DB apps, hosts) and of an
// app's version counts (DB appvers). The writer builds them; the reader
// copies their fragments into responses, appending last_update.

import { SUMMARY_HEADER, S_COUNT, S_NAME_LEN, S_SLOT, S_WRITTEN_AT } from './layout.js';
import type { VersionCount } from './fleet-counts.js';

export const APP_FRAG_HEAD = Buffer.from('{"app":"');
export const HOST_FRAG_HEAD = Buffer.from('{"host":"');

export interface SummaryCounts {
  /** host_count of an app, app_count of a host. */
  peers: number;
  instances: number;
  stale: number;
}

function countsJson(peersName: string, c: SummaryCounts): string {
  return `"${peersName}":${c.peers},"instance_count":${c.instances},"up_count":${c.instances - c.stale},"stale_count":${c.stale},"last_update":`;
}

/** Stored value: header, then `{"app":…,"app_id":…,"host_count":…,…,"last_update":`. */
export function appSummaryValue(slot: number, name: Uint8Array, appId: string, c: SummaryCounts, writtenAt: number): Buffer {
  return value(slot, name.length, c.peers, writtenAt, [APP_FRAG_HEAD, name, Buffer.from(`","app_id":"${appId}",${countsJson('host_count', c)}`)]);
}

/** Stored value: header, then `{"host":…,"app_count":…,…,"last_update":`. */
export function hostSummaryValue(slot: number, name: Uint8Array, c: SummaryCounts, writtenAt: number): Buffer {
  return value(slot, name.length, c.peers, writtenAt, [HOST_FRAG_HEAD, name, Buffer.from(`",${countsJson('app_count', c)}`)]);
}

function value(slot: number, nameLen: number, peers: number, writtenAt: number, parts: Uint8Array[]): Buffer {
  const frag = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(SUMMARY_HEADER + frag.length);
  out.writeUInt32LE(slot, S_SLOT);
  out.writeUInt32LE(peers, S_COUNT);
  out.writeUInt32LE(writtenAt, S_WRITTEN_AT);
  out.writeUInt16LE(nameLen, S_NAME_LEN);
  out.writeUInt16LE(0, S_NAME_LEN + 2);
  out.set(frag, SUMMARY_HEADER);
  return out;
}

/** The name's JSON content inside a stored summary value. */
export function summaryName(value: Buffer, head: Uint8Array): Buffer {
  const at = SUMMARY_HEADER + head.length;
  return value.subarray(at, at + value.readUInt16LE(S_NAME_LEN));
}

/** An app's versions as JSON: most instances first. */
export function versionsJson(versions: readonly VersionCount[]): Buffer {
  const sorted = [...versions].sort((a, b) => b.count - a.count || Buffer.compare(a.json, b.json));
  const parts = sorted.map((v) => `{"ver":"${v.json.toString('utf8')}","count":${v.count},"up_count":${v.count - v.stale},"stale_count":${v.stale}}`);
  return Buffer.from(`[${parts.join(',')}]`);
}
