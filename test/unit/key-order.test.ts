// The committer's execution order (executionOrder): each run of puts or
// deletes into one database in key order (bytewise, a prefix first), two
// operations on one key in batch order, and nothing moved across a change
// of database or kind, a clear or a note; `from`/`maxOps` bound the range.

import { describe, expect, test } from 'vitest';
import { BatchWriter, emptyOp, readOp } from '../../src/store/batch.js';
import { executionOrder } from '../../src/store/key-order.js';
import { DbId } from '../../src/store/layout.js';

const key = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** Executes the order: "db kind key value" per operation. */
function executed(buffer: ArrayBuffer, length: number, from = 0, maxOps = Infinity): string[] {
  const bytes = new Uint8Array(buffer, 0, length);
  const view = new DataView(buffer, 0, length);
  const op = emptyOp();
  return [...executionOrder(buffer, length, from, maxOps).order].map((at) => {
    readOp(bytes, view, at, op);
    return `${op.db} ${op.kind} ${Buffer.from(op.key).toString('latin1')} ${Buffer.from(op.value).toString('latin1')}`;
  });
}

describe('executionOrder', () => {
  test('a run of puts into one database runs in key order, a prefix before its extensions', () => {
    const w = new BatchWriter(64);
    for (const k of ['b', 'ab', 'a', 'abc', 'a\u0000', 'c', '\u00ff', '\u0001']) w.put(DbId.inst, key(k), key(`v${k.length}`));
    const { buffer, length } = w.take();
    expect(executed(buffer, length)).toEqual([
      '0 1 \u0001 v1',
      '0 1 a v1',
      '0 1 a\u0000 v2',
      '0 1 ab v2',
      '0 1 abc v3',
      '0 1 b v1',
      '0 1 c v1',
      '0 1 \u00ff v1',
    ]);
  });

  test('two puts of one key keep their batch order (the later one is executed last)', () => {
    const w = new BatchWriter(64);
    w.put(DbId.inst, key('k'), key('first'));
    w.put(DbId.inst, key('a'), key('x'));
    w.put(DbId.inst, key('k'), key('second'));
    const { buffer, length } = w.take();
    expect(executed(buffer, length)).toEqual(['0 1 a x', '0 1 k first', '0 1 k second']);
  });

  test('many keys sharing a long prefix (the quicksort path), ties included, come out sorted and stable', () => {
    const w = new BatchWriter(64);
    const keys: string[] = [];
    // A fixed shuffle of 500 keys with a 20-byte common prefix, every tenth twice.
    for (let i = 0; i < 500; i++) keys.push(`fleet_app_7\u0000host-0${(i * 7919) % 500}`);
    for (let i = 0; i < 500; i += 10) keys.push(keys[i]!);
    for (const [n, k] of keys.entries()) w.put(DbId.inst, key(k), key(String(n)));
    const { buffer, length } = w.take();
    const expected = keys.map((k, n) => ({ k, n })).sort((x, y) => Buffer.compare(key(x.k), key(y.k)) || x.n - y.n);
    expect(executed(buffer, length)).toEqual(expected.map(({ k, n }) => `0 1 ${k} ${n}`));
  });

  test('a dozen and more operations on one key, among others, keep their batch order (the equal-keys branch of the quicksort)', () => {
    const w = new BatchWriter(64);
    const expected: string[] = [];
    for (let n = 0; n < 30; n++) {
      w.put(DbId.inst, key('dup'), key(`d${n}`));
      w.put(DbId.inst, key(`k${String(29 - n).padStart(2, '0')}`), key(`o${n}`));
    }
    for (let n = 0; n < 30; n++) expected.push(`0 1 dup d${n}`);
    for (let n = 29; n >= 0; n--) expected.push(`0 1 k${String(29 - n).padStart(2, '0')} o${n}`);
    const { buffer, length } = w.take();
    // The pivot is random: whichever it is, the order is the same.
    for (let round = 0; round < 20; round++) expect(executed(buffer, length)).toEqual(expected);
  });

  test('runs end where the database or the kind changes; clears and notes stay in place', () => {
    const w = new BatchWriter(64);
    w.del(DbId.inst, key('z'));
    w.del(DbId.inst, key('y'));
    w.put(DbId.inst, key('z'), key('1'));
    w.put(DbId.inst, key('y'), key('2'));
    w.put(DbId.hosts, key('h2'), key('3'));
    w.put(DbId.hosts, key('h1'), key('4'));
    w.clear(DbId.hosts);
    w.put(DbId.hosts, key('h0'), key('5'));
    w.note(DbId.inst, key('n'), key('x'));
    w.note(DbId.inst, key('m'), key('x'));
    w.put(DbId.inst, key('b'), key('6'));
    w.put(DbId.inst, key('a'), key('7'));
    const { buffer, length } = w.take();
    expect(executed(buffer, length)).toEqual([
      '0 2 y ',
      '0 2 z ',
      '0 1 y 2',
      '0 1 z 1',
      '2 1 h1 4',
      '2 1 h2 3',
      '2 3  ',
      '2 1 h0 5',
      '0 4 n ',
      '0 4 m ',
      '0 1 a 7',
      '0 1 b 6',
    ]);
  });

  test('only the operations from `from` on, at most `maxOps` of them, are ordered and returned; `end` is where the last ends', () => {
    const w = new BatchWriter(64);
    const ends: number[] = [];
    for (const k of ['d', 'c', 'b', 'a']) {
      w.put(DbId.inst, key(k), key('v'));
      ends.push(w.length);
    }
    const { buffer, length } = w.take();
    expect(executed(buffer, length, ends[0], 2)).toEqual(['0 1 b v', '0 1 c v']);
    expect(executionOrder(buffer, length, ends[0], 2).end).toBe(ends[2]);
    expect(executed(buffer, length, ends[3])).toEqual([]);
    expect(executionOrder(buffer, length, ends[3]).end).toBe(ends[3]);
    expect(executionOrder(buffer, length).end).toBe(length);
  });
});
