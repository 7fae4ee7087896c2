// A record rebuilt from a stored instance (src/cluster/record-of-value.ts,
// for snapshots and resyncs) equals the record the ingest side encoded.

import { describe, expect, test } from 'vitest';
import { recordOfValue } from '../../src/cluster/record-of-value.js';
import { MAX_RECORD_BYTES, RECORD_HEADER, R_KEY_LEN, R_SEQ, encodeUpdate } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { clusterTrailerLength, valueLength, writeClusterTrailer, writeValue } from '../../src/store/instance-value.js';

const parsed = new ParsedUpdate();

function encoded(update: Record<string, unknown>, time: number): Buffer {
  const body = Buffer.from(JSON.stringify(update));
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(0);
  const out = Buffer.alloc(MAX_RECORD_BYTES);
  const ip = Buffer.from('2001:db8::7');
  return out.subarray(0, encodeUpdate(parsed, ip, 0, ip.length, time, 0, 0, out));
}

describe('recordOfValue', () => {
  for (const [name, update] of [
    ['plain', { app: 'Billing Service', ver: '2.4.1', host: 'web-1.example.com', instance: 3 }],
    ['non-ASCII app and host', { app: 'Übersicht 数据', ver: 'v1-β', host: 'hôte-ü', instance: 65535 }],
    ['a quote in the host', { app: 'a', ver: '1', host: 'we"ird', instance: 0 }],
    ['labelled', { app: 'billing', ver: '2.4.0', host: 'db-1', instance: 2, labels: { region: 'eu-west', env: 'prod', dc: 'ams\\"3' } }],
  ] as const) {
    test(`${name}: the same bytes as the ingest side's record (seq aside)`, () => {
      const rec = encoded(update, 1_800_000_123);
      const origin = Buffer.from('alpha');
      const value = Buffer.alloc(valueLength(rec, 0) + clusterTrailerLength(origin));
      writeValue(rec, 0, value, 0, 42, 1_800_000_000, 1_800_000_200);
      writeClusterTrailer(value, 0, 1_800_000_123, origin);
      const key = rec.subarray(RECORD_HEADER, RECORD_HEADER + rec.readUInt16LE(R_KEY_LEN));
      const out = Buffer.alloc(MAX_RECORD_BYTES);
      const r = recordOfValue(key, key.length, value, out);
      expect(Buffer.from(r.origin!).toString()).toBe('alpha');
      const rebuilt = Buffer.from(out.subarray(0, r.length));
      rebuilt.writeUInt32LE(rec.readUInt32LE(R_SEQ), R_SEQ);
      expect(rebuilt).toEqual(rec);
    });
  }

  test('a value written by a single node has no origin, and its content time is its since', () => {
    const rec = encoded({ app: 'a', ver: '1', host: 'h' }, 1_800_000_123);
    const value = Buffer.alloc(valueLength(rec, 0));
    writeValue(rec, 0, value, 0, 1, 1_700_000_000, 1_800_000_200);
    const key = rec.subarray(RECORD_HEADER, RECORD_HEADER + rec.readUInt16LE(R_KEY_LEN));
    const out = Buffer.alloc(MAX_RECORD_BYTES);
    const r = recordOfValue(key, key.length, value, out);
    expect(r.origin).toBeNull();
    expect(out.readUInt32LE(8)).toBe(1_700_000_000);
  });
});
