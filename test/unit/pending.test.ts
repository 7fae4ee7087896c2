// PendingRecords on a tiny KeyIndex: one entry (key + stored value) per
// slot (a second replaces the first), drop, and the arena's compaction and
// growth: every live entry's bytes stay exact wherever the arena moves them.

import { describe, expect, test } from 'vitest';
import { MAX_RECORD_BYTES, RECORD_HEADER, R_KEY_LEN, encodeUpdate, recordToVersion } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { writeVersionJson } from '../../src/store/instance-value.js';
import { JsonBytes } from '../../src/store/json-bytes.js';
import { KeyIndex } from '../../src/store/key-index.js';
import { ENTRY_HEADER, PendingRecords } from '../../src/store/pending.js';

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

interface Rec {
  buf: Uint8Array;
  off: number;
  /** The entry the arena should hold: [u16 key length][u16 value length][key][value]. */
  entry: number[];
  key: number[];
}

const parsed = new ParsedUpdate();

/**
 * A real update record at offset `off` of a larger buffer; `verChars`
 * (1-50) sets its size. Its expected entry is read back from a first
 * PendingRecords, so the tests below check that the bytes survive moves.
 */
function record(tag: number, verChars: number, off = 0): Rec {
  const body = Buffer.from(
    JSON.stringify({
      app: `app${tag % 7}`,
      ver: `v${tag}`.padEnd(verChars, 'x').slice(0, verChars),
      host: `host-${String(tag).padStart(6, '0')}`,
      instance: tag % 4,
    }),
  );
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(0);
  const buf = new Uint8Array(off + MAX_RECORD_BYTES).fill(0xfe);
  const ip = Buffer.from('192.0.2.1');
  encodeUpdate(parsed, ip, 0, ip.length, 1_800_000_000 + tag, 0, 0, buf.subarray(off));
  const keyLen = buf[off + R_KEY_LEN]! | (buf[off + R_KEY_LEN + 1]! << 8);
  const probe = new PendingRecords(index(1), COLUMN);
  probe.set(0, buf, off);
  const at = probe.offsetOf(0);
  const len = ENTRY_HEADER + keyLen + (probe.arena[at + 2]! | (probe.arena[at + 3]! << 8));
  return { buf, off, entry: [...probe.arena.subarray(at, at + len)], key: [...buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen)] };
}

function set(p: PendingRecords, slot: number, r: Rec): boolean {
  return p.set(slot, r.buf, r.off);
}

/** The slot's pending entry as stored in the arena now. */
function stored(p: PendingRecords, slot: number, len: number): number[] {
  const at = p.offsetOf(slot);
  expect(at).toBeGreaterThanOrEqual(0);
  return [...p.arena.subarray(at, at + len)];
}

describe('one entry per slot', () => {
  test("the entry is the record's key and its stored value, copied (not a view of the caller's buffer)", () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    const r = record(1, 10, 7);
    const version = recordToVersion(r.buf, r.off);
    expect(set(p, 1, r)).toBe(true);
    r.buf.fill(0);
    const e = stored(p, 1, r.entry.length);
    expect(e).toEqual(r.entry);
    const keyLen = e[0]! | (e[1]! << 8);
    expect(e.slice(ENTRY_HEADER, ENTRY_HEADER + keyLen)).toEqual(r.key);
    // The value is the version object the record carried.
    const out = new JsonBytes();
    const key = Uint8Array.from(r.key);
    writeVersionJson(key, key.length, Uint8Array.from(e.slice(ENTRY_HEADER + keyLen)), version.last_update as number, out);
    expect(JSON.parse(`${out.view().toString()}}`)).toEqual(version);
    expect(p.offsetOf(0)).toBe(-1);
    expect([p.count, p.bytes]).toEqual([1, r.entry.length]);
    // The column holds offset + 1.
    expect(idx.cols[COLUMN]![1]).toBe(p.offsetOf(1) + 1);
    expect(idx.cols[0]![1]).toBe(0);
  });

  test("a second record for a slot replaces the first: count stays 1, bytes are the new entry's", () => {
    const idx = index(3);
    const p = new PendingRecords(idx, COLUMN);
    expect(set(p, 2, record(1, 40))).toBe(true);
    const second = record(2, 5);
    expect(set(p, 2, second)).toBe(false);
    expect([p.count, p.bytes]).toEqual([1, second.entry.length]);
    expect(stored(p, 2, second.entry.length)).toEqual(second.entry);
    const third = record(3, 50);
    expect(set(p, 2, third)).toBe(false);
    expect([p.count, p.bytes]).toEqual([1, third.entry.length]);
    expect(stored(p, 2, third.entry.length)).toEqual(third.entry);
  });

  test("drop forgets a slot's entry; dropping again, or a slot without one, changes nothing", () => {
    const idx = index(3);
    const p = new PendingRecords(idx, COLUMN);
    const a = record(1, 10);
    set(p, 0, a);
    set(p, 1, record(2, 20));
    p.drop(1);
    expect(p.offsetOf(1)).toBe(-1);
    expect(idx.cols[COLUMN]![1]).toBe(0);
    expect([p.count, p.bytes]).toEqual([1, a.entry.length]);
    p.drop(1);
    p.drop(2);
    expect([p.count, p.bytes]).toEqual([1, a.entry.length]);
    expect(stored(p, 0, a.entry.length)).toEqual(a.entry);
    // A dropped slot can take an entry again.
    const b = record(3, 30);
    expect(set(p, 1, b)).toBe(true);
    expect([p.count, p.bytes]).toEqual([2, a.entry.length + b.entry.length]);
    expect(stored(p, 1, b.entry.length)).toEqual(b.entry);
  });

  test('dropping the last entry empties the arena: the next starts at 0', () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    set(p, 0, record(1, 10));
    set(p, 0, record(2, 10));
    p.drop(0);
    expect([p.count, p.bytes]).toEqual([0, 0]);
    set(p, 1, record(3, 10));
    expect(p.offsetOf(1)).toBe(0);
  });

  test('clear forgets the counts; the next entry starts at 0', () => {
    const idx = index(2);
    const p = new PendingRecords(idx, COLUMN);
    set(p, 0, record(1, 10));
    set(p, 1, record(2, 10));
    p.clear();
    idx.cols[COLUMN]!.fill(0);
    expect([p.count, p.bytes]).toEqual([0, 0]);
    const r = record(4, 12);
    expect(set(p, 1, r)).toBe(true);
    expect(p.offsetOf(1)).toBe(0);
    expect(stored(p, 1, r.entry.length)).toEqual(r.entry);
  });
});

describe('compaction and growth', () => {
  test('when the arena would grow and most of it is superseded entries, it is compacted in place of growing; live bytes exact', () => {
    const idx = index(4);
    const p = new PendingRecords(idx, COLUMN);
    const latest = new Map<number, Rec>();
    const r0 = record(0, 50);
    const size = r0.entry.length;
    let tag = 0;
    let used = 0;
    // Rewrite four slots with same-size entries until the next one would not fit.
    while (used + size <= ARENA) {
      const slot = tag % 4;
      const r = record(tag++ % 1000, 50);
      expect(r.entry.length).toBe(size);
      set(p, slot, r);
      latest.set(slot, r);
      used += size;
    }
    expect(p.arena.length).toBe(ARENA);
    expect([p.count, p.bytes]).toEqual([4, 4 * size]);
    const before = p.arena;
    const next = record(tag % 1000, 50);
    set(p, (tag - 4) % 4, next);
    latest.set((tag - 4) % 4, next);
    // Compacted: a new arena of the same size, four live entries packed from 0, the new one last.
    expect(p.arena).not.toBe(before);
    expect(p.arena.length).toBe(ARENA);
    expect([p.count, p.bytes]).toEqual([4, 4 * size]);
    expect([0, 1, 2, 3].map((s) => p.offsetOf(s)).sort((a, b) => a - b)).toEqual([0, size, 2 * size, 3 * size]);
    expect(p.offsetOf((tag - 4) % 4)).toBe(3 * size);
    for (const [slot, r] of latest) expect(stored(p, slot, size)).toEqual(r.entry);
  });

  test('when the arena is mostly live it grows (doubles); live bytes exact', () => {
    const n = 12000;
    const idx = index(n);
    const p = new PendingRecords(idx, COLUMN);
    const sent: Rec[] = [];
    for (let s = 0; s < n; s++) {
      const r = record(s, 40 + (s % 11));
      set(p, s, r);
      sent.push(r);
    }
    // 12,000 entries of ~100 bytes: more than 1 MiB.
    expect(p.bytes).toBe(sent.reduce((t, r) => t + r.entry.length, 0));
    expect(p.bytes).toBeGreaterThan(ARENA);
    expect(p.arena.length).toBe(2 * ARENA);
    expect(p.count).toBe(n);
    for (let s = 0; s < n; s++) expect(stored(p, s, sent[s]!.entry.length)).toEqual(sent[s]!.entry);
    // Offsets are in arrival order, back to back: nothing was compacted.
    expect(p.offsetOf(n - 1)).toBe(p.bytes - sent[n - 1]!.entry.length);
  });

  test('a mix of replaced, dropped and live entries through several compactions keeps every live entry exact', () => {
    const n = 40;
    const idx = index(n);
    const p = new PendingRecords(idx, COLUMN);
    const live = new Map<number, Rec>();
    let x = 12345;
    const rnd = (m: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % m;
    };
    let arenas = 0;
    let last = p.arena;
    for (let i = 0; i < 60000; i++) {
      const slot = rnd(n);
      if (rnd(10) === 0) {
        p.drop(slot);
        live.delete(slot);
      } else {
        const r = record(i, 1 + rnd(50), rnd(5));
        expect(set(p, slot, r)).toBe(!live.has(slot));
        live.set(slot, r);
      }
      if (p.arena !== last) {
        arenas++;
        last = p.arena;
      }
    }
    expect(arenas).toBeGreaterThan(2);
    expect(p.count).toBe(live.size);
    expect(p.bytes).toBe([...live.values()].reduce((t, r) => t + r.entry.length, 0));
    for (const [slot, r] of live) expect(stored(p, slot, r.entry.length)).toEqual(r.entry);
  });
});
