// The conflict rule's pieces (src/cluster/remote.ts), the wire format
// (wire.ts) and liveness digests (liveness.ts), without threads or NATS.

import { describe, expect, test } from 'vitest';
import { hash32 } from '../../src/ingest/hash.js';
import { MAX_RECORD_BYTES, RECORD_HEADER, RecordType, encodeControl, encodeUpdate } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { ClusterState, recordBytes, trailerAt, writeOrigin } from '../../src/cluster/remote.js';
import { Liveness, applyDigest, DIGEST_PART_ENTRIES } from '../../src/cluster/liveness.js';
import { WireError, WireKind, WireWriter, readWire, recordLength } from '../../src/cluster/wire.js';
import { KeyIndex } from '../../src/store/key-index.js';
import { buildKey } from '../../src/store/keys.js';
import { encodeSelector } from '../../src/store/selector.js';

const parsed = new ParsedUpdate();

function record(app: string, ver: string, host: string, instance = 0, time = 1_800_000_000): Buffer {
  const body = Buffer.from(JSON.stringify({ app, ver, host, instance }));
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(0);
  const out = Buffer.alloc(MAX_RECORD_BYTES);
  const ip = Buffer.from('10.0.0.1');
  const n = encodeUpdate(parsed, ip, 0, ip.length, time, 0, 0, out);
  return out.subarray(0, n);
}

describe('ClusterState: the order of changes', () => {
  test('the later time wins; at the same second the greater node name; the same origin and second are equal', () => {
    const c = new ClusterState('beta');
    const alpha = c.originId(Buffer.from('alpha'));
    const gamma = c.originId(Buffer.from('gamma'));
    expect(c.originId(Buffer.from('alpha'))).toBe(alpha);
    expect(c.name(0).toString()).toBe('beta');
    expect(c.compare(10, alpha, 9, gamma)).toBeGreaterThan(0);
    expect(c.compare(9, gamma, 10, alpha)).toBeLessThan(0);
    expect(c.compare(10, alpha, 10, 0)).toBeLessThan(0);
    expect(c.compare(10, gamma, 10, 0)).toBeGreaterThan(0);
    expect(c.compare(10, gamma, 10, gamma)).toBe(0);
  });

  test('the rule is a total order: any arrival order picks the same winner', () => {
    const c = new ClusterState('n1');
    const ids = ['n0', 'n1', 'n2', 'n3'].map((n) => c.originId(Buffer.from(n)));
    const changes = [
      [5, ids[2]!],
      [7, ids[0]!],
      [7, ids[3]!],
      [6, ids[1]!],
      [7, ids[1]!],
    ] as const;
    const winner = (order: (typeof changes)[number][]): (typeof changes)[number] =>
      order.reduce((best, ch) => (c.compare(ch[0], ch[1], best[0], best[1]) >= 0 ? ch : best));
    const expected = winner([...changes]);
    expect(expected).toEqual([7, ids[3]]);
    for (let i = 0; i < 50; i++) {
      const shuffled = [...changes].sort(() => Math.random() - 0.5);
      expect(winner(shuffled)).toEqual(expected);
    }
  });

  test('a tombstone buries older changes to what its selector matches, not newer ones nor other instances', () => {
    const c = new ClusterState('a');
    const b = c.originId(Buffer.from('b'));
    expect(c.buried(1, b, () => ({ appId: 'x', host: 'h', instance: 0 }))).toBe(false);
    c.addTombstone({ appId: 'x', host: 'h' }, 100, b);
    const inst =
      (appId: string, host: string, instance = 0) =>
      () => ({ appId, host, instance });
    expect(c.buried(99, 0, inst('x', 'h'))).toBe(true);
    expect(c.buried(100, 0, inst('x', 'h'))).toBe(true); // 'a' < 'b' at the same second
    expect(c.buried(101, 0, inst('x', 'h'))).toBe(false);
    expect(c.buried(99, 0, inst('x', 'other'))).toBe(false);
    expect(c.buried(99, 0, inst('y', 'h'))).toBe(false);
    c.addTombstone({ host: 'gone' }, 200, 0);
    expect(c.buried(150, b, inst('any', 'gone', 7))).toBe(true);
  });
});

describe('remote records: the origin trailer', () => {
  test('after an update record, after a control record', () => {
    const rec = record('App', '1.0', 'h1');
    const withOrigin = Buffer.alloc(rec.length + 16);
    rec.copy(withOrigin);
    const end = writeOrigin(withOrigin, rec.length, Buffer.from('node-7'));
    expect(end).toBe(rec.length + 7);
    expect(trailerAt(withOrigin, 0)).toBe(rec.length);
    expect(recordBytes(withOrigin, 0)).toBe(rec.length);
    expect(new ClusterState('me').recordOrigin(withOrigin, 0)).toBe(1);

    const ctl = Buffer.alloc(256);
    const sel = encodeSelector({ host: 'h1' });
    const n = encodeControl(RecordType.remove, 5, 100, sel, ctl);
    expect(trailerAt(ctl, 0)).toBe(RECORD_HEADER + sel.length);
    expect(recordLength(ctl, 0)).toBe(n);
  });
});

describe('wire messages', () => {
  test('records go in and come out byte for byte, with kind and origin', () => {
    const a = record('App', '1.0', 'h1');
    const b = record('Other', '2.0', 'h2', 3);
    const w = new WireWriter(WireKind.changes, Buffer.from('alpha'), 16);
    w.add(a, 0, a.length);
    w.add(b, 0, b.length);
    const m = readWire(Buffer.from(w.bytes()));
    expect(m.kind).toBe(WireKind.changes);
    expect(m.origin.toString()).toBe('alpha');
    expect(m.count).toBe(2);
    const out: Buffer[] = [];
    m.each((bytes, at, length) => out.push(Buffer.from(bytes.subarray(at, at + length))));
    expect(out).toEqual([a, b]);
    expect(recordLength(a, 0)).toBe(a.length);
  });

  test('a message cut short or of another version is refused', () => {
    const a = record('App', '1.0', 'h1');
    const w = new WireWriter(WireKind.changes, Buffer.from('alpha'));
    w.add(a, 0, a.length);
    const bytes = Buffer.from(w.bytes());
    expect(() => readWire(bytes.subarray(0, bytes.length - 1))).toThrow(WireError);
    const other = Buffer.from(bytes);
    other[0] = 9;
    expect(() => readWire(other)).toThrow(/version/);
  });
});

describe('liveness digests', () => {
  function index(keys: Buffer[]): KeyIndex {
    const idx = new KeyIndex(1, 16);
    for (const k of keys) idx.insert(k, 0, k.length, hash32(k, 0, k.length));
    return idx;
  }
  const keys = Array.from({ length: 5 }, (_, i) => buildKey(['app', `host-${i}`], i));

  test('names the instances heard since the last digest, once; the receiver moves exactly those clocks', () => {
    const sender = index(keys);
    const clock = new Uint32Array(16);
    const live = new Liveness();
    clock[1] = 1000;
    clock[3] = 990;
    const parts = live.build(sender, clock, 1001);
    expect(parts.length).toBe(1);
    expect(parts[0]!.readUInt32LE(4)).toBe(2);
    expect(live.build(sender, clock, 1002)).toEqual([]);
    clock[3] = 1002;
    expect(live.build(sender, clock, 1002)[0]!.readUInt32LE(4)).toBe(1);

    // The receiver has the same keys in other slots.
    const receiver = index([...keys].reverse());
    const touched = new Map<number, number>();
    const found = applyDigest(parts[0]!, receiver, (slot, time) => touched.set(slot, time));
    expect(found).toBe(2);
    expect(touched).toEqual(
      new Map([
        [3, 1000],
        [1, 990],
      ]),
    );
  });

  test('what a peer told is not told again (no echo); after reset everything is', () => {
    const idx = index(keys);
    const clock = new Uint32Array(16);
    const live = new Liveness();
    clock[0] = 50;
    clock[2] = 60;
    live.heard(0, 50);
    expect(live.build(idx, clock, 60)[0]!.readUInt32LE(4)).toBe(1);
    live.reset();
    expect(live.build(idx, clock, 60)[0]!.readUInt32LE(4)).toBe(2);
  });

  test('a large digest comes in parts; unknown instances are skipped', () => {
    const many = Array.from({ length: DIGEST_PART_ENTRIES + 10 }, (_, i) => buildKey(['a', `h${i}`], 0));
    const idx = index(many);
    const clock = new Uint32Array(many.length).fill(7);
    const parts = new Liveness().build(idx, clock, 7);
    expect(parts.map((p) => p.readUInt32LE(4))).toEqual([DIGEST_PART_ENTRIES, 10]);
    expect(applyDigest(parts[1]!, index(keys), () => {})).toBe(0);
  });
});
