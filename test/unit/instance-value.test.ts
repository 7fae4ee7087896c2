// The stored instance value (instance-value.ts), from real ring records
// (parseUpdate + encodeUpdate): its exact header and fields, the version
// object the query side builds from key and value (the same object as
// recordToVersion, key order included), ver's place in the value, and
// host names that need JSON escaping after the key escaping of keys.ts.

import { describe, expect, test } from 'vitest';
import {
  MAX_RECORD_BYTES,
  RECORD_HEADER,
  R_FRAG_HASH_A,
  R_FRAG_HASH_B,
  R_KEY_LEN,
  R_TIME,
  encodeUpdate,
  get16,
  get32,
  recordToVersion,
} from '../../src/ingest/record.js';
import { Reason } from '../../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { keyPartAsJson, valueLength, verLength, verOffset, writeValue, writeVersionJson } from '../../src/store/instance-value.js';
import { JsonBytes } from '../../src/store/json-bytes.js';
import { buildKey } from '../../src/store/keys.js';
import { INSTANCE_HEADER, V_APP_LEN, V_FP_A, V_FP_B, V_IP_LEN, V_LABELS_LEN, V_SINCE, V_SLOT, V_VER_LEN, V_WRITTEN_AT } from '../../src/store/layout.js';

const parsed = new ParsedUpdate();

/** A ring record for an update body (a JSON text, or an object to stringify), at offset `off` of a larger buffer. */
function record(body: string | object, opts: { ip?: string; time?: number; off?: number } = {}): { rec: Uint8Array; off: number; len: number } {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  expect(parseUpdate(bytes, 0, bytes.length, parsed)).toBe(Reason.ok);
  const ip = Buffer.from(opts.ip ?? '192.0.2.77');
  const off = opts.off ?? 0;
  const out = new Uint8Array(off + MAX_RECORD_BYTES).fill(0xee);
  const len = encodeUpdate(parsed, ip, 0, ip.length, opts.time ?? 1_800_000_123, 0, 0, out.subarray(off));
  return { rec: out, off, len };
}

const keyOf = (rec: Uint8Array, off: number): Uint8Array => rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + get16(rec, off + R_KEY_LEN));

/** The value written at an odd offset of a buffer holding garbage; returns the value's bytes. */
function storedValue(rec: Uint8Array, off: number, slot = 7, since = 1_700_000_000, writtenAt = 1_800_000_001): Uint8Array {
  const len = valueLength(rec, off);
  const out = new Uint8Array(len + 9).fill(0xab);
  writeValue(rec, off, out, 5, slot, since, writtenAt);
  // Nothing outside [5, 5 + len) is touched.
  expect([...out.subarray(0, 5)]).toEqual([0xab, 0xab, 0xab, 0xab, 0xab]);
  expect([...out.subarray(5 + len)]).toEqual([0xab, 0xab, 0xab, 0xab]);
  return out.slice(5, 5 + len);
}

/** writeVersionJson of a record's key and value, closed with '}', as text. */
function versionText(rec: Uint8Array, off: number, lastUpdate: number): string {
  const key = keyOf(rec, off);
  const out = new JsonBytes(4);
  writeVersionJson(Uint8Array.from(key), key.length, storedValue(rec, off), lastUpdate, out);
  out.ascii('}');
  return out.view().toString('utf8');
}

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

describe('writeValue', () => {
  test('header and fields are exact: slot, since, written_at, fingerprint, lengths, then app, ver, host_ip', () => {
    const { rec, off } = record({ app: 'My App', ver: '1.2.3', host: 'web-1', instance: 4 }, { ip: '198.51.100.20', off: 3 });
    const value = storedValue(rec, off, 123456, 1_700_000_000, 4_000_000_000);
    expect(valueLength(rec, off)).toBe(INSTANCE_HEADER + 6 + 5 + 13);
    expect(value.length).toBe(INSTANCE_HEADER + 24);
    const v = dv(value);
    expect(v.getUint32(V_SLOT, true)).toBe(123456);
    expect(v.getUint32(V_SINCE, true)).toBe(1_700_000_000);
    expect(v.getUint32(V_WRITTEN_AT, true)).toBe(4_000_000_000);
    expect(v.getInt32(V_FP_A, true)).toBe(dv(rec).getInt32(off + R_FRAG_HASH_A, true));
    expect(v.getInt32(V_FP_B, true)).toBe(dv(rec).getInt32(off + R_FRAG_HASH_B, true));
    expect([v.getUint16(V_APP_LEN, true), v.getUint16(V_VER_LEN, true), v.getUint16(V_LABELS_LEN, true), value[V_IP_LEN], value[V_IP_LEN + 1]]).toEqual([
      6, 5, 0, 13, 0,
    ]);
    expect(Buffer.from(value.subarray(INSTANCE_HEADER)).toString()).toBe('My App1.2.3198.51.100.20');
    expect(verOffset(value)).toBe(INSTANCE_HEADER + 6);
    expect(verLength(value)).toBe(5);
  });

  test("escaped app and ver are stored as JSON string content; verOffset/verLength give ver's content", () => {
    const { rec, off } = record({ app: 'say "hi"', ver: 'v\\1\n\u00e9', host: 'h' });
    const value = storedValue(rec, off);
    const ver = Buffer.from(value.subarray(verOffset(value), verOffset(value) + verLength(value))).toString();
    expect(ver).toBe('v\\\\1\\n\u00e9');
    expect(JSON.parse(`"${ver}"`)).toBe('v\\1\n\u00e9');
    expect(Buffer.from(value.subarray(INSTANCE_HEADER, verOffset(value))).toString()).toBe('say \\"hi\\"');
    expect(valueLength(rec, off)).toBe(INSTANCE_HEADER + Buffer.byteLength('say \\"hi\\"') + Buffer.byteLength(ver) + 10);
  });
});

describe('writeVersionJson', () => {
  const cases: [string, string | object, string?][] = [
    ['a plain update', { app: 'web', ver: '1.0', host: 'h1', instance: 0 }],
    ['instance 65535 and an IPv6 sender', { app: 'web', ver: '1.0', host: 'h1', instance: 65535 }, '2001:db8::8:800:200c:417a'],
    ['instance 256 (a 0x01 byte then 0x00 in the key)', { app: 'web', ver: '1.0', host: 'h1', instance: 256 }],
    ['instance 1 (0x00 then 0x01 in the key)', { app: 'web', ver: '1.0', host: 'h1', instance: 1 }],
    ['no host: host is the sender', { app: 'web', ver: '1.0' }, '203.0.113.5'],
    ['an app name that is not its app_id', { app: 'Demo App!', ver: '2', host: 'h' }],
    ['non-ASCII app, ver and host', { app: 'Caf\u00e9 \u2615', ver: '\u00fcber-1', host: '\u65e5\u672c.example' }],
    ['escapes in app and ver', { app: 'q"\\', ver: 'tab\there\u0001', host: 'h' }],
    ['a host with a quote', { app: 'web', ver: '1', host: 'a"b' }],
    ['a host with a backslash', { app: 'web', ver: '1', host: 'a\\b' }],
    ['a host with a control character', { app: 'web', ver: '1', host: 'a\tb\u001f' }],
    ['a host with 0x00 and 0x01 bytes', { app: 'web', ver: '1', host: 'a\u0000b\u0001c' }],
    ['the fast path (no escapes, keys in another order)', '{"instance":9,"host":"fast","ver":"3","app":"Fast"}'],
  ];

  test.each(cases)('%s: parses to exactly recordToVersion(record), key order included', (_, body, ip) => {
    const { rec, off } = record(body, { ip, off: 1 });
    const time = get32(rec, off + R_TIME);
    const text = versionText(rec, off, time);
    const want = recordToVersion(rec, off);
    expect(JSON.parse(text)).toStrictEqual(want);
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['app', 'app_id', 'host', 'host_ip', 'instance', 'ver', 'last_update']);
    // The same text, too: both are the stored fragment's bytes.
    expect(text).toBe(JSON.stringify(want));
  });

  test("last_update is the time passed in, not the record's", () => {
    const { rec, off } = record({ app: 'web', ver: '1', host: 'h', instance: 2 }, { time: 1000 });
    expect(JSON.parse(versionText(rec, off, 4_000_000_000))).toStrictEqual({
      app: 'web',
      app_id: 'web',
      host: 'h',
      host_ip: '192.0.2.77',
      instance: 2,
      ver: '1',
      last_update: 4_000_000_000,
    });
  });

  // keyPartAsJson copies the JSON.stringify of a decoded host through
  // JsonBytes.ascii(), which stores each UTF-16 unit as one byte: a host
  // that needs escaping (quote, backslash, control byte, key escape) and
  // also holds non-ASCII characters comes out as broken UTF-8.
  test('keyPartAsJson: a host with a quote and non-ASCII characters is written as valid UTF-8', () => {
    const { rec, off } = record({ app: 'web', ver: '1', host: '\u00fcber "\u65e5"' });
    const time = get32(rec, off + R_TIME);
    expect(JSON.parse(versionText(rec, off, time))).toStrictEqual(recordToVersion(rec, off));
  });
});

describe('keyPartAsJson', () => {
  /** The host's key part (escaped as keys.ts does, without terminator) written as JSON string content. */
  function asJson(host: string, prefix = 3): string {
    const part = buildKey([host]);
    // At an offset inside a larger key, as writeVersionJson calls it.
    const key = new Uint8Array(prefix + part.length + 2);
    key.fill(0x7a, 0, prefix);
    key.set(part, prefix);
    const out = new JsonBytes(2);
    keyPartAsJson(key, prefix, prefix + part.length - 1, out);
    return out.view().toString('utf8');
  }

  test.each([
    ['plain', 'web-1.example'],
    ['a quote', 'a"b'],
    ['a backslash', 'a\\b'],
    ['control characters', '\t\n\r\u0008\u000c\u001f'],
    ['a 0x00 byte', 'a\u0000b'],
    ['a 0x01 byte', 'a\u0001b'],
    ['0x00 and 0x01 next to each other', '\u0000\u0001\u0001\u0000'],
    ['0x02 (not escaped by keys.ts)', 'a\u0002b'],
    ['non-ASCII', 'caf\u00e9-\u65e5\u672c-\u{1f600}'],
    ['DEL and U+2028', 'a\u007fb\u2028c'],
  ])('%s: decodes to the host, as JSON.stringify(host).slice(1, -1) does', (_, host) => {
    expect(JSON.parse(`"${asJson(host)}"`)).toBe(host);
  });

  test('exact bytes: escapes as JSON.stringify writes them', () => {
    expect(asJson('a"b\\c')).toBe('a\\"b\\\\c');
    expect(asJson('a\u0000b\u0001c')).toBe('a\\u0000b\\u0001c');
    expect(asJson('\t')).toBe('\\t');
    expect(asJson('\u00e9')).toBe('\u00e9');
  });

  test('a host needing escapes that also holds non-ASCII decodes to itself', () => {
    const host = '\u00fc"\u0001';
    expect(JSON.parse(`"${asJson(host)}"`)).toBe(host);
  });
});
