// The benchmark fleet, and its packets and ring records built with the real
// code: partisci-fuzz's Traffic writes the JSON (every client library's
// style), the server's parseUpdate and encodeUpdate turn it into records.
//
// The fleet is 12,500 hosts x 20 apps x 4 instances = 1,000,000 instances
// with versions held still (--release-every 1e9 s), so sending it again
// is a pure repeat storm. The prebuilt store (store-cache.ts) and the
// end-to-end senders must agree on every byte of it, including the sender
// address (host_ip): fuzz sends from 127.0.0.1, and so do these records.

import { encodeUpdate, MAX_RECORD_BYTES } from '../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../src/ingest/update.js';
import { Reason } from '../src/ingest/reasons.js';
import type { FleetShape } from '../tools/fuzz/fleet.js';
import { DEFAULT_TRAFFIC, Traffic } from '../tools/fuzz/traffic.js';

export const FLEET: Readonly<FleetShape> = {
  seed: 1,
  hosts: 12_500,
  apps: 20,
  instances: 4,
  releaseEveryS: 1e9,
};

export const FLEET_SIZE = FLEET.hosts * FLEET.apps * FLEET.instances;

/** The same fleet with labels on every update (env, region, dc): the labels section's store. */
export const LABELLED_FLEET: Readonly<FleetShape> = { ...FLEET, labels: true };

/** partisci-fuzz flags that describe FLEET (plus --seed). */
export function fleetArgs(shape: FleetShape = FLEET): string[] {
  return [...shapeArgs(shape), '--release-every', String(shape.releaseEveryS)];
}

/** partisci-fuzz flags for a fleet's size (and its seed and labels, if given): what --waves takes. */
export function shapeArgs(shape: Pick<FleetShape, 'hosts' | 'apps' | 'instances'> & Partial<Pick<FleetShape, 'seed' | 'labels'>>): string[] {
  return [
    ...(shape.seed === undefined ? [] : ['--seed', String(shape.seed)]),
    '--hosts',
    String(shape.hosts),
    '--apps',
    String(shape.apps),
    '--instances',
    String(shape.instances),
    ...(shape.labels === true ? ['--labels'] : []),
  ];
}

export const SENDER_IP = new TextEncoder().encode('127.0.0.1');

export function trafficOf(shape: FleetShape = FLEET): Traffic {
  return new Traffic({ ...DEFAULT_TRAFFIC, fleet: { ...shape } });
}

/** Datagrams back to back in one buffer, as recvmmsg would leave them (one per slot). */
export interface Packets {
  buf: Uint8Array;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
}

/** Packets from..from+count-1 of the fleet's update stream. */
export function packetsOf(traffic: Traffic, from: number, count: number): Packets {
  const enc = new TextEncoder();
  const texts = Array.from({ length: count }, (_, i) => enc.encode(traffic.goodJson(from + i)));
  const buf = new Uint8Array(texts.reduce((n, t) => n + t.length, 0));
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  let o = 0;
  texts.forEach((t, i) => {
    buf.set(t, o);
    starts[i] = o;
    o += t.length;
    ends[i] = o;
  });
  return { buf, starts, ends, count };
}

/** Ring records, back to back: record i is buf[starts[i], ends[i]). */
export type Records = Packets;

/** Encodes every packet as the ingest worker would (time = `time`, from SENDER_IP). */
export function recordsOf(packets: Packets, time: number): Records {
  const parsed = new ParsedUpdate();
  const scratch = new Uint8Array(MAX_RECORD_BYTES);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < packets.count; i++) {
    const reason = parseUpdate(packets.buf, packets.starts[i]!, packets.ends[i]!, parsed);
    if (reason !== Reason.ok) throw new Error(`fleet packet ${i} rejected (reason ${reason})`);
    const len = encodeUpdate(parsed, SENDER_IP, 0, SENDER_IP.length, time, 0, 0, scratch);
    parts.push(scratch.slice(0, len));
  }
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const starts = new Int32Array(parts.length);
  const ends = new Int32Array(parts.length);
  let o = 0;
  parts.forEach((p, i) => {
    buf.set(p, o);
    starts[i] = o;
    o += p.length;
    ends[i] = o;
  });
  return { buf, starts, ends, count: parts.length };
}

/** Records of packets built from explicit JSON texts (for changed versions, new hosts...). */
export function recordsOfTexts(texts: readonly string[], time: number): Records {
  const enc = new TextEncoder();
  const bytes = texts.map((t) => enc.encode(t));
  const buf = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  const starts = new Int32Array(bytes.length);
  const ends = new Int32Array(bytes.length);
  let o = 0;
  bytes.forEach((b, i) => {
    buf.set(b, o);
    starts[i] = o;
    o += b.length;
    ends[i] = o;
  });
  return recordsOf({ buf, starts, ends, count: bytes.length }, time);
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
