// KeyIndex (key bytes -> slot, open addressing with backward-shift
// deletion) against a Map model, with many keys sharing a hash so probe
// runs are long and wrap around the end of the table.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { hash32 } from '../../src/ingest/hash.js';
import { KeyIndex, SlotState } from '../../src/store/key-index.js';

const enc = new TextEncoder();
const key = (s: string): Uint8Array => enc.encode(s);
const h = (k: Uint8Array): number => hash32(k, 0, k.length);

function insert(idx: KeyIndex, k: Uint8Array, hash = h(k)): number {
  return idx.insert(k, 0, k.length, hash);
}
function find(idx: KeyIndex, k: Uint8Array, hash = h(k)): number {
  return idx.find(k, 0, k.length, hash);
}

describe('basics', () => {
  test('insert, find, keyOf, size and highWater', () => {
    const idx = new KeyIndex(2);
    expect([insert(idx, key('a')), insert(idx, key('b')), insert(idx, key(''))]).toEqual([0, 1, 2]);
    expect([find(idx, key('a')), find(idx, key('b')), find(idx, key('')), find(idx, key('c'))]).toEqual([0, 1, 2, -1]);
    expect([...idx.keyOf(1)]).toEqual([...key('b')]);
    expect(idx.size).toBe(3);
    expect(idx.highWater).toBe(3);
    expect(idx.cols).toHaveLength(2);
  });

  test('keys are compared in full: same hash, same length, different bytes are different keys', () => {
    const idx = new KeyIndex(0);
    const a = insert(idx, key('ab'), 5);
    expect(find(idx, key('ac'), 5)).toBe(-1);
    expect(find(idx, key('ab'), 6)).toBe(-1); // a different hash never matches
    expect(find(idx, key('ab'), 5)).toBe(a);
  });

  test('a removed key is not found, but keyOf reads it until release()', () => {
    const idx = new KeyIndex(1);
    const s = insert(idx, key('gone'));
    idx.remove(s);
    expect(find(idx, key('gone'))).toBe(-1);
    expect(idx.state[s]).toBe(SlotState.removed);
    expect(new TextDecoder().decode(idx.keyOf(s))).toBe('gone');
    expect(idx.size).toBe(0);
    idx.release(s);
    expect(idx.state[s]).toBe(SlotState.free);
    expect(idx.keyOf(s).length).toBe(0);
  });

  test('a slot is reused only after release(), and then before new slots', () => {
    const idx = new KeyIndex(1);
    insert(idx, key('a'));
    const b = insert(idx, key('b'));
    idx.remove(b);
    expect(insert(idx, key('c'))).toBe(2); // b's slot is still held
    idx.release(b);
    const d = insert(idx, key('d'));
    expect(d).toBe(b);
    expect(idx.cols[0]![d]).toBe(0);
    expect(idx.highWater).toBe(3);
  });

  test('insert zeroes every column of a reused slot', () => {
    const idx = new KeyIndex(3);
    const s = insert(idx, key('x'));
    for (const col of idx.cols) col[s] = 42;
    idx.remove(s);
    idx.release(s);
    expect(insert(idx, key('y'))).toBe(s);
    expect(idx.cols.map((c) => c[s])).toEqual([0, 0, 0]);
  });

  test('remove and release of slots in the wrong state do nothing', () => {
    const idx = new KeyIndex(0);
    const s = insert(idx, key('a'));
    idx.release(s); // live, not removed
    expect(find(idx, key('a'))).toBe(s);
    idx.remove(s);
    idx.remove(s); // already removed
    expect(idx.size).toBe(0);
    expect(insert(idx, key('b'))).toBe(1);
  });

  test('growth far past the initial capacity keeps keys and column values', () => {
    const idx = new KeyIndex(1, 16);
    const n = 5000;
    const slots = Array.from({ length: n }, (_, i) => insert(idx, key(`k${i}`)));
    for (const s of slots) idx.cols[0]![s] = s * 3;
    const upTo = Array.from({ length: n }, (_, i) => i);
    expect(slots).toEqual(upTo);
    expect(upTo.map((i) => find(idx, key(`k${i}`)))).toEqual(upTo);
    expect([...idx.cols[0]!.subarray(0, n)]).toEqual(upTo.map((i) => i * 3));
    expect(idx.size).toBe(n);
  });

  test('insertAt places keys at given slots; collectFreeSlots frees the gaps, lowest first', () => {
    const idx = new KeyIndex(1, 16);
    idx.insertAt(40, key('forty'), 0, 5, h(key('forty')));
    idx.insertAt(2, key('two'), 0, 3, h(key('two')));
    expect(() => idx.insertAt(2, key('again'), 0, 5, h(key('again')))).toThrow(/slot 2 is already in use/);
    idx.collectFreeSlots();
    expect(idx.highWater).toBe(41);
    expect([find(idx, key('forty')), find(idx, key('two'))]).toEqual([40, 2]);
    expect([insert(idx, key('x')), insert(idx, key('y')), insert(idx, key('z'))]).toEqual([0, 1, 3]);
  });

  test('clear() forgets every key and starts slots again from 0', () => {
    const idx = new KeyIndex(0);
    for (let i = 0; i < 100; i++) insert(idx, key(`k${i}`));
    idx.clear();
    expect([idx.size, idx.highWater, find(idx, key('k5'))]).toEqual([0, 0, -1]);
    expect(insert(idx, key('k5'))).toBe(0);
    expect(find(idx, key('k5'))).toBe(0);
  });

  test('arena compaction (over 1 MiB released) keeps live and removed keys readable', () => {
    const idx = new KeyIndex(0);
    const big = (i: number): Uint8Array => key(`${i}:`.padEnd(700, String.fromCharCode(97 + (i % 26))));
    for (let i = 0; i < 3000; i++) expect(insert(idx, big(i))).toBe(i);
    idx.remove(2999); // removed but not released while compaction runs
    for (let i = 0; i < 2500; i++) {
      idx.remove(i);
      idx.release(i);
    }
    for (let i = 2500; i < 2999; i++) expect(find(idx, big(i))).toBe(i);
    expect([...idx.keyOf(2999)]).toEqual([...big(2999)]);
    expect(find(idx, big(2999))).toBe(-1);
  });
});

// --- model-based ---------------------------------------------------------------

type Op =
  | { kind: 'insert'; k: number }
  | { kind: 'find'; k: number }
  | { kind: 'remove'; k: number }
  | { kind: 'release'; pick: number }
  | { kind: 'releaseAll' }
  | { kind: 'reload'; seed: number }
  | { kind: 'clear' };

/** A pool of keys; in colliding mode they share a handful of hashes, some homed at the table's last cell. */
function keyPool(n: number, colliding: boolean): { bytes: Uint8Array; hash: number }[] {
  const COLLIDING = [-1, -2, 0, 7, 0x7fffffff];
  return Array.from({ length: n }, (_, i) => {
    const bytes = key(i % 7 === 0 ? 'x'.repeat(i % 13) + String(i) : `key-${i}-${'z'.repeat(i % 5)}`);
    return { bytes, hash: colliding ? COLLIDING[i % COLLIDING.length]! : h(bytes) };
  });
}

/** Runs ops against a fresh index and the model; returns the largest live count reached. */
function runModel(ops: Op[], pool: { bytes: Uint8Array; hash: number }[], checkEvery = 1): number {
  const idx = new KeyIndex(1, 16);
  const live = new Map<number, number>(); // pool index -> slot
  const removed = new Map<number, number>(); // slot -> pool index (not yet released)
  const free = new Set<number>();
  let highWater = 0;
  let tag = 1;
  let peak = 0;
  const tags = new Map<number, number>(); // slot -> column value we stored

  // Every find is checked; the whole model every `checkEvery` steps. expect()
  // runs only on a mismatch (for its message), so 20,000 steps stay fast.
  const eq = (actual: unknown, expected: unknown, what: string): void => {
    if (actual !== expected) expect(actual, what).toBe(expected);
  };
  const sameKey = (slot: number, k: number): void => {
    if (Buffer.compare(idx.keyOf(slot), pool[k]!.bytes) !== 0) expect([...idx.keyOf(slot)], `keyOf(${slot})`).toEqual([...pool[k]!.bytes]);
  };
  const check = (): void => {
    eq(idx.size, live.size, 'size');
    eq(idx.highWater, highWater, 'highWater');
    for (const [k, slot] of live) {
      eq(idx.find(pool[k]!.bytes, 0, pool[k]!.bytes.length, pool[k]!.hash), slot, `find(key ${k})`);
      sameKey(slot, k);
      eq(idx.state[slot], SlotState.live, `state[${slot}]`);
      eq(idx.cols[0]![slot], tags.get(slot), `cols[0][${slot}]`);
    }
    for (const [slot, k] of removed) {
      eq(idx.state[slot], SlotState.removed, `state[${slot}]`);
      sameKey(slot, k);
    }
  };

  ops.forEach((op, step) => {
    if (op.kind === 'insert' || op.kind === 'find' || op.kind === 'remove') {
      const { bytes, hash } = pool[op.k]!;
      const found = idx.find(bytes, 0, bytes.length, hash);
      eq(found, live.get(op.k) ?? -1, `find(key ${op.k})`);
      if (op.kind === 'insert' && found < 0) {
        const slot = idx.insert(bytes, 0, bytes.length, hash);
        // A released slot is reused before a new one is taken.
        if (free.size > 0) eq(free.has(slot), true, `slot ${slot} was released`);
        else eq(slot, highWater, 'a new slot');
        free.delete(slot);
        highWater = Math.max(highWater, slot + 1);
        eq(idx.cols[0]![slot], 0, "a new slot's column");
        idx.cols[0]![slot] = tag;
        tags.set(slot, tag++);
        live.set(op.k, slot);
      } else if (op.kind === 'remove' && found >= 0) {
        idx.remove(found);
        live.delete(op.k);
        removed.set(found, op.k);
      }
    } else if (op.kind === 'release') {
      const slots = [...removed.keys()];
      if (slots.length > 0) {
        const slot = slots[op.pick % slots.length]!;
        idx.release(slot);
        removed.delete(slot);
        free.add(slot);
      }
    } else if (op.kind === 'releaseAll') {
      for (const slot of removed.keys()) {
        idx.release(slot);
        free.add(slot);
      }
      removed.clear();
    } else if (op.kind === 'reload') {
      // As at startup: clear, put every live key back at its slot (any order), collect the gaps.
      const entries = [...live].sort((a, b) => ((a[1] * 2654435761 + op.seed) >>> 0) - ((b[1] * 2654435761 + op.seed) >>> 0));
      idx.clear();
      for (const [k, slot] of entries) {
        const { bytes, hash } = pool[k]!;
        idx.insertAt(slot, bytes, 0, bytes.length, hash);
        eq(idx.cols[0]![slot], 0, "a reloaded slot's column");
        idx.cols[0]![slot] = tags.get(slot)!;
      }
      idx.collectFreeSlots();
      removed.clear();
      highWater = entries.reduce((m, [, slot]) => Math.max(m, slot + 1), 0);
      free.clear();
      const used = new Set(live.values());
      for (let s = 0; s < highWater; s++) if (!used.has(s)) free.add(s);
    } else {
      idx.clear();
      live.clear();
      removed.clear();
      free.clear();
      highWater = 0;
    }
    peak = Math.max(peak, live.size);
    if (step % checkEvery === 0) check();
  });
  check();
  return peak;
}

/** Operations; `rare` is the weight of reloads and of clears, against 2000 for the rest. */
function opArb(poolSize: number, rare: number): fc.Arbitrary<Op> {
  const k = fc.nat({ max: poolSize - 1 });
  return fc.oneof(
    { weight: 800, arbitrary: k.map((k): Op => ({ kind: 'insert', k })) },
    { weight: 300, arbitrary: k.map((k): Op => ({ kind: 'find', k })) },
    { weight: 500, arbitrary: k.map((k): Op => ({ kind: 'remove', k })) },
    { weight: 300, arbitrary: fc.nat().map((pick): Op => ({ kind: 'release', pick })) },
    { weight: 100, arbitrary: fc.constant<Op>({ kind: 'releaseAll' }) },
    { weight: rare, arbitrary: fc.nat().map((seed): Op => ({ kind: 'reload', seed })) },
    { weight: rare, arbitrary: fc.constant<Op>({ kind: 'clear' }) },
  );
}

describe('model-based', () => {
  test.each([
    ['real hashes', false],
    ['five shared hashes (long probe runs, wrapping the table end)', true],
  ])('random operations with %s match a Map model', (_what, colliding) => {
    const pool = keyPool(60, colliding);
    fc.assert(
      fc.property(fc.array(opArb(pool.length, 60), { maxLength: 200 }), (ops) => {
        runModel(ops, pool);
      }),
      { seed: colliding ? 77 : 78, numRuns: 200 },
    );
  });

  test.each([
    ['real hashes', false],
    ['five shared hashes', true],
  ])('20,000 seeded operations over 400 keys with %s (growth, reuse, reloads)', (_what, colliding) => {
    const pool = keyPool(400, colliding);
    // Inserts outweigh removes and clears are rare, so the index grows well
    // past its 16 initial slots (and its table past 32 cells) between clears.
    const arb = fc.array(opArb(pool.length, 1), { minLength: 20_000, maxLength: 20_000 });
    const [ops] = fc.sample(arb, { seed: colliding ? 5 : 6, numRuns: 1 });
    expect(runModel(ops!, pool, 11)).toBeGreaterThan(200);
  });
});
