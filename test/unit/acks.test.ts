// PendingAcks: a commit settles exactly the requests up to its ackSeq (with
// each DELETE's result), fail(upTo) rejects those, fail(Infinity) all, and
// later requests stay waiting.

import { describe, expect, test } from 'vitest';
import { PendingAcks } from '../../src/workers/acks.js';

type Outcome = { ok: number } | { err: string } | 'waiting';

/** Waits for requests and records how each settles. */
function track(acks: PendingAcks, seqs: number[]): Map<number, Outcome> {
  const out = new Map<number, Outcome>();
  for (const seq of seqs) {
    out.set(seq, 'waiting');
    acks.wait(seq).then(
      (ok) => out.set(seq, { ok }),
      (err: Error) => out.set(seq, { err: err.message }),
    );
  }
  return out;
}

/** Lets settled promises run their callbacks. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const all = (m: Map<number, Outcome>): [number, Outcome][] => [...m];

describe('acknowledge', () => {
  test('resolves exactly the requests up to ackSeq, each with its DELETE result or 0', async () => {
    const acks = new PendingAcks();
    const got = track(acks, [1, 2, 4, 5, 9]);
    expect(acks.size).toBe(5);
    acks.acknowledge(
      4,
      new Map([
        [2, 17],
        [4, 0],
        [9, 3],
      ]),
    );
    await settle();
    expect(all(got)).toEqual([
      [1, { ok: 0 }],
      [2, { ok: 17 }],
      [4, { ok: 0 }],
      [5, 'waiting'],
      [9, 'waiting'],
    ]);
    expect(acks.size).toBe(2);
    // The result of 9 given early is not remembered: only the commit that acknowledges 9 counts.
    acks.acknowledge(9, new Map([[5, 2]]));
    await settle();
    expect(all(got)).toEqual([
      [1, { ok: 0 }],
      [2, { ok: 17 }],
      [4, { ok: 0 }],
      [5, { ok: 2 }],
      [9, { ok: 0 }],
    ]);
    expect(acks.size).toBe(0);
  });

  test('an ackSeq below every waiting request settles nothing', async () => {
    const acks = new PendingAcks();
    const got = track(acks, [10, 11]);
    acks.acknowledge(9, new Map([[10, 5]]));
    acks.acknowledge(0, new Map());
    await settle();
    expect(all(got)).toEqual([
      [10, 'waiting'],
      [11, 'waiting'],
    ]);
    expect(acks.size).toBe(2);
  });

  test('a request waiting after an acknowledgement is settled by the next one only', async () => {
    const acks = new PendingAcks();
    const first = track(acks, [1]);
    acks.acknowledge(1, new Map());
    const later = track(acks, [2]);
    acks.acknowledge(1, new Map([[2, 8]]));
    await settle();
    expect(all(first)).toEqual([[1, { ok: 0 }]]);
    expect(all(later)).toEqual([[2, 'waiting']]);
    acks.acknowledge(2, new Map([[2, 8]]));
    await settle();
    expect(all(later)).toEqual([[2, { ok: 8 }]]);
  });

  test('acknowledging with nothing waiting is harmless', () => {
    const acks = new PendingAcks();
    acks.acknowledge(100, new Map([[1, 1]]));
    acks.fail(100, new Error('x'));
    expect(acks.size).toBe(0);
  });
});

describe('fail', () => {
  test('fail(upTo) rejects exactly the requests up to upTo, with the error given', async () => {
    const acks = new PendingAcks();
    const got = track(acks, [3, 4, 7, 8]);
    acks.fail(7, new Error('writer died'));
    await settle();
    expect(all(got)).toEqual([
      [3, { err: 'writer died' }],
      [4, { err: 'writer died' }],
      [7, { err: 'writer died' }],
      [8, 'waiting'],
    ]);
    expect(acks.size).toBe(1);
    acks.acknowledge(8, new Map([[8, 1]]));
    await settle();
    expect(got.get(8)).toEqual({ ok: 1 });
  });

  test('fail(Infinity) rejects every waiting request; requests made afterwards wait as usual', async () => {
    const acks = new PendingAcks();
    const got = track(acks, [1, 2, 2 ** 32 - 1]);
    const err = new Error('gone');
    acks.fail(Infinity, err);
    await settle();
    expect(all(got)).toEqual([
      [1, { err: 'gone' }],
      [2, { err: 'gone' }],
      [2 ** 32 - 1, { err: 'gone' }],
    ]);
    expect(acks.size).toBe(0);
    const later = track(acks, [5]);
    await settle();
    expect(all(later)).toEqual([[5, 'waiting']]);
    acks.acknowledge(5, new Map());
    await settle();
    expect(all(later)).toEqual([[5, { ok: 0 }]]);
  });

  test('the rejection carries the very error object', async () => {
    const acks = new PendingAcks();
    const p = acks.wait(1);
    const err = new Error('503');
    acks.fail(1, err);
    await expect(p).rejects.toBe(err);
  });

  test('a settled request is not settled again by a later fail or acknowledge', async () => {
    const acks = new PendingAcks();
    const got = track(acks, [1, 2]);
    acks.acknowledge(1, new Map([[1, 4]]));
    acks.fail(Infinity, new Error('late'));
    acks.acknowledge(2, new Map([[2, 9]]));
    await settle();
    expect(all(got)).toEqual([
      [1, { ok: 4 }],
      [2, { err: 'late' }],
    ]);
  });
});
