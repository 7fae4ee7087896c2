// sql/tables.ts with sql/staging.ts: rows written from the store's bytes
// (no JS string per field) read back as the reference decoding (rows.ts)
// has them; a put replaces its slot's row, a removal goes by key; an
// answer reflects every change applied before it; last_update follows the
// instance clocks, refreshed before a query.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_RECORD_BYTES, RECORD_HEADER, R_KEY_LEN, encodeUpdate, get16 } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { BatchWriter, OpKind } from '../../src/store/batch.js';
import { EntryFlag, HistoryLog, blockKey } from '../../src/store/history.js';
import { valueLength, writeValue } from '../../src/store/instance-value.js';
import { DbId } from '../../src/store/layout.js';
import { createClockBuffer, SlotClock } from '../../src/store/slot-clock.js';
import { PendingChanges, takeSqlChanges } from '../../src/sql/changes.js';
import { instanceRow } from '../../src/sql/rows.js';
import { SqlTables } from '../../src/sql/tables.js';

const enc = new TextEncoder();
const IP = enc.encode('10.0.0.9');

function instance(json: string, slot: number, since = 900, writtenAt = 1000): { key: Uint8Array; value: Uint8Array } {
  const bytes = enc.encode(json);
  const p = new ParsedUpdate();
  expect(parseUpdate(bytes, 0, bytes.length, p)).toBe(0);
  const rec = new Uint8Array(MAX_RECORD_BYTES);
  encodeUpdate(p, IP, 0, IP.length, writtenAt, 0, 0, rec);
  const key = rec.slice(RECORD_HEADER, RECORD_HEADER + get16(rec, R_KEY_LEN));
  const value = new Uint8Array(valueLength(rec, 0));
  writeValue(rec, 0, value, 0, slot, since, writtenAt);
  return { key, value };
}

const clockBuffer = createClockBuffer(1 << 16);
const clock = (): Uint32Array => SlotClock.view(clockBuffer);
let tables: SqlTables;

beforeAll(async () => {
  tables = await SqlTables.open({
    threads: 1,
    queryMemoryBytes: 64 << 20,
    timeoutMs: 10_000,
    maxRows: 10_000,
    staleSeconds: 100,
    historyDays: 0,
    clock: clockBuffer,
  });
});

afterAll(() => tables.close());

async function apply(build: (out: BatchWriter) => void): Promise<void> {
  const out = new BatchWriter();
  build(out);
  const { buffer, length } = out.take();
  const changes = takeSqlChanges(buffer, length);
  const p = new PendingChanges();
  if (changes !== null) p.add(changes);
  await tables.apply(p);
}

async function sql(q: string): Promise<unknown[][]> {
  const r = await tables.query(q);
  if (!r.ok) throw new Error(r.message);
  return (JSON.parse(Buffer.from(r.body).toString('utf8')) as { data: unknown[][] }).data;
}

const ROWS = 'SELECT app, app_id, host, host_ip, instance, ver, labels, since FROM versions ORDER BY app_id, host';

describe('SqlTables', () => {
  // Awkward text on purpose: escapes in app and ver, quotes and non-ASCII in host, instance 1 (a 1 byte in the key).
  const fleet = [
    instance('{"app":"Billing \\"EU\\"","ver":"2.4\\\\beta","host":"h\\"1 ü","instance":1,"labels":{"env":"prod","region":"eu-west"}}', 3),
    instance('{"app":"web","ver":"1.0","host":"w1","instance":0}', 4),
    instance('{"app":"web","ver":"1.0","host":"w2","instance":65535,"labels":{"env":"staging"}}', 5),
  ];

  test('rows read back as the reference decoding has them', async () => {
    await apply((o) => {
      for (const i of fleet) o.put(DbId.inst, i.key, i.value);
    });
    const want = fleet.map(({ key, value }) => {
      const [app, appId, host, ip, inst, ver, labels, since] = instanceRow(key, value);
      return [app, appId, host, ip, inst, ver, labels === null ? {} : JSON.parse(labels), since];
    });
    const got = await sql(ROWS);
    expect(got).toEqual(want.sort((a, b) => `${a[1]}\0${a[2]}`.localeCompare(`${b[1]}\0${b[2]}`)));
    expect(want[0]!.slice(0, 6)).toEqual(['Billing "EU"', 'billing__eu_', 'h"1 ü', '10.0.0.9', 1, '2.4\\beta']);
  });

  test('a put replaces its slot’s row; a removal goes by key; answers reflect both at once', async () => {
    const changed = instance('{"app":"web","ver":"2.0","host":"w1","instance":0,"labels":{"env":"prod"}}', 4, 1100, 1100);
    await apply((o) => o.put(DbId.inst, changed.key, changed.value));
    expect(await sql(`SELECT ver, labels, since, last_update FROM versions WHERE host = 'w1'`)).toEqual([['2.0', { env: 'prod' }, 1100, 1100]]);
    await apply((o) => o.del(DbId.inst, fleet[2]!.key));
    expect(await sql('SELECT host FROM versions ORDER BY host')).toEqual([['h"1 ü'], ['w1']]);
    expect(tables.rows).toBe(2);
  });

  test('last_update: the later of written_at and the instance clock, refreshed before a query', async () => {
    const c = clock();
    // Slot 4 (w1) was written at 1100; its clock moves on (repeated updates), and back is not a thing.
    c[4] = 1500;
    expect(await sql(`SELECT last_update FROM versions WHERE host = 'w1'`)).toEqual([[1500]]);
    c[4] = 1600;
    c[3] = 900; // older than its written_at (1000): written_at stands
    expect(await sql('SELECT host, last_update FROM versions ORDER BY host')).toEqual([
      ['h"1 ü', 1000],
      ['w1', 1600],
    ]);
    // A row written after its clock moved takes the clock at once.
    c[7] = 2000;
    const late = instance('{"app":"db","ver":"9","host":"d1"}', 7, 1000, 1000);
    await apply((o) => o.put(DbId.inst, late.key, late.value));
    expect(await sql(`SELECT last_update FROM versions WHERE host = 'd1'`)).toEqual([[2000]]);
    // apps and hosts follow the same column.
    expect(await sql(`SELECT last_update FROM apps WHERE app_id = 'web'`)).toEqual([[1600]]);
  });

  test('only a query that reads last_update (status, apps, hosts, a whole row) waits for the clocks to be brought in', async () => {
    const c = clock();
    c[4] = 1700;
    await sql(`SELECT app_id, ver, count(*) FROM versions GROUP BY ALL`);
    await sql(`SELECT count(*) FROM history`);
    // Not brought in yet: a refresh now has a row to update.
    expect(await tables.refreshClock()).toBe(1);
    for (const q of [
      `SELECT host FROM versions WHERE status = 'up'`,
      'SELECT max(last_update) FROM hosts',
      'SELECT v FROM versions AS v',
      'SELECT * FROM apps',
      'EXPLAIN ANALYZE SELECT last_update FROM versions',
    ]) {
      c[4]!++;
      await sql(q);
      expect(await tables.refreshClock(), q).toBe(0);
    }
    expect(await sql(`SELECT last_update FROM versions WHERE host = 'w1'`)).toEqual([[1705]]);
  });

  test('status: stale past --stale by last_update (the clock counts)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const c = clock();
    c[4] = now;
    expect(await sql('SELECT host, status FROM versions ORDER BY host')).toEqual([
      ['d1', 'stale'],
      ['h"1 ü', 'stale'],
      ['w1', 'up'],
    ]);
  });

  test('history: every entry, NULLs and change kinds from its flags', async () => {
    const log = new HistoryLog();
    const app = enc.encode('web');
    log.push(0, 0, 1200, 0, EntryFlag.first, app, app, enc.encode('w9'), enc.encode('1.0'), new Uint8Array(0), IP, enc.encode('{"env":"prod"}'));
    log.push(0, 0, 1201, 0, 0, app, app, enc.encode('w9'), enc.encode('1.1'), enc.encode('1.0'), IP);
    log.push(0, 0, 1202, 0, EntryFlag.labels, app, app, enc.encode('w9'), enc.encode('1.1'), enc.encode('1.1'), IP, enc.encode('{"env":"dev"}'));
    log.push(0, 0, 1203, 0, EntryFlag.removed, app, app, enc.encode('w9'), new Uint8Array(0), enc.encode('1.1'), new Uint8Array(0));
    await apply((o) =>
      log.blocks(
        (kind, _slot, size) => o.begin(kind === 'app' ? DbId.history : DbId.histhost, OpKind.put, blockKey(app, 1), size),
        () => o.bytes,
      ),
    );
    const want = [
      ['10.0.0.9', '1.0', null, { env: 'prod' }, 1200, 'new'],
      ['10.0.0.9', '1.1', '1.0', {}, 1201, 'version'],
      ['10.0.0.9', '1.1', '1.1', { env: 'dev' }, 1202, 'labels'],
      [null, null, '1.1', {}, 1203, 'removed'],
    ];
    const q = `SELECT host_ip, ver, prev_ver, labels, time, change FROM history WHERE host = 'w9' ORDER BY time`;
    // Staged (uncompressed, labels by id) at first, moved into store.history at a checkpoint: the same answer.
    expect(await sql(q)).toEqual(want);
    await tables.checkpoint();
    expect(await sql(q)).toEqual(want);
    // Some staged, some moved: all of them, moved first.
    await apply((o) =>
      log.blocks(
        (kind, _slot, size) => o.begin(kind === 'app' ? DbId.history : DbId.histhost, OpKind.put, blockKey(app, 2), size),
        () => o.bytes,
      ),
    );
    expect(await sql(`SELECT count(*) FROM history WHERE host = 'w9'`)).toEqual([[8]]);
  });

  test('a clear empties both tables', async () => {
    await apply((o) => o.clear(DbId.inst));
    expect(await sql('SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM history)')).toEqual([[0, 0]]);
    expect(tables.rows).toBe(0);
  });
});
