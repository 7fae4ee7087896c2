// The store reader: read-only queries over LMDB, answered as JSON bytes
// built from the stored fragments (see layout.ts). Every method runs
// synchronously inside one LMDB read transaction (lmdb-js renews the
// thread's read snapshot lazily and releases it on the next event-loop
// turn), so an answer is a consistent snapshot and no reader holds a
// transaction across turns: the writer's freed pages get reused.
//
// last_update comes from the writer's shared clocks (slot-clock.ts), which
// are ahead of LMDB for repeated updates; a stored record's own written_at
// covers the moment between its commit and the clock's.
//
// Used by the HTTP front on the main thread and by the piscina query pool.

import { open, type Database, type RootDatabase } from 'lmdb';
import { buildKey, prefixEnd } from './keys.js';
import { JsonBytes } from './json-bytes.js';
import {
  DB, INSTANCE_HEADER, SUMMARY_HEADER, S_SLOT, S_WRITTEN_AT, V_SLOT, V_VER_LEN, V_VER_OFF, V_WRITTEN_AT, envOptions,
} from './layout.js';
import type { ClockBuffers } from './slot-clock.js';

export interface VersionFilter {
  appId?: string;
  host?: string;
  ver?: string;
}

const DATA_OPEN = '{"data":[';
const DATA_CLOSE = ']}';

export class StoreReader {
  readonly #env: RootDatabase;
  readonly #inst: Database<Buffer, Buffer>;
  readonly #byhost: Database<Buffer, Buffer>;
  readonly #byver: Database<Buffer, Buffer>;
  readonly #apps: Database<Buffer, Buffer>;
  readonly #hosts: Database<Buffer, Buffer>;
  readonly #instClock: Uint32Array;
  readonly #hostClock: Uint32Array;
  readonly #appClock: Uint32Array;

  constructor(path: string, clocks: ClockBuffers) {
    this.#env = open(envOptions(path));
    // Length-tracking views: they follow the buffers as the writer grows them.
    this.#instClock = new Uint32Array(clocks.instance);
    this.#hostClock = new Uint32Array(clocks.host);
    this.#appClock = new Uint32Array(clocks.app);
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.#inst = this.#env.openDB<Buffer, Buffer>(DB.inst, bin);
    this.#byhost = this.#env.openDB<Buffer, Buffer>(DB.byhost, bin);
    this.#byver = this.#env.openDB<Buffer, Buffer>(DB.byver, bin);
    this.#apps = this.#env.openDB<Buffer, Buffer>(DB.apps, bin);
    this.#hosts = this.#env.openDB<Buffer, Buffer>(DB.hosts, bin);
  }

  /** GET app/: {"data":[{app, app_id, host_count, last_update}]} */
  appList(out = new JsonBytes()): JsonBytes {
    return this.#summaries(this.#apps, this.#appClock, out);
  }

  /** GET host/: {"data":[{host, app_count, last_update}]} */
  hostList(out = new JsonBytes()): JsonBytes {
    return this.#summaries(this.#hosts, this.#hostClock, out);
  }

  #summaries(db: Database<Buffer, Buffer>, clock: Uint32Array, out: JsonBytes): JsonBytes {
    out.ascii(DATA_OPEN);
    let first = true;
    for (const { value } of db.getRange({})) {
      if (!first) out.ascii(',');
      first = false;
      const t = Math.max(value.readUInt32LE(S_WRITTEN_AT), clock[value.readUInt32LE(S_SLOT)] ?? 0);
      out.bytes(value.subarray(SUMMARY_HEADER)).uint(t).ascii('}');
    }
    return out.ascii(DATA_CLOSE);
  }

  /** GET version/ with any combination of app_id, host and ver. */
  versions(filter: VersionFilter, out = new JsonBytes()): JsonBytes {
    const { appId, host, ver } = filter;
    const verJson = ver === undefined ? null : Buffer.from(JSON.stringify(ver).slice(1, -1));
    const clock = this.#instClock;
    let first = true;
    const emit = (value: Buffer): void => {
      if (verJson !== null) {
        const at = INSTANCE_HEADER + value.readUInt16LE(V_VER_OFF);
        const len = value.readUInt16LE(V_VER_LEN);
        if (len !== verJson.length || verJson.compare(value, at, at + len) !== 0) return;
      }
      if (!first) out.ascii(',');
      first = false;
      const t = Math.max(value.readUInt32LE(V_WRITTEN_AT), clock[value.readUInt32LE(V_SLOT)] ?? 0);
      out.bytes(value.subarray(INSTANCE_HEADER)).uint(t).ascii('}');
    };
    out.ascii(DATA_OPEN);
    if (appId !== undefined && host !== undefined) {
      this.#scan(this.#inst, buildKey([appId, host]), emit);
    } else if (appId !== undefined && ver !== undefined) {
      // byver: app_id| ver| host| instance -> inst: app_id| host| instance
      const appPrefix = buildKey([appId]);
      const prefix = buildKey([appId, ver]);
      for (const key of this.#byver.getKeys({ start: prefix, end: prefixEnd(prefix) })) {
        const value = this.#inst.getBinary(Buffer.concat([appPrefix, key.subarray(prefix.length)]));
        if (value !== undefined) emit(value);
      }
    } else if (appId !== undefined) {
      this.#scan(this.#inst, buildKey([appId]), emit);
    } else if (host !== undefined) {
      // byhost: host| app_id| instance -> inst: app_id| host| instance
      const prefix = buildKey([host]);
      for (const key of this.#byhost.getKeys({ start: prefix, end: prefixEnd(prefix) })) {
        const rest = key.subarray(prefix.length);
        const appEnd = rest.indexOf(0) + 1;
        const value = this.#inst.getBinary(Buffer.concat([rest.subarray(0, appEnd), prefix, rest.subarray(appEnd)]));
        if (value !== undefined) emit(value);
      }
    } else {
      for (const { value } of this.#inst.getRange({})) emit(value);
    }
    return out.ascii(DATA_CLOSE);
  }

  #scan(db: Database<Buffer, Buffer>, prefix: Buffer, emit: (value: Buffer) => void): void {
    for (const { value } of db.getRange({ start: prefix, end: prefixEnd(prefix) })) emit(value);
  }

  /** Stored instance, host and app counts (a scan of the small summary tables plus inst stats). */
  stats(): { instances: number; hosts: number; apps: number; mapBytes: number } {
    const s = this.#inst.getStats() as { entryCount: number };
    const h = this.#hosts.getStats() as { entryCount: number };
    const a = this.#apps.getStats() as { entryCount: number };
    const env = this.#env.getStats() as { lastPageNumber?: number; pageSize?: number };
    return {
      instances: s.entryCount,
      hosts: h.entryCount,
      apps: a.entryCount,
      mapBytes: (env.lastPageNumber ?? 0) * (env.pageSize ?? 4096),
    };
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}
