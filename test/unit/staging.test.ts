// Staging: records moved out of tiny rings (64 and 128 bytes, so records
// wrap and split across the end), replayed in arrival order with their
// exact bytes; the maxBytes bound leaves the rest in the rings.

import { describe, expect, test } from 'vitest';
import { DATA_OFFSET, READ_POS, WRITE_POS, recordSpan } from '../../src/workers/ring-layout.js';
import { RingConsumer, RingProducer, createRing } from '../../src/workers/ring.js';
import { Staging } from '../../src/workers/staging.js';

/** A payload whose bytes identify it: tag, tag+1, ... */
function payload(len: number, tag: number): number[] {
  return Array.from({ length: len }, (_, i) => (tag + i) & 0xff);
}

function ring(capacity: number): { sab: SharedArrayBuffer; p: RingProducer; c: RingConsumer } {
  const sab = createRing(capacity);
  return { sab, p: new RingProducer(sab), c: new RingConsumer(sab) };
}

function push(p: RingProducer, bytes: number[]): void {
  expect(p.tryPush(Uint8Array.from(bytes), 0, bytes.length)).toBe(true);
}

/** Replays the staging area, copying each record (the bytes are only valid during the visit). */
function replay(s: Staging): number[][] {
  const got: number[][] = [];
  s.replay((bytes, off, len) => got.push([...bytes.subarray(off, off + len)]));
  return got;
}

const readPos = (sab: SharedArrayBuffer): number => new Int32Array(sab, 0, DATA_OFFSET / 4)[READ_POS]!;
const writePos = (sab: SharedArrayBuffer): number => new Int32Array(sab, 0, DATA_OFFSET / 4)[WRITE_POS]!;

describe('take and replay', () => {
  test('records from one ring come back in order with their exact bytes, and the ring space is released', () => {
    const { sab, p, c } = ring(128);
    const sent = [payload(5, 1), payload(0, 0), payload(17, 40), payload(60, 100)];
    for (const r of sent) push(p, r);
    const s = new Staging(1 << 20);
    expect(s.take([c], 100)).toBe(4);
    // Each staged record is a u32 length and its bytes.
    expect(s.bytes).toBe(sent.reduce((n, r) => n + 4 + r.length, 0));
    expect(s.count).toBe(4);
    expect(readPos(sab)).toBe(writePos(sab));
    expect(p.free()).toBe(128);
    expect(replay(s)).toEqual(sent);
    expect(s.bytes).toBe(0);
    expect(s.count).toBe(0);
    expect(replay(s)).toEqual([]);
  });

  test('a 64-byte ring wraps many times; records split across its end replay exactly, in order', () => {
    const { p, c } = ring(64);
    const s = new Staging(1 << 20);
    const sent: number[][] = [];
    // Lengths chosen so positions drift and records straddle the end of the data area.
    const lengths = [13, 30, 7, 41, 2, 55, 19, 0, 33, 9, 60, 27];
    let tag = 0;
    for (let round = 0; round < 40; round++) {
      let inRing = 0;
      for (const len of lengths) {
        if (p.free() < recordSpan(len)) break;
        const r = payload(len, tag++);
        push(p, r);
        sent.push(r);
        inRing++;
      }
      expect(s.take([c], 3)).toBe(inRing);
      lengths.push(lengths.shift()!);
    }
    expect(sent.length).toBeGreaterThan(40);
    expect(replay(s)).toEqual(sent);
  });

  test('several rings: all of the first ring, then the next, each in its order', () => {
    const a = ring(64);
    const b = ring(128);
    const c = ring(64);
    push(a.p, payload(10, 1));
    push(a.p, payload(11, 2));
    push(b.p, payload(40, 3));
    push(b.p, payload(41, 4));
    push(b.p, payload(3, 5));
    push(c.p, payload(1, 6));
    const s = new Staging(1 << 20);
    expect(s.take([a.c, b.c, c.c], 1)).toBe(6);
    expect(replay(s)).toEqual([payload(10, 1), payload(11, 2), payload(40, 3), payload(41, 4), payload(3, 5), payload(1, 6)]);
  });

  test('take after replay starts afresh; records pushed between takes are appended', () => {
    const { p, c } = ring(64);
    const s = new Staging(1 << 20);
    push(p, payload(20, 1));
    s.take([c], 10);
    push(p, payload(20, 2));
    s.take([c], 10);
    expect(replay(s)).toEqual([payload(20, 1), payload(20, 2)]);
    push(p, payload(20, 3));
    expect(s.take([c], 10)).toBe(1);
    expect(replay(s)).toEqual([payload(20, 3)]);
  });

  test('more than 64 KiB staged (the area grows): every record still exact', () => {
    const { p, c } = ring(128);
    const s = new Staging(1 << 24);
    const sent: number[][] = [];
    for (let i = 0; i < 2000; i++) {
      const r = payload(20 + (i % 41), i);
      push(p, r);
      sent.push(r);
      if (i % 2 === 1) expect(s.take([c], 8)).toBe(2);
    }
    expect(s.bytes).toBeGreaterThan(1 << 16);
    expect(s.bytes).toBe(sent.reduce((n, r) => n + 4 + r.length, 0));
    expect(replay(s)).toEqual(sent);
  });
});

describe('the maxBytes bound', () => {
  test('once the bound is reached the rest stays in the ring, unreleased; a take after replay gets it', () => {
    const { sab, p, c } = ring(128);
    const sent = [payload(10, 1), payload(10, 2), payload(10, 3), payload(10, 4), payload(10, 5)];
    for (const r of sent) push(p, r);
    // Each staged record takes 14 bytes: the bound is reached after the second.
    const s = new Staging(28);
    expect(s.take([c], 1)).toBe(2);
    expect(s.bytes).toBe(28);
    // Exactly the two taken records were released.
    expect(readPos(sab)).toBe(2 * recordSpan(10));
    expect(c.pending()).toBe(3 * recordSpan(10));
    expect(p.free()).toBe(128 - 3 * recordSpan(10));
    // At the bound nothing more is taken.
    expect(s.take([c], 1)).toBe(0);
    expect(replay(s)).toEqual(sent.slice(0, 2));
    expect(s.take([c], 1)).toBe(2);
    expect(replay(s)).toEqual(sent.slice(2, 4));
    expect(s.take([c], 1)).toBe(1);
    expect(replay(s)).toEqual(sent.slice(4));
    expect(readPos(sab)).toBe(writePos(sab));
  });

  test('the bound is checked between reads: one read of perRing records may pass it', () => {
    const { p, c } = ring(128);
    for (let i = 0; i < 6; i++) push(p, payload(10, i));
    const s = new Staging(15);
    expect(s.take([c], 4)).toBe(4);
    expect(s.bytes).toBe(56);
    expect(c.pending()).toBe(2 * recordSpan(10));
  });

  test('the bound applies across rings: later rings keep their records', () => {
    const a = ring(64);
    const b = ring(64);
    push(a.p, payload(20, 1));
    push(a.p, payload(20, 2));
    push(b.p, payload(20, 3));
    const s = new Staging(24);
    expect(s.take([a.c, b.c], 1)).toBe(1);
    expect(a.c.pending()).toBe(recordSpan(20));
    expect(b.c.pending()).toBe(recordSpan(20));
    expect(replay(s)).toEqual([payload(20, 1)]);
    // The first ring fills the bound again before the second is read.
    expect(s.take([a.c, b.c], 1)).toBe(1);
    expect(replay(s)).toEqual([payload(20, 2)]);
    expect(s.take([a.c, b.c], 1)).toBe(1);
    expect(replay(s)).toEqual([payload(20, 3)]);
    expect(b.c.pending()).toBe(0);
  });
});
