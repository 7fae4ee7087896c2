// The fleet in cluster mode (src/store/fleet.ts with a ClusterState): the
// conflict rule applied to remote records, what goes into the outbox, the
// stored (content time, origin) trailer, tombstones, and a reload.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ClusterState, writeClock, writeOrigin } from '../../src/cluster/remote.js';
import { readWire } from '../../src/cluster/wire.js';
import { MAX_RECORD_BYTES, RecordFlag, RecordType, encodeControl, encodeUpdate } from '../../src/ingest/record.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { OpKind, eachOp } from '../../src/store/batch.js';
import { Committer } from '../../src/store/committer.js';
import { Fleet } from '../../src/store/fleet.js';
import { readClusterTrailer } from '../../src/store/instance-value.js';
import { DB, DbId, META, envOptions } from '../../src/store/layout.js';
import { buildKey } from '../../src/store/keys.js';
import { open as openLmdb } from 'lmdb';
import { loadFleet } from '../../src/store/loader.js';
import { StoreReader } from '../../src/store/reader.js';
import { encodeSelector } from '../../src/store/selector.js';
import { MAX_CLOCK_SLOTS, createClockBuffer, type ClockBuffers } from '../../src/store/slot-clock.js';

let dir: string;
let clocks: ClockBuffers;
let cluster: ClusterState;
let fleet: Fleet;
let committer: Committer;
let reader: StoreReader;
let nowMs = 1_800_000_000_000;
const T = 1_800_000_000;

function newClocks(): ClockBuffers {
  return { instance: createClockBuffer(MAX_CLOCK_SLOTS.instance), host: createClockBuffer(MAX_CLOCK_SLOTS.host), app: createClockBuffer(MAX_CLOCK_SLOTS.app) };
}

function open(): void {
  cluster = new ClusterState('mid');
  fleet = new Fleet({ trimSeconds: 0, staleSeconds: 0, historyDays: 0, cluster }, clocks);
  committer ??= new Committer(dir);
  loadFleet(dir, fleet);
  reader ??= new StoreReader(dir, clocks, 0);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'partisci-fleet-cluster-'));
  clocks = newClocks();
  open();
});

afterEach(async () => {
  await committer.close();
  await reader.close();
  (committer as unknown) = undefined;
  (reader as unknown) = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const parsed = new ParsedUpdate();
const buf = Buffer.alloc(MAX_RECORD_BYTES + 64);

/** An update record; with `origin`, as a remote record from that node. */
function send(ver: string, host: string, time: number, origin?: string, app = 'App', lastUpdate?: number): void {
  const body = Buffer.from(JSON.stringify({ app, ver, host, instance: 0 }));
  expect(parseUpdate(body, 0, body.length, parsed)).toBe(0);
  const ip = Buffer.from('10.0.0.1');
  let n = encodeUpdate(parsed, ip, 0, ip.length, time, 0, 0, buf);
  if (origin !== undefined) {
    buf[1] = RecordFlag.remote;
    n = writeOrigin(buf, n, Buffer.from(origin));
    if (lastUpdate !== undefined) n = writeClock(buf, n, lastUpdate);
  }
  fleet.apply(buf, 0, n);
}

function remove(sel: { appId?: string; host?: string }, time: number, origin?: string): void {
  const payload = encodeSelector(sel);
  let n = encodeControl(RecordType.remove, 1, time, payload, buf);
  if (origin !== undefined) {
    buf[1] = RecordFlag.remote;
    n = writeOrigin(buf, n, Buffer.from(origin));
  }
  fleet.apply(buf, 0, n);
}

/** Cuts and commits; returns the outbox message's records (as versions or control types) and the ops written. */
function commit(): { outbox: string[]; written: number; meta: Map<string, string> } {
  nowMs += 5000;
  const cut = fleet.cut(nowMs, { clocks: true });
  const outbox: string[] = [];
  const meta = new Map<string, string>();
  eachOp(cut.buffer, cut.length, (op) => {
    if (op.db === DbId.outbox && op.kind === OpKind.put) {
      const m = readWire(Buffer.from(op.value));
      expect(m.origin.toString()).toBe('mid');
      m.each((bytes, at, length) => {
        if (bytes[at] === RecordType.update) {
          const frag = bytes.subarray(at, at + length).toString('latin1');
          outbox.push(/"host":"([^"]*)".*"ver":"([^"]*)"/.exec(frag)!.slice(1).join('='));
        } else {
          outbox.push(`control:${bytes[at]}`);
        }
      });
    }
    if (op.db === DbId.meta && op.kind === OpKind.put) meta.set(Buffer.from(op.key).toString(), Buffer.from(op.value).toString());
  });
  committer.commit(cut);
  committer.release();
  fleet.committed(cut.id);
  reader.release();
  return { outbox, written: cut.written, meta };
}

function stored(host: string): { ver: string; trailer: { contentTime: number; origin: string } | null } | null {
  const rows = JSON.parse(reader.versions({ appId: 'app', host }).view().toString()) as { data: { ver: string }[] };
  if (rows.data.length === 0) return null;
  return { ver: rows.data[0]!.ver, trailer: trailerOf(host) };
}

function trailerOf(host: string): { contentTime: number; origin: string } | null {
  const env = openLmdb(envOptions(dir));
  const value = env.openDB<Buffer, Buffer>(DB.inst, { keyEncoding: 'binary', encoding: 'binary' }).getBinary(buildKey(['app', host], 0));
  void env.close();
  if (value === undefined) return null;
  const t = readClusterTrailer(value);
  return t === null ? null : { contentTime: t.contentTime, origin: Buffer.from(t.origin).toString() };
}

describe('local changes', () => {
  test("go into the batch's outbox entry, and the stored value carries (content time, this node)", () => {
    send('1.0', 'h1', T);
    send('1.0', 'h2', T);
    const c = commit();
    expect(c.outbox).toEqual(['h1=1.0', 'h2=1.0']);
    expect(stored('h1')).toEqual({ ver: '1.0', trailer: { contentTime: T, origin: 'mid' } });
    // A repeat changes nothing: no write, no outbox entry.
    send('1.0', 'h1', T + 5);
    expect(commit()).toMatchObject({ outbox: [], written: 0 });
  });

  test('a local DELETE travels in the outbox too', () => {
    send('1.0', 'h1', T);
    commit();
    remove({ appId: 'app', host: 'h1' }, T + 1);
    expect(commit().outbox).toEqual([`control:${RecordType.remove}`]);
  });

  test('every change travels in the order it was absorbed, several of one instance in one batch included', () => {
    send('1.0', 'h1', T);
    send('1.0', 'h2', T);
    send('1.1', 'h1', T + 1);
    send('1.1', 'h1', T + 2); // a repeat: not a change
    remove({ appId: 'app', host: 'h2' }, T + 2);
    send('1.2', 'h1', T + 3);
    expect(commit().outbox).toEqual(['h1=1.0', 'h2=1.0', 'h1=1.1', `control:${RecordType.remove}`, 'h1=1.2']);
    expect(stored('h1')).toEqual({ ver: '1.2', trailer: { contentTime: T + 3, origin: 'mid' } });
    expect(stored('h2')).toBeNull();
  });

  test('while the outbox is full its entries are dropped and the store is marked for a resync', () => {
    cluster.outboxOpen = () => false;
    send('1.0', 'h1', T);
    const c = commit();
    expect(c.outbox).toEqual([]);
    expect(c.meta.get(META.clusterResync)).toBe('1');
  });
});

describe('remote changes: the later update wins, the greater node name at the same second', () => {
  test('a newer remote change replaces the content and is not published again', () => {
    send('1.0', 'h1', T);
    commit();
    send('2.0', 'h1', T + 1, 'alpha');
    const c = commit();
    expect(c.outbox).toEqual([]);
    expect(c.written).toBe(1);
    expect(stored('h1')).toEqual({ ver: '2.0', trailer: { contentTime: T + 1, origin: 'alpha' } });
  });

  test('an older remote change loses; at the same second the node name decides', () => {
    send('1.0', 'h1', T);
    commit();
    send('0.9', 'h1', T - 1, 'zeta');
    send('0.8', 'h1', T, 'alpha'); // 'alpha' < 'mid'
    expect(commit().written).toBe(0);
    expect(cluster.lost).toBe(2);
    expect(stored('h1')!.ver).toBe('1.0');
    send('1.1', 'h1', T, 'zeta'); // 'zeta' > 'mid'
    commit();
    expect(stored('h1')!.ver).toBe('1.1');
  });

  test('the same content from a peer moves only (time, origin) and the clock: no write', () => {
    send('1.0', 'h1', T);
    commit();
    send('1.0', 'h1', T + 30, 'alpha');
    expect(commit().written).toBe(0);
    const row = JSON.parse(reader.versions({ appId: 'app', host: 'h1' }).view().toString()).data[0] as { last_update: number };
    expect(row.last_update).toBe(T + 30);
  });

  test('a remote DELETE removes only content older than itself; a change older than it, arriving later, is buried', () => {
    send('1.0', 'old', T);
    send('1.0', 'new', T + 10);
    commit();
    remove({ appId: 'app' }, T + 5, 'alpha');
    commit();
    expect(stored('old')).toBeNull();
    expect(stored('new')!.ver).toBe('1.0');
    // A change to 'old' from before the removal, late.
    send('0.5', 'old', T + 4, 'zeta');
    commit();
    expect(stored('old')).toBeNull();
    // After it: a new life.
    send('2.0', 'old', T + 6, 'zeta');
    commit();
    expect(stored('old')!.ver).toBe('2.0');
  });

  test('a state record (snapshot, resync) brings its last_update, later than its content time', () => {
    send('1.0', 'h1', T, 'alpha', 'App', T + 100);
    commit();
    const row = () => JSON.parse(reader.versions({ appId: 'app', host: 'h1' }).view().toString()).data[0] as { last_update: number; since: number };
    expect(row()).toMatchObject({ last_update: T + 100, since: T });
    // The same content again, heard later still: only the clock moves.
    send('1.0', 'h1', T, 'alpha', 'App', T + 200);
    expect(commit().written).toBe(0);
    expect(row().last_update).toBe(T + 200);
  });

  test('(content time, origin) survive a reload', () => {
    send('2.0', 'h1', T + 1, 'alpha');
    commit();
    open();
    send('1.9', 'h1', T, 'zeta');
    expect(commit().written).toBe(0);
    send('2.1', 'h1', T + 2, 'beta');
    commit();
    expect(stored('h1')).toEqual({ ver: '2.1', trailer: { contentTime: T + 2, origin: 'beta' } });
  });
});
