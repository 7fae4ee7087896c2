// formatIp: the HTTP client address as text, formatted like the UDP path:
// IPv4 and IPv4-mapped IPv6 as dotted quads, other IPv6 in RFC 5952 form
// (lowercase, no leading zeros, the longest run of two or more zero groups
// as "::", the first such run on ties).

import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { describe, expect, test } from 'vitest';
import { formatIp } from '../../src/http/remote-ip.js';

const buf = (bytes: number[]): ArrayBuffer => Uint8Array.from(bytes).buffer;

/** 16 bytes from 8 groups. */
function v6(...groups: number[]): ArrayBuffer {
  expect(groups).toHaveLength(8);
  return buf(groups.flatMap((g) => [g >> 8, g & 0xff]));
}

describe('IPv4', () => {
  test.each([
    [[192, 0, 2, 7], '192.0.2.7'],
    [[0, 0, 0, 0], '0.0.0.0'],
    [[255, 255, 255, 255], '255.255.255.255'],
    [[10, 0, 100, 9], '10.0.100.9'],
  ])('%j -> %s', (bytes, text) => {
    expect(formatIp(buf(bytes))).toBe(text);
  });

  test('IPv4-mapped IPv6 (::ffff:a.b.c.d) is written as plain IPv4', () => {
    expect(formatIp(v6(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0207))).toBe('192.0.2.7');
    expect(formatIp(v6(0, 0, 0, 0, 0, 0xffff, 0, 0))).toBe('0.0.0.0');
  });

  test('near-mapped addresses are not mapped', () => {
    // ::fffe:..., and ::ffff:0:a.b.c.d (IPv4-translated) stay IPv6.
    expect(formatIp(v6(0, 0, 0, 0, 0, 0xfffe, 0xc000, 0x0207))).toBe('::fffe:c000:207');
    expect(formatIp(v6(0, 0, 0, 0, 0xffff, 0, 0xc000, 0x0207))).toBe('::ffff:0:c000:207');
    expect(formatIp(v6(1, 0, 0, 0, 0, 0xffff, 0xc000, 0x0207))).toBe('1::ffff:c000:207');
  });
});

describe('IPv6 (RFC 5952)', () => {
  test.each([
    ['loopback', [0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    ['unspecified', [0, 0, 0, 0, 0, 0, 0, 0], '::'],
    ['trailing run', [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], '2001:db8::'],
    ['leading run', [0, 0, 0, 0, 0, 0, 0x2001, 0xdb8], '::2001:db8'],
    ['middle run', [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    ['one non-zero group first', [1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    ['lowercase hex, no leading zeros', [0x2001, 0x0db8, 0x00ab, 0xabcd, 0x000f, 0x0f00, 0xf000, 0x0001], '2001:db8:ab:abcd:f:f00:f000:1'],
    ['a single zero group is not compressed', [0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    ['the longest run wins', [0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    ['first run on ties', [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    ['first run on ties, at both ends', [0, 0, 1, 2, 3, 4, 0, 0], '::1:2:3:4:0:0'],
    ['link-local', [0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a], 'fe80::1ff:fe23:4567:890a'],
    ['no zeros at all', [1, 2, 3, 4, 5, 6, 7, 8], '1:2:3:4:5:6:7:8'],
  ])('%s', (_what, groups, text) => {
    expect(formatIp(v6(...groups))).toBe(text);
  });

  test('property: matches the WHATWG URL serializer (RFC 5952 compression) for non-mapped addresses', () => {
    // Groups biased toward 0 so zero runs of every length and position occur.
    const group = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }) });
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        fc.pre(!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff));
        const text = formatIp(Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff])).buffer);
        const full = groups.map((g) => g.toString(16)).join(':');
        const want = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        // expect() only on a mismatch, for its message: thousands of runs stay fast.
        if (text !== want || !isIPv6(text)) expect({ text, valid: isIPv6(text) }).toEqual({ text: want, valid: true });
      }),
      { seed: 5952, numRuns: 2000 },
    );
  });
});

describe('other lengths', () => {
  test.each([0, 1, 5, 15, 17])('%i bytes -> ""', (n) => {
    expect(formatIp(new ArrayBuffer(n))).toBe('');
  });
});
