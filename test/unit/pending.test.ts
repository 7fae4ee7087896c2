// PendingRecords on a tiny KeyIndex: one record per slot (a second
// replaces the first), drop, and the arena's compaction and growth: every
// live record's bytes stay exact wherever the arena moves them.

import { describe, expect, test } from 'vitest';
import { RECORD_HEADER, R_FRAG_LEN, R_KEY_LEN } from '../../src/ingest/record.js';
import { KeyIndex } from '../../src/store/key-index.js';
import { PendingRecords } from '../../src/store/pending.js';

const COLUMN = 1;
/** The arena's starting (and smallest) size. */
const ARENA = 1 << 20;

/** A tiny index (16 slots to start) with n keys in slots 0..n-1. */
function index(n: number): KeyIndex {
  const idx = new KeyIndex(2, 16);
  for (let i = 0; i < n; i++) {
    const k = Buffer.from(`k${i}`);
    expect(idx.insert(k, 0, k.length, i * 7919)).toBe(i);
  }
  return idx;
}

/**
 * A record of exactly `len` bytes (header + key + fragment), at offset
 * `off` of a larger buffer, its body filled with bytes derived from tag.
 */
function record(len: number, tag: number, off = 0): { buf: Uint8Array; off: number; len: number; bytes: number[] } {
  const keyLen = Math.min(64, len - RECORD_HEADER);
  const fragLen = len - RECORD_HEADER - keyLen;
  const buf = new Uint8Array(off + len + 5).fill(0xfe);
  const r = buf.subarray(off, off + len);
  for (let i = 0; i < len; i++) r[i] = (tag * 31 + i) & 0xff;
  r[R_KEY_LEN] = keyLen & 0xff;
  r[R_KEY_LEN + 1] = keyLen >>> 8;
  r[R_FRAG_LEN] = fragLen & 0xff;
  r[R_FRAG_LEN + 1] = fragLen >>> 8;
  return { buf, off, len, bytes: [...r] };
}

function set(p: PendingRecords, slot: number, r: ReturnType<typeof record>): boolean {
  return p.set(slot, r.buf, r.off, r.len);
}

/** The slot's pending record as stored in the arena now. */
function stored(p: PendingRecords, slot: number, len: number): number[] {
  const at = p.offsetOf(slot);
  expect(at).toBeGreaterThanOrEqual(0);
  return [...p.arena.subarray(at, at + len)];
}

describe('one record per slot', () => {
  test('set copies the record (not a view of the caller\'s buffer); offsetOf finds it', () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    const r = record(100, 1, 7);
    expect(set(p, 1, r)).toBe(true);
    r.buf.fill(0);
    expect(stored(p, 1, 100)).toEqual(r.bytes);
    expect(p.offsetOf(0)).toBe(-1);
    expect([p.count, p.bytes]).toEqual([1, 100]);
    // The column holds offset + 1.
    expect(idx.cols[COLUMN]![1]).toBe(p.offsetOf(1) + 1);
    expect(idx.cols[0]![1]).toBe(0);
  });

  test('a second record for a slot replaces the first: count stays 1, bytes are the new record\'s', () => {
    const idx = index(3);
    const p = new PendingRecords(idx, COLUMN);
    expect(set(p, 2, record(120, 1))).toBe(true);
    const second = record(90, 2);
    expect(set(p, 2, second)).toBe(false);
    expect([p.count, p.bytes]).toEqual([1, 90]);
    expect(stored(p, 2, 90)).toEqual(second.bytes);
    const third = record(300, 3);
    expect(set(p, 2, third)).toBe(false);
    expect([p.count, p.bytes]).toEqual([1, 300]);
    expect(stored(p, 2, 300)).toEqual(third.bytes);
  });

  test('drop forgets a slot\'s record; dropping again, or a slot without one, changes nothing', () => {
    const idx = index(3);
    const p = new PendingRecords(idx, COLUMN);
    const a = record(50, 1);
    set(p, 0, a);
    set(p, 1, record(60, 2));
    p.drop(1);
    expect(p.offsetOf(1)).toBe(-1);
    expect(idx.cols[COLUMN]![1]).toBe(0);
    expect([p.count, p.bytes]).toEqual([1, 50]);
    p.drop(1);
    p.drop(2);
    expect([p.count, p.bytes]).toEqual([1, 50]);
    expect(stored(p, 0, 50)).toEqual(a.bytes);
    // A dropped slot can take a record again.
    const b = record(70, 3);
    expect(set(p, 1, b)).toBe(true);
    expect([p.count, p.bytes]).toEqual([2, 120]);
    expect(stored(p, 1, 70)).toEqual(b.bytes);
  });

  test('dropping the last record empties the arena: the next record starts at 0', () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    set(p, 0, record(80, 1));
    set(p, 0, record(80, 2));
    p.drop(0);
    expect([p.count, p.bytes]).toEqual([0, 0]);
    set(p, 1, record(40, 3));
    expect(p.offsetOf(1)).toBe(0);
  });

  test('clear forgets the counts; the next record starts at 0', () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    set(p, 0, record(80, 1));
    set(p, 1, record(80, 2));
    p.clear();
    idx.cols[COLUMN]!.fill(0);
    expect([p.count, p.bytes]).toEqual([0, 0]);
    const r = record(33, 4);
    expect(set(p, 1, r)).toBe(true);
    expect(p.offsetOf(1)).toBe(0);
    expect(stored(p, 1, 33)).toEqual(r.bytes);
  });
});

describe('compaction and growth', () => {
  test('when the arena would grow and most of it is superseded records, it is compacted in place of growing; live bytes exact', () => {
    const idx = index(4);
    const p = new PendingRecords(idx, COLUMN);
    const latest = new Map<number, ReturnType<typeof record>>();
    let tag = 0;
    let used = 0;
    // Rewrite four slots with 4,000-byte records until the next one would not fit.
    while (used + 4000 <= ARENA) {
      const slot = tag % 4;
      const r = record(4000, tag++);
      set(p, slot, r);
      latest.set(slot, r);
      used += 4000;
    }
    expect(p.arena.length).toBe(ARENA);
    expect([p.count, p.bytes]).toEqual([4, 16000]);
    const before = p.arena;
    const next = record(4000, tag++);
    set(p, 0, next);
    latest.set(0, next);
    // Compacted: a new arena of the same size, live records packed from 0, the new one after them.
    expect(p.arena).not.toBe(before);
    expect(p.arena.length).toBe(ARENA);
    expect([p.count, p.bytes]).toEqual([4, 16000]);
    expect([1, 2, 3, 0].map((s) => p.offsetOf(s))).toEqual([0, 4000, 8000, 12000]);
    for (const [slot, r] of latest) expect(stored(p, slot, 4000)).toEqual(r.bytes);
  });

  test('when the arena is mostly live it grows (doubles); live bytes exact', () => {
    const n = 300;
    const idx = index(n);
    const p = new PendingRecords(idx, COLUMN);
    const sent: ReturnType<typeof record>[] = [];
    for (let s = 0; s < n; s++) {
      const r = record(3500 + (s % 7), s);
      set(p, s, r);
      sent.push(r);
    }
    // 300 records of ~3.5 KB: more than 1 MiB.
    expect(p.arena.length).toBe(2 * ARENA);
    expect(p.count).toBe(n);
    expect(p.bytes).toBe(sent.reduce((t, r) => t + r.len, 0));
    for (let s = 0; s < n; s++) expect(stored(p, s, sent[s]!.len)).toEqual(sent[s]!.bytes);
    // Offsets are in arrival order, back to back: nothing was compacted.
    expect(p.offsetOf(n - 1)).toBe(p.bytes - sent[n - 1]!.len);
  });

  test('a mix of replaced, dropped and live records through several compactions keeps every live record exact', () => {
    const n = 40;
    const idx = index(n);
    const p = new PendingRecords(idx, COLUMN);
    const live = new Map<number, ReturnType<typeof record>>();
    let x = 12345;
    const rnd = (m: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % m;
    };
    let arenas = 0;
    let last = p.arena;
    for (let i = 0; i < 5000; i++) {
      const slot = rnd(n);
      if (rnd(10) === 0) {
        p.drop(slot);
        live.delete(slot);
      } else {
        const r = record(RECORD_HEADER + 1 + rnd(4000), i, rnd(5));
        expect(set(p, slot, r)).toBe(!live.has(slot));
        live.set(slot, r);
      }
      if (p.arena !== last) {
        arenas++;
        last = p.arena;
        for (const [s, r] of live) expect(stored(p, s, r.len)).toEqual(r.bytes);
      }
      expect(p.count).toBe(live.size);
    }
    // Compacted several times; never needed to grow for 40 live records.
    expect(arenas).toBeGreaterThanOrEqual(3);
    expect(p.arena.length).toBe(ARENA);
    expect(p.bytes).toBe([...live.values()].reduce((t, r) => t + r.len, 0));
    for (let s = 0; s < n; s++) {
      const r = live.get(s);
      if (r === undefined) expect(p.offsetOf(s)).toBe(-1);
      else expect(stored(p, s, r.len)).toEqual(r.bytes);
    }
  });

  test('the column is read afresh when the index grows its columns (slots past the first 16)', () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    const a = record(64, 1);
    set(p, 1, a);
    for (let i = 2; i < 100; i++) {
      const k = Buffer.from(`k${i}`);
      idx.insert(k, 0, k.length, i * 7919);
    }
    const b = record(64, 2);
    set(p, 99, b);
    expect(stored(p, 1, 64)).toEqual(a.bytes);
    expect(stored(p, 99, 64)).toEqual(b.bytes);
    expect(p.count).toBe(2);
  });
});
