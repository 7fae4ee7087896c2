// The store reader over a temporary store written by a DirectWriter:
// history/ newest first, paged across several commits' blocks, by app, by
// host, by app+host+instance and since; cursors of other queries refused;
// version/?host=H in the order of the host's summary, paged inside and
// across apps; version/?app_id=A&ver=V; and after every commit of a
// scripted run, app/A's version counts agree with version/?app_id=A (and
// version/?host=H and host/H with version/).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { MAX_RECORD_BYTES, RecordType, encodeControl, encodeUpdate } from '../../src/ingest/record.js';
import { Reason } from '../../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { DirectWriter } from '../../src/store/direct-writer.js';
import { InvalidCursorError } from '../../src/errors.js';
import { StoreReader, type HistoryFilter, type Page, type VersionFilter } from '../../src/store/reader.js';
import { encodeSelector, type Selector } from '../../src/store/selector.js';
import { MAX_CLOCK_SLOTS, createClockBuffer, type ClockBuffers } from '../../src/store/slot-clock.js';

const T = 1_800_000_000;
const STALE = 100;

let dir: string;
let clocks: ClockBuffers;
let writer: DirectWriter;
let reader: StoreReader;
let nowMs = T * 1000;

const parsed = new ParsedUpdate();
const rec = new Uint8Array(MAX_RECORD_BYTES);

function open(trimSeconds = 0): void {
  writer = new DirectWriter({ path: dir, trimSeconds, staleSeconds: STALE, historyDays: 0 }, clocks);
  writer.load();
  reader = new StoreReader(dir, clocks, STALE);
}

function send(app: string, ver: string, host: string, instance: number, time: number, ip = '192.0.2.9'): void {
  const body = Buffer.from(JSON.stringify({ app, ver, host, instance }));
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(Reason.ok);
  const ipBytes = Buffer.from(ip);
  writer.apply(rec, 0, encodeUpdate(parsed, ipBytes, 0, ipBytes.length, time, 0, 0, rec));
}

let seq = 0;
function remove(selector: Selector): void {
  const out = new Uint8Array(512);
  writer.apply(out, 0, encodeControl(RecordType.remove, ++seq, T, encodeSelector(selector), out));
}

function commit(): void {
  nowMs += 1000;
  writer.commit(nowMs);
  // A fresh read snapshot (lmdb-js would renew it on the next event-loop turn).
  reader.release();
}

interface Answer<R> {
  data: R[];
  next?: string;
}

type Entry = { app: string; app_id: string; host: string; host_ip: string | null; instance: number; ver: string | null; prev_ver: string | null; time: number };
type Row = Record<string, unknown>;

function history(filter: HistoryFilter): Answer<Entry> {
  const a = JSON.parse(reader.history(filter).view().toString('utf8')) as Answer<Entry>;
  reader.release();
  return a;
}

function versions(filter: VersionFilter, page: Page = {}): Answer<Row> {
  const a = JSON.parse(reader.versions(filter, page).view().toString('utf8')) as Answer<Row>;
  reader.release();
  return a;
}

/** Follows `next` to the end; returns each page. */
function pages<R>(get: (cursor: string | undefined) => Answer<R>): Answer<R>[] {
  const out: Answer<R>[] = [];
  let cursor: string | undefined;
  do {
    const page = get(cursor);
    out.push(page);
    cursor = page.next;
    expect(out.length).toBeLessThan(100);
  } while (cursor !== undefined);
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'partisci-reader-'));
  clocks = {
    instance: createClockBuffer(MAX_CLOCK_SLOTS.instance),
    host: createClockBuffer(MAX_CLOCK_SLOTS.host),
    app: createClockBuffer(MAX_CLOCK_SLOTS.app),
  };
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T * 1000);
  open();
});

afterEach(async () => {
  vi.useRealTimers();
  await reader.close();
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('history', () => {
  /** Four commits; app a's entries, newest first, are A below. */
  function fourCommits(): void {
    send('a', '1', 'h1', 0, T + 1);
    send('a', '1', 'h2', 0, T + 2);
    commit();
    send('a', '2', 'h1', 0, T + 3);
    commit();
    send('a', '1', 'h1', 1, T + 4);
    send('a', '2', 'h2', 0, T + 5, '192.0.2.50');
    commit();
    send('b', '9', 'h1', 0, T + 6);
    vi.setSystemTime((T + 7) * 1000);
    remove({ appId: 'a', host: 'h2' });
    commit();
  }

  const e = (host: string, instance: number, ver: string | null, prev: string | null, time: number, app = 'a', ip: string | null = '192.0.2.9'): Entry => ({
    app,
    app_id: app,
    host,
    host_ip: ip,
    instance,
    ver,
    prev_ver: prev,
    time,
  });
  // App a, newest first: the removal (its own commit), then commit 3 (newest entry first), 2, 1.
  const A = [
    e('h2', 0, null, '2', T + 7, 'a', null),
    e('h2', 0, '2', '1', T + 5, 'a', '192.0.2.50'),
    e('h1', 1, '1', null, T + 4),
    e('h1', 0, '2', '1', T + 3),
    e('h2', 0, '1', null, T + 2),
    e('h1', 0, '1', null, T + 1),
  ];

  test("an app's entries, newest first, across commits; exact fields", () => {
    fourCommits();
    expect(history({ appId: 'a' })).toStrictEqual({ data: A });
    expect(history({ appId: 'b' })).toStrictEqual({ data: [e('h1', 0, '9', null, T + 6, 'b')] });
    expect(history({ appId: 'nope' })).toStrictEqual({ data: [] });
    expect(history({})).toStrictEqual({ data: [] });
  });

  test.each([1, 2, 3, 4, 5])('limit %i: pages concatenate to the full list; only the last page lacks next', (limit) => {
    fourCommits();
    const got = pages((cursor) => history({ appId: 'a', limit, cursor }));
    expect(got.map((p) => p.data.length)).toEqual(Array.from({ length: Math.ceil(A.length / limit) }, (_, i) => Math.min(limit, A.length - i * limit)));
    expect(got.flatMap((p) => p.data)).toStrictEqual(A);
    expect(got.slice(0, -1).every((p) => typeof p.next === 'string')).toBe(true);
    expect(got.at(-1)!.next).toBeUndefined();
  });

  test('a page that ends exactly at the last entry has no next (limit 6, and limit 3 after a block boundary)', () => {
    fourCommits();
    expect(history({ appId: 'a', limit: 6 })).toStrictEqual({ data: A });
    expect(history({ appId: 'a', limit: 7 })).toStrictEqual({ data: A });
    // Limit 3: the first page ends inside commit 3's block, the second exactly at the end.
    const first = history({ appId: 'a', limit: 3 });
    expect(first.data).toStrictEqual(A.slice(0, 3));
    expect(first.next).toEqual(expect.any(String));
    expect(history({ appId: 'a', limit: 3, cursor: first.next })).toStrictEqual({ data: A.slice(3) });
  });

  test("a page ending at a block's last entry resumes in the next older block", () => {
    fourCommits();
    // Limit 1: the first page is the removal, alone in its block.
    const first = history({ appId: 'a', limit: 1 });
    expect(first.data).toStrictEqual(A.slice(0, 1));
    const second = history({ appId: 'a', limit: 2, cursor: first.next });
    expect(second.data).toStrictEqual(A.slice(1, 3));
    expect(history({ appId: 'a', cursor: second.next })).toStrictEqual({ data: A.slice(3) });
  });

  test('a cursor of another query is refused with InvalidCursorError', () => {
    fourCommits();
    const app = history({ appId: 'a', limit: 1 }).next!;
    const host = history({ host: 'h1', limit: 1 }).next!;
    const version = versions({ appId: 'a' }, { limit: 1 }).next!;
    expect(() => reader.history({ appId: 'b', cursor: app })).toThrow(InvalidCursorError);
    expect(() => reader.history({ host: 'h1', cursor: app })).toThrow(InvalidCursorError);
    expect(() => reader.history({ appId: 'a', cursor: host })).toThrow(InvalidCursorError);
    expect(() => reader.history({ host: 'h2', cursor: host })).toThrow(InvalidCursorError);
    expect(() => reader.history({ appId: 'a', cursor: version })).toThrow(InvalidCursorError);
    expect(() => reader.versions({ appId: 'a' }, { cursor: app })).toThrow(InvalidCursorError);
    expect(() => reader.history({ appId: 'a', cursor: 'not-a-cursor' })).toThrow(new InvalidCursorError('does not belong to this query'));
    expect(() => reader.history({ appId: 'a', cursor: '' })).toThrow(InvalidCursorError);
    // Its own query still takes it.
    expect(history({ appId: 'a', cursor: app }).data).toStrictEqual(A.slice(1));
  });

  test("by host: the host's entries of every app, newest first", () => {
    fourCommits();
    expect(history({ host: 'h1' })).toStrictEqual({
      data: [e('h1', 0, '9', null, T + 6, 'b'), e('h1', 1, '1', null, T + 4), e('h1', 0, '2', '1', T + 3), e('h1', 0, '1', null, T + 1)],
    });
    expect(history({ host: 'h2' }).data).toStrictEqual([A[0], A[1], A[4]]);
    expect(history({ host: 'h3' })).toStrictEqual({ data: [] });
    const got = pages((cursor) => history({ host: 'h1', limit: 1, cursor }));
    expect(got.map((p) => p.data[0]!.time)).toEqual([T + 6, T + 4, T + 3, T + 1]);
  });

  test("by app + host + instance: only that instance's entries, and paging skips the others", () => {
    fourCommits();
    expect(history({ appId: 'a', host: 'h1', instance: 0 })).toStrictEqual({ data: [A[3], A[5]] });
    expect(history({ appId: 'a', host: 'h1', instance: 1 })).toStrictEqual({ data: [A[2]] });
    expect(history({ appId: 'a', host: 'h1' })).toStrictEqual({ data: [A[2], A[3], A[5]] });
    expect(history({ appId: 'b', host: 'h2' })).toStrictEqual({ data: [] });
    expect(history({ appId: 'a', instance: 0 }).data).toStrictEqual([A[0], A[1], A[3], A[4], A[5]]);
    const got = pages((cursor) => history({ appId: 'a', host: 'h1', instance: 0, limit: 1, cursor }));
    expect(got.map((p) => p.data)).toStrictEqual([[A[3]], [A[5]]]);
  });

  // The cursor stores the index of the page's last entry in its block as a
  // u16 (writeUInt16BE), but one commit's block for an app holds every
  // change of that app in the commit: with more than 65,536 entries (here
  // 65,538 first sights in one commit) the next page's cursor cannot be
  // written and the query throws a RangeError.
  test('history cursor: a page ending past entry 65,535 of a block gives next', () => {
    let time = T;
    for (let i = 0; i < 32_769; i++) {
      send('a', '1', 'h1', i, ++time);
      send('a', '1', 'h2', i, ++time);
    }
    commit();
    const first = history({ appId: 'a', limit: 1 });
    expect(first.data.map((x) => [x.host, x.instance])).toEqual([['h2', 32_768]]);
    expect(history({ appId: 'a', limit: 1, cursor: first.next }).data.map((x) => [x.host, x.instance])).toEqual([['h1', 32_768]]);
  });

  test('since: only entries after it (exclusive)', () => {
    fourCommits();
    expect(history({ appId: 'a', since: T + 3 }).data).toStrictEqual(A.slice(0, 3));
    expect(history({ appId: 'a', since: T + 2 }).data).toStrictEqual(A.slice(0, 4));
    expect(history({ appId: 'a', since: T + 7 })).toStrictEqual({ data: [] });
    expect(history({ appId: 'a', since: 0 }).data).toStrictEqual(A);
    expect(history({ host: 'h1', since: T + 3 }).data.map((x) => x.time)).toEqual([T + 6, T + 4]);
    const got = pages((cursor) => history({ appId: 'a', since: T + 2, limit: 3, cursor }));
    expect(got.map((p) => p.data)).toStrictEqual([A.slice(0, 3), A.slice(3, 4)]);
  });
});

describe('version/?host=H', () => {
  /** Host H runs c (2 instances), a (3), b (2); other hosts run a and c too. */
  function fleet(): void {
    send('c', '1', 'H', 1, T + 1);
    send('a', '1', 'H', 256, T + 2);
    send('a', '1', 'other', 0, T + 3);
    send('b', '1', 'H', 5, T + 4);
    send('a', '2', 'H', 2, T + 5);
    commit();
    send('c', '2', 'H', 0, T + 6);
    send('a', '1', 'H', 10, T + 7);
    send('b', '1', 'H', 0, T + 8);
    send('c', '1', 'zzz', 0, T + 9);
    commit();
  }
  // App key order, then instance order (numeric: u16 big-endian).
  const ORDER = ['a#2', 'a#10', 'a#256', 'b#0', 'b#5', 'c#0', 'c#1'];
  const ids = (rows: Row[]): string[] => rows.map((r) => `${r.app_id}#${r.instance}`);

  test('every instance of the host, app by app in key order, instances in numeric order; exact rows', () => {
    fleet();
    const all = versions({ host: 'H' });
    expect(all.next).toBeUndefined();
    expect(ids(all.data)).toEqual(ORDER);
    expect(all.data[0]).toStrictEqual({
      app: 'a',
      app_id: 'a',
      host: 'H',
      host_ip: '192.0.2.9',
      instance: 2,
      ver: '2',
      last_update: T + 5,
      status: 'up',
      since: T + 5,
    });
    expect(versions({ host: 'other' }).data.map((r) => r.app_id)).toEqual(['a']);
    expect(versions({ host: 'nobody' })).toStrictEqual({ data: [] });
  });

  test('limit 2: pages resume in the middle of an app and across apps', () => {
    fleet();
    const got = pages((cursor) => versions({ host: 'H' }, { limit: 2, cursor }));
    expect(got.map((p) => ids(p.data))).toEqual([['a#2', 'a#10'], ['a#256', 'b#0'], ['b#5', 'c#0'], ['c#1']]);
  });

  test('the full list as one page (limit 7) has no next; limit 6 leaves the last one', () => {
    fleet();
    expect(versions({ host: 'H' }, { limit: 7 }).next).toBeUndefined();
    const first = versions({ host: 'H' }, { limit: 6 });
    expect(ids(first.data)).toEqual(ORDER.slice(0, 6));
    expect(ids(versions({ host: 'H' }, { cursor: first.next }).data)).toEqual(['c#1']);
  });

  test('with app_id too: one app on the host', () => {
    fleet();
    expect(ids(versions({ host: 'H', appId: 'a' }).data)).toEqual(['a#2', 'a#10', 'a#256']);
    const got = pages((cursor) => versions({ host: 'H', appId: 'a' }, { limit: 1, cursor }));
    expect(got.map((p) => ids(p.data))).toEqual([['a#2'], ['a#10'], ['a#256']]);
  });

  test('a host cursor is refused by an app listing and the other way round', () => {
    fleet();
    const hostCursor = versions({ host: 'H' }, { limit: 2 }).next!;
    const appCursor = versions({ appId: 'a' }, { limit: 1 }).next!;
    expect(() => reader.versions({ appId: 'a' }, { cursor: hostCursor })).toThrow(InvalidCursorError);
    expect(() => reader.versions({ host: 'H' }, { cursor: appCursor })).toThrow(InvalidCursorError);
  });

  // The page-end key (lastKey) is local to one app's range scan: when a
  // page fills exactly at the last instance of an app and another app
  // follows, the next app's scan finds the page full with lastKey null and
  // encodeCursor(tag, null) throws a TypeError instead of giving `next`.
  test('version/?host=H: a page that fills at the end of an app (limit 3: all of a) gives next', () => {
    fleet();
    const first = versions({ host: 'H' }, { limit: 3 });
    expect(ids(first.data)).toEqual(['a#2', 'a#10', 'a#256']);
    expect(ids(versions({ host: 'H' }, { cursor: first.next }).data)).toEqual(ORDER.slice(3));
  });

  test('version/?host=H: limit 1 pages through the host across app boundaries', () => {
    fleet();
    const got = pages((cursor) => versions({ host: 'H' }, { limit: 1, cursor }));
    expect(got.map((p) => ids(p.data))).toEqual(ORDER.map((x) => [x]));
  });
});

describe('version/?app_id=A&ver=V', () => {
  function fleet(): void {
    send('a', '1', 'h1', 0, T + 1);
    send('a', '2', 'h1', 1, T + 2);
    send('a', '1', 'h2', 0, T + 3);
    send('a', '2', 'h3', 0, T + 4);
    send('a', '1', 'h4', 0, T + 5);
    send('a', '3', 'h5', 0, T + 6);
    send('b', '1', 'h1', 0, T + 7);
    commit();
  }

  test("only that app's instances with that version, in key order", () => {
    fleet();
    expect(versions({ appId: 'a', ver: '1' }).data.map((r) => [r.host, r.instance, r.ver])).toEqual([
      ['h1', 0, '1'],
      ['h2', 0, '1'],
      ['h4', 0, '1'],
    ]);
    expect(versions({ appId: 'a', ver: '2' }).data.map((r) => [r.host, r.instance])).toEqual([
      ['h1', 1],
      ['h3', 0],
    ]);
    expect(versions({ appId: 'a', ver: '4' })).toStrictEqual({ data: [] });
    expect(versions({ appId: 'b', ver: '1' }).data.map((r) => r.host)).toEqual(['h1']);
    // A prefix of a version is not the version.
    send('a', '10', 'h6', 0, T + 8);
    commit();
    expect(versions({ appId: 'a', ver: '1' }).data.map((r) => r.host)).toEqual(['h1', 'h2', 'h4']);
    expect(versions({ appId: 'a', ver: '10' }).data.map((r) => r.host)).toEqual(['h6']);
  });

  test('paged: the cursor skips the other versions', () => {
    fleet();
    const got = pages((cursor) => versions({ appId: 'a', ver: '1' }, { limit: 1, cursor }));
    expect(got.slice(0, 3).map((p) => p.data.map((r) => r.host))).toEqual([['h1'], ['h2'], ['h4']]);
  });

  test('a version with escapes matches by its JSON content', () => {
    send('a', 'v"1\\', 'h1', 0, T + 1);
    send('a', 'v1', 'h2', 0, T + 2);
    commit();
    expect(versions({ appId: 'a', ver: 'v"1\\' }).data.map((r) => [r.host, r.ver])).toEqual([['h1', 'v"1\\']]);
  });

  // `next` is set whenever a row follows a full page, before the filter
  // looks at it: a page holding the last match of a filtered scan still
  // carries next (leading to an empty page), though it was not cut short.
  test('version/?app_id=A&ver=V: the page holding the last match has no next when only non-matching rows follow', () => {
    fleet();
    // h4 is the last instance of version 1; h5 (version 3) follows it in the app's range.
    const got = pages((cursor) => versions({ appId: 'a', ver: '1' }, { limit: 1, cursor }));
    expect(got.map((p) => p.data.map((r) => r.host))).toEqual([['h1'], ['h2'], ['h4']]);
  });
});

describe('summaries agree with version/ after every commit', () => {
  type Counts = { ver: string; count: number; up_count: number; stale_count: number };

  function check(apps: string[]): void {
    for (const appId of apps) {
      const body = reader.app(appId);
      reader.release();
      const rows = versions({ appId }).data;
      if (body === null) {
        expect(rows, `app ${appId} has no summary but lists instances`).toEqual([]);
        continue;
      }
      const summary = (
        JSON.parse(body.view().toString('utf8')) as { data: [{ instance_count: number; up_count: number; stale_count: number; versions: Counts[] }] }
      ).data[0];
      const listed = new Map<string, Counts>();
      for (const r of rows) {
        const c = listed.get(r.ver as string) ?? { ver: r.ver as string, count: 0, up_count: 0, stale_count: 0 };
        c.count++;
        if (r.status === 'stale') c.stale_count++;
        else c.up_count++;
        listed.set(c.ver, c);
      }
      const byVer = (x: Counts, y: Counts): number => (x.ver < y.ver ? -1 : x.ver > y.ver ? 1 : 0);
      expect([...summary.versions].sort(byVer), `app ${appId}`).toEqual([...listed.values()].sort(byVer));
      expect(summary.instance_count).toBe(rows.length);
      expect(summary.stale_count).toBe(rows.filter((r) => r.status === 'stale').length);
      expect(summary.up_count).toBe(rows.filter((r) => r.status === 'up').length);
    }
  }

  /** version/?host=H lists exactly the host's rows of version/, in the same order; host/H counts them. */
  function checkHosts(hosts: string[]): void {
    const all = versions({}).data;
    for (const host of hosts) {
      const mine = all.filter((r) => r.host === host);
      expect(versions({ host }).data, `host ${host}`).toStrictEqual(mine);
      const body = reader.host(host);
      reader.release();
      if (mine.length === 0) {
        expect(body, `host ${host} has no instances but a summary`).toBeNull();
        continue;
      }
      const summary = (JSON.parse(body!.view().toString('utf8')) as { data: [Record<string, unknown>] }).data[0];
      expect(summary, `host ${host}`).toMatchObject({
        host,
        app_count: new Set(mine.map((r) => r.app_id)).size,
        instance_count: mine.length,
        stale_count: mine.filter((r) => r.status === 'stale').length,
      });
    }
  }

  test('a scripted run of first sights, version changes, repeats, DELETEs, --trim and --stale', async () => {
    await reader.close();
    await writer.close();
    open(250);
    const apps = ['a', 'b', 'c'];
    const hosts = ['h0', 'h1', 'h2', 'h3', 'h4'];
    let x = 7;
    const rnd = (m: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % m;
    };
    let now = T;
    for (let round = 0; round < 60; round++) {
      now += 1 + rnd(40);
      vi.setSystemTime(now * 1000);
      for (let i = rnd(12); i > 0; i--) {
        send(apps[rnd(3)]!, `${1 + rnd(4)}`, hosts[rnd(5)]!, rnd(3), now - rnd(5));
      }
      if (rnd(6) === 0) {
        const sel: Selector = {};
        if (rnd(2) === 0) sel.appId = apps[rnd(3)]!;
        if (rnd(2) === 0) sel.host = hosts[rnd(5)]!;
        if (rnd(3) === 0) sel.instance = rnd(3);
        remove(sel);
      }
      // Sweep at the time the reader judges status by.
      writer.fleet.sweep(now);
      commit();
      check(apps);
      checkHosts(hosts);
    }
  });
});
