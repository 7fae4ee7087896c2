// Hostile input: for any bytes, parseUpdate never throws, agrees with an
// independent statement of the rules (below), and an accepted update's
// record round-trips to the values JSON.parse sees. Near-valid updates are
// built with random field values, key orders, escapes, whitespace, extra
// keys (__proto__, constructor...) and byte-level damage, so both the fast
// path and the exact path are exercised; an accepted update must also give
// the same record bytes as its canonical spelling.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appIdOf } from '../../src/ingest/app-id.js';
import { encodeUpdate, MAX_RECORD_BYTES, recordToVersion } from '../../src/ingest/record.js';
import { Reason, type ReasonCode } from '../../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';

const enc = new TextEncoder();
const IP = '198.51.100.23';
const IP_BYTES = enc.encode(IP);
const TIME = 1_234_567_890;

// --- the reference: decode strictly, JSON.parse, check the rules in order ------------

type Verdict = { reason: keyof typeof Reason; app?: string; ver?: string; host?: string | null; instance?: number; labels?: [string, string][] };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function reference(bytes: Uint8Array): Verdict {
  if (bytes.length === 0) return { reason: 'empty' };
  let text: string;
  try {
    // ignoreBOM keeps a leading BOM in the text, where JSON.parse rejects it.
    text = strictUtf8.decode(bytes);
  } catch {
    return { reason: 'bad_utf8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'bad_json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'not_object' };
  const own = (k: string): unknown => (Object.hasOwn(value, k) ? (value as Record<string, unknown>)[k] : undefined);
  const [app, ver, host, instance, labels] = [own('app'), own('ver'), own('host'), own('instance'), own('labels')];
  // Precedence when several rules break: type, presence, instance range, encoding, length.
  const nullish = (v: unknown): boolean => v === undefined || v === null;
  if ([app, ver, host].some((v) => !nullish(v) && typeof v !== 'string')) return { reason: 'wrong_type' };
  if (!nullish(instance) && typeof instance !== 'number') return { reason: 'wrong_type' };
  if (typeof app !== 'string' || app.length === 0 || typeof ver !== 'string' || ver.length === 0) return { reason: 'missing_field' };
  const inst = typeof instance === 'number' ? instance : 0;
  if (!Number.isInteger(inst) || inst < 0 || inst > 65535) return { reason: 'bad_instance' };
  const strings = typeof host === 'string' && host !== '' ? [app, ver, host] : [app, ver];
  if (strings.some((s) => /\p{Cs}/u.test(s))) return { reason: 'bad_utf8' }; // a lone surrogate
  if (strings.some((s) => Array.from(s).length > 50)) return { reason: 'too_long' };
  // Labels last: shape, count, names and types, then encoding and length of the values.
  let pairs: [string, string][] = [];
  if (!nullish(labels)) {
    if (typeof labels !== 'object' || Array.isArray(labels)) return { reason: 'bad_labels' };
    const entries = Object.keys(labels as object).map((k) => [k, (labels as Record<string, unknown>)[k]] as const);
    if (entries.length > 16) return { reason: 'too_many_labels' };
    if (entries.some(([k, v]) => !/^[a-z0-9_.-]{1,32}$/.test(k) || typeof v !== 'string')) return { reason: 'bad_labels' };
    pairs = (entries as [string, string][]).slice().sort(([a], [b]) => (a < b ? -1 : 1));
    if (pairs.some(([, v]) => /\p{Cs}/u.test(v))) return { reason: 'bad_utf8' };
    if (pairs.some(([, v]) => Array.from(v).length > 64)) return { reason: 'too_long' };
  }
  return { reason: 'ok', app, ver, host: typeof host === 'string' && host !== '' ? host : null, instance: inst + 0, labels: pairs };
}

// --- running the parser --------------------------------------------------------------

// One ParsedUpdate for every run, as an ingest worker reuses one: stale state would show.
const parsed = new ParsedUpdate();
const recordBuf = new Uint8Array(MAX_RECORD_BYTES);

/** Parses bytes inside a larger buffer whose surroundings would change the verdict if read. */
function parseInWindow(bytes: Uint8Array): ReasonCode {
  const padded = new Uint8Array(bytes.length + 6);
  padded.set([0x22, 0x7d, 0xff], 0);
  padded.set(bytes, 3);
  padded.set([0x22, 0x7d, 0xff], 3 + bytes.length);
  const reason = parseUpdate(padded, 3, 3 + bytes.length, parsed);
  lastFast = reason === Reason.ok && parsed.buf === padded;
  return reason;
}
/** Whether the last accepted input took the fast path (its ranges point into the input). */
let lastFast = false;

function recordOf(bytes: Uint8Array): Uint8Array {
  const reason = parseInWindow(bytes);
  if (reason !== Reason.ok) expect(reason).toBe(Reason.ok);
  return recordBuf.slice(0, encodeUpdate(parsed, IP_BYTES, 0, IP_BYTES.length, TIME, 0, 0, recordBuf));
}

// expect() is only reached on a mismatch (for its message): tens of
// thousands of runs must stay fast.
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** The whole check for one input. */
function agreesWithReference(bytes: Uint8Array): void {
  const want = reference(bytes);
  const got = parseInWindow(bytes);
  if (got !== Reason[want.reason]) expect({ got, input: [...bytes] }).toEqual({ got: Reason[want.reason], input: [...bytes] });
  if (want.reason !== 'ok') return;
  const record = recordBuf.slice(0, encodeUpdate(parsed, IP_BYTES, 0, IP_BYTES.length, TIME, 0, 0, recordBuf));
  const version = recordToVersion(record);
  const labels = want.labels!.length === 0 ? {} : { labels: Object.fromEntries(want.labels!) };
  const expected = {
    app: want.app,
    app_id: appIdOf(want.app!),
    host: want.host ?? IP,
    host_ip: IP,
    instance: want.instance,
    ver: want.ver,
    ...labels,
    last_update: TIME,
  };
  // Compared as JSON text, so the field order is checked too.
  if (JSON.stringify(version) !== JSON.stringify(expected)) expect(version).toStrictEqual(expected);
  // However it was spelled, the record equals that of the plain spelling.
  // (labels in reverse order: the record sorts them)
  const canonical = enc.encode(
    JSON.stringify({
      app: want.app,
      ver: want.ver,
      host: want.host ?? undefined,
      instance: want.instance,
      labels: Object.fromEntries(want.labels!.slice().reverse()),
    }),
  );
  const plain = recordOf(canonical);
  if (!sameBytes(plain, record)) expect([...record]).toEqual([...plain]);
}

// --- arbitraries ---------------------------------------------------------------------

/** Random whitespace, usually none. */
const ws = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 }) },
);

const hex4 = (u: number, upper: boolean): string => {
  const h = u.toString(16).padStart(4, '0');
  return `\\u${upper ? h.toUpperCase() : h}`;
};

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

/**
 * A JSON string literal for s, each character written raw or escaped by a
 * random choice (escapeRate percent; a surrogate pair as two \u escapes);
 * quotes, backslashes, controls and lone surrogates are always escaped,
 * some other way each time.
 */
function literal(s: string, escapeRate: number, choices: number[]): string {
  let out = '"';
  let n = 0;
  const pick = (): number => choices[n++ % choices.length]!;
  for (const ch of s) {
    const u = ch.charCodeAt(0);
    const c = pick();
    const upper = c % 3 === 0;
    if (SHORT_ESCAPES[u] !== undefined && c % 2 === 0) out += SHORT_ESCAPES[u];
    else if (u < 0x20 || u === 0x22 || u === 0x5c || (ch.length === 1 && u >= 0xd800 && u <= 0xdfff)) out += hex4(u, upper);
    else if (u === 0x2f && c < escapeRate) out += '\\/';
    else if (c < escapeRate) out += hex4(u, upper) + (ch.length === 2 ? hex4(ch.charCodeAt(1), upper) : '');
    else out += ch;
  }
  return out + '"';
}

/**
 * Any code point except surrogates, biased toward ASCII and the BMP. (Built
 * by hand: fast-check's unit 'binary' costs seconds to set up per process.)
 */
const codePoint = fc
  .oneof(
    fc.integer({ min: 0, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0xffff - 0x800 }).map((n) => (n < 0xd800 ? n : n + 0x800)),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
  )
  .map((n) => String.fromCodePoint(n));

/** Field text values: ordinary, empty, near the 50-character limit, odd characters. */
const textValue = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: codePoint, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom('a', 'é', '中', '😀', 'e\u0301', 'K', '\u212a'), fc.integer({ min: 24, max: 52 })).map(([unit, n]) => unit.repeat(n)),
  },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('"', '\\', '/', '\u0000', '\u001f', '\u2028', '\ud800', '\udc00', '😀', 'x'), maxLength: 6 }) },
);

const numberText = fc.oneof(
  fc.integer({ min: 0, max: 70000 }).map(String),
  fc.constantFrom('0', '-0', '1.0', '1e2', '1E+2', '6.5535e4', '65535', '65536', '-1', '1.5', '1e400', '0.5e1', '100000000', '01', '1.', '-', '+1'),
);

/** A string literal, usually unescaped, sometimes with 10% or 50% of its characters escaped. */
const stringText = fc
  .tuple(textValue, fc.constantFrom(0, 0, 0, 10, 50), fc.array(fc.nat({ max: 99 }), { minLength: 1, maxLength: 16 }))
  .map(([s, rate, ch]) => literal(s, rate, ch));
/** The JSON text of any value: a string most of the time. */
const valueText = fc.oneof(
  { weight: 10, arbitrary: stringText },
  { weight: 3, arbitrary: numberText },
  { weight: 1, arbitrary: fc.constantFrom('null', 'true', 'false', '[]', '{}', '{"app":"x"}', '["a"]') },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
);

/** app, ver and host: a string most of the time, so that many updates are accepted. */
const fieldValue = fc.oneof({ weight: 3, arbitrary: valueText }, { weight: 27, arbitrary: stringText });
const instanceValue = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 65535 }).map(String) },
  { weight: 3, arbitrary: numberText },
  { weight: 1, arbitrary: valueText },
);

/** Label names: valid ones mostly, some at or past the limits, some with characters outside [a-z0-9_.-]. */
const labelName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('env', 'region', 'dc', 'a', 'z9', 'team.name', 'x-y', 'under_score', 'b'.repeat(32)) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Env', 'b'.repeat(33), 'sp ace', 'é', '__proto__', 'constructor', 'toString', 'env"', 'a\\b') },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '.', '-', '_', '0', 'A', '/'), minLength: 0, maxLength: 5 }) },
);
/** A label value: usually text (near the 64-character limit now and then), sometimes anything. */
const labelValue = fc.oneof(
  { weight: 6, arbitrary: stringText },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '😀'), fc.integer({ min: 60, max: 66 })).map(([u, n]) => JSON.stringify(u.repeat(n))) },
  { weight: 1, arbitrary: valueText },
);
/** A labels object as text: up to 18 members (duplicates possible), or something that is no object. */
function labelsText(plain: boolean): fc.Arbitrary<string> {
  if (plain) {
    const names = fc.uniqueArray(fc.constantFrom('env', 'region', 'dc', 'a', 'team.name', 'x-y', 'under_score'), { maxLength: 7 });
    return names
      .chain((ns) => fc.tuple(...ns.map((n) => textValue.map((t) => `"${n}":${literal(Array.from(t).slice(0, 64).join(''), 0, [1])}`))))
      .map((ms) => `{${ms.join(',')}}`);
  }
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .array(
          fc.tuple(labelName, ws, labelValue).map(([n, w, v]) => `${literal(n, 0, [1])}:${w}${v}`),
          { maxLength: 18 },
        )
        .map((ms) => `{${ms.join(',')}}`),
    },
    { weight: 1, arbitrary: fc.constantFrom('null', '"env=prod"', '[]', '["a"]', '1', 'true', '{"env":1}', '{"env":null}', '{"env":{"x":"y"}}') },
  );
}

const extraKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'x',
  '',
  'App',
  'app ',
  'app',
  'ver',
  'host',
  'instance',
);

/** A key literal, escaped now and then ("\u0061pp" is "app"). */
const keyText = (name: string): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom(0, 0, 0, 30), fc.array(fc.nat({ max: 99 }), { minLength: 1, maxLength: 8 })).map(([rate, ch]) => literal(name, rate, ch));

/** One `"key": value` member. Plain members are what clients send: the fast path's shape. */
function member(name: string, plain: boolean): fc.Arbitrary<string> {
  if (name === 'labels') return fc.tuple(ws, labelsText(plain)).map(([a, v]) => `${a}"labels":${v}`);
  const value = plain
    ? name === 'instance'
      ? fc.integer({ min: 0, max: 65535 }).map(String)
      : textValue.map((t) => literal(t, 0, [1]))
    : name === 'instance'
      ? instanceValue
      : ['app', 'ver', 'host'].includes(name)
        ? fieldValue
        : valueText;
  const key = plain ? fc.constant(`"${name}"`) : keyText(name);
  return fc.tuple(ws, key, ws, ws, value, ws).map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`);
}

const maybe = (name: string, weight: number, plain: boolean): fc.Arbitrary<string[]> =>
  fc.oneof({ weight, arbitrary: member(name, plain).map((e) => [e]) }, { weight: 10 - weight, arbitrary: fc.constant<string[]>([]) });

/** A near-valid update object as text, members in a random order; plain ones have no extra keys. */
const objectText = fc.boolean().chain((plain) =>
  fc
    .tuple(
      maybe('app', 9, plain),
      maybe('ver', 9, plain),
      maybe('host', 6, plain),
      maybe('instance', 6, plain),
      maybe('labels', 5, plain),
      plain
        ? fc.constant<string[]>([])
        : fc.array(
            extraKey.chain((k) => member(k, false)),
            { maxLength: 3 },
          ),
      ws,
      ws,
    )
    .chain(([a, v, h, i, l, extra, w1, w2]) => {
      const all = [...a, ...v, ...h, ...i, ...l, ...extra];
      return fc.shuffledSubarray(all, { minLength: all.length }).map((ms) => `${w1}{${ms.join(',')}}${w2}`);
    }),
);

/** Damage at the byte level: truncation, a changed or inserted byte, garbage, a BOM. */
const damaged = fc
  .tuple(
    objectText.map((t) => enc.encode(t)),
    fc.nat(),
    fc.constantFrom(0x00, 0x22, 0x2c, 0x5c, 0x7d, 0x80, 0xc0, 0xed, 0xff, 0x20),
    fc.integer({ min: 0, max: 5 }),
  )
  .map(([b, at, byte, kind]) => {
    const i = b.length === 0 ? 0 : at % b.length;
    if (kind === 0) return b.subarray(0, i);
    if (kind === 1) return Uint8Array.from([...b.subarray(0, i), byte, ...b.subarray(i)]);
    if (kind === 2) return Uint8Array.from(b, (x, j) => (j === i ? byte : x));
    if (kind === 3) return Uint8Array.from([...b, byte]);
    if (kind === 4) return Uint8Array.from([0xef, 0xbb, 0xbf, ...b]);
    return b;
  });

/** Bytes drawn from JSON-ish tokens (and broken UTF-8), so the scanners see plausible structure. */
const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  ':',
  ',',
  '"',
  '"app"',
  '"ver"',
  '"host"',
  '"instance"',
  '"labels"',
  '"env"',
  '"a"',
  '"é"',
  '😀',
  '1',
  '-1',
  '65536',
  'null',
  ' ',
  '\\',
  '\\u',
  'd800',
  '\u0000',
]
  .map((t) => enc.encode(t))
  .concat([Uint8Array.of(0xff), Uint8Array.of(0xc3), Uint8Array.of(0xed, 0xa0, 0x80)]);
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 24 }).map((ts) => Uint8Array.from(ts.flatMap((t) => [...t])));

// --- properties ----------------------------------------------------------------------

const protoNames = Object.getOwnPropertyNames(Object.prototype).sort();
const noPollution = (): void => {
  const probe = {} as Record<string, unknown>;
  for (const k of ['app', 'ver', 'host', 'instance', 'x', 'polluted']) expect(probe[k]).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoNames);
};

describe('parseUpdate on hostile input', () => {
  beforeAll(noPollution);
  afterAll(noPollution);

  test('any byte string: never throws, and agrees with the reference', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), agreesWithReference), { seed: 101, numRuns: 20_000 });
  });

  test('JSON-ish token soup agrees with the reference', () => {
    fc.assert(fc.property(tokenSoup, agreesWithReference), { seed: 202, numRuns: 20_000 });
  });

  test('near-valid update objects (escapes, key orders, whitespace, extra keys) agree with the reference', () => {
    let accepted = 0;
    let fast = 0;
    fc.assert(
      fc.property(objectText, (text) => {
        const bytes = enc.encode(text);
        const ok = reference(bytes).reason === 'ok';
        parseInWindow(bytes);
        if (ok) accepted++;
        if (ok && lastFast) fast++;
        agreesWithReference(bytes);
      }),
      { seed: 303, numRuns: 10_000 },
    );
    // Enough accepted updates, on both paths, for the round trip to be tried in earnest.
    expect(accepted).toBeGreaterThan(2500);
    expect(fast).toBeGreaterThan(500);
    expect(accepted - fast).toBeGreaterThan(500);
  });

  test('damaged near-valid updates agree with the reference', () => {
    fc.assert(fc.property(damaged, agreesWithReference), { seed: 404, numRuns: 10_000 });
  });

  test('__proto__, constructor and prototype keys pollute nothing and supply no fields', () => {
    const hostile = [
      '{"__proto__":{"app":"x","ver":"1","polluted":1}}',
      '{"constructor":{"prototype":{"app":"x","polluted":1}},"ver":"1"}',
      '{"__proto__":{"app":"x"},"app":"real","ver":"1","__proto__":null}',
      '{"app":"a","ver":"1","constructor":"c","prototype":{"host":"h"},"toString":1,"hasOwnProperty":2}',
    ];
    const verdicts = hostile.map((t) => parseInWindow(enc.encode(t)));
    expect(verdicts).toEqual([Reason.missing_field, Reason.missing_field, Reason.ok, Reason.ok]);
    expect(recordToVersion(recordOf(enc.encode(hostile[3]!)))).toMatchObject({ app: 'a', ver: '1', host: IP });
    for (const t of hostile) agreesWithReference(enc.encode(t));
    noPollution();
  });

  test('the reference itself: spot checks of its verdicts', () => {
    const v = (s: string | number[]): string => reference(typeof s === 'string' ? enc.encode(s) : Uint8Array.from(s)).reason;
    expect([v(''), v([0xff]), v('\ufeff{}'), v('[]'), v('{"app":1}'), v('{"app":"a"}')]).toEqual([
      'empty',
      'bad_utf8',
      'bad_json',
      'not_object',
      'wrong_type',
      'missing_field',
    ]);
    expect([v('{"app":"a","ver":"1","instance":1.5}'), v('{"app":"\\ud800","ver":"1"}'), v(`{"app":"${'😀'.repeat(51)}","ver":"1"}`)]).toEqual([
      'bad_instance',
      'bad_utf8',
      'too_long',
    ]);
    expect(reference(enc.encode('{"app":"a","ver":"1","instance":-0}'))).toEqual({ reason: 'ok', app: 'a', ver: '1', host: null, instance: 0, labels: [] });
    expect([
      v('{"app":"a","ver":"1","labels":[]}'),
      v(`{"app":"a","ver":"1","labels":{${Array.from({ length: 17 }, (_, i) => `"l${i}":""`).join(',')}}}`),
      v('{"app":"a","ver":"1","labels":{"Env":"x"}}'),
      v(`{"app":"a","ver":"1","labels":{"env":"${'é'.repeat(65)}"}}`),
    ]).toEqual(['bad_labels', 'too_many_labels', 'bad_labels', 'too_long']);
  });
});
