// parseUpdate (both paths) and encodeUpdate/recordToVersion: every rule of
// the update format with its exact reason code, Unicode lengths, and the
// promise that the fast path and the exact (JSON.parse) path give
// byte-identical records for the same update however it is spelled.

import { describe, expect, test } from 'vitest';
import { hash32, hashBytes, hashOut } from '../../src/ingest/hash.js';
import {
  encodeUpdate,
  FRAG_APP_OFF,
  get16,
  get32,
  getI32,
  MAX_RECORD_BYTES,
  R_APP_ID_LEN,
  R_APP_LEN,
  R_FLAGS,
  R_FRAG_HASH_A,
  R_FRAG_HASH_B,
  R_FRAG_LEN,
  R_HOST_LEN,
  R_HOST_OFF,
  R_INSTANCE,
  R_KEY_HASH,
  R_KEY_LEN,
  R_LABELS_LEN,
  R_SEQ,
  R_TIME,
  R_TYPE,
  R_VER_LEN,
  R_VER_OFF,
  RECORD_HEADER,
  RecordFlag,
  RecordType,
  recordToVersion,
  labelsOffset,
} from '../../src/ingest/record.js';
import { Reason, type ReasonCode } from '../../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { buildKey } from '../../src/store/keys.js';

const enc = new TextEncoder();
const IP = '192.0.2.7';
const TIME = 1_700_000_000;

const bytesOf = (input: string | Uint8Array): Uint8Array => (typeof input === 'string' ? enc.encode(input) : input);

function parse(input: string | Uint8Array): { reason: ReasonCode; p: ParsedUpdate; bytes: Uint8Array } {
  const bytes = bytesOf(input);
  const p = new ParsedUpdate();
  return { reason: parseUpdate(bytes, 0, bytes.length, p), p, bytes };
}

const reasonOf = (input: string | Uint8Array): ReasonCode => parse(input).reason;

/** Parses and encodes at once (the exact path's ranges point into shared scratch). */
function encode(input: string | Uint8Array, ip = IP, seq = 0, flags = 0): { record: Uint8Array; fast: boolean } {
  const { reason, p, bytes } = parse(input);
  expect(reason).toBe(Reason.ok);
  const ipBytes = enc.encode(ip);
  const out = new Uint8Array(MAX_RECORD_BYTES);
  const n = encodeUpdate(p, ipBytes, 0, ipBytes.length, TIME, seq, flags, out);
  // The fast path leaves its ranges in the input; the exact path in its scratch.
  return { record: out.slice(0, n), fast: p.buf === bytes };
}

const versionOf = (input: string | Uint8Array, ip = IP): Record<string, unknown> => recordToVersion(encode(input, ip).record);

describe('accepted updates', () => {
  test('a complete update becomes exactly the version object, in field order', () => {
    const v = versionOf('{"app":"Billing API","ver":"2.4.1","host":"web-1","instance":3}');
    expect(v).toEqual({ app: 'Billing API', app_id: 'billing_api', host: 'web-1', host_ip: IP, instance: 3, ver: '2.4.1', last_update: TIME });
    expect(Object.keys(v)).toEqual(['app', 'app_id', 'host', 'host_ip', 'instance', 'ver', 'last_update']);
  });

  test.each([
    ['missing', '{"app":"a","ver":"1"}'],
    ['null', '{"app":"a","ver":"1","host":null}'],
    ['empty', '{"app":"a","ver":"1","host":""}'],
  ])('host %s: the sender IP is the host', (_what, json) => {
    expect(versionOf(json, '2001:db8::1')).toMatchObject({ host: '2001:db8::1', host_ip: '2001:db8::1' });
  });

  test.each([
    ['missing', '{"app":"a","ver":"1"}', 0],
    ['null', '{"app":"a","ver":"1","instance":null}', 0],
    ['0', '{"app":"a","ver":"1","instance":0}', 0],
    ['65535', '{"app":"a","ver":"1","instance":65535}', 65535],
    ['1.0 (an integer value)', '{"app":"a","ver":"1","instance":1.0}', 1],
    ['1e2', '{"app":"a","ver":"1","instance":1e2}', 100],
    ['-0', '{"app":"a","ver":"1","instance":-0}', 0],
  ])('instance %s -> %s', (_what, json, instance) => {
    expect(versionOf(json).instance).toBe(instance);
  });

  test('unknown keys are ignored, even when they hold anything', () => {
    const v = versionOf('{"app":"a","x":[1,{"y":null}],"ver":"1","":true,"__proto__":{"app":"evil"},"constructor":1}');
    expect(v).toMatchObject({ app: 'a', ver: '1', host: IP, instance: 0 });
    expect(({} as Record<string, unknown>).app).toBeUndefined();
  });

  test('duplicate keys: the last one wins, as with JSON.parse', () => {
    expect(versionOf('{"app":"first","ver":"1","app":"last"}').app).toBe('last');
    expect(versionOf('{"app":"a","ver":"1","instance":5,"instance":7}').instance).toBe(7);
    // A later empty host means "no host", not the earlier one.
    expect(versionOf('{"app":"a","ver":"1","host":"h","host":""}').host).toBe(IP);
    // An invalid earlier value is overwritten too.
    expect(reasonOf('{"app":5,"app":"a","ver":"1"}')).toBe(Reason.ok);
  });

  test('escapes decode: quotes, backslashes and control characters survive the round trip', () => {
    const v = versionOf('{"app":"a\\"b\\\\c\\u0001\\n","ver":"\\/1","host":"h\\u0000"}');
    expect(v).toMatchObject({ app: 'a"b\\c\u0001\n', ver: '/1', host: 'h\u0000', app_id: 'a_b_c__' });
  });

  test('non-ASCII app names get app_id per code point (KELVIN SIGN -> k)', () => {
    expect(versionOf('{"app":"Ünïcode \u212A😀","ver":"1"}').app_id).toBe('_n_code_k_');
    expect(versionOf('{"app":"\\u00dcn\\u00efcode \\u212a\\ud83d\\ude00","ver":"1"}').app_id).toBe('_n_code_k_');
  });

  test('an update inside a larger buffer is read from its window only', () => {
    const inner = enc.encode('{"app":"a","ver":"1","instance":2}');
    const big = new Uint8Array(inner.length + 20).fill(0xff);
    big.set(inner, 10);
    const p = new ParsedUpdate();
    expect(parseUpdate(big, 10, 10 + inner.length, p)).toBe(Reason.ok);
    expect(parseUpdate(big, 10, 9 + inner.length, p)).toBe(Reason.bad_json); // one byte short
    expect(parseUpdate(big, 10, 11 + inner.length, p)).toBe(Reason.bad_utf8); // one 0xff too many
  });
});

describe('rejections with their reason codes', () => {
  test.each([
    ['app missing', '{"ver":"1"}'],
    ['app null', '{"app":null,"ver":"1"}'],
    ['app empty', '{"app":"","ver":"1"}'],
    ['ver missing', '{"app":"a"}'],
    ['ver null', '{"app":"a","ver":null}'],
    ['ver empty', '{"app":"a","ver":""}'],
    ['both missing', '{}'],
    ['both missing, spaced', ' { } '],
  ])('missing_field: %s', (_what, json) => expect(reasonOf(json)).toBe(Reason.missing_field));

  test.each([
    ['app a number', '{"app":5,"ver":"1"}'],
    ['ver a boolean', '{"app":"a","ver":true}'],
    ['host a number', '{"app":"a","ver":"1","host":1}'],
    ['app an array', '{"app":["a"],"ver":"1"}'],
    ['host an object', '{"app":"a","ver":"1","host":{}}'],
    ['instance a string', '{"app":"a","ver":"1","instance":"1"}'],
    ['instance a boolean', '{"app":"a","ver":"1","instance":false}'],
    // Type errors are reported before missing fields.
    ['app a number, ver missing', '{"app":0}'],
  ])('wrong_type: %s', (_what, json) => expect(reasonOf(json)).toBe(Reason.wrong_type));

  test.each(['65536', '-1', '1.5', '100000', '1e400', '-1e-7', '6.5536e4'])('bad_instance: %s', (n) => {
    expect(reasonOf(`{"app":"a","ver":"1","instance":${n}}`)).toBe(Reason.bad_instance);
  });

  test.each([
    ['not JSON', 'app=a&ver=1'],
    ['truncated', '{"app":"a","ver":"1"'],
    ['truncated in a string', '{"app":"a","ver":"1'],
    ['trailing garbage', '{"app":"a","ver":"1"}x'],
    ['two objects', '{"app":"a","ver":"1"}{}'],
    ['trailing comma', '{"app":"a","ver":"1",}'],
    ['single quotes', "{'app':'a','ver':'1'}"],
    ['leading zero instance', '{"app":"a","ver":"1","instance":01}'],
    ['raw control character in a string', '{"app":"a\tb","ver":"1"}'],
    ['whitespace only', '  \n'],
    ['a NUL after the object', '{"app":"a","ver":"1"}\u0000'],
  ])('bad_json: %s', (_what, json) => expect(reasonOf(json)).toBe(Reason.bad_json));

  test('bad_json: a byte order mark before a valid update', () => {
    const body = enc.encode('\ufeff{"app":"a","ver":"1"}');
    expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(reasonOf(body)).toBe(Reason.bad_json);
  });

  const withApp = (...raw: number[]): Uint8Array => Uint8Array.from([...enc.encode('{"app":"x'), ...raw, ...enc.encode('","ver":"1"}')]);
  test.each([
    ['a stray continuation byte', [0x80]],
    ['0xff', [0xff]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['an overlong 3-byte form', [0xe0, 0x80, 0xaf]],
    ['a UTF-8 encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lead byte without its continuation', [0xe2, 0x82]],
  ])('bad_utf8: %s inside app', (_what, raw) => expect(reasonOf(withApp(...raw))).toBe(Reason.bad_utf8));

  test('bad_utf8: invalid bytes anywhere, even in an ignored key or after the object', () => {
    expect(reasonOf(Uint8Array.from([...enc.encode('{"app":"a","ver":"1","x":"'), 0xff, ...enc.encode('"}')]))).toBe(Reason.bad_utf8);
    expect(reasonOf(Uint8Array.from([...enc.encode('{"app":"a","ver":"1"}'), 0xc3]))).toBe(Reason.bad_utf8);
    expect(reasonOf(Uint8Array.from([...enc.encode('{"x'), 0xfe, ...enc.encode('":1,"app":"a","ver":"1"}')]))).toBe(Reason.bad_utf8);
  });

  test.each([
    ['a lone high surrogate in app', '{"app":"\\ud800","ver":"1"}'],
    ['a lone low surrogate in ver', '{"app":"a","ver":"\\udc00"}'],
    ['a reversed pair in host', '{"app":"a","ver":"1","host":"\\ude00\\ud83d"}'],
    ['a high surrogate at the end of host', '{"app":"a","ver":"1","host":"x\\uD83D"}'],
  ])('bad_utf8: %s', (_what, json) => expect(reasonOf(json)).toBe(Reason.bad_utf8));

  test.each(['[]', '[{"app":"a","ver":"1"}]', '1', '"app"', 'null', 'true'])('not_object: %s', (json) => {
    expect(reasonOf(json)).toBe(Reason.not_object);
  });

  test('empty: zero bytes, or an empty window of a buffer', () => {
    expect(reasonOf(new Uint8Array(0))).toBe(Reason.empty);
    expect(parseUpdate(enc.encode('{"app":"a","ver":"1"}'), 5, 5, new ParsedUpdate())).toBe(Reason.empty);
  });
});

describe('lengths are counted in code points', () => {
  const field = (name: 'app' | 'ver' | 'host', value: string): string => {
    const u = { app: 'a', ver: '1', [name]: value };
    return JSON.stringify(u);
  };
  const cases: [string, string][] = [
    ['ASCII', 'x'],
    ['emoji (4 UTF-8 bytes, 2 UTF-16 units)', '😀'],
    ['CJK (3 UTF-8 bytes)', '中'],
    ['e + combining acute (2 characters)', 'e\u0301'],
  ];
  for (const name of ['app', 'ver', 'host'] as const) {
    test.each(cases)(`${name}: 50 characters of %s pass, 51 are too_long`, (_what, unit) => {
      const chars = [...unit].length;
      const fifty = unit.repeat(50 / chars);
      expect([...fifty].length).toBe(50);
      expect(reasonOf(field(name, fifty))).toBe(Reason.ok);
      expect(reasonOf(field(name, fifty + 'y'))).toBe(Reason.too_long);
    });
  }

  test('escaped surrogate pairs count once each (exact path): 50 pass, 51 do not', () => {
    const pairs = (n: number): string => `{"app":"${'\\ud83d\\ude00'.repeat(n)}","ver":"1"}`;
    const ok = parse(pairs(50));
    expect(ok.reason).toBe(Reason.ok);
    expect(ok.p.buf).not.toBe(ok.bytes);
    expect(reasonOf(pairs(51))).toBe(Reason.too_long);
  });

  test('50 emoji fill the record without overflow and come back intact', () => {
    const app = '😀'.repeat(50);
    expect(versionOf(JSON.stringify({ app, ver: '中'.repeat(50), host: 'é'.repeat(50) }))).toMatchObject({
      app,
      app_id: '_'.repeat(50),
      ver: '中'.repeat(50),
      host: 'é'.repeat(50),
    });
  });
});

describe('the fast and exact paths agree byte for byte', () => {
  // One update, many spellings, each with the path it must take: plain
  // spellings (any key order, any whitespace) take the fast path; escapes,
  // odd numbers, unknown and duplicate keys take the exact path.
  const spellings: [string, 'fast' | 'exact'][] = [
    ['{"app":"Web Shop","ver":"1.2.3","host":"db-01","instance":42}', 'fast'],
    ['{"instance":42,"host":"db-01","ver":"1.2.3","app":"Web Shop"}', 'fast'],
    [' \t\r\n{ "app" : "Web Shop" ,\n "ver":"1.2.3", "host":"db-01","instance" : 42 }\n', 'fast'],
    ['{"app":"\\u0057eb\\u0020Shop","ver":"1.2.3","host":"db\\u002d01","instance":42}', 'exact'],
    ['{"\\u0061pp":"Web Shop","ver":"1.2.3","host":"db-01","instance":42}', 'exact'],
    ['{"app":"Web Shop","ver":"1.2.3","host":"db-01","instance":42.0}', 'exact'],
    ['{"app":"Web Shop","ver":"1.2.3","host":"db-01","instance":4.2e1}', 'exact'],
    ['{"app":"Web Shop","ver":"1.2.3","host":"db-01","instance":42,"extra":"x"}', 'exact'],
    ['{"app":"x","ver":"0","app":"Web Shop","ver":"1.2.3","host":"db-01","instance":42}', 'exact'],
    ['{"app":"Web Shop","ver":"1.2.3","host":"db-01","instance":42,"instance":42}', 'exact'],
  ];
  const reference = encode(spellings[0]![0], IP, 9, RecordFlag.http).record;

  test.each(spellings)('%s (%s path) gives the same record: key, fragment and hashes', (json, path) => {
    const { record, fast } = encode(json, IP, 9, RecordFlag.http);
    expect(fast ? 'fast' : 'exact').toBe(path);
    expect([...record]).toEqual([...reference]);
  });

  test('non-ASCII text: raw UTF-8 and \\u escapes give the same record', () => {
    const raw = encode('{"app":"Café ☕ 😀","ver":"β-2","host":"ホスト"}');
    const escaped = encode('{"app":"Caf\\u00e9 \\u2615 \\uD83D\\uDE00","ver":"\\u03b2-2","host":"\\u30db\\u30b9\\u30c8"}');
    expect(raw.fast).toBe(true);
    expect(escaped.fast).toBe(false);
    expect([...escaped.record]).toEqual([...raw.record]);
  });

  test('an empty host given, null or absent: the same record', () => {
    const a = encode('{"app":"a","ver":"1","host":""}');
    expect(a.fast).toBe(true);
    expect([...encode('{"app":"a","ver":"1","host":null}').record]).toEqual([...a.record]);
    expect([...encode('{"app":"a","ver":"1"}').record]).toEqual([...a.record]);
  });

  test('"\\"" and "\\u0022" are the same character, stored the same way', () => {
    const a = encode('{"app":"say \\"hi\\"","ver":"1"}').record;
    expect([...encode('{"app":"say \\u0022hi\\u0022","ver":"1"}').record]).toEqual([...a]);
    expect(recordToVersion(a).app).toBe('say "hi"');
  });
});

describe('record layout', () => {
  const { record } = encode('{"app":"Web Shop","ver":"1.2.3","host":"db\\u0000\\u0001","instance":513}', '10.1.2.3', 77, RecordFlag.http);
  const keyLen = get16(record, R_KEY_LEN);
  const key = record.subarray(RECORD_HEADER, RECORD_HEADER + keyLen);
  const fragStart = RECORD_HEADER + keyLen;
  const frag = record.subarray(fragStart, fragStart + get16(record, R_FRAG_LEN));
  const fragText = new TextDecoder().decode(frag);

  test('header fields', () => {
    expect(record[R_TYPE]).toBe(RecordType.update);
    expect(record[R_FLAGS]).toBe(RecordFlag.http);
    expect(get32(record, R_SEQ)).toBe(77);
    expect(get32(record, R_TIME)).toBe(TIME);
    expect(get16(record, R_INSTANCE)).toBe(513);
    expect(record[R_APP_ID_LEN]).toBe('web_shop'.length);
    expect(record.length).toBe(fragStart + frag.length);
  });

  test('the key is app_id, escaped host and the instance big-endian (store/keys.ts)', () => {
    expect([...key]).toEqual([...buildKey(['web_shop', 'db\u0000\u0001'], 513)]);
    expect(getI32(record, R_KEY_HASH)).toBe(hash32(record, RECORD_HEADER, RECORD_HEADER + keyLen));
  });

  test('the fragment is the version object up to last_update, with its hashes', () => {
    expect(fragText).toBe('{"app":"Web Shop","app_id":"web_shop","host":"db\\u0000\\u0001","host_ip":"10.1.2.3","instance":513,"ver":"1.2.3","last_update":');
    hashBytes(record, fragStart, fragStart + frag.length);
    expect([getI32(record, R_FRAG_HASH_A), getI32(record, R_FRAG_HASH_B)]).toEqual([hashOut[0], hashOut[1]]);
  });

  test('offsets point at the JSON content of app, ver and host', () => {
    const slice = (off: number, len: number): string => fragText.slice(off, off + len);
    expect(slice(FRAG_APP_OFF, get16(record, R_APP_LEN))).toBe('Web Shop');
    expect(slice(get16(record, R_VER_OFF), get16(record, R_VER_LEN))).toBe('1.2.3');
    expect(slice(get16(record, R_HOST_OFF), get16(record, R_HOST_LEN))).toBe('db\\u0000\\u0001');
  });

  test('the largest update (every field 50 escaped control characters, long IPv6) fits MAX_RECORD_BYTES', () => {
    const worst = '\\u0000'.repeat(50);
    const ip = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const { record: big } = encode(`{"app":"${worst}","ver":"${worst}","host":"${worst}","instance":65535}`, ip);
    expect(big.length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(recordToVersion(big)).toMatchObject({ app: '\u0000'.repeat(50), host: '\u0000'.repeat(50), instance: 65535, host_ip: ip });
  });

  test('recordToVersion reads a record at an offset', () => {
    const shifted = new Uint8Array(record.length + 12);
    shifted.set(record, 12);
    expect(recordToVersion(shifted, 12)).toEqual(recordToVersion(record));
  });
});

describe('labels', () => {
  const base = '"app":"billing","ver":"2.4.1","host":"h1"';

  test('plain labels take the fast path, sorted by name, after ver in the fragment', () => {
    const { record, fast } = encode(`{${base},"labels":{"region":"eu-west","env":"prod","dc":"ams3"}}`);
    expect(fast).toBe(true);
    const keyLen = get16(record, R_KEY_LEN);
    const frag = new TextDecoder().decode(record.subarray(RECORD_HEADER + keyLen, RECORD_HEADER + keyLen + get16(record, R_FRAG_LEN)));
    expect(frag).toBe(
      `{"app":"billing","app_id":"billing","host":"h1","host_ip":"${IP}","instance":0,"ver":"2.4.1","labels":{"dc":"ams3","env":"prod","region":"eu-west"},"last_update":`,
    );
    const at = labelsOffset(record, 0);
    expect(Buffer.from(record.subarray(at, at + get16(record, R_LABELS_LEN))).toString()).toBe('{"dc":"ams3","env":"prod","region":"eu-west"}');
  });

  test('any order, either path: the same record (so the same fingerprint: a repeat)', () => {
    const a = encode(`{${base},"labels":{"env":"prod","region":"eu-west"}}`);
    const b = encode(`{"labels":{"region":"eu-west","env":"prod"},${base}}`);
    const c = encode(`{${base},"labels":{"region":"eu-w\\u0065st","env":"prod"}}`);
    expect([a.fast, b.fast, c.fast]).toEqual([true, true, false]);
    expect([...b.record]).toEqual([...a.record]);
    expect([...c.record]).toEqual([...a.record]);
  });

  test('no labels, null or {}: the record of an update without labels (unchanged from before labels)', () => {
    const none = encode(`{${base}}`).record;
    expect(get16(none, R_LABELS_LEN)).toBe(0);
    for (const l of ['null', '{}', ' { } ']) expect([...encode(`{${base},"labels":${l}}`).record]).toEqual([...none]);
  });

  test('another label value is another fingerprint', () => {
    const a = encode(`{${base},"labels":{"env":"prod"}}`).record;
    const b = encode(`{${base},"labels":{"env":"staging"}}`).record;
    expect([getI32(a, R_FRAG_HASH_A), getI32(a, R_FRAG_HASH_B)]).not.toEqual([getI32(b, R_FRAG_HASH_A), getI32(b, R_FRAG_HASH_B)]);
  });

  test('limits: 16 labels, names [a-z0-9_.-]{1,32}, values of at most 64 characters', () => {
    const many = (n: number): string => `{${base},"labels":{${Array.from({ length: n }, (_, i) => `"l${i}":"v"`).join(',')}}}`;
    expect(reasonOf(many(16))).toBe(Reason.ok);
    expect(reasonOf(many(17))).toBe(Reason.too_many_labels);
    expect(reasonOf(`{${base},"labels":{"${'n'.repeat(32)}":"v"}}`)).toBe(Reason.ok);
    for (const bad of ['"N":"v"', `"${'n'.repeat(33)}":"v"`, '"":"v"', '"a b":"v"', '"é":"v"', '"env":1', '"env":null', '"env":["x"]']) {
      expect([bad, reasonOf(`{${base},"labels":{${bad}}}`)]).toEqual([bad, Reason.bad_labels]);
    }
    for (const bad of ['[]', '"env=prod"', '1', 'true']) expect(reasonOf(`{${base},"labels":${bad}}`)).toBe(Reason.bad_labels);
    expect(reasonOf(`{${base},"labels":{"env":"${'😀'.repeat(64)}"}}`)).toBe(Reason.ok);
    expect(reasonOf(`{${base},"labels":{"env":"${'😀'.repeat(65)}"}}`)).toBe(Reason.too_long);
    expect(reasonOf(`{${base},"labels":{"env":"\\ud800"}}`)).toBe(Reason.bad_utf8);
  });

  test('a duplicate name: the last one wins (as JSON.parse)', () => {
    expect(versionOf(`{${base},"labels":{"env":"a","env":"b"}}`)).toMatchObject({ labels: { env: 'b' } });
  });

  test('the largest labelled update (16 labels of 64 escaped characters, fields at their limits) fits MAX_RECORD_BYTES', () => {
    const field = '\\u0000'.repeat(50);
    const value = '\\u0001'.repeat(64);
    const labels = Array.from({ length: 16 }, (_, i) => `"${String(i).padStart(32, 'x')}":"${value}"`).join(',');
    const ip = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const { record } = encode(`{"app":"${field}","ver":"${field}","host":"${field}","instance":65535,"labels":{${labels}}}`, ip);
    expect(record.length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(Object.keys(recordToVersion(record).labels as object)).toHaveLength(16);
  });
});
