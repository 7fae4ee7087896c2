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
// Lists take `limit` and an opaque `cursor` (cursor.ts); an answer cut
// short carries `next`.

import { open, type Database, type RootDatabase } from 'lmdb';
import { InvalidCursorError } from '../errors.js';
import { Tag, decodeCursor, encodeCursor } from './cursor.js';
import { blockNewest, bucketPart, entryOffsets, hostBucket, newEntryView, readEntry, writeEntryJson, type EntryView } from './history.js';
import { JsonBytes } from './json-bytes.js';
import { buildKey, prefixEnd, splitKey } from './keys.js';
import { valueLabels, verLength, verOffset, writeVersionJson } from './instance-value.js';
import { LabelFilter, type LabelPair } from './label-filter.js';
import { DB, META, INSTANCE_HEADER, SUMMARY_HEADER, S_SLOT, S_WRITTEN_AT, V_APP_LEN, V_SINCE, V_SLOT, V_WRITTEN_AT, envOptions } from './layout.js';
import { RowStream, u32 } from './row-stream.js';
import { SlotClock, type ClockBuffers } from './slot-clock.js';
import { jsonText } from './json-text.js';
import { summaryAppKeys, summaryFragEnd } from './summaries.js';

export interface VersionFilter {
  appId?: string;
  host?: string;
  ver?: string;
  status?: 'up' | 'stale';
  /** Only instances updated after this time (unix seconds). */
  since?: number;
  /** Only instances carrying every one of these labels. */
  labels?: LabelPair[];
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
  /** Only entries whose instance carried every one of these labels then. */
  labels?: LabelPair[];
}

/** One history entry, for the rollout: who, when, which version (null: removed). */
export interface HistoryPoint {
  /** host (JSON content) and instance: the same string for the same instance. */
  id: string;
  time: number;
  ver: string | null;
}

const DATA_OPEN = '{"data":[';
const jsonContent = (s: string): Buffer => Buffer.from(JSON.stringify(s).slice(1, -1));
const utf8 = new TextDecoder();

export class StoreReader {
  readonly #env: RootDatabase;
  readonly #inst: Database<Buffer, Buffer>;
  readonly #apps: Database<Buffer, Buffer>;
  readonly #hosts: Database<Buffer, Buffer>;
  readonly #appvers: Database<Buffer, Buffer>;
  readonly #history: Database<Buffer, Buffer>;
  readonly #histhost: Database<Buffer, Buffer>;
  readonly #instRows: RowStream;
  readonly #appsRows: RowStream;
  readonly #hostsRows: RowStream;
  readonly #clocks: ClockBuffers;
  readonly #staleSeconds: number;

  constructor(path: string, clocks: ClockBuffers, staleSeconds = 0) {
    this.#env = open(envOptions(path));
    this.#clocks = clocks;
    this.#staleSeconds = staleSeconds;
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.#inst = this.#env.openDB<Buffer, Buffer>(DB.inst, bin);
    this.#apps = this.#env.openDB<Buffer, Buffer>(DB.apps, bin);
    this.#hosts = this.#env.openDB<Buffer, Buffer>(DB.hosts, bin);
    this.#appvers = this.#env.openDB<Buffer, Buffer>(DB.appvers, bin);
    this.#history = this.#env.openDB<Buffer, Buffer>(DB.history, bin);
    this.#histhost = this.#env.openDB<Buffer, Buffer>(DB.histhost, bin);
    this.#instRows = new RowStream(this.#env, DB.inst);
    this.#appsRows = new RowStream(this.#env, DB.apps);
    this.#hostsRows = new RowStream(this.#env, DB.hosts);
  }

  // --- summaries ------------------------------------------------------------

  /** GET app/: {"data":[{app, app_id, host_count, instance_count, up_count, stale_count, last_update}]} */
  appList(page: Page = {}, out = new JsonBytes()): JsonBytes {
    return this.#summaries(this.#appsRows, SlotClock.view(this.#clocks.app), Tag.apps, page, out);
  }

  /** GET host/: {"data":[{host, app_count, instance_count, up_count, stale_count, last_update}]} */
  hostList(page: Page = {}, out = new JsonBytes()): JsonBytes {
    return this.#summaries(this.#hostsRows, SlotClock.view(this.#clocks.host), Tag.hosts, page, out);
  }

  #summaries(rows: RowStream, clock: Uint32Array, tag: number, page: Page, out: JsonBytes): JsonBytes {
    const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, tag);
    const limit = page.limit ?? Infinity;
    out.ascii(DATA_OPEN);
    let n = 0;
    let last: Buffer | null = null;
    let next: string | null = null;
    rows.each(start, undefined, start !== undefined, (key, keyLength, value) => {
      if (n === limit) {
        next = encodeCursor(tag, last!);
        return false;
      }
      if (n > 0) out.ascii(',');
      this.#summary(value, clock, out).ascii('}');
      n++;
      if (n === limit) last = Buffer.from(key.subarray(0, keyLength));
      return true;
    });
    out.ascii(']');
    if (next !== null) out.ascii(`,"next":"${next}"`);
    return out.ascii('}');
  }

  #summary(value: Uint8Array, clock: Uint32Array, out: JsonBytes): JsonBytes {
    const t = Math.max(u32(value, S_WRITTEN_AT), clock[u32(value, S_SLOT)] ?? 0);
    return out.bytes(value, SUMMARY_HEADER, summaryFragEnd(value)).uint(t);
  }

  /**
   * GET app/ and host/ with label filters: the summaries of the instances
   * that carry every label, counted from a scan of every instance (a
   * summary's stored counts cover all of its instances). Same shape and
   * order as the unfiltered lists, without label_counts.
   */
  labelledSummaries(kind: 'app' | 'host', labels: LabelPair[], page: Page = {}, out = new JsonBytes()): JsonBytes {
    const filter = new LabelFilter(labels);
    const tag = kind === 'app' ? Tag.apps : Tag.hosts;
    const after = page.cursor === undefined ? null : decodeCursor(page.cursor, tag);
    const clock = SlotClock.view(this.#clocks.instance);
    const staleBefore = this.#staleSeconds > 0 ? Math.floor(Date.now() / 1000) - this.#staleSeconds : -Infinity;
    interface Sum {
      name: string;
      appId: string;
      peers: Set<string>;
      instances: number;
      stale: number;
      last: number;
    }
    const sums = new Map<string, Sum>();
    this.#instRows.each(undefined, undefined, false, (key, keyLength, value) => {
      if (!filter.matches(valueLabels(value))) return true;
      const {
        parts: [appId, host],
      } = splitKey(key.subarray(0, keyLength), 2);
      const t = Math.max(u32(value, V_WRITTEN_AT), clock[u32(value, V_SLOT)] ?? 0);
      const id = kind === 'app' ? appId! : host!;
      let sum = sums.get(id);
      if (sum === undefined) sums.set(id, (sum = { name: '', appId: appId!, peers: new Set(), instances: 0, stale: 0, last: -1 }));
      sum.peers.add(kind === 'app' ? host! : appId!);
      sum.instances++;
      if (t < staleBefore) sum.stale++;
      if (t > sum.last) {
        sum.last = t;
        if (kind === 'app') sum.name = jsonText(value.subarray(INSTANCE_HEADER, INSTANCE_HEADER + (value[V_APP_LEN]! | (value[V_APP_LEN + 1]! << 8))));
      }
      return true;
    });
    const keyOf = (id: string): Buffer => Buffer.from(id);
    const ids = [...sums.keys()].map((id) => [id, keyOf(id)] as const).sort((a, b) => Buffer.compare(a[1], b[1]));
    const limit = page.limit ?? Infinity;
    out.ascii(DATA_OPEN);
    let n = 0;
    let next: string | null = null;
    let lastId = '';
    for (const [id, key] of ids) {
      if (after !== null && Buffer.compare(key, after) <= 0) continue;
      if (n === limit) {
        next = encodeCursor(tag, ids.find(([i]) => i === lastId)![1]);
        break;
      }
      const s = sums.get(id)!;
      const counts = `"instance_count":${s.instances},"up_count":${s.instances - s.stale},"stale_count":${s.stale},"last_update":${s.last}}`;
      if (n > 0) out.ascii(',');
      if (kind === 'app') out.bytes(Buffer.from(`{"app":${JSON.stringify(s.name)},"app_id":${JSON.stringify(id)},"host_count":${s.peers.size},${counts}`));
      else out.bytes(Buffer.from(`{"host":${JSON.stringify(id)},"app_count":${s.peers.size},${counts}`));
      n++;
      lastId = id;
    }
    out.ascii(']');
    if (next !== null) out.ascii(`,"next":"${next}"`);
    return out.ascii('}');
  }

  /** GET app/A: the app's summary with its versions, or null if unknown. */
  app(appId: string, out = new JsonBytes()): JsonBytes | null {
    const key = buildKey([appId]);
    const value = this.#apps.getBinary(key);
    if (value === undefined) return null;
    out.ascii(DATA_OPEN);
    this.#summary(value, SlotClock.view(this.#clocks.app), out).ascii(',"versions":');
    out.bytes(this.#appvers.getBinary(key) ?? Buffer.from('[]'));
    return out.ascii('}]}');
  }

  /** GET host/H: the host's summary, or null if unknown. */
  host(host: string, out = new JsonBytes()): JsonBytes | null {
    const value = this.#hosts.getBinary(buildKey([host]));
    if (value === undefined) return null;
    out.ascii(DATA_OPEN);
    return this.#summary(value, SlotClock.view(this.#clocks.host), out).ascii('}]}');
  }

  /** Per app: its versions' counts (for /metrics). */
  versionCounts(): { appId: string; versions: { ver: string; count: number; up_count: number; stale_count: number }[] }[] {
    const out = [];
    for (const { key, value } of this.#appvers.getRange({})) {
      out.push({
        appId: key.subarray(0, key.length - 1).toString('latin1'),
        versions: JSON.parse(value.toString('utf8')) as { ver: string; count: number; up_count: number; stale_count: number }[],
      });
    }
    return out;
  }

  // --- versions -------------------------------------------------------------

  /**
   * GET version/ with any combination of filters, optionally paged.
   * Instances are stored by app, host, instance: an app (and an app on a
   * host) is one range; a version is found by scanning its app's range; a
   * host's instances are one short range per app its summary lists.
   */
  versions(filter: VersionFilter, page: Page = {}, out = new JsonBytes()): JsonBytes {
    const { appId, host, ver, status, since } = filter;
    const verJson = ver === undefined ? null : jsonContent(ver);
    const labels = filter.labels === undefined || filter.labels.length === 0 ? null : new LabelFilter(filter.labels);
    // The clock as it is now: the writer may grow it, but not for instances this snapshot holds.
    const clock = SlotClock.view(this.#clocks.instance);
    const staleBefore = this.#staleSeconds > 0 ? Math.floor(Date.now() / 1000) - this.#staleSeconds : -Infinity;
    const limit = page.limit ?? Infinity;
    let n = 0;
    let next: string | null = null;

    /** Whether an instance passes the filters; sets `t` and `stale` for write(). */
    let t = 0;
    let stale = false;
    const matches = (value: Uint8Array): boolean => {
      if (verJson !== null) {
        const at = verOffset(value);
        const len = verLength(value);
        if (len !== verJson.length) return false;
        for (let i = 0; i < len; i++) if (value[at + i] !== verJson[i]) return false;
      }
      if (labels !== null && !labels.matches(valueLabels(value))) return false;
      t = Math.max(u32(value, V_WRITTEN_AT), clock[u32(value, V_SLOT)] ?? 0);
      stale = t < staleBefore;
      if (status !== undefined && stale !== (status === 'stale')) return false;
      return since === undefined || t > since;
    };
    const write = (key: Uint8Array, keyLength: number, value: Uint8Array): void => {
      if (n > 0) out.ascii(',');
      n++;
      writeVersionJson(key, keyLength, value, t, out);
      out
        .ascii(stale ? ',"status":"stale","since":' : ',"status":"up","since":')
        .uint(u32(value, V_SINCE))
        .ascii('}');
    };
    /** The key of the last instance written (a page's end: where the next page starts). */
    let lastKey: Buffer | null = null;
    /**
     * Emits the instances with keys in [from, end) (after `from` when
     * exclusive); false once the page is full and a further match exists
     * (then `next` is set).
     */
    const scan = (tag: number, from: Uint8Array | undefined, end: Uint8Array | undefined, exclusive: boolean): boolean => {
      let full = false;
      this.#instRows.each(from, end, exclusive, (key, keyLength, value) => {
        if (!matches(value)) return true;
        if (n === limit) {
          next = encodeCursor(tag, lastKey!);
          full = true;
          return false;
        }
        write(key, keyLength, value);
        // The key buffer is reused for the next row: keep a copy only at a page's end.
        if (n === limit) lastKey = Buffer.from(key.subarray(0, keyLength));
        return true;
      });
      return !full;
    };

    out.ascii(DATA_OPEN);
    if (host !== undefined && appId === undefined) {
      this.#hostInstances(host, page.cursor, scan);
    } else {
      const prefix = appId === undefined ? Buffer.alloc(0) : host === undefined ? buildKey([appId]) : buildKey([appId, host]);
      const cursor = page.cursor === undefined ? null : decodeCursor(page.cursor, Tag.inst);
      scan(Tag.inst, cursor ?? (prefix.length === 0 ? undefined : prefix), prefix.length === 0 ? undefined : prefixEnd(prefix), cursor !== null);
    }
    out.ascii(']');
    if (next !== null) out.ascii(`,"next":"${next}"`);
    return out.ascii('}');
  }

  /** A host's instances: the range app_id|host| of every app its summary lists, in app order. */
  #hostInstances(host: string, cursor: string | undefined, scan: (tag: number, from: Uint8Array, end: Uint8Array, exclusive: boolean) => boolean): void {
    const hostKey = buildKey([host]);
    const summary = this.#hosts.getBinary(hostKey);
    if (summary === undefined) return;
    const after = cursor === undefined ? null : decodeCursor(cursor, Tag.hostInst);
    for (const appKey of summaryAppKeys(summary)) {
      const prefix = Buffer.concat([appKey, hostKey]);
      const end = prefixEnd(prefix);
      if (after !== null && Buffer.compare(after, end) >= 0) continue;
      const resume = after !== null && Buffer.compare(after, prefix) >= 0;
      if (!scan(Tag.hostInst, resume ? after! : prefix, end, resume)) return;
    }
  }

  // --- history --------------------------------------------------------------

  /**
   * GET history/: entries of an app (on a host, of an instance), newest
   * first; without an app, the entries of every app on the host. Anything
   * naming a host reads its bucket's blocks (histhost: a few hundred hosts
   * share one), which are much smaller than an app's.
   */
  history(filter: HistoryFilter, out = new JsonBytes()): JsonBytes {
    const byHost = filter.host !== undefined;
    if (!byHost && filter.appId === undefined) return out.ascii('{"data":[]}');
    const db = byHost ? this.#histhost : this.#history;
    const tag = byHost ? Tag.hostHistory : Tag.history;
    const prefix = byHost ? bucketPart(hostBucket(buildKey([filter.host!]))) : buildKey([filter.appId!]);
    const appId = filter.appId === undefined ? null : Buffer.from(filter.appId);
    const hostJson = byHost ? jsonContent(filter.host!) : null;
    const since = filter.since ?? -1;
    const limit = filter.limit ?? Infinity;
    // The cursor: the key of the block where the page ended, then the index (u32) of the last entry given.
    let start = prefixEnd(prefix);
    let skipBelow = Infinity;
    if (filter.cursor !== undefined) {
      const c = decodeCursor(filter.cursor, tag);
      if (c.length < 12 || Buffer.compare(c.subarray(0, prefix.length), prefix) !== 0) throw new InvalidCursorError('does not belong to this query');
      start = Buffer.from(c.subarray(0, c.length - 4));
      skipBelow = c.readUInt32BE(c.length - 4);
    }
    const view = newEntryView();
    const labels = filter.labels === undefined || filter.labels.length === 0 ? null : new LabelFilter(filter.labels);
    const matches = (e: EntryView): boolean =>
      e.time > since &&
      (hostJson === null || bytesEqual(e.host, hostJson)) &&
      (appId === null || bytesEqual(e.appId, appId)) &&
      (filter.instance === undefined || e.instance === filter.instance) &&
      (labels === null || labels.matches(e.labels));
    out.ascii(DATA_OPEN);
    let n = 0;
    let next: string | null = null;
    let lastKey: Buffer | null = null;
    let lastIndex = 0;
    let first = true;
    blocks: for (const { key, value } of db.getRange({ start, end: prefix, reverse: true } as never) as Iterable<{ key: Buffer; value: Buffer }>) {
      if (Buffer.compare(key.subarray(0, prefix.length), prefix) !== 0) break;
      // Blocks are in time order: older blocks cannot hold newer entries.
      if (blockNewest(value) <= since) break;
      const offsets = entryOffsets(value);
      const resumeHere = first && filter.cursor !== undefined && Buffer.compare(key, start) === 0;
      first = false;
      for (let i = (resumeHere ? Math.min(skipBelow, offsets.length) : offsets.length) - 1; i >= 0; i--) {
        readEntry(value, offsets[i]!, view);
        if (!matches(view)) continue;
        if (n === limit) {
          // There is more: the cursor says where this page ended.
          const c = Buffer.allocUnsafe(lastKey!.length + 4);
          lastKey!.copy(c, 0);
          c.writeUInt32BE(lastIndex, lastKey!.length);
          next = encodeCursor(tag, c);
          break blocks;
        }
        if (n > 0) out.ascii(',');
        writeEntryJson(view, out);
        n++;
        if (n === limit) {
          lastKey = Buffer.from(key);
          lastIndex = i;
        }
      }
    }
    out.ascii(']');
    if (next !== null) out.ascii(`,"next":"${next}"`);
    return out.ascii('}');
  }

  /** Every history entry of an app (of its instances carrying these labels), oldest first (for the rollout). */
  appHistory(appId: string, labels: LabelPair[] = []): HistoryPoint[] {
    const prefix = buildKey([appId]);
    const out: HistoryPoint[] = [];
    const view = newEntryView();
    const filter = labels.length === 0 ? null : new LabelFilter(labels);
    for (const { value } of this.#history.getRange({ start: prefix, end: prefixEnd(prefix) })) {
      for (const at of entryOffsets(value)) {
        readEntry(value, at, view);
        if (filter !== null && !filter.matches(view.labels)) continue;
        const ver = view.ver.length === 0 && (view.flags & 1) !== 0 ? null : jsonText(view.ver);
        out.push({ id: `${utf8.decode(view.host)}\u0000${view.instance}`, time: view.time, ver });
      }
    }
    return out;
  }

  /**
   * The id of the next batch to be committed (batches are numbered in
   * commit order; a batch's history blocks carry its id).
   */
  nextBatch(): number {
    const meta = this.#env.openDB<Buffer, Buffer>(DB.meta, { keyEncoding: 'binary', encoding: 'binary' });
    const next = meta.getBinary(Buffer.from(META.nextBlock));
    return next === undefined ? 1 : Number(next.toString('latin1'));
  }

  /**
   * Up to `max` instances after key `after` (from the start when null), in
   * key order: key and value bytes, valid during the call. Returns the last
   * key of a full slice (there may be more), or null when the table is done.
   * (The SQL thread loads the store slice by slice, yielding in between.)
   */
  instancesAfter(after: Uint8Array | null, max: number, visit: (key: Uint8Array, value: Uint8Array) => void): Buffer | null {
    let n = 0;
    let last: Buffer | null = null;
    this.#instRows.each(after ?? undefined, undefined, after !== null, (key, keyLength, value) => {
      visit(key.subarray(0, keyLength), value);
      if (++n === max) {
        last = Buffer.from(key.subarray(0, keyLength));
        return false;
      }
      return true;
    });
    return last;
  }

  /** Per-app history blocks after key `after`, until about `maxBytes` are visited; like instancesAfter. */
  historyBlocksAfter(after: Uint8Array | null, maxBytes: number, visit: (key: Uint8Array, block: Uint8Array) => void): Buffer | null {
    let bytes = 0;
    for (const { key, value } of this.#history.getRange(after === null ? {} : { start: Buffer.from(after) }) as Iterable<{ key: Buffer; value: Buffer }>) {
      if (after !== null && Buffer.compare(key, after) === 0) continue;
      visit(key, value);
      bytes += value.length;
      if (bytes >= maxBytes) return Buffer.from(key);
    }
    return null;
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

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
