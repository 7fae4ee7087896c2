import { describe, expect, test } from 'vitest';
import { BAD_KINDS, EXPECTED_REASON, HUGE_HTTP, HUGE_UDP, isBadKind, makeBadPacket, SAMPLE_UPDATE, type BadKind } from '../../tools/fuzz/bad-packets.js';
import { Fleet, type Update } from '../../tools/fuzz/fleet.js';
import { Rng } from '../../tools/fuzz/prng.js';
import { HTTP_MAX_BYTES, referenceVerdict } from './fuzz-reference-rules.js';

const decoder = new TextDecoder();
const text = (bytes: Uint8Array): string => decoder.decode(bytes);

/** Bases with non-ASCII, long and short names, so the mangling is tried on all of them. */
function bases(): Update[] {
  const fleet = new Fleet({ seed: 5, hosts: 1000, apps: 40, instances: 3, releaseEveryS: 30 });
  return [SAMPLE_UPDATE, ...Array.from({ length: 60 }, (_, n) => fleet.updateAt(n * 13, n))];
}

describe('bad packets', () => {
  test('every kind has an expected reason, and kinds are recognised by name', () => {
    expect(Object.keys(EXPECTED_REASON).sort()).toEqual([...BAD_KINDS].sort());
    expect(isBadKind('huge_datagram')).toBe(true);
    expect(isBadKind('nope')).toBe(false);
  });

  test.each(BAD_KINDS)('%s breaks exactly the rule it is labelled with', (kind: BadKind) => {
    const problems: string[] = [];
    for (const [b, base] of bases().entries()) {
      for (let seed = 0; seed < 40; seed++) {
        const packet = makeBadPacket(kind, new Rng(seed * 1000 + b), base);
        const verdict = referenceVerdict(packet);
        if (verdict !== EXPECTED_REASON[kind]) problems.push(`${verdict}: ${JSON.stringify(text(packet).slice(0, 200))}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test.each(BAD_KINDS)('%s over HTTP breaks the same rule', (kind: BadKind) => {
    for (let seed = 0; seed < 20; seed++) {
      const packet = makeBadPacket(kind, new Rng(seed), SAMPLE_UPDATE, HUGE_HTTP);
      expect(referenceVerdict(packet, HTTP_MAX_BYTES)).toBe(EXPECTED_REASON[kind]);
    }
  });

  test('the base update itself is valid', () => {
    for (const base of bases()) expect(referenceVerdict(new TextEncoder().encode(JSON.stringify(base)))).toBe('ok');
  });

  test('the same rng state gives the same packet', () => {
    for (const kind of BAD_KINDS) {
      expect(makeBadPacket(kind, new Rng(9), SAMPLE_UPDATE)).toEqual(makeBadPacket(kind, new Rng(9), SAMPLE_UPDATE));
    }
  });

  test('exact packets for the default rng and base', () => {
    expect(text(makeBadPacket('truncated_json'))).toBe('{"app":"billing-api","ver":"2.4.1","host":"web-042.fra1.example.co');
    expect(text(makeBadPacket('wrong_type_instance'))).toBe('{"app":"billing-api","ver":"2.4.1","host":"web-042.fra1.example.com","instance":{}}');
    expect(text(makeBadPacket('empty_app'))).toBe('{"app":"","ver":"2.4.1","host":"web-042.fra1.example.com","instance":3}');
    expect(makeBadPacket('empty_datagram')).toEqual(new Uint8Array(0));
    const nul = makeBadPacket('nul_byte');
    expect(nul.at(-1)).toBe(0);
    expect(nul.length).toBe(83);
    const bom = makeBadPacket('bom_prefix');
    expect([...bom.subarray(0, 4)]).toEqual([0xef, 0xbb, 0xbf, 0x7b]);
  });

  test('invalid UTF-8 sits inside a string value', () => {
    for (let seed = 0; seed < 50; seed++) {
      const packet = makeBadPacket('invalid_utf8', new Rng(seed));
      const lossy = text(packet);
      expect(lossy).toContain('\ufffd');
      expect(lossy.startsWith('{"app":"')).toBe(true);
      expect(lossy.endsWith(',"instance":3}')).toBe(true);
    }
  });

  test('long fields are 51 or more characters', () => {
    for (let seed = 0; seed < 50; seed++) {
      for (const kind of ['long_app', 'long_ver', 'long_host'] as const) {
        const parsed = JSON.parse(text(makeBadPacket(kind, new Rng(seed)))) as Record<string, string>;
        const field = kind.slice(5);
        expect([...parsed[field]!].length).toBeGreaterThanOrEqual(51);
        expect([...parsed[field]!].length).toBeLessThanOrEqual(200);
      }
    }
  });

  test('huge packets are over the limit and still fit in a datagram (UDP) or exceed the body limit (HTTP)', () => {
    for (let seed = 0; seed < 50; seed++) {
      const udp = makeBadPacket('huge_datagram', new Rng(seed));
      expect(udp.length).toBeGreaterThanOrEqual(HUGE_UDP.minBytes);
      expect(udp.length).toBeLessThanOrEqual(HUGE_UDP.maxBytes);
      expect(JSON.parse(text(udp))).toEqual(SAMPLE_UPDATE); // only the size is wrong
      const http = makeBadPacket('huge_datagram', new Rng(seed), SAMPLE_UPDATE, HUGE_HTTP);
      expect(http.length).toBeGreaterThan(64 * 1024);
      expect(http.length).toBeLessThanOrEqual(HUGE_HTTP.maxBytes);
    }
  });

  test('every variant of a kind shows up', () => {
    const variants = (kind: BadKind): Set<string> => new Set(Array.from({ length: 300 }, (_, seed) => text(makeBadPacket(kind, new Rng(seed)))));
    expect(variants('not_an_object').size).toBe(6);
    expect(variants('wrong_type_app').size).toBe(5);
    expect(variants('instance_out_of_range').size).toBe(6);
    expect(variants('missing_app')).toEqual(
      new Set(['{"ver":"2.4.1","host":"web-042.fra1.example.com","instance":3}', '{"app":null,"ver":"2.4.1","host":"web-042.fra1.example.com","instance":3}']),
    );
  });
});
