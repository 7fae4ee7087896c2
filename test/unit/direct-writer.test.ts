// The writer's fleet and the committer in one thread (DirectWriter):
// coalescing, summaries, history, removals and reload, checked through the
// store reader.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MAX_RECORD_BYTES, RecordFlag, RecordType, encodeControl, encodeUpdate } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { StoreReader } from '../../src/store/reader.js';
import { encodeSelector } from '../../src/store/selector.js';
import { MAX_CLOCK_SLOTS, createClockBuffer, type ClockBuffers } from '../../src/store/slot-clock.js';
import { DirectWriter } from '../../src/store/direct-writer.js';

let dir: string;
let clocks: ClockBuffers;
let writer: DirectWriter;
let reader: StoreReader;
const now = 1_800_000_000;
let nowMs = 0;

function newClocks(): ClockBuffers {
  return { instance: createClockBuffer(MAX_CLOCK_SLOTS.instance), host: createClockBuffer(MAX_CLOCK_SLOTS.host), app: createClockBuffer(MAX_CLOCK_SLOTS.app) };
}

function open(trimSeconds = 0): void {
  writer = new DirectWriter({ path: dir, trimSeconds, staleSeconds: 100, historyDays: 0 }, clocks);
  writer.load();
  reader = new StoreReader(dir, clocks, 100);
}

const parsed = new ParsedUpdate();
const rec = new Uint8Array(MAX_RECORD_BYTES);
const ip = Buffer.from('192.0.2.9');

/** Feeds one update to the writer, as an ingest worker would. */
function send(app: string, ver: string, host: string, instance = 0, opts: { time?: number; http?: number } = {}): void {
  const body = Buffer.from(JSON.stringify({ app, ver, host, instance }));
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(0);
  const len = encodeUpdate(parsed, ip, 0, ip.length, opts.time ?? now, opts.http ?? 0, opts.http === undefined ? 0 : RecordFlag.http, rec);
  writer.apply(rec, 0, len);
}

/** Commits until nothing is pending; returns the results summed. */
function commitAll(): { applied: number; written: number; removed: number; ackSeq: number } {
  const total = { applied: 0, written: 0, removed: 0, ackSeq: 0 };
  do {
    nowMs += 5000;
    const r = writer.commit(nowMs, { clocks: true });
    total.applied += r.applied;
    total.written += r.written;
    total.removed += r.removed;
    total.ackSeq = Math.max(total.ackSeq, r.ackSeq);
  } while (writer.backlog.instances > 0);
  reader.release();
  return total;
}

function versions(q = {}): Record<string, unknown>[] {
  const out = JSON.parse(reader.versions(q).view().toString()) as { data: Record<string, unknown>[] };
  reader.release();
  return out.data;
}

function list(kind: 'app' | 'host'): Record<string, unknown>[] {
  const body = kind === 'app' ? reader.appList() : reader.hostList();
  const out = JSON.parse(body.view().toString()) as { data: Record<string, unknown>[] };
  reader.release();
  return out.data.map(({ last_update: _, ...rest }) => rest);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'partisci-writer-'));
  clocks = newClocks();
  open();
});

afterEach(async () => {
  await reader.close();
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('coalescing', () => {
  test('repeated updates of one instance are one write; every update counts as applied', () => {
    send('a', '1', 'h');
    send('a', '1', 'h', 0, { time: now + 1 });
    send('a', '2', 'h', 0, { time: now + 2 });
    send('a', '2', 'h', 0, { time: now + 3 });
    expect(writer.backlog.instances).toBe(1);
    const r = commitAll();
    expect(r.written).toBe(1);
    expect(r.applied).toBe(4);
    const [row] = versions();
    expect(row).toMatchObject({ app: 'a', host: 'h', ver: '2', last_update: now + 3, host_ip: '192.0.2.9', status: 'up' });
  });

  test('a repeat after a commit only moves last_update (no write)', () => {
    send('a', '1', 'h');
    commitAll();
    send('a', '1', 'h', 0, { time: now + 50 });
    expect(writer.backlog.instances).toBe(0);
    const r = commitAll();
    expect(r.written).toBe(0);
    expect(r.applied).toBe(1);
    expect(versions()[0]!.last_update).toBe(now + 50);
  });

  test('an HTTP update is always written and acknowledged by its sequence number', () => {
    send('a', '1', 'h');
    commitAll();
    send('a', '1', 'h', 0, { http: 41 });
    const r = commitAll();
    expect(r).toMatchObject({ written: 1, ackSeq: 41 });
  });
});

describe('summaries', () => {
  test('host_count counts distinct hosts, app_count distinct apps, instances all of them', () => {
    send('a', '1', 'h1', 0);
    send('a', '1', 'h1', 1);
    send('a', '2', 'h2', 0);
    send('b', '1', 'h1', 0);
    commitAll();
    expect(list('app')).toEqual([
      { app: 'a', app_id: 'a', host_count: 2, instance_count: 3, up_count: 3, stale_count: 0 },
      { app: 'b', app_id: 'b', host_count: 1, instance_count: 1, up_count: 1, stale_count: 0 },
    ]);
    expect(list('host')).toEqual([
      { host: 'h1', app_count: 2, instance_count: 3, up_count: 3, stale_count: 0 },
      { host: 'h2', app_count: 1, instance_count: 1, up_count: 1, stale_count: 0 },
    ]);
    const app = JSON.parse(reader.app('a')!.view().toString()).data[0];
    expect(app.versions).toEqual([
      { ver: '1', count: 2, up_count: 2, stale_count: 0 },
      { ver: '2', count: 1, up_count: 1, stale_count: 0 },
    ]);
  });

  test('the app name follows its latest update; app_id groups spellings', () => {
    send('Demo App', '1', 'h1');
    send('demo-app', '1', 'h2');
    commitAll();
    expect(list('app')).toEqual([{ app: 'demo-app', app_id: 'demo_app', host_count: 2, instance_count: 2, up_count: 2, stale_count: 0 }]);
  });

  test('stale instances are counted once --stale passes, and up again after an update', () => {
    send('a', '1', 'h1');
    send('a', '1', 'h2', 0, { time: now + 200 });
    writer.fleet.sweep(now + 150);
    commitAll();
    expect(list('app')[0]).toMatchObject({ instance_count: 2, up_count: 1, stale_count: 1 });
    send('a', '1', 'h1', 0, { time: now + 201 });
    commitAll();
    expect(list('app')[0]).toMatchObject({ up_count: 2, stale_count: 0 });
  });
});

describe('removals', () => {
  test('--trim removes old instances, and summaries that are left empty', async () => {
    await reader.close();
    await writer.close();
    open(60);
    send('a', '1', 'old', 0, { time: now });
    send('a', '1', 'new', 0, { time: now + 100 });
    commitAll();
    expect(writer.fleet.sweep(now + 100)).toBe(1);
    const r = commitAll();
    expect(r.removed).toBe(1);
    expect(versions().map((v) => v.host)).toEqual(['new']);
    expect(list('host')).toEqual([{ host: 'new', app_count: 1, instance_count: 1, up_count: 1, stale_count: 0 }]);
    expect(list('app')).toEqual([{ app: 'a', app_id: 'a', host_count: 1, instance_count: 1, up_count: 1, stale_count: 0 }]);
  });

  test('a remove selector (DELETE) takes the matching instances, and counts them', () => {
    send('a', '1', 'h', 0);
    send('a', '1', 'h', 1);
    send('b', '1', 'h', 0);
    commitAll();
    const control = new Uint8Array(512);
    const len = encodeControl(RecordType.remove, 7, now, encodeSelector({ appId: 'a', host: 'h', instance: 1 }), control);
    writer.apply(control, 0, len);
    nowMs += 5000;
    const r = writer.commit(nowMs);
    expect(r.results).toEqual([[7, 1]]);
    expect(r.ackSeq).toBe(7);
    reader.release();
    expect(versions().map((v) => `${v.app_id}#${v.instance}`)).toEqual(['a#0', 'b#0']);
  });

  test('a removed key can come back at once, and is stored again', () => {
    send('a', '1', 'h');
    commitAll();
    const control = new Uint8Array(512);
    writer.apply(control, 0, encodeControl(RecordType.remove, 1, now, encodeSelector({ appId: 'a', host: 'h' }), control));
    send('a', '2', 'h');
    commitAll();
    expect(versions().map((v) => v.ver)).toEqual(['2']);
  });
});

describe('restart', () => {
  test('a new writer on the same folder serves the same state (and repeats stay repeats)', async () => {
    send('a', '1', 'h1', 0);
    send('b', '2', 'h2', 3);
    commitAll();
    const before = versions();
    await reader.close();
    await writer.close();
    clocks = newClocks();
    open();
    expect(versions()).toEqual(before);
    expect(writer.counts).toEqual({ instances: 2, hosts: 2, apps: 2 });
    send('a', '1', 'h1', 0, { time: now + 1 });
    expect(writer.backlog.instances).toBe(0);
  });
});
