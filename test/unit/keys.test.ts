// Binary LMDB keys: escaped, terminated string parts plus an optional u16
// instance. The encoding must round-trip, never map two tuples to the same
// bytes, keep byte order equal to UTF-8 order, and make "keys starting with
// a prefix" exactly the range [prefix, prefixEnd(prefix)).

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildKey, decodeKeyPart, encodeKeyPart, keyPartEnd, prefixEnd, splitKey } from '../../src/store/keys.js';

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sign = (n: number): number => Math.sign(n);

function encodePart(s: string): Uint8Array {
  const src = enc.encode(s);
  const out = new Uint8Array(2 * src.length + 1);
  return out.subarray(0, encodeKeyPart(src, 0, src.length, out, 0));
}

// Strings weighted toward the bytes the escaping is about (0x00, 0x01, 0x02)
// and toward the top of the range. Well-formed only: keys are built from
// validated updates, and TextEncoder maps lone surrogates to U+FFFD anyway.
const special = fc.constantFrom('\u0000', '\u0001', '\u0002', 'a', '\u007f', '\u00ff', '\uffff', '😀', '\u{10ffff}');
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
const anyChar = fc.oneof(special, codePoint);
const str = fc.string({ unit: anyChar, maxLength: 8 });
const tuple = fc.array(str, { maxLength: 4 });
/** A tiny alphabet, so different tuples often share bytes and collisions would show. */
const tinyStr = fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\u0002', 'a'), maxLength: 4 });
const tinyTuple = fc.array(tinyStr, { maxLength: 3 });

const RUNS = { seed: 1337, numRuns: 2000 };

/** expect(actual).toBe(expected), but only built on a mismatch: properties run thousands of times. */
function same(actual: unknown, expected: unknown, context?: unknown): void {
  if (!Object.is(actual, expected)) expect({ actual, context }).toEqual({ actual: expected, context });
}

describe('encodeKeyPart / decodeKeyPart', () => {
  test('0x00 -> 01 01, 0x01 -> 01 02, other bytes as they are, then a 0x00 terminator', () => {
    expect([...encodePart('a\u0000b\u0001c\u0002')]).toEqual([0x61, 1, 1, 0x62, 1, 2, 0x63, 2, 0]);
    expect([...encodePart('')]).toEqual([0]);
    expect([...encodePart('é')]).toEqual([0xc3, 0xa9, 0]);
  });

  test('encodes src[start, end) at offset o and returns the new offset', () => {
    const out = new Uint8Array(8).fill(0xee);
    expect(encodeKeyPart(Uint8Array.from([9, 0, 7, 9]), 1, 3, out, 2)).toBe(6);
    expect([...out]).toEqual([0xee, 0xee, 1, 1, 7, 0, 0xee, 0xee]);
  });

  test('decodeKeyPart undoes it and sets keyPartEnd after the terminator', () => {
    const key = Uint8Array.from([0x61, 1, 1, 1, 2, 0, 0x62, 0]);
    const into = new Uint8Array(8);
    expect(decodeKeyPart(key, 0, into)).toBe(3);
    expect([...into.subarray(0, 3)]).toEqual([0x61, 0, 1]);
    expect(keyPartEnd).toBe(6);
    expect(decodeKeyPart(key, 6, into)).toBe(1);
    expect(into[0]).toBe(0x62);
    expect(keyPartEnd).toBe(8);
  });

  test('an unterminated part is a RangeError', () => {
    expect(() => decodeKeyPart(Uint8Array.from([0x61, 0x62]), 0, new Uint8Array(4))).toThrow(RangeError);
  });
});

describe('buildKey / splitKey', () => {
  test('exact bytes: parts, then the instance big-endian', () => {
    expect([...buildKey(['ab', '\u0001'], 0x0102)]).toEqual([0x61, 0x62, 0, 1, 2, 0, 1, 2]);
    expect([...buildKey(['x'])]).toEqual([0x78, 0]);
    expect([...buildKey([], 65535)]).toEqual([0xff, 0xff]);
    expect(buildKey([]).length).toBe(0);
  });

  test('the original collision ("a"+"bc" vs "ab"+"c") cannot happen', () => {
    expect(hex(buildKey(['a', 'bc']))).not.toBe(hex(buildKey(['ab', 'c'])));
    expect(hex(buildKey(['a', '']))).not.toBe(hex(buildKey(['a'])));
  });

  test('round trip for parts containing \\u0000 and \\u0001; rest points at the instance', () => {
    const parts = ['\u0000', 'a\u0001b', '', '\u0001\u0000\u0001', 'ü😀'];
    const key = buildKey(parts, 513);
    const { parts: back, rest } = splitKey(key, parts.length);
    expect(back).toEqual(parts);
    expect(rest).toBe(key.length - 2);
    expect([key[rest], key[rest + 1]]).toEqual([2, 1]);
  });

  test('splitKey of fewer parts than the key holds reads the leading ones', () => {
    const key = buildKey(['app', 'host'], 1);
    expect(splitKey(key, 1)).toEqual({ parts: ['app'], rest: 4 });
  });

  test('property: any tuple round-trips', () => {
    fc.assert(
      fc.property(tuple, fc.integer({ min: 0, max: 65535 }), (parts, instance) => {
        const key = buildKey(parts, instance);
        const { parts: back, rest } = splitKey(key, parts.length);
        const got = { parts: back, after: key.length - rest, instance: (key[rest]! << 8) | key[rest + 1]! };
        // Compared as JSON first: expect() only for the message of a mismatch (fast for thousands of runs).
        const want = { parts, after: 2, instance };
        if (JSON.stringify(got) !== JSON.stringify(want)) expect(got).toEqual(want);
      }),
      RUNS,
    );
  });

  test('property: different tuples never encode to the same bytes', () => {
    fc.assert(
      fc.property(tinyTuple, tinyTuple, (a, b) => {
        same(hex(buildKey(a)) === hex(buildKey(b)), JSON.stringify(a) === JSON.stringify(b), [a, b]);
      }),
      { ...RUNS, numRuns: 3000 },
    );
  });

  test('20,000 sampled tuples of a tiny alphabet: every encoding belongs to exactly one tuple', () => {
    const seen = new Map<string, string>();
    fc.sample(tinyTuple, { seed: 3, numRuns: 20_000 }).forEach((t) => {
      const k = hex(buildKey(t));
      const prev = seen.get(k);
      if (prev !== undefined) same(prev, JSON.stringify(t), k);
      else seen.set(k, JSON.stringify(t));
    });
    expect(seen.size).toBeGreaterThan(1000); // enough distinct tuples to mean something
  });
});

describe('order', () => {
  test('property: encoded single parts sort like their UTF-8 bytes', () => {
    fc.assert(
      fc.property(str, str, (a, b) => {
        same(sign(Buffer.compare(encodePart(a), encodePart(b))), sign(Buffer.compare(enc.encode(a), enc.encode(b))), [a, b]);
      }),
      RUNS,
    );
  });

  test('examples: a part sorts before its extensions, even by \\u0000', () => {
    const sorted = ['', '\u0000', '\u0000\u0000', '\u0001', 'a', 'a\u0000', 'a\u0001', 'ab', 'é'];
    const keys = sorted.map((s) => buildKey([s]));
    const resorted = [...keys].sort(Buffer.compare);
    expect(resorted.map((k) => splitKey(k, 1).parts[0])).toEqual(sorted);
  });

  test('property: same-arity keys sort like (UTF-8 parts..., instance) tuples', () => {
    const arb = fc.tuple(tinyStr, tinyStr, fc.integer({ min: 0, max: 65535 }));
    fc.assert(
      fc.property(arb, arb, ([a1, a2, ai], [b1, b2, bi]) => {
        const byParts = Buffer.compare(enc.encode(a1), enc.encode(b1)) || Buffer.compare(enc.encode(a2), enc.encode(b2)) || ai - bi;
        same(sign(Buffer.compare(buildKey([a1, a2], ai), buildKey([b1, b2], bi))), sign(byParts), [a1, a2, ai, b1, b2, bi]);
      }),
      RUNS,
    );
  });
});

describe('prefixEnd', () => {
  test('increments the last byte, dropping trailing 0xff', () => {
    expect([...prefixEnd(Uint8Array.from([0x61, 0x00]))]).toEqual([0x61, 0x01]);
    expect([...prefixEnd(Uint8Array.from([0x61, 0xff, 0xff]))]).toEqual([0x62]);
    expect([...prefixEnd(Uint8Array.from([0x00]))]).toEqual([0x01]);
  });

  test('leaves its argument alone', () => {
    const p = Uint8Array.from([1, 2, 0xff]);
    prefixEnd(p);
    expect([...p]).toEqual([1, 2, 0xff]);
  });

  test('a prefix of only 0xff bytes, or none, has no end', () => {
    expect(() => prefixEnd(Uint8Array.from([0xff, 0xff]))).toThrow(RangeError);
    expect(() => prefixEnd(new Uint8Array(0))).toThrow(RangeError);
  });

  test('property: a key starts with the prefix exactly when prefix <= key < prefixEnd(prefix)', () => {
    const bytes = (max: number): fc.Arbitrary<Buffer> => fc.array(fc.constantFrom(0x00, 0x01, 0x7f, 0xfe, 0xff), { maxLength: max }).map((a) => Buffer.from(a));
    const prefix = bytes(4).filter((p) => p.some((b) => b !== 0xff));
    fc.assert(
      fc.property(prefix, bytes(6), (p, key) => {
        const starts = key.length >= p.length && Buffer.compare(key.subarray(0, p.length), p) === 0;
        const inRange = Buffer.compare(key, p) >= 0 && Buffer.compare(key, prefixEnd(p)) < 0;
        same(inRange, starts, [hex(p), hex(key)]);
      }),
      { ...RUNS, numRuns: 5000 },
    );
  });

  test('property: keys built from a tuple lie in the range of any leading sub-tuple', () => {
    fc.assert(
      fc.property(
        tuple.filter((t) => t.length > 0),
        fc.integer({ min: 0, max: 65535 }),
        fc.nat(),
        (parts, instance, cut) => {
          const prefix = buildKey(parts.slice(0, 1 + (cut % parts.length)));
          const key = buildKey(parts, instance);
          same(Buffer.compare(key, prefix) >= 0 && Buffer.compare(key, prefixEnd(prefix)) < 0, true, [parts, instance]);
        },
      ),
      RUNS,
    );
  });
});
