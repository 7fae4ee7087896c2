// SlotClock: last_update per slot in a growable SharedArrayBuffer, moved
// only forward, with the chunks that changed handed to the writer for
// persisting; readers see the same buffer through their own views.

import { describe, expect, test } from 'vitest';
import { CLOCK_CHUNK, clockKey } from '../../src/store/layout.js';
import { MAX_CLOCK_SLOTS, SlotClock, createClockBuffer } from '../../src/store/slot-clock.js';

const KIND = 1;

function flushed(clock: SlotClock): Map<number, Uint32Array> {
  const out = new Map<number, Uint32Array>();
  clock.flush((key, bytes) => {
    expect(key.subarray(0, 1)).toEqual(Buffer.from([KIND]));
    out.set(key.readUInt32BE(1), new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
  });
  return out;
}

describe('buffers', () => {
  test('a clock buffer starts at one chunk and may grow to maxSlots', () => {
    const sab = createClockBuffer(10 * CLOCK_CHUNK);
    expect(sab.byteLength).toBe(CLOCK_CHUNK * 4);
    expect(sab.maxByteLength).toBe(10 * CLOCK_CHUNK * 4);
    expect(sab.growable).toBe(true);
  });

  test('the engine reserves room for 2^26 instances, 2^24 hosts and 2^20 apps', () => {
    expect(MAX_CLOCK_SLOTS).toEqual({ instance: 1 << 26, host: 1 << 24, app: 1 << 20 });
  });
});

describe('times', () => {
  test('advance moves a slot forward only', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.advance(5, 100);
    clock.advance(5, 90);
    expect(clock.get(5)).toBe(100);
    clock.advance(5, 101);
    expect(clock.get(5)).toBe(101);
  });

  test('get beyond the buffer is 0; reset makes room and zeroes a reused slot', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    expect(clock.get(3 * CLOCK_CHUNK)).toBe(0);
    clock.advance(7, 50);
    clock.reset(7);
    expect(clock.get(7)).toBe(0);
    clock.reset(2 * CLOCK_CHUNK + 1);
    expect(clock.ts.length).toBeGreaterThan(2 * CLOCK_CHUNK + 1);
  });

  test('ensure grows by doubling, up to the maximum, and refuses a slot past it', () => {
    const sab = createClockBuffer(3 * CLOCK_CHUNK);
    const clock = new SlotClock(KIND, sab);
    clock.ensure(CLOCK_CHUNK);
    expect(sab.byteLength).toBe(2 * CLOCK_CHUNK * 4);
    // Doubling again would pass the maximum: it stops there.
    clock.ensure(2 * CLOCK_CHUNK);
    expect(sab.byteLength).toBe(3 * CLOCK_CHUNK * 4);
    expect(() => clock.ensure(3 * CLOCK_CHUNK)).toThrow(new RangeError(`clock ${KIND} is full (${3 * CLOCK_CHUNK} slots)`));
  });

  test('another view of the same buffer (a reader) sees the times, and follows growth', () => {
    const sab = createClockBuffer(4 * CLOCK_CHUNK);
    const clock = new SlotClock(KIND, sab);
    const reader = new Uint32Array(sab);
    clock.reset(CLOCK_CHUNK + 3);
    clock.advance(CLOCK_CHUNK + 3, 1234);
    expect(reader.length).toBe(sab.byteLength / 4);
    expect(reader[CLOCK_CHUNK + 3]).toBe(1234);
  });
});

describe('persisting', () => {
  test('flush hands over each changed chunk once, whole, under its key', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.ensure(2 * CLOCK_CHUNK + 5);
    clock.advance(1, 10);
    clock.advance(2, 20);
    clock.advance(2 * CLOCK_CHUNK + 5, 30);
    expect(clock.dirtyCount).toBe(2);
    const keys: Buffer[] = [];
    clock.flush((key) => keys.push(key));
    expect(keys).toEqual([clockKey(KIND, 0), clockKey(KIND, 2)]);
    expect(clock.dirtyCount).toBe(0);
    expect(flushed(clock).size).toBe(0);
    clock.advance(2, 21);
    const chunks = flushed(clock);
    expect([...chunks.keys()]).toEqual([0]);
    const chunk0 = chunks.get(0)!;
    expect(chunk0.length).toBe(CLOCK_CHUNK);
    expect([chunk0[0], chunk0[1], chunk0[2], chunk0[3]]).toEqual([0, 10, 21, 0]);
  });

  test('a time that does not move (an older or equal one) dirties nothing', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.advance(1, 10);
    flushed(clock);
    clock.advance(1, 10);
    clock.advance(1, 9);
    expect(clock.dirtyCount).toBe(0);
  });

  test('the last chunk is handed over whole even when the buffer ends inside it', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.advance(CLOCK_CHUNK - 1, 77);
    const chunk = flushed(clock).get(0)!;
    expect(chunk.length).toBe(CLOCK_CHUNK);
    expect(chunk[CLOCK_CHUNK - 1]).toBe(77);
  });

  test('the handed-over bytes are a copy: later advances do not change them', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.advance(0, 5);
    const chunk = flushed(clock).get(0)!;
    clock.advance(0, 6);
    expect(chunk[0]).toBe(5);
  });

  test('markAllDirty marks every chunk below end', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.ensure(3 * CLOCK_CHUNK);
    clock.markAllDirty(2 * CLOCK_CHUNK + 1);
    expect([...flushed(clock).keys()]).toEqual([0, 1, 2]);
    clock.markAllDirty(0);
    expect(clock.dirtyCount).toBe(0);
  });
});

describe('loading and clearing', () => {
  test('mergeChunk keeps the later of the stored and the live time, and ignores slots past the buffer', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.advance(0, 100);
    clock.advance(1, 5);
    clock.mergeChunk(0, Uint32Array.from([50, 60, 70]));
    expect([clock.get(0), clock.get(1), clock.get(2)]).toEqual([100, 60, 70]);
    clock.mergeChunk(CLOCK_CHUNK - 1, Uint32Array.from([1, 2]));
    expect(clock.get(CLOCK_CHUNK - 1)).toBe(1);
    expect(clock.ts.length).toBe(CLOCK_CHUNK);
  });

  test('zeroUnless zeroes the slots whose owners are gone', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    for (let s = 0; s < 4; s++) clock.advance(s, 10 + s);
    clock.zeroUnless((s) => s % 2 === 0);
    expect([0, 1, 2, 3].map((s) => clock.get(s))).toEqual([10, 0, 12, 0]);
  });

  test('clear forgets every time and every dirty chunk', () => {
    const clock = new SlotClock(KIND, createClockBuffer(4 * CLOCK_CHUNK));
    clock.advance(3, 30);
    clock.clear();
    expect(clock.get(3)).toBe(0);
    expect(clock.dirtyCount).toBe(0);
    clock.advance(3, 31);
    expect([...flushed(clock).keys()]).toEqual([0]);
  });
});
