// Change-feed events (changesOf), read back from the batches a DirectWriter
// commits to a temporary store: new, changed (old_ver), removed by --trim
// and by DELETE, cleared, and stale; repeats make none.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { MAX_RECORD_BYTES, RecordFlag, RecordType, encodeControl, encodeUpdate } from '../../src/ingest/record.js';
import { Reason } from '../../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import type { ChangeEvent } from '../../src/store/changes.js';
import { DirectWriter } from '../../src/store/direct-writer.js';
import { encodeSelector, type Selector } from '../../src/store/selector.js';
import { MAX_CLOCK_SLOTS, createClockBuffer } from '../../src/store/slot-clock.js';

const T = 1_800_000_000;
const TRIM = 600;
const STALE = 100;

let dir: string;
let writer: DirectWriter;
let nowMs = T * 1000;

const parsed = new ParsedUpdate();
const rec = new Uint8Array(MAX_RECORD_BYTES);

function send(app: string, ver: string, host: string, instance = 0, opts: { time?: number; ip?: string; http?: number } = {}): void {
  const body = Buffer.from(JSON.stringify({ app, ver, host, instance }));
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(Reason.ok);
  const ip = Buffer.from(opts.ip ?? '192.0.2.9');
  const len = encodeUpdate(parsed, ip, 0, ip.length, opts.time ?? T, opts.http ?? 0, opts.http === undefined ? 0 : RecordFlag.http, rec);
  writer.apply(rec, 0, len);
}

function control(type: number, seq: number, selector?: Selector): void {
  const out = new Uint8Array(512);
  const len = encodeControl(type, seq, T, selector === undefined ? new Uint8Array(0) : encodeSelector(selector), out);
  writer.apply(out, 0, len);
}

function commit(): ChangeEvent[] {
  nowMs += 1000;
  return writer.commit(nowMs).events;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'partisci-changes-'));
  const clocks = {
    instance: createClockBuffer(MAX_CLOCK_SLOTS.instance),
    host: createClockBuffer(MAX_CLOCK_SLOTS.host),
    app: createClockBuffer(MAX_CLOCK_SLOTS.app),
  };
  writer = new DirectWriter({ path: dir, trimSeconds: TRIM, staleSeconds: STALE, historyDays: 0 }, clocks);
  writer.load();
  // Removal entries are stamped with the wall clock: pin it.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T * 1000);
});

afterEach(async () => {
  vi.useRealTimers();
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('new and changed', () => {
  test('a first sight is a new event with the stored version', () => {
    send('Web App', '1.0', 'h1', 3, { time: T + 5, ip: '198.51.100.7' });
    expect(commit()).toStrictEqual([
      { type: 'new', version: { app: 'Web App', app_id: 'web_app', host: 'h1', host_ip: '198.51.100.7', instance: 3, ver: '1.0', last_update: T + 5 } },
    ]);
  });

  test('another version is a changed event with old_ver', () => {
    send('web', '1.0', 'h1');
    commit();
    send('web', '2.0', 'h1', 0, { time: T + 10 });
    expect(commit()).toStrictEqual([
      {
        type: 'changed',
        version: { app: 'web', app_id: 'web', host: 'h1', host_ip: '192.0.2.9', instance: 0, ver: '2.0', last_update: T + 10 },
        old_ver: '1.0',
      },
    ]);
  });

  test('changes between two commits are all told, in arrival order within an app, apps in slot order', () => {
    send('a', '1', 'h1', 0, { time: T + 1 });
    send('b', '1', 'h1', 0, { time: T + 2 });
    send('a', '2', 'h1', 0, { time: T + 3 });
    send('a', '1', 'h2', 0, { time: T + 4 });
    const events = commit();
    expect(
      events.map((e) =>
        e.type === 'new' || e.type === 'changed' ? `${e.type} ${e.version.app_id}/${e.version.host} ${e.version.ver}@${e.version.last_update}` : e.type,
      ),
    ).toEqual([`new a/h1 1@${T + 1}`, `changed a/h1 2@${T + 3}`, `new a/h2 1@${T + 4}`, `new b/h1 1@${T + 2}`]);
    expect(events[1]).toMatchObject({ type: 'changed', old_ver: '1' });
  });

  test('escaped and non-ASCII names come back as text', () => {
    send('Caf\u00e9 "x"', 'v\\1', 'h\u0001\u00fc');
    expect(commit()).toStrictEqual([
      {
        type: 'new',
        version: { app: 'Caf\u00e9 "x"', app_id: 'caf___x_', host: 'h\u0001\u00fc', host_ip: '192.0.2.9', instance: 0, ver: 'v\\1', last_update: T },
      },
    ]);
  });
});

describe('repeats', () => {
  test('a repeated update, a new address, an HTTP re-send and an app name change of the same version make no event', () => {
    send('web', '1', 'h1');
    expect(commit()).toHaveLength(1);
    send('web', '1', 'h1', 0, { time: T + 1 });
    expect(commit()).toEqual([]);
    send('web', '1', 'h1', 0, { time: T + 2, ip: '192.0.2.10' });
    expect(commit()).toEqual([]);
    send('web', '1', 'h1', 0, { time: T + 3, http: 5 });
    expect(commit()).toEqual([]);
    send('WEB', '1', 'h1', 0, { time: T + 4 });
    expect(commit()).toEqual([]);
  });

  test('an empty commit makes no event', () => {
    expect(commit()).toEqual([]);
  });

  test('a version that goes and comes back within one commit is told as it happened', () => {
    send('web', '1', 'h1');
    commit();
    send('web', '2', 'h1', 0, { time: T + 1 });
    send('web', '1', 'h1', 0, { time: T + 2 });
    expect(commit().map((e) => (e.type === 'changed' ? [e.old_ver, e.version.ver] : e.type))).toEqual([
      ['1', '2'],
      ['2', '1'],
    ]);
  });
});

describe('removed', () => {
  test("by --trim: reason trim, the removed version, stamped with the sweep's wall clock; only once", () => {
    send('web', '3.1', 'old', 2, { time: T });
    send('web', '3.1', 'new', 0, { time: T + TRIM });
    commit();
    vi.setSystemTime((T + TRIM + 1) * 1000);
    expect(writer.fleet.sweep(T + TRIM + 1)).toBe(1);
    expect(commit()).toStrictEqual([
      { type: 'removed', version: { app: 'web', app_id: 'web', host: 'old', instance: 2, ver: '3.1', last_update: T + TRIM + 1 }, reason: 'trim' },
    ]);
    expect(writer.fleet.sweep(T + TRIM + 1)).toBe(0);
    expect(commit()).toEqual([]);
  });

  test('by DELETE (a remove control record): reason delete, only the selected instances', () => {
    send('web', '1', 'h1', 0);
    send('web', '2', 'h1', 1);
    send('db', '1', 'h1', 0);
    commit();
    vi.setSystemTime((T + 30) * 1000);
    control(RecordType.remove, 9, { appId: 'web', host: 'h1' });
    nowMs += 1000;
    const r = writer.commit(nowMs);
    expect(r.results).toEqual([[9, 2]]);
    expect(r.events).toStrictEqual([
      { type: 'removed', version: { app: 'web', app_id: 'web', host: 'h1', instance: 0, ver: '1', last_update: T + 30 }, reason: 'delete' },
      { type: 'removed', version: { app: 'web', app_id: 'web', host: 'h1', instance: 1, ver: '2', last_update: T + 30 }, reason: 'delete' },
    ]);
  });

  test("a removal is stamped with the instance's last update when that is later than the wall clock", () => {
    send('web', '1', 'h1', 0, { time: T + 500 });
    commit();
    control(RecordType.remove, 1, { appId: 'web', host: 'h1', instance: 0 });
    expect(commit()).toStrictEqual([
      { type: 'removed', version: { app: 'web', app_id: 'web', host: 'h1', instance: 0, ver: '1', last_update: T + 500 }, reason: 'delete' },
    ]);
  });

  test('an instance seen and removed within one commit: new, then removed', () => {
    send('web', '1', 'h1', 0);
    control(RecordType.remove, 1, { host: 'h1' });
    expect(commit().map((e) => e.type + (e.type === 'removed' ? ` ${e.reason}` : ''))).toEqual(['new', 'removed delete']);
  });

  test('a DELETE that matches nothing makes no event', () => {
    send('web', '1', 'h1');
    commit();
    control(RecordType.remove, 2, { appId: 'nope' });
    control(RecordType.remove, 3, { appId: 'web', instance: 4 });
    expect(commit()).toEqual([]);
  });
});

describe('cleared', () => {
  test('a clear control record is one cleared event; what came before it in the same commit is not told', () => {
    send('web', '1', 'h1');
    commit();
    send('web', '2', 'h1', 0, { time: T + 1 });
    control(RecordType.clear, 4);
    expect(commit()).toStrictEqual([{ type: 'cleared' }]);
    expect(commit()).toEqual([]);
  });

  test('updates after a clear in the same commit come after the cleared event, as first sights', () => {
    send('web', '1', 'h1');
    commit();
    control(RecordType.clear, 4);
    send('web', '1', 'h1', 0, { time: T + 2 });
    expect(commit()).toStrictEqual([
      { type: 'cleared' },
      { type: 'new', version: { app: 'web', app_id: 'web', host: 'h1', host_ip: '192.0.2.9', instance: 0, ver: '1', last_update: T + 2 } },
    ]);
  });
});

describe('stale', () => {
  test('with eventsWanted, an instance past --stale is one stale event; a second sweep makes none', () => {
    writer.fleet.eventsWanted = true;
    send('Web', '1.5', 'h1', 7, { time: T });
    send('Web', '1.5', 'h2', 0, { time: T + 50 });
    commit();
    expect(writer.fleet.sweep(T + STALE + 1)).toBe(1);
    expect(commit()).toStrictEqual([
      { type: 'stale', version: { app: 'Web', app_id: 'web', host: 'h1', instance: 7, ver: '1.5', last_update: T, status: 'stale' } },
    ]);
    expect(writer.fleet.sweep(T + STALE + 2)).toBe(0);
    expect(commit()).toEqual([]);
  });

  test('an update brings it back (no event), and it can turn stale again', () => {
    writer.fleet.eventsWanted = true;
    send('web', '1', 'h1', 0, { time: T });
    commit();
    writer.fleet.sweep(T + STALE + 1);
    expect(commit()).toHaveLength(1);
    send('web', '1', 'h1', 0, { time: T + 200 });
    expect(commit()).toEqual([]);
    expect(writer.fleet.sweep(T + 200 + STALE + 1)).toBe(1);
    expect(commit()).toStrictEqual([
      { type: 'stale', version: { app: 'web', app_id: 'web', host: 'h1', instance: 0, ver: '1', last_update: T + 200, status: 'stale' } },
    ]);
  });

  test('without eventsWanted, turning stale makes no event', () => {
    send('web', '1', 'h1', 0, { time: T });
    commit();
    expect(writer.fleet.sweep(T + STALE + 1)).toBe(1);
    expect(commit()).toEqual([]);
  });

  test('an instance that turned stale and was removed before the cut is only told as removed', () => {
    writer.fleet.eventsWanted = true;
    send('web', '1', 'h1', 0, { time: T });
    commit();
    writer.fleet.sweep(T + STALE + 1);
    control(RecordType.remove, 1, { host: 'h1' });
    expect(commit().map((e) => e.type)).toEqual(['removed']);
  });
});
