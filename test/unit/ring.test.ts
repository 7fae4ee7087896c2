// The SPSC record ring: layout, wrap-around with tiny rings (64 and 128
// bytes of data), full rings, records split across the end, release,
// position wrap at 2^31 and 2^32, and a randomized comparison with a plain
// array model.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRing, RingConsumer, RingProducer } from '../../src/workers/ring.js';
import { DATA_OFFSET, LENGTH_PREFIX, MIN_CAPACITY, READ_POS, recordSpan, ringByteLength, WRITE_POS } from '../../src/workers/ring-layout.js';

/** A payload whose bytes identify it: tag, then tag+1, tag+2... */
function payload(len: number, tag: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (tag + i) & 0xff);
}

function ring(capacity: number, startPos = 0): { sab: SharedArrayBuffer; p: RingProducer; c: RingConsumer } {
  const sab = createRing(capacity);
  const ctrl = new Int32Array(sab, 0, DATA_OFFSET / 4);
  ctrl[WRITE_POS] = startPos | 0;
  ctrl[READ_POS] = startPos | 0;
  return { sab, p: new RingProducer(sab), c: new RingConsumer(sab) };
}

/** Reads up to max records, copying each payload (the bytes are only valid during the visit). */
function readAll(c: RingConsumer, max = 1000): number[][] {
  const got: number[][] = [];
  const n = c.read((bytes, off, len) => got.push([...bytes.subarray(off, off + len)]), max);
  expect(n).toBe(got.length);
  return got;
}

const push = (p: RingProducer, bytes: Uint8Array): boolean => p.tryPush(bytes, 0, bytes.length);

describe('layout', () => {
  test('ringByteLength is the data capacity plus the control lines', () => {
    expect(ringByteLength(64)).toBe(DATA_OFFSET + 64);
    expect(ringByteLength(128)).toBe(DATA_OFFSET + 128);
    expect(ringByteLength(2 ** 30)).toBe(DATA_OFFSET + 2 ** 30);
    expect(createRing(64).byteLength).toBe(192);
  });

  test.each([0, 32, 63, 65, 96, 100, 1000, 64.5, -64, NaN, 2 ** 31])('ringByteLength rejects capacity %s', (cap) => {
    expect(() => ringByteLength(cap)).toThrow(RangeError);
  });

  test('MIN_CAPACITY is the smallest accepted capacity', () => {
    expect(MIN_CAPACITY).toBe(64);
    expect(() => ringByteLength(MIN_CAPACITY / 2)).toThrow(/power of two from 64/);
  });

  test('producer slot, consumer slot and data sit on three different 64-byte lines', () => {
    const writeByte = WRITE_POS * 4;
    const readByte = READ_POS * 4;
    const lines = [Math.floor(writeByte / 64), Math.floor(readByte / 64), DATA_OFFSET / 64];
    expect(new Set(lines).size).toBe(3);
    expect(writeByte + 4).toBeLessThanOrEqual(DATA_OFFSET);
    expect(readByte + 4).toBeLessThanOrEqual(DATA_OFFSET);
    expect(DATA_OFFSET % 64).toBe(0);
  });

  test('recordSpan: 4-byte prefix plus payload, padded to 4', () => {
    expect([0, 1, 3, 4, 5, 60].map(recordSpan)).toEqual([4, 8, 8, 8, 12, 64]);
    expect(LENGTH_PREFIX).toBe(4);
  });

  test('a buffer whose data area is not a power of two is refused by both ends', () => {
    const sab = new SharedArrayBuffer(DATA_OFFSET + 100);
    expect(() => new RingProducer(sab)).toThrow(RangeError);
    expect(() => new RingConsumer(sab)).toThrow(RangeError);
  });
});

describe('pushing and reading', () => {
  test('records come out in order with their exact bytes', () => {
    const { p, c } = ring(128);
    expect(push(p, payload(5, 1))).toBe(true);
    expect(push(p, payload(0, 0))).toBe(true);
    expect(push(p, payload(12, 50))).toBe(true);
    expect(readAll(c)).toEqual([[...payload(5, 1)], [], [...payload(12, 50)]]);
    expect(readAll(c)).toEqual([]);
  });

  test('tryPush copies src[start, start+len) only', () => {
    const { p, c } = ring(64);
    expect(p.tryPush(Uint8Array.from([9, 9, 1, 2, 3, 9]), 2, 3)).toBe(true);
    expect(readAll(c)).toEqual([[1, 2, 3]]);
  });

  test('read() stops at maxRecords; 0 reads nothing', () => {
    const { p, c } = ring(128);
    for (let i = 0; i < 5; i++) push(p, payload(3, i * 10));
    expect(readAll(c, 0)).toEqual([]);
    expect(readAll(c, 2)).toEqual([
      [0, 1, 2],
      [10, 11, 12],
    ]);
    expect(readAll(c, 2)).toEqual([
      [20, 21, 22],
      [30, 31, 32],
    ]);
    expect(readAll(c, 2)).toEqual([[40, 41, 42]]);
  });

  test('pending() counts published, unread bytes (prefixes and padding included)', () => {
    const { p, c } = ring(128);
    push(p, payload(5, 0)); // span 12
    push(p, payload(0, 0)); // span 4
    expect(c.pending()).toBe(16);
    readAll(c, 1);
    expect(c.pending()).toBe(4);
  });

  test('16 empty records fill a 64-byte ring and read back as empty', () => {
    const { p, c } = ring(64);
    for (let i = 0; i < 16; i++) expect(push(p, new Uint8Array(0))).toBe(true);
    expect(push(p, new Uint8Array(0))).toBe(false);
    expect(readAll(c)).toEqual(Array.from({ length: 16 }, () => []));
  });

  test.each([64, 128])('capacity %i: the largest record is capacity - 4 bytes; one more never fits', (cap) => {
    const { p, c } = ring(cap);
    expect(push(p, payload(cap - 3, 0))).toBe(false);
    expect(push(p, payload(cap - 4, 7))).toBe(true);
    expect(p.free()).toBe(0);
    expect(readAll(c)).toEqual([[...payload(cap - 4, 7)]]);
    c.release();
    // The same largest record again, now starting mid-ring, so split across the end.
    expect(push(p, payload(3, 0))).toBe(true);
    readAll(c);
    c.release();
    expect(push(p, payload(cap - 4, 99))).toBe(true);
    expect(readAll(c)).toEqual([[...payload(cap - 4, 99)]]);
  });
});

describe('full rings', () => {
  test('tryPush returns false and writes nothing', () => {
    const { sab, p, c } = ring(64);
    expect(push(p, payload(40, 1))).toBe(true); // span 44, 20 left
    const before = new Uint8Array(sab).slice();
    expect(push(p, payload(17, 2))).toBe(false); // span 24
    expect(new Uint8Array(sab)).toEqual(before);
    expect(push(p, payload(16, 3))).toBe(true); // span 20: exactly fills
    expect(p.free()).toBe(0);
    const full = new Uint8Array(sab).slice();
    expect(push(p, new Uint8Array(0))).toBe(false);
    expect(new Uint8Array(sab)).toEqual(full);
    expect(readAll(c)).toEqual([[...payload(40, 1)], [...payload(16, 3)]]);
  });

  test('space is reusable only after release()', () => {
    const { p, c } = ring(64);
    expect(push(p, payload(60, 0))).toBe(true);
    expect(readAll(c)).toHaveLength(1);
    expect(p.free()).toBe(0);
    expect(push(p, payload(1, 0))).toBe(false); // read but not released
    c.release();
    expect(p.free()).toBe(64);
    expect(push(p, payload(1, 5))).toBe(true);
    expect(readAll(c)).toEqual([[5]]);
  });

  test('release() frees only what was read', () => {
    const { p, c } = ring(64);
    push(p, payload(8, 0)); // 12
    push(p, payload(8, 0)); // 12
    push(p, payload(8, 0)); // 12
    readAll(c, 1);
    c.release();
    expect(p.free()).toBe(64 - 24);
  });
});

describe('release', () => {
  test('a new consumer (a restarted writer) starts at the last release', () => {
    const { sab, p, c } = ring(64);
    push(p, payload(4, 1));
    push(p, payload(4, 2));
    readAll(c, 1);
    c.release();
    readAll(c); // read but never committed
    expect(readAll(new RingConsumer(sab))).toEqual([[...payload(4, 2)]]);
  });
});

describe('wrap-around', () => {
  test('a record split across the end of the data area arrives intact', () => {
    const { sab, p, c } = ring(64);
    push(p, payload(40, 0)); // occupies [0, 44)
    readAll(c);
    c.release();
    const rec = payload(30, 100); // prefix at [44, 48), payload [48, 64) + [0, 14)
    expect(push(p, rec)).toBe(true);
    const data = new Uint8Array(sab, DATA_OFFSET, 64);
    expect([...data.subarray(44, 48)]).toEqual([30, 0, 0, 0]);
    expect([...data.subarray(48, 64)]).toEqual([...rec.subarray(0, 16)]);
    expect([...data.subarray(0, 14)]).toEqual([...rec.subarray(16)]);
    let handed: Uint8Array | null = null;
    c.read((bytes, off, len) => {
      handed = bytes;
      expect([...bytes.subarray(off, off + len)]).toEqual([...rec]);
    }, 10);
    // Split records are handed over from a scratch copy, not the ring.
    expect(handed).not.toBeNull();
    expect(handed!.buffer).not.toBe(sab);
  });

  test('split records longer than the consumer scratch (256 bytes) arrive intact', () => {
    const { p, c } = ring(1024);
    push(p, payload(700, 0));
    readAll(c);
    c.release();
    const big = payload(600, 33);
    expect(push(p, big)).toBe(true);
    expect(readAll(c)).toEqual([[...big]]);
  });

  test.each([
    ['2^32 (unsigned wrap)', -8],
    ['2^31 (signed overflow)', 0x7ffffff8],
  ])('positions crossing %s keep working', (_what, start) => {
    const { p, c } = ring(64, start);
    for (let round = 0; round < 6; round++) {
      expect(push(p, payload(10, round))).toBe(true);
      expect(push(p, payload(6, round + 50))).toBe(true);
      expect(p.free()).toBe(64 - 16 - 12);
      expect(readAll(c)).toEqual([[...payload(10, round)], [...payload(6, round + 50)]]);
      c.release();
      expect(p.free()).toBe(64);
    }
  });
});

describe('randomized against an array model', () => {
  type Op = { kind: 'push'; len: number } | { kind: 'read'; max: number } | { kind: 'release' } | { kind: 'restart' };

  function run(cap: number, start: number, ops: Op[]): void {
    const { sab, p } = ring(cap, start);
    let c = new RingConsumer(sab);
    // Model: records not yet released, and how many of them were read.
    const queue: number[][] = [];
    let readCount = 0;
    let tag = 0;
    const used = (): number => queue.reduce((n, r) => n + recordSpan(r.length), 0);
    for (const op of ops) {
      if (op.kind === 'push') {
        const rec = payload(op.len, tag++);
        const fits = recordSpan(op.len) <= cap - used();
        expect(push(p, rec)).toBe(fits);
        if (fits) queue.push([...rec]);
      } else if (op.kind === 'read') {
        const want = queue.slice(readCount, readCount + op.max);
        expect(readAll(c, op.max)).toEqual(want);
        readCount += want.length;
      } else if (op.kind === 'release') {
        c.release();
        queue.splice(0, readCount);
        readCount = 0;
      } else {
        c = new RingConsumer(sab);
        readCount = 0;
      }
      expect(p.free()).toBe(cap - used());
      expect(c.pending()).toBe(queue.slice(readCount).reduce((n, r) => n + recordSpan(r.length), 0));
    }
  }

  const opArb = (cap: number): fc.Arbitrary<Op> =>
    fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 0, max: cap }).map((len): Op => ({ kind: 'push', len })) },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 4 }).map((max): Op => ({ kind: 'read', max })) },
      { weight: 2, arbitrary: fc.constant<Op>({ kind: 'release' }) },
      { weight: 1, arbitrary: fc.constant<Op>({ kind: 'restart' }) },
    );

  test.each([64, 128])('capacity %i: random pushes, reads, releases and consumer restarts match the model', (cap) => {
    fc.assert(
      fc.property(fc.constantFrom(0, -cap, 0x7fffffff - 3, -4), fc.array(opArb(cap), { maxLength: 300 }), (start, ops) => {
        run(cap, start, ops);
      }),
      { seed: 4242 + cap, numRuns: 300 },
    );
  });
});
