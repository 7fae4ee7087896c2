// app_id: app lowercased, every character outside [0-9a-z] replaced by "_",
// one output character per input code point. appIdOf works on strings;
// asciiAppIdInto is the bytewise version for ASCII names and must agree.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { appIdOf, asciiAppIdInto } from '../../src/ingest/app-id.js';

const enc = new TextEncoder();

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

function asciiId(s: string): string {
  const src = enc.encode(s);
  const out = new Uint8Array(src.length);
  const n = asciiAppIdInto(src, 0, src.length, out, 0);
  return String.fromCharCode(...out.subarray(0, n));
}

describe('appIdOf', () => {
  test.each([
    ['Billing API', 'billing_api'],
    ['web-shop.v2', 'web_shop_v2'],
    ['ABC123xyz', 'abc123xyz'],
    ['', ''],
    ['___', '___'],
    ['Ünïcode', '_n_code'],
    ['日本語', '___'],
    // Astral characters are one code point each, so one "_" each (not two).
    ['a😀b', 'a_b'],
    // A combining mark is its own code point.
    ['e\u0301', 'e_'],
    // KELVIN SIGN lowercases to ASCII k, as with Go's unicode.ToLower.
    ['\u212A', 'k'],
    // "İ" lowercases to "i" + U+0307 in JS; the first code point stands for it.
    ['\u0130stanbul', 'istanbul'],
    // A lone surrogate is one character with no lowercase: "_".
    ['a\ud800b', 'a_b'],
  ])('%j -> %j', (app, id) => {
    expect(appIdOf(app)).toBe(id);
  });

  test('every code point maps to exactly one character of [0-9a-z_]; only ASCII alphanumerics, K and İ map to non-"_"', () => {
    const notUnderscore: number[] = [];
    const bad: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const id = appIdOf(String.fromCodePoint(cp));
      if (!/^[0-9a-z_]$/.test(id)) bad.push(cp);
      else if (id !== '_' && cp >= 0x80) notUnderscore.push(cp);
    }
    expect(bad).toEqual([]);
    expect(notUnderscore).toEqual([0x130, 0x212a]);
  });

  test('app_id has as many characters as app has code points', () => {
    fc.assert(
      fc.property(fc.string({ unit: codePoint, maxLength: 60 }), (app) => {
        const id = appIdOf(app);
        expect(id.length).toBe([...app].length);
        expect(id).toMatch(/^[0-9a-z_]*$/);
      }),
      { seed: 20240601, numRuns: 2000 },
    );
  });

  test('idempotent: the app_id of an app_id is itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: codePoint, maxLength: 60 }), (app) => {
        expect(appIdOf(appIdOf(app))).toBe(appIdOf(app));
      }),
      { seed: 7, numRuns: 1000 },
    );
  });
});

describe('asciiAppIdInto', () => {
  test('agrees with appIdOf on every ASCII byte', () => {
    for (let c = 0; c < 0x80; c++) {
      const ch = String.fromCharCode(c);
      expect(asciiId(ch), `byte 0x${c.toString(16)}`).toBe(appIdOf(ch));
    }
  });

  test('agrees with appIdOf on random ASCII strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 80 }), (app) => {
        expect(asciiId(app)).toBe(appIdOf(app));
      }),
      { seed: 99, numRuns: 3000 },
    );
  });

  test('writes only [start, end) into out at outOff and returns the byte count', () => {
    const src = enc.encode('xx My-App xx');
    const out = new Uint8Array(12).fill(0xee);
    expect(asciiAppIdInto(src, 3, 9, out, 4)).toBe(6);
    expect([...out]).toEqual([0xee, 0xee, 0xee, 0xee, ...enc.encode('my_app'), 0xee, 0xee]);
  });

  test('an empty range writes nothing', () => {
    const out = new Uint8Array(2);
    expect(asciiAppIdInto(enc.encode('abc'), 1, 1, out, 0)).toBe(0);
    expect([...out]).toEqual([0, 0]);
  });
});
