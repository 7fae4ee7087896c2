// sql/changes.ts: what of a committed batch the SQL tables take, and how
// pending changes fold (the latest state per instance).

import { describe, expect, test } from 'vitest';
import { MAX_RECORD_BYTES, RECORD_HEADER, R_KEY_LEN, encodeUpdate, get16 } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { BatchWriter, OpKind } from '../../src/store/batch.js';
import { EntryFlag, HistoryLog, blockKey } from '../../src/store/history.js';
import { valueLength, writeValue } from '../../src/store/instance-value.js';
import { DbId } from '../../src/store/layout.js';
import { PendingChanges, takeSqlChanges } from '../../src/sql/changes.js';
import { historyRow, instanceRow, keyParts, type HistoryRow, type InstanceRow } from '../../src/sql/rows.js';
import { entryOffsets, newEntryView, readEntry } from '../../src/store/history.js';

/** What PendingChanges hands on, decoded (rows.ts: the rows the tables get). */
function contents(p: PendingChanges): { cleared: boolean; removed: [string, string, number][]; upserts: InstanceRow[]; history: HistoryRow[] } {
  const out = { cleared: false, removed: [] as [string, string, number][], upserts: [] as InstanceRow[], history: [] as HistoryRow[] };
  const entry = newEntryView();
  p.writeTo({
    clear: () => {
      out.cleared = true;
    },
    remove: (key) => out.removed.push(keyParts(key)),
    instance: (key, value) => out.upserts.push(instanceRow(key, value)),
    history: (block) => {
      for (const at of entryOffsets(block)) out.history.push(historyRow(readEntry(block, at, entry)));
    },
  });
  return out;
}

const enc = new TextEncoder();
const IP = enc.encode('10.0.0.9');

/** An instance's key and stored value, as the writer would put them. */
function instance(json: string, slot: number): { key: Uint8Array; value: Uint8Array } {
  const bytes = enc.encode(json);
  const p = new ParsedUpdate();
  expect(parseUpdate(bytes, 0, bytes.length, p)).toBe(0);
  const rec = new Uint8Array(MAX_RECORD_BYTES);
  encodeUpdate(p, IP, 0, IP.length, 1000, 0, 0, rec);
  const key = rec.slice(RECORD_HEADER, RECORD_HEADER + get16(rec, R_KEY_LEN));
  const value = new Uint8Array(valueLength(rec, 0));
  writeValue(rec, 0, value, 0, slot, 900, 1000);
  return { key, value };
}

describe('takeSqlChanges', () => {
  test('keeps instance puts, deletes and clears and the per-app history; drops the rest', () => {
    const a = instance('{"app":"billing","ver":"2.4","host":"h1","labels":{"env":"prod"}}', 7);
    const b = instance('{"app":"web","ver":"1","host":"h2","instance":3}', 8);
    const out = new BatchWriter();
    out.put(DbId.inst, a.key, a.value);
    out.del(DbId.inst, b.key);
    out.put(DbId.clock, Buffer.from([1, 0, 0, 0, 0]), Buffer.alloc(16));
    out.put(DbId.apps, Buffer.from('billing\0'), Buffer.from('summary'));
    const log = new HistoryLog();
    log.push(
      0,
      0,
      1000,
      0,
      EntryFlag.first,
      enc.encode('billing'),
      enc.encode('billing'),
      enc.encode('h1'),
      enc.encode('2.4'),
      new Uint8Array(0),
      IP,
      enc.encode('{"env":"prod"}'),
    );
    log.blocks(
      (kind, _slot, size) =>
        out.begin(kind === 'app' ? DbId.history : DbId.histhost, OpKind.put, blockKey(enc.encode(kind === 'app' ? 'billing\0' : 'h1\0'), 5), size),
      () => out.bytes,
    );
    const { buffer, length } = out.take();
    const changes = takeSqlChanges(buffer, length)!;
    const pending = new PendingChanges();
    pending.add(changes);
    const got = contents(pending);
    expect(got.upserts).toEqual([['billing', 'billing', 'h1', '10.0.0.9', 0, '2.4', '{"env":"prod"}', 900, 1000, 7]]);
    expect(got.removed).toEqual([['web', 'h2', 3]]);
    // One entry: the app's block, not the host's copy.
    expect(got.history).toEqual([['billing', 'billing', 'h1', '10.0.0.9', 0, '2.4', null, '{"env":"prod"}', 1000, 'new']]);
    expect(got.cleared).toBe(false);
    expect([pending.size, pending.instances]).toEqual([3, 2]);
  });

  test('nothing the tables need: null', () => {
    const out = new BatchWriter();
    out.put(DbId.meta, Buffer.from('next_history_block'), Buffer.from('9'));
    const { buffer, length } = out.take();
    expect(takeSqlChanges(buffer, length)).toBeNull();
  });
});

describe('PendingChanges', () => {
  const batch = (build: (out: BatchWriter) => void): ArrayBuffer => {
    const out = new BatchWriter();
    build(out);
    const { buffer, length } = out.take();
    return takeSqlChanges(buffer, length)!;
  };
  const v1 = instance('{"app":"a","ver":"1","host":"h"}', 1);
  const v2 = instance('{"app":"a","ver":"2","host":"h"}', 1);

  test('the latest state per instance wins: put after put, delete after put, put after delete', () => {
    const p = new PendingChanges();
    p.add(batch((o) => o.put(DbId.inst, v1.key, v1.value)));
    p.add(batch((o) => o.put(DbId.inst, v2.key, v2.value)));
    expect(contents(p).upserts.map((r) => r[5])).toEqual(['2']);
    p.add(batch((o) => o.del(DbId.inst, v2.key)));
    // The put came before the removal: only the removal is handed on.
    expect([contents(p).upserts.length, contents(p).removed.length]).toEqual([0, 1]);
    p.add(batch((o) => o.put(DbId.inst, v1.key, v1.value)));
    // The put after the removal is kept; the removal stays (the old row may sit in another slot).
    expect(contents(p).upserts.map((r) => r[5])).toEqual(['1']);
    expect(contents(p).removed).toEqual([['a', 'h', 0]]);
  });

  test('a slot names one instance: the same key in a new slot after a removal, another key in a freed slot', () => {
    const inNewSlot = instance('{"app":"a","ver":"3","host":"h"}', 9);
    const other = instance('{"app":"b","ver":"1","host":"h"}', 1);
    const p = new PendingChanges();
    p.add(batch((o) => o.put(DbId.inst, v1.key, v1.value)));
    p.add(batch((o) => o.del(DbId.inst, v1.key)));
    p.add(batch((o) => o.put(DbId.inst, inNewSlot.key, inNewSlot.value)));
    expect(contents(p).upserts.map((r) => [r[1], r[5], r[9]])).toEqual([['a', '3', 9]]);
    // Slot 1 freed by the removal, taken by another instance.
    p.add(batch((o) => o.put(DbId.inst, other.key, other.value)));
    expect(contents(p).upserts.map((r) => [r[1], r[5], r[9]])).toEqual([
      ['b', '1', 1],
      ['a', '3', 9],
    ]);
    expect(contents(p).removed).toEqual([['a', 'h', 0]]);
  });

  test('a clear drops what was pending and is remembered until applied', () => {
    const p = new PendingChanges();
    p.add(batch((o) => o.put(DbId.inst, v1.key, v1.value)));
    p.add(batch((o) => o.clear(DbId.inst)));
    expect([contents(p).upserts.length, p.cleared, p.empty]).toEqual([0, true, false]);
    p.add(batch((o) => o.put(DbId.inst, v2.key, v2.value)));
    expect([contents(p).upserts.length, contents(p).cleared]).toEqual([1, true]);
    p.clear();
    expect(p.empty).toBe(true);
  });
});
