// Write batches (BatchWriter, eachOp): the exact header and padding of an
// operation, put/del/clear/note read back byte for byte, growth from a tiny
// buffer, and a batch built into a recycled buffer full of an earlier
// batch's bytes.

import { describe, expect, test } from 'vitest';
import { BatchWriter, ChangeKind, OP_HEADER, OpKind, eachOp, type DbIdValue } from '../../src/store/batch.js';
import { DbId } from '../../src/store/layout.js';

interface PlainOp {
  db: number;
  kind: number;
  key: number[];
  value: number[];
  extra: number[];
}

/** Every operation of a batch, copied (eachOp's views are only valid during the visit). */
function opsOf(buffer: ArrayBuffer, length: number): PlainOp[] {
  const out: PlainOp[] = [];
  eachOp(buffer, length, (op) => {
    out.push({ db: op.db, kind: op.kind, key: [...op.key], value: [...op.value], extra: [...op.extra] });
  });
  return out;
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
/** n bytes that identify their op: tag, tag+1, ... */
const run = (n: number, tag: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (tag + i) & 0xff);

describe('one operation', () => {
  test('the header is [db][kind][u16 key len][u32 value len][u16 extra len][u16 0], then key, value, extra, padded to 4', () => {
    const w = new BatchWriter(64);
    w.put(DbId.hosts, bytes(0x61, 0x00), bytes(9, 8, 7), bytes(0xee));
    const { buffer, length, count } = w.take();
    // 12 header + 2 key + 3 value + 1 extra = 18, padded to 20.
    expect(length).toBe(20);
    expect(count).toBe(1);
    expect([...new Uint8Array(buffer, 0, 18)]).toEqual([DbId.hosts, OpKind.put, 2, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0x61, 0x00, 9, 8, 7, 0xee]);
    expect(opsOf(buffer, length)).toEqual([{ db: DbId.hosts, kind: OpKind.put, key: [0x61, 0], value: [9, 8, 7], extra: [0xee] }]);
  });

  test('a value longer than 65535 bytes keeps its u32 length', () => {
    const w = new BatchWriter(16);
    const value = run(70_000, 3);
    w.put(DbId.history, bytes(1), value);
    const { buffer, length } = w.take();
    expect(new DataView(buffer).getUint32(4, true)).toBe(70_000);
    expect(length).toBe(OP_HEADER + 1 + 70_000 + 3);
    const [op] = opsOf(buffer, length);
    expect(op!.value).toEqual([...value]);
    expect(op!.extra).toEqual([]);
  });

  test.each([
    // [key, value, extra] lengths and the padded size of the operation
    [0, 0, 0, 12],
    [1, 0, 0, 16],
    [2, 1, 0, 16],
    [3, 1, 0, 16],
    [4, 1, 0, 20],
    [1, 1, 1, 16],
    [1, 2, 2, 20],
    [5, 0, 3, 20],
  ])('key %i, value %i, extra %i bytes take %i bytes', (k, v, e, size) => {
    const w = new BatchWriter(64);
    w.put(DbId.inst, run(k, 10), run(v, 20), e === 0 ? undefined : run(e, 30));
    expect(w.length).toBe(size);
    // The next operation starts right after the padding.
    w.del(DbId.apps, bytes(0x77));
    expect(w.length).toBe(size + 16);
    expect(w.bytes[size]).toBe(DbId.apps);
    expect(w.bytes[size + 1]).toBe(OpKind.del);
    expect(w.bytes[size + OP_HEADER]).toBe(0x77);
    const { buffer, length } = w.take();
    expect(opsOf(buffer, length)).toEqual([
      { db: DbId.inst, kind: OpKind.put, key: [...run(k, 10)], value: [...run(v, 20)], extra: [...run(e, 30)] },
      { db: DbId.apps, kind: OpKind.del, key: [0x77], value: [], extra: [] },
    ]);
  });
});

describe('kinds', () => {
  test('put, del, clear and note read back in order with their db, key, value and extra', () => {
    const w = new BatchWriter(1 << 10);
    w.clear(DbId.inst);
    w.put(DbId.inst, bytes(0x61, 0, 0x68, 0, 0, 1), bytes(1, 2, 3, 4, 5), bytes(ChangeKind.changed, 0x31));
    w.del(DbId.inst, bytes(0x62, 0, 0x68, 0, 0, 0), bytes(ChangeKind.removedDelete));
    w.del(DbId.appvers, bytes(0x62, 0));
    w.note(DbId.inst, bytes(0x63, 0, 0x68, 0, 0, 2), bytes(ChangeKind.stale, 0x7b, 0x7d));
    w.put(DbId.meta, bytes(0x6e), bytes(0x32));
    w.clear(DbId.clock);
    expect(w.count).toBe(7);
    const { buffer, length, count } = w.take();
    expect(count).toBe(7);
    // 12 + (12+6+5+2 -> 28) + (12+6+1 -> 20) + (12+2 -> 16) + (12+6+3 -> 24) + (12+1+1 -> 16) + 12
    expect(length).toBe(12 + 28 + 20 + 16 + 24 + 16 + 12);
    expect(opsOf(buffer, length)).toEqual([
      { db: DbId.inst, kind: OpKind.clear, key: [], value: [], extra: [] },
      { db: DbId.inst, kind: OpKind.put, key: [0x61, 0, 0x68, 0, 0, 1], value: [1, 2, 3, 4, 5], extra: [ChangeKind.changed, 0x31] },
      { db: DbId.inst, kind: OpKind.del, key: [0x62, 0, 0x68, 0, 0, 0], value: [], extra: [ChangeKind.removedDelete] },
      { db: DbId.appvers, kind: OpKind.del, key: [0x62, 0], value: [], extra: [] },
      { db: DbId.inst, kind: OpKind.note, key: [0x63, 0, 0x68, 0, 0, 2], value: [], extra: [ChangeKind.stale, 0x7b, 0x7d] },
      { db: DbId.meta, kind: OpKind.put, key: [0x6e], value: [0x32], extra: [] },
      { db: DbId.clock, kind: OpKind.clear, key: [], value: [], extra: [] },
    ]);
  });

  test('begin reserves the value in place: bytes written at the returned offset are the value', () => {
    const w = new BatchWriter(64);
    w.put(DbId.apps, bytes(1, 2, 3), bytes(4));
    const at = w.begin(DbId.hosts, OpKind.put, bytes(0x68, 0), 4, bytes(0xaa, 0xbb));
    expect(at).toBe(16 + OP_HEADER + 2);
    w.bytes.set([0xde, 0xad, 0xbe, 0xef], at);
    const { buffer, length } = w.take();
    expect(opsOf(buffer, length)[1]).toEqual({ db: DbId.hosts, kind: OpKind.put, key: [0x68, 0], value: [0xde, 0xad, 0xbe, 0xef], extra: [0xaa, 0xbb] });
  });

  test('an empty batch has no operations', () => {
    const w = new BatchWriter(4);
    const { buffer, length, count } = w.take();
    expect([length, count]).toEqual([0, 0]);
    expect(opsOf(buffer, length)).toEqual([]);
  });
});

/** A deterministic list of operations of every kind and many sizes. */
function script(n: number, seed: number): { db: DbIdValue; kind: number; key: Uint8Array; value: Uint8Array; extra: Uint8Array }[] {
  const out = [];
  let x = seed;
  const rnd = (m: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % m;
  };
  for (let i = 0; i < n; i++) {
    const kind = [OpKind.put, OpKind.put, OpKind.del, OpKind.note, OpKind.clear][rnd(5)]!;
    const db = rnd(8) as DbIdValue;
    const key = kind === OpKind.clear ? new Uint8Array(0) : run(1 + rnd(40), i);
    const value = kind === OpKind.put ? run(rnd(3) === 0 ? 300 + rnd(500) : rnd(60), i * 7) : new Uint8Array(0);
    const extra = kind === OpKind.note ? run(1 + rnd(30), i * 3) : kind === OpKind.clear || rnd(2) === 0 ? new Uint8Array(0) : run(rnd(5), i * 5);
    out.push({ db, kind, key, value, extra });
  }
  return out;
}

function build(w: BatchWriter, ops: ReturnType<typeof script>): void {
  for (const op of ops) {
    if (op.kind === OpKind.put) w.put(op.db, op.key, op.value, op.extra.length === 0 ? undefined : op.extra);
    else if (op.kind === OpKind.del) w.del(op.db, op.key, op.extra.length === 0 ? undefined : op.extra);
    else if (op.kind === OpKind.note) w.note(op.db, op.key, op.extra);
    else w.clear(op.db);
  }
}

const plain = (ops: ReturnType<typeof script>): PlainOp[] =>
  ops.map((o) => ({ db: o.db, kind: o.kind, key: [...o.key], value: [...o.value], extra: [...o.extra] }));

const padded = (ops: ReturnType<typeof script>): number => ops.reduce((n, o) => n + ((OP_HEADER + o.key.length + o.value.length + o.extra.length + 3) & ~3), 0);

describe('growth', () => {
  test('3,000 operations from an 8-byte buffer: it grows several times and every operation reads back exactly', () => {
    const ops = script(3000, 1);
    const total = padded(ops);
    // Past 64 KiB (the first growth) and then doubled at least twice more.
    expect(total).toBeGreaterThan(4 * 65536);
    const w = new BatchWriter(8);
    build(w, ops);
    expect(w.length).toBe(total);
    expect(w.count).toBe(3000);
    const { buffer, length, count } = w.take();
    expect(buffer.byteLength).toBeGreaterThanOrEqual(total);
    expect([length, count]).toEqual([total, 3000]);
    expect(opsOf(buffer, length)).toEqual(plain(ops));
  });

  test('an operation larger than twice the buffer grows it in one step', () => {
    const w = new BatchWriter(16);
    w.put(DbId.inst, bytes(1), run(200_000, 9));
    w.put(DbId.inst, bytes(2), run(3, 1));
    const { buffer, length } = w.take();
    expect(opsOf(buffer, length).map((o) => [o.key[0], o.value.length])).toEqual([
      [1, 200_000],
      [2, 3],
    ]);
    expect(opsOf(buffer, length)[0]!.value).toEqual([...run(200_000, 9)]);
  });
});

describe('recycled buffers', () => {
  test('a batch built in a buffer that holds an earlier batch (and garbage) has exactly the ops of one built fresh', () => {
    // The earlier batch: large, with every byte of its area written.
    const first = new BatchWriter(1 << 18);
    build(first, script(1500, 2));
    const old = first.take();
    const recycled = old.buffer;
    // Garbage past the earlier batch's end too.
    new Uint8Array(recycled, old.length).fill(0xa5);

    const ops = script(700, 3);
    const fresh = new BatchWriter(1 << 18);
    build(fresh, ops);
    const a = fresh.take();

    const again = new BatchWriter(recycled);
    build(again, ops);
    const b = again.take();
    // Built in place: the same buffer, not a copy.
    expect(b.buffer).toBe(recycled);
    expect([b.length, b.count]).toEqual([a.length, a.count]);
    expect(b.length).toBeLessThan(old.length);
    expect(opsOf(b.buffer, b.length)).toEqual(plain(ops));
    expect(opsOf(b.buffer, b.length)).toEqual(opsOf(a.buffer, a.length));
  });

  test('header bytes 10-11 are zeroed even when the recycled buffer held other bytes there', () => {
    const buffer = new ArrayBuffer(256);
    new Uint8Array(buffer).fill(0xff);
    const w = new BatchWriter(buffer);
    w.del(DbId.hosts, bytes(0x68, 0));
    expect([...new Uint8Array(buffer, 0, OP_HEADER)]).toEqual([DbId.hosts, OpKind.del, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test('a recycled buffer too small for the batch is outgrown, keeping what was written', () => {
    const small = new ArrayBuffer(40);
    new Uint8Array(small).fill(0x5a);
    const ops = script(200, 4);
    const w = new BatchWriter(small);
    build(w, ops);
    const { buffer, length } = w.take();
    expect(buffer).not.toBe(small);
    expect(length).toBe(padded(ops));
    expect(opsOf(buffer, length)).toEqual(plain(ops));
  });
});
