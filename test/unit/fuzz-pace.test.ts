import { describe, expect, test } from 'vitest';
import { END_GRACE_MS, MAX_SLEEP_MS, Pacer, sequenceOf, shareOf, TICK_MS, type PaceConfig } from '../../tools/fuzz/pace.js';

const timed = (rate: number, durationMs: number, burst = 1): PaceConfig => ({ rate, burst, count: Infinity, durationMs });
const counted = (rate: number, count: number, burst = 1): PaceConfig => ({ rate, burst, count, durationMs: Infinity });

describe('sharing the stream between threads', () => {
  test('shareOf splits packet numbers round-robin', () => {
    expect([0, 1, 2].map((w) => shareOf(10, w, 3))).toEqual([4, 3, 3]);
    expect([0, 1, 2].map((w) => shareOf(2, w, 3))).toEqual([1, 1, 0]);
    expect(shareOf(0, 0, 1)).toBe(0);
    expect(shareOf(Infinity, 1, 2)).toBe(Infinity);
    for (let total = 0; total < 50; total++) {
      for (let workers = 1; workers <= 5; workers++) {
        let sum = 0;
        for (let w = 0; w < workers; w++) sum += shareOf(total, w, workers);
        expect(sum).toBe(total);
      }
    }
  });

  test("sequenceOf numbers a thread's packets", () => {
    expect([0, 1, 2, 3].map((k) => sequenceOf(k, 1, 3))).toEqual([1, 4, 7, 10]);
  });
});

describe('even pacing', () => {
  test('packet k is due at k / rate', () => {
    const pacer = new Pacer(timed(1000, 1000));
    expect(pacer.total).toBe(1000);
    expect(pacer.endMs).toBe(1000);
    expect([0, 0.999, 1, 1.5, 500, 998.9, 999, 1000, 5000].map((t) => pacer.runDueBy(t))).toEqual([1, 1, 2, 2, 501, 999, 1000, 1000, 1000]);
  });

  test('a timed run sends rate x duration packets', () => {
    expect(new Pacer(timed(50_000, 10_000)).total).toBe(500_000);
    expect(new Pacer(timed(3, 2500)).total).toBe(7);
  });

  test('threads together are due what one thread would be', () => {
    const one = new Pacer(timed(7000, 2000));
    const three = [0, 1, 2].map((w) => new Pacer(timed(7000, 2000), w, 3));
    for (const t of [0, 0.5, 1, 13.3, 100, 1999.9, 2000, 2500]) {
      expect(three.reduce((sum, p) => sum + p.dueBy(t), 0)).toBe(one.dueBy(t));
    }
    expect(three.map((p) => p.total)).toEqual([4667, 4667, 4666]);
  });

  test('when the next packet is due', () => {
    const pacer = new Pacer(timed(1000, 1000), 1, 2);
    expect(pacer.nextDueMs(3)).toBe(7); // its 4th packet is packet 7
    expect(pacer.nextDueMs(500)).toBe(Infinity); // it sends 500 in all
  });

  test('sleeps are clamped between a tick and MAX_SLEEP_MS', () => {
    const fast = new Pacer(timed(50_000, 1000));
    expect(fast.sleepMs(0, 1)).toBe(TICK_MS);
    const slow = new Pacer(timed(2, 10_000));
    expect(slow.sleepMs(0, 1)).toBe(MAX_SLEEP_MS);
    expect(slow.sleepMs(480, 1)).toBe(20);
  });
});

describe('the end of a run', () => {
  test('a counted run lasts count / rate', () => {
    const pacer = new Pacer(counted(4, 10));
    expect(pacer.endMs).toBe(2500);
    expect(pacer.runDueBy(2250)).toBe(10);
    expect(pacer.isDone(2499, 10)).toBe(false);
    expect(pacer.isDone(2500, 10)).toBe(true);
    expect(pacer.isDone(1e9, 9)).toBe(false); // behind: keeps sending
  });

  test('a timed run may overrun a little to send what fell due', () => {
    const pacer = new Pacer(timed(1000, 1000));
    expect(pacer.isDone(1000, 1000)).toBe(true);
    expect(pacer.isDone(1002, 990)).toBe(false);
    expect(pacer.isDone(1000 + END_GRACE_MS, 990)).toBe(true);
  });

  test('with a count and a duration, the first to come ends the run', () => {
    const byCount = new Pacer({ rate: 100, burst: 1, count: 50, durationMs: 10_000 });
    expect([byCount.total, byCount.endMs]).toEqual([50, 500]);
    const byTime = new Pacer({ rate: 100, burst: 1, count: 5000, durationMs: 1000 });
    expect([byTime.total, byTime.endMs]).toEqual([100, 1000]);
  });

  test('a run needs a count or a duration', () => {
    expect(() => new Pacer({ rate: 100, burst: 1, count: Infinity, durationMs: Infinity })).toThrow(RangeError);
  });
});

describe('bursts', () => {
  test('N packets fall due together at the start of each period of N / rate', () => {
    const pacer = new Pacer(timed(1000, 1000, 100));
    expect([0, 99.9, 100, 250, 899, 900, 1000].map((t) => pacer.runDueBy(t))).toEqual([100, 100, 200, 300, 900, 1000, 1000]);
    expect(pacer.nextDueMs(100)).toBe(100);
    expect(pacer.nextDueMs(150)).toBe(100);
    expect(pacer.nextDueMs(200)).toBe(200);
  });

  test('a counted burst run ends with the period of its last burst', () => {
    const pacer = new Pacer(counted(1000, 250, 100));
    expect(pacer.endMs).toBe(300);
    expect(pacer.runDueBy(200)).toBe(250);
  });
});

describe('as fast as possible', () => {
  test('everything is due at once; a counted run ends when sent', () => {
    const pacer = new Pacer(counted(0, 5));
    expect(pacer.dueBy(0)).toBe(5);
    expect(pacer.isDone(0, 4)).toBe(false);
    expect(pacer.isDone(0, 5)).toBe(true);
    expect(pacer.nextDueMs(0)).toBe(0);
  });

  test('a timed run stops exactly at its duration', () => {
    const pacer = new Pacer(timed(0, 1000));
    expect(pacer.dueBy(10)).toBe(Infinity);
    expect(pacer.isDone(999.9, 1e9)).toBe(false);
    expect(pacer.isDone(1000, 0)).toBe(true);
  });
});
