// The store reader: read-only queries over LMDB, answered as JSON bytes
// built from the stored fragments (see layout.ts). Every method runs
// synchronously inside one LMDB read transaction (lmdb-js renews the
// thread's read snapshot lazily and releases it on the next event-loop
// turn), so an answer is a consistent snapshot and no reader holds a
// transaction across turns: the writer's freed pages get reused.
//
// last_update comes from the writer's shared clocks (slot-clock.ts), which
// are ahead of LMDB for repeated updates; a stored record's own written_at
// covers the moment between its commit and the clock's. An instance's
// status (up/stale) is decided here, from last_update and --stale.
//
// Lists take `limit` and an opaque `cursor` (the last key read, with a tag
// naming the table it belongs to); an answer cut short carries `next`.

import { open, type Database, type RootDatabase } from 'lmdb';
import { buildKey, prefixEnd } from './keys.js';
import { JsonBytes } from './json-bytes.js';
import {
  DB, INSTANCE_HEADER, SUMMARY_HEADER, S_SLOT, S_WRITTEN_AT, V_SINCE, V_SLOT, V_VER_LEN, V_VER_OFF, V_WRITTEN_AT, envOptions,
} from './layout.js';
import type { ClockBuffers } from './slot-clock.js';
import { historyTime } from './history.js';
import { RowStream, u16, u32 } from './row-stream.js';

export interface VersionFilter {
  appId?: string;
  host?: string;
  ver?: string;
  status?: 'up' | 'stale';
  /** Only instances updated after this time (unix seconds). */
  since?: number;
}

export interface Page {
  limit?: number;
  cursor?: string;
}

export interface HistoryFilter {
  appId?: string;
  host?: string;
  instance?: number;
  since?: number;
  limit?: number;
  cursor?: string;
}

export class CursorError extends Error {
  override name = 'CursorError';
}

const DATA_OPEN = '{"data":[';

/** Cursor tags: which table's key a cursor holds. */
const Tag = { inst: 105, byhost: 104, byver: 118, apps: 97, hosts: 115, history: 72 } as const;

function encodeCursor(tag: number, key: Uint8Array): string {
  const b = Buffer.allocUnsafe(key.length + 1);
  b[0] = tag;
  b.set(key, 1);
  return b.toString('base64url');
}

function decodeCursor(cursor: string, tag: number): Buffer {
  const b = Buffer.from(cursor, 'base64url');
  if (b.length < 2 || b[0] !== tag || b.toString('base64url') !== cursor) throw new CursorError('cursor does not belong to this query');
  return b.subarray(1);
}

export class StoreReader {
  readonly #env: RootDatabase;
  readonly #inst: Database<Buffer, Buffer>;
  readonly #apps: Database<Buffer, Buffer>;
  readonly #hosts: Database<Buffer, Buffer>;
  readonly #history: Database<Buffer, Buffer>;
  readonly #appvers: Database<Buffer, Buffer>;
  readonly #histhost: Database<Buffer, Buffer>;
  readonly #instRows: RowStream;
  readonly #byhostRows: RowStream;
  readonly #byverRows: RowStream;
  readonly #appsRows: RowStream;
  readonly #hostsRows: RowStream;
  readonly #instClock: Uint32Array;
  readonly #hostClock: Uint32Array;
  readonly #appClock: Uint32Array;
  readonly #staleSeconds: number;

  constructor(path: string, clocks: ClockBuffers, staleSeconds = 0) {
    this.#env = open(envOptions(path));
    // Length-tracking views: they follow the buffers as the writer grows them.
    this.#instClock = new Uint32Array(clocks.instance);
    this.#hostClock = new Uint32Array(clocks.host);
    this.#appClock = new Uint32Array(clocks.app);
    this.#staleSeconds = staleSeconds;
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.#inst = this.#env.openDB<Buffer, Buffer>(DB.inst, bin);
    this.#apps = this.#env.openDB<Buffer, Buffer>(DB.apps, bin);
    this.#hosts = this.#env.openDB<Buffer, Buffer>(DB.hosts, bin);
    this.#history = this.#env.openDB<Buffer, Buffer>(DB.history, bin);
    this.#appvers = this.#env.openDB<Buffer, Buffer>(DB.appvers, bin);
    this.#histhost = this.#env.openDB<Buffer, Buffer>(DB.histhost, bin);
    this.#instRows = new RowStream(this.#env, DB.inst);
    this.#byhostRows = new RowStream(this.#env, DB.byhost);
    this.#byverRows = new RowStream(this.#env, DB.byver);
    this.#appsRows = new RowStream(this.#env, DB.apps);
    this.#hostsRows = new RowStream(this.#env, DB.hosts);
  }

  // --- summaries ------------------------------------------------------------

  /** GET app/: {"data":[{app, app_id, host_count, instance_count, up_count, stale_count, last_update}]} */
  appList(page: Page = {}, out = new JsonBytes()): JsonBytes {
    return this.#summaries(this.#appsRows, this.#appClock, Tag.apps, page, out);
  }

  /** GET host/: {"data":[{host, app_count, instance_count, up_count, stale_count, last_update}]} */
  hostList(page: Page = {}, out = new JsonBytes()): JsonBytes {
    return this.#summaries(this.#hostsRows, this.#hostClock, Tag.hosts, page, out);
  }

  #summaries(rows: RowStream, clock: Uint32Array, tag: number, page: Page, out: JsonBytes): JsonBytes {
    const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, tag);
    const limit = page.limit ?? Infinity;
    out.ascii(DATA_OPEN);
    let n = 0;
    let last: Buffer | null = null;
    let next: string | null = null;
    rows.each(start, undefined, start !== undefined, (key, keyLength, value, size) => {
      if (n === limit) {
        next = encodeCursor(tag, last!);
        return false;
      }
      if (n > 0) out.ascii(',');
      this.#summary(value, size, clock, out).ascii('}');
      n++;
      if (n === limit) last = Buffer.from(key.subarray(0, keyLength));
      return true;
    });
    out.ascii(']');
    if (next !== null) out.ascii(`,"next":"${next}"`);
    return out.ascii('}');
  }

  #summary(value: Uint8Array, size: number, clock: Uint32Array, out: JsonBytes): JsonBytes {
    const t = Math.max(u32(value, S_WRITTEN_AT), clock[u32(value, S_SLOT)] ?? 0);
    return out.bytes(value, SUMMARY_HEADER, size).uint(t);
  }

  /** GET app/A: the app's summary with its versions, or null if unknown. */
  app(appId: string, out = new JsonBytes()): JsonBytes | null {
    const key = buildKey([appId]);
    const value = this.#apps.getBinary(key);
    if (value === undefined) return null;
    out.ascii(DATA_OPEN);
    this.#summary(value, value.length, this.#appClock, out).ascii(',"versions":');
    out.bytes(this.#appvers.getBinary(key) ?? Buffer.from('[]'));
    return out.ascii('}]}');
  }

  /** GET host/H: the host's summary, or null if unknown. */
  host(host: string, out = new JsonBytes()): JsonBytes | null {
    const value = this.#hosts.getBinary(buildKey([host]));
    if (value === undefined) return null;
    out.ascii(DATA_OPEN);
    return this.#summary(value, value.length, this.#hostClock, out).ascii('}]}');
  }

  /** Per app: its versions' counts (for /metrics). */
  versionCounts(): { appId: string; versions: { ver: string; count: number; up_count: number; stale_count: number }[] }[] {
    const out = [];
    for (const { key, value } of this.#appvers.getRange({})) {
      out.push({ appId: key.subarray(0, key.length - 1).toString('latin1'), versions: JSON.parse(value.toString('utf8')) as { ver: string; count: number; up_count: number; stale_count: number }[] });
    }
    return out;
  }

  // --- versions -------------------------------------------------------------

  /** GET version/ with any combination of filters, optionally paged. */
  versions(filter: VersionFilter, page: Page = {}, out = new JsonBytes()): JsonBytes {
    const { appId, host, ver, status, since } = filter;
    const verJson = ver === undefined ? null : Buffer.from(JSON.stringify(ver).slice(1, -1));
    const clock = this.#instClock;
    const staleBefore = this.#staleSeconds > 0 ? Math.floor(Date.now() / 1000) - this.#staleSeconds : -Infinity;
    const limit = page.limit ?? Infinity;
    let n = 0;
    let next: string | null = null;

    /** Emits one instance (unless a filter drops it). */
    const emit = (value: Uint8Array, size: number): void => {
      if (verJson !== null) {
        const at = INSTANCE_HEADER + u16(value, V_VER_OFF);
        const len = u16(value, V_VER_LEN);
        if (len !== verJson.length) return;
        for (let i = 0; i < len; i++) if (value[at + i] !== verJson[i]) return;
      }
      const t = Math.max(u32(value, V_WRITTEN_AT), clock[u32(value, V_SLOT)] ?? 0);
      const stale = t < staleBefore;
      if (status !== undefined && stale !== (status === 'stale')) return;
      if (since !== undefined && t <= since) return;
      if (n > 0) out.ascii(',');
      n++;
      out.bytes(value, INSTANCE_HEADER, size).uint(t).ascii(stale ? ',"status":"stale","since":' : ',"status":"up","since":');
      out.uint(u32(value, V_SINCE)).ascii('}');
    };
    /**
     * Scans a table under prefix (from the cursor on). Rows of inst are
     * instances; rows of an index are resolved (by key) to one.
     */
    const scan = (rows: RowStream, tag: number, prefix: Buffer, resolve: ((key: Uint8Array, keyLength: number) => Buffer | undefined) | null): void => {
      const from = page.cursor === undefined ? prefix : decodeCursor(page.cursor, tag);
      const end = prefix.length === 0 ? undefined : prefixEnd(prefix);
      let lastKey: Uint8Array | null = null;
      let lastLength = 0;
      rows.each(from, end, page.cursor !== undefined, (key, keyLength, value, size) => {
        if (n === limit) {
          next = encodeCursor(tag, lastKey!.subarray(0, lastLength));
          return false;
        }
        if (resolve === null) {
          emit(value, size);
        } else {
          const inst = resolve(key, keyLength);
          if (inst !== undefined) emit(inst, inst.length);
        }
        // The key buffer is reused for the next row: keep a copy only at a page's end.
        if (n === limit) {
          lastKey = Buffer.from(key.subarray(0, keyLength));
          lastLength = keyLength;
        }
        return true;
      });
    };

    out.ascii(DATA_OPEN);
    if (appId !== undefined && host !== undefined) {
      scan(this.#instRows, Tag.inst, buildKey([appId, host]), null);
    } else if (appId !== undefined && ver !== undefined) {
      // byver: app_id| ver| host| instance -> inst: app_id| host| instance
      const appPrefix = buildKey([appId]);
      const prefix = buildKey([appId, ver]);
      const instKey = Buffer.alloc(4096);
      instKey.set(appPrefix, 0);
      scan(this.#byverRows, Tag.byver, prefix, (key, keyLength) => {
        instKey.set(key.subarray(prefix.length, keyLength), appPrefix.length);
        return this.#inst.getBinaryFast(instKey.subarray(0, appPrefix.length + keyLength - prefix.length));
      });
    } else if (appId !== undefined) {
      scan(this.#instRows, Tag.inst, buildKey([appId]), null);
    } else if (host !== undefined) {
      // byhost: host| app_id| instance -> inst: app_id| host| instance
      const prefix = buildKey([host]);
      scan(this.#byhostRows, Tag.byhost, prefix, (key, keyLength) => {
        const rest = Buffer.from(key.subarray(prefix.length, keyLength));
        const appEnd = rest.indexOf(0) + 1;
        return this.#inst.getBinaryFast(Buffer.concat([rest.subarray(0, appEnd), prefix, rest.subarray(appEnd)]));
      });
    } else {
      scan(this.#instRows, Tag.inst, Buffer.alloc(0), null);
    }
    out.ascii(']');
    if (next !== null) out.ascii(`,"next":"${next}"`);
    return out.ascii('}');
  }

  // --- history --------------------------------------------------------------

  /**
   * GET history/: entries of an app (on a host, of an instance), newest
   * first. Without an app, the entries of every app on the host.
   */
  history(filter: HistoryFilter, out = new JsonBytes()): JsonBytes {
    const prefixes: Buffer[] = [];
    if (filter.appId !== undefined) {
      prefixes.push(filter.host === undefined ? buildKey([filter.appId]) : buildKey([filter.appId, filter.host], filter.instance));
    } else if (filter.host !== undefined) {
      // Every app the host ever had (histhost: host| app_id|).
      const hostKey = buildKey([filter.host]);
      for (const key of this.#histhost.getKeys({ start: hostKey, end: prefixEnd(hostKey) })) {
        const app = key.subarray(hostKey.length, key.length - 1).toString('latin1');
        prefixes.push(buildKey([app, filter.host], filter.instance));
      }
    }
    const since = filter.since ?? -1;
    // Newest first across instances; ties in time by key, so the order is
    // total and a cursor (the last entry's key) says where a page ended.
    const after = filter.cursor === undefined ? null : decodeCursor(filter.cursor, Tag.history);
    const entries: { time: number; key: Buffer; value: Buffer }[] = [];
    for (const prefix of prefixes) {
      for (const { key, value } of this.#history.getRange({ start: prefix, end: prefixEnd(prefix) })) {
        if (filter.instance !== undefined && filter.appId !== undefined && filter.host === undefined) {
          const at = key.length - 10;
          if (((key[at]! << 8) | key[at + 1]!) !== filter.instance) continue;
        }
        const time = historyTime(key);
        if (time > since) entries.push({ time, key, value });
      }
    }
    const order = (a: { time: number; key: Buffer }, b: { time: number; key: Buffer }): number => b.time - a.time || Buffer.compare(a.key, b.key);
    entries.sort(order);
    let first = 0;
    if (after !== null) {
      const at = { time: historyTime(after), key: after };
      while (first < entries.length && order(entries[first]!, at) <= 0) first++;
    }
    const end = Math.min(first + (filter.limit ?? Infinity), entries.length);
    out.ascii(DATA_OPEN);
    for (let i = first; i < end; i++) {
      if (i > first) out.ascii(',');
      out.bytes(entries[i]!.value);
    }
    out.ascii(']');
    if (end < entries.length && end > first) out.ascii(`,"next":"${encodeCursor(Tag.history, entries[end - 1]!.key)}"`);
    return out.ascii('}');
  }

  /** Every history entry of an app, as parsed objects (for the rollout). */
  appHistory(appId: string): { key: Buffer; time: number; ver: string | null }[] {
    const prefix = buildKey([appId]);
    const out = [];
    for (const { key, value } of this.#history.getRange({ start: prefix, end: prefixEnd(prefix) })) {
      const entry = JSON.parse(value.toString('utf8')) as { ver: string | null };
      out.push({ key: Buffer.from(key.subarray(0, key.length - 8)), time: historyTime(key), ver: entry.ver });
    }
    return out;
  }

  /**
   * Ends this thread's read snapshot now. lmdb-js would end it on the next
   * event-loop turn, but a piscina thread waiting for its next task does
   * not turn its loop: without this it would answer from an old snapshot
   * (and keep LMDB from reusing freed pages).
   */
  release(): void {
    this.#inst.resetReadTxn();
  }

  /** Stored instance, host and app counts and the data file's size. */
  stats(): { instances: number; hosts: number; apps: number; mapBytes: number } {
    const count = (db: Database<Buffer, Buffer>): number => (db.getStats() as { entryCount: number }).entryCount;
    const env = this.#env.getStats() as { lastPageNumber?: number; pageSize?: number };
    return {
      instances: count(this.#inst),
      hosts: count(this.#hosts),
      apps: count(this.#apps),
      mapBytes: ((env.lastPageNumber ?? 0) + 1) * (env.pageSize ?? 4096),
    };
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}
