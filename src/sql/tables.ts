// The SQL tables: an in-memory DuckDB database (@duckdb/node-api) owned by
// the SQL thread (workers/sql-thread.ts), kept current from the store's
// committed changes (changes.ts), answering read-only queries under limits.
//
// What users see (schema main):
//   versions  app, app_id, host, host_ip, instance, ver, labels (MAP), last_update, since, status
//   apps      app, app_id, host_count, instance_count, up_count, stale_count, last_update
//   hosts     host, app_count, instance_count, up_count, stale_count, last_update
//   history   app, app_id, host, host_ip, instance, ver, prev_ver, labels, time, change
// The rows live in an attached in-memory database with compression
// (store.inst, store.history): after a checkpoint, a million labelled
// instances take a few MB instead of ~200 MB, and scans get faster.
// Changes land uncompressed and are compressed at the next checkpoint
// (once they stop coming for a moment, or when many are waiting).
//
// Writing (apply): the pending changes' rows are staged straight from the
// store's bytes (staging.ts), then an instance's old row is deleted by its
// slot (one integer column: a slot names one instance while it lives) and
// the staged rows inserted, labels joined in as MAPs from label_sets (one
// per distinct label set). Removals go by (app_id, host, instance). History
// entries are appended to history_stage (labels by id) and moved into
// store.history when changes stop for a moment: the history view reads
// both.
//
// last_update is a column of store.inst: the later of the stored
// written_at and the instance's clock (the writer's SharedArrayBuffer the
// REST API reads too) when the row was written, brought up to the clocks
// before every query (refreshClock: the rows of slots whose clock moved,
// in one UPDATE), so a repeated update is seen at once without rewriting a
// row, and a GROUP BY over a million rows reads a plain column. apps and
// hosts are views over versions, so the three always agree. Times are
// unix seconds.
//
// Limits: DuckDB's memory limit is the tables' own memory plus the query
// budget (one query runs at a time); a query is interrupted after its time
// limit; an answer of more rows than allowed is refused. External access
// is off (no files, no network), extensions are neither installed nor
// loaded, and only SELECT/EXPLAIN statements run (validate.ts).

import {
  DuckDBDataChunk,
  DuckDBInstance,
  JSDuckDBValueConverter,
  StatementType,
  UINTEGER,
  USMALLINT,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBType,
} from '@duckdb/node-api';
import { SlotClock } from '../store/slot-clock.js';
import type { PendingChanges } from './changes.js';
import { keyParts } from './rows.js';
import {
  CHUNK,
  ChunkWriter,
  HISTORY_SELECT,
  HISTORY_STAGING,
  HISTORY_STAGING_TYPES,
  INST_STAGING,
  INST_STAGING_TYPES,
  LabelSets,
  slotOf,
  writeHistoryBlock,
  writeInstance,
} from './staging.js';
import { refusal } from './validate.js';

export interface SqlTableOptions {
  /** DuckDB threads (queries and loading). */
  threads: number;
  /** Memory a query may use beyond the tables' own (bytes). */
  queryMemoryBytes: number;
  /** A query is interrupted after this long (ms). */
  timeoutMs: number;
  /** Most rows an answer may have. */
  maxRows: number;
  /** An instance not updated for this long is stale (0 = never). */
  staleSeconds: number;
  /** History older than this many days is dropped (0 = kept). */
  historyDays: number;
  /** The writer's instance clocks (store/slot-clock.ts). */
  clock: SharedArrayBuffer;
}

export type SqlErrorCode = 'SQL_ERROR' | 'SQL_REFUSED' | 'SQL_TIMEOUT' | 'SQL_TOO_LARGE';

export type SqlOutcome = { ok: true; body: Uint8Array; rows: number; ms: number } | { ok: false; code: SqlErrorCode; message: string };

const INST_COLUMNS = 'app VARCHAR, app_id VARCHAR, host VARCHAR, host_ip VARCHAR, instance USMALLINT, ver VARCHAR';
const HISTORY_COLUMNS = 'app VARCHAR, app_id VARCHAR, host VARCHAR, host_ip VARCHAR, instance INTEGER, ver VARCHAR, prev_ver VARCHAR';
const GONE_TYPES: DuckDBType[] = [VARCHAR, VARCHAR, USMALLINT];
/**
 * Compressing costs about as much as writing the rows did, so it waits for
 * a quiet moment: a checkpoint when changes stopped coming (checkpointIfQuiet,
 * from the SQL thread's tick) and enough rows were written, or, during a
 * long wave, when so many rows are uncompressed that their memory matters
 * (a million labelled rows: ~40-170 MiB uncompressed, a few MiB after).
 * A checkpoint also gives back the memory of deleted rows (DuckDB rewrites
 * row groups with deletions), so the tables never need rewriting.
 */
const CHECKPOINT_AFTER = 20_000;
const CHECKPOINT_ANYWAY = 2_000_000;
/** Label sets remembered before the dictionary starts over (a fleet has a few hundred). */
const MAX_LABEL_SETS = 50_000;

/** The staging tables' columns. */
const STAGING = { inst_in: INST_STAGING, history_stage: HISTORY_STAGING, clock_in: 'slot UINTEGER, t UINTEGER' } as const;
/**
 * History entries wait in history_stage (uncompressed, labels by id) and
 * are moved into store.history in a quiet moment (checkpoint), or when
 * this many wait (~100-150 bytes each): a wave of changes pays for
 * staging them only.
 */
const HISTORY_STAGE_MAX = 1_000_000;

function schema(staleSeconds: number): string[] {
  const status =
    staleSeconds > 0 ? `CASE WHEN last_update < CAST(epoch(get_current_timestamp()) AS BIGINT) - ${staleSeconds} THEN 'stale' ELSE 'up' END` : `'up'`;
  return [
    "ATTACH ':memory:' AS store (COMPRESS)",
    // last_update: the later of the stored written_at and the instance's clock, as of the
    // row's insert or the last refresh (refreshClock, before every query).
    `CREATE TABLE store.inst (${INST_COLUMNS}, labels MAP(VARCHAR, VARCHAR), since UINTEGER, slot UINTEGER, last_update UINTEGER)`,
    `CREATE TABLE store.history (${HISTORY_COLUMNS}, labels MAP(VARCHAR, VARCHAR), time BIGINT, change VARCHAR)`,
    // In the main database (the reader's queries join them too), uncompressed.
    'CREATE TABLE label_sets (id UINTEGER, map MAP(VARCHAR, VARCHAR))',
    `INSERT INTO label_sets VALUES (0, MAP {}::MAP(VARCHAR, VARCHAR))`,
    `CREATE TABLE history_stage (${HISTORY_STAGING})`,
    // The staged entries are in history at once (and in their order, after the moved ones).
    `CREATE VIEW history AS SELECT * FROM store.history
       UNION ALL SELECT ${HISTORY_SELECT} FROM history_stage AS h JOIN label_sets AS l ON h.lset = l.id`,
    `CREATE VIEW versions AS SELECT app, app_id, host, host_ip, instance::INTEGER AS instance, ver, labels, last_update, since, ${status} AS status
       FROM (SELECT * EXCLUDE (last_update, since), last_update::BIGINT AS last_update, since::BIGINT AS since FROM store.inst)`,
    `CREATE VIEW apps AS SELECT arg_max(app, last_update) AS app, app_id, count(DISTINCT host) AS host_count, count(*) AS instance_count,
       count(*) FILTER (WHERE status = 'up') AS up_count, count(*) FILTER (WHERE status = 'stale') AS stale_count, max(last_update) AS last_update
       FROM versions GROUP BY app_id`,
    `CREATE VIEW hosts AS SELECT host, count(DISTINCT app_id) AS app_count, count(*) AS instance_count,
       count(*) FILTER (WHERE status = 'up') AS up_count, count(*) FILTER (WHERE status = 'stale') AS stale_count, max(last_update) AS last_update
       FROM versions GROUP BY host`,
  ];
}

export class SqlTables {
  readonly #options: SqlTableOptions;
  readonly #db: DuckDBInstance;
  /** Loads and applies changes. */
  readonly #writer: DuckDBConnection;
  /** Runs the users' queries (interrupted on its own). */
  readonly #reader: DuckDBConnection;
  readonly #instRows = new ChunkWriter(INST_STAGING_TYPES);
  readonly #historyRows = new ChunkWriter(HISTORY_STAGING_TYPES);
  readonly #clockRows = new ChunkWriter([UINTEGER, UINTEGER]);
  readonly #labels = new LabelSets();
  /** Per slot: the clock value last folded into its row's last_update (refreshClock). */
  #seen = new Uint32Array(0);
  #rows = 0;
  #memoryLimit = 0;
  #lastPrune = 0;
  /** Rows written (inserted or updated) since the last checkpoint. */
  #unchecked = 0;
  /** History entries in history_stage. */
  #staged = 0;

  private constructor(options: SqlTableOptions, db: DuckDBInstance, writer: DuckDBConnection, reader: DuckDBConnection) {
    this.#options = options;
    this.#db = db;
    this.#writer = writer;
    this.#reader = reader;
  }

  static async open(options: SqlTableOptions): Promise<SqlTables> {
    const db = await DuckDBInstance.create(':memory:', {
      threads: String(options.threads),
      enable_external_access: 'false',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
      // Nothing spills to disk: a query past its memory fails (413-style).
      max_temp_directory_size: '0B',
    });
    const writer = await db.connect();
    const reader = await db.connect();
    const tables = new SqlTables(options, db, writer, reader);
    for (const statement of schema(options.staleSeconds)) await writer.run(statement);
    await tables.#setMemoryLimit();
    return tables;
  }

  /** Live instance rows. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Writes pending changes into the tables. While loading (`fresh`), the
   * instances are known to be new: no old rows to delete.
   */
  async apply(pending: PendingChanges, fresh = false, nowSeconds = Math.floor(Date.now() / 1000)): Promise<void> {
    const w = this.#writer;
    const clock = SlotClock.view(this.#options.clock);
    let cleared = false;
    const gone: Uint8Array[] = [];
    const blocks: Uint8Array[] = [];
    await this.#startLabels();
    // Instances are written into their staging table as they are read; the rest is collected first.
    const inst = this.#instRows;
    inst.open(await this.#appender('inst_in'));
    try {
      pending.writeTo({
        clear: () => {
          cleared = true;
        },
        remove: (key) => gone.push(key),
        instance: (key, value) => this.#instance(key, value, clock),
        history: (block) => blocks.push(block),
      });
    } finally {
      inst.close();
    }
    if (cleared) {
      await w.run('DELETE FROM store.inst');
      await w.run('DELETE FROM store.history');
      await this.#emptyHistoryStage();
      this.#rows = 0;
    }
    if (gone.length > 0 && this.#rows > 0) {
      await w.run('CREATE OR REPLACE TEMP TABLE gone (app_id VARCHAR, host VARCHAR, instance USMALLINT)');
      await this.#append('gone', GONE_TYPES, gone.map(keyParts));
      const r = await w.run('DELETE FROM store.inst AS i USING gone AS g WHERE i.app_id = g.app_id AND i.host = g.host AND i.instance = g.instance');
      this.#rows -= r.rowsChanged;
      await w.run('DROP TABLE gone');
    }
    await this.#insertInstances(inst.count, fresh);
    if (blocks.length > 0) await this.history((push) => blocks.forEach(push));
    pending.clear();
    if (this.#options.historyDays > 0 && nowSeconds - this.#lastPrune >= 60) {
      this.#lastPrune = nowSeconds;
      const before = nowSeconds - this.#options.historyDays * 86400;
      await w.run(`DELETE FROM store.history WHERE time < ${before}`);
      if (this.#staged > 0) await w.run(`DELETE FROM history_stage WHERE time < ${before}`);
    }
    await this.#maintain(fresh);
  }

  /** Loading: instances from the store, each written by `fill` through `put`; they are known to be new. */
  async load(fill: (put: (key: Uint8Array, value: Uint8Array) => void) => void): Promise<number> {
    const clock = SlotClock.view(this.#options.clock);
    await this.#startLabels();
    this.#instRows.open(await this.#appender('inst_in'));
    try {
      fill((key, value) => this.#instance(key, value, clock));
    } finally {
      this.#instRows.close();
    }
    const n = this.#instRows.count;
    await this.#insertInstances(n, true);
    return n;
  }

  /** History blocks (store/history.ts), each handed by `fill` to `push`, appended; returns the entries. */
  async history(fill: (push: (block: Uint8Array) => void) => void): Promise<number> {
    await this.#startLabels();
    const rows = this.#historyRows;
    rows.open(await this.#writer.createAppender('history_stage', 'main'));
    let n = 0;
    try {
      fill((block) => {
        n += writeHistoryBlock(rows, this.#labels, block);
      });
    } finally {
      rows.close();
    }
    this.#staged += n;
    await this.#insertLabels();
    if (this.#staged >= HISTORY_STAGE_MAX) await this.#moveHistory();
    return n;
  }

  /** Moves the staged history entries into store.history (compressed at the next checkpoint). */
  async #moveHistory(): Promise<void> {
    if (this.#staged === 0) return;
    await this.#writer.run(`INSERT INTO store.history SELECT ${HISTORY_SELECT} FROM history_stage AS h JOIN label_sets AS l ON h.lset = l.id`);
    this.#unchecked += this.#staged;
    await this.#emptyHistoryStage();
  }

  async #emptyHistoryStage(): Promise<void> {
    // A new table: emptying a table keeps its memory.
    await this.#writer.run(`CREATE OR REPLACE TABLE history_stage (${HISTORY_STAGING})`);
    this.#staged = 0;
  }

  #instance(key: Uint8Array, value: Uint8Array, clock: Uint32Array): void {
    const slot = slotOf(value);
    const t = clock[slot] ?? 0;
    writeInstance(this.#instRows, this.#labels, key, value, t);
    if (slot >= this.#seen.length) this.#growSeen(slot);
    this.#seen[slot] = t;
  }

  #growSeen(slot: number): void {
    let n = Math.max(this.#seen.length, 1024);
    while (n <= slot) n *= 2;
    const grown = new Uint32Array(n);
    grown.set(this.#seen);
    this.#seen = grown;
  }

  /** Replaces the rows of the staged instances' slots (a slot is one instance) with the staged rows. */
  async #insertInstances(n: number, fresh: boolean): Promise<void> {
    const w = this.#writer;
    if (n > 0) {
      await this.#insertLabels();
      if (!fresh && this.#rows > 0) {
        const r = await w.run('DELETE FROM store.inst AS i USING inst_in AS n WHERE i.slot = n.slot');
        this.#rows -= r.rowsChanged;
      }
      await w.run(`INSERT INTO store.inst SELECT i.app, i.app_id, i.host, i.host_ip, i.instance, i.ver, l.map, i.since, i.slot, i.last_update
        FROM inst_in AS i JOIN label_sets AS l ON i.lset = l.id`);
      this.#rows += n;
      this.#unchecked += n;
    }
  }

  /** Before rows are staged: a dictionary grown too large starts over (rows already inserted keep their maps). */
  async #startLabels(): Promise<void> {
    if (this.#labels.size <= MAX_LABEL_SETS) return;
    // Staged history refers to the sets by id.
    await this.#moveHistory();
    this.#labels.reset();
    await this.#writer.run('CREATE OR REPLACE TABLE label_sets AS SELECT * FROM label_sets WHERE id = 0');
  }

  /** Label sets first seen in the rows staged: parsed into MAPs, once. */
  async #insertLabels(): Promise<void> {
    const fresh = this.#labels.fresh;
    if (fresh.length === 0) return;
    this.#labels.fresh = [];
    const w = this.#writer;
    await w.run('CREATE OR REPLACE TEMP TABLE labels_in (id UINTEGER, json VARCHAR)');
    await this.#append('labels_in', [UINTEGER, VARCHAR], fresh);
    await w.run('INSERT INTO label_sets SELECT id, json::JSON::MAP(VARCHAR, VARCHAR) FROM labels_in');
    await w.run('DROP TABLE labels_in');
  }

  /**
   * An appender to a fresh staging table (temporary). Made anew each time:
   * emptying a temporary table keeps its memory, dropping it frees it.
   */
  async #appender(table: 'inst_in' | 'clock_in'): Promise<DuckDBAppender> {
    await this.#writer.run(`CREATE OR REPLACE TEMP TABLE ${table} (${STAGING[table]})`);
    return this.#writer.createAppender(table, 'main', 'temp');
  }

  /** Whether some instance clock moved past what its row has (stops at the first). */
  #clockMoved(): boolean {
    const clock = SlotClock.view(this.#options.clock);
    const seen = this.#seen;
    const n = Math.min(clock.length, seen.length);
    for (let s = 0; s < n; s++) if (clock[s]! > seen[s]!) return true;
    return false;
  }

  /**
   * Whether a query reads last_update (or status, or apps/hosts, which
   * derive from it): its optimized plan names the column only if a scan
   * reads it (DuckDB drops the columns a query does not use). A repeat
   * storm moves clocks by the hundred thousand a second; a query that does
   * not read them need not wait for their rows to be updated. In doubt
   * (the plan fails), yes.
   */
  async #readsLastUpdate(sql: string): Promise<boolean> {
    try {
      const plan = await this.#reader.runAndReadAll(`EXPLAIN (FORMAT JSON) ${sql}`);
      return JSON.stringify(plan.getRows()).includes('last_update');
    } catch {
      return true;
    }
  }

  /**
   * Brings last_update up to the instance clocks: the rows of slots whose
   * clock moved since their row was written or last refreshed (repeated
   * updates move only the clock) get it. Run before every query that
   * reads last_update, so it sees repeated updates at once; costs a scan
   * of the clock and as many row updates as clocks moved.
   */
  async refreshClock(): Promise<number> {
    const clock = SlotClock.view(this.#options.clock);
    const seen = this.#seen;
    const rows = this.#clockRows;
    const n = Math.min(clock.length, seen.length);
    let opened = false;
    for (let s = 0; s < n; s++) {
      const t = clock[s]!;
      if (t <= seen[s]!) continue;
      seen[s] = t;
      if (!opened) {
        rows.open(await this.#appender('clock_in'));
        opened = true;
      }
      rows.number(0, s);
      rows.number(1, t);
      rows.endRow();
    }
    if (!opened) return 0;
    rows.close();
    const w = this.#writer;
    const r = await w.run('UPDATE store.inst AS i SET last_update = c.t FROM clock_in AS c WHERE i.slot = c.slot AND c.t > i.last_update');
    this.#unchecked += r.rowsChanged;
    return r.rowsChanged;
  }

  /** After writes: compress when very many rows are uncompressed (while loading, once at the end: checkpoint()). */
  async #maintain(fresh: boolean): Promise<void> {
    if (!fresh && this.#unchecked + this.#staged >= CHECKPOINT_ANYWAY) await this.checkpoint();
  }

  /** Compresses the rows written since the last checkpoint, if enough: called when no changes are pending. */
  async checkpointIfQuiet(): Promise<void> {
    if (this.#unchecked + this.#staged >= CHECKPOINT_AFTER) await this.checkpoint();
  }

  /** Moves staged history in and compresses what was written since the last checkpoint. */
  async checkpoint(): Promise<void> {
    await this.#moveHistory();
    await this.#writer.run('CHECKPOINT store');
    this.#unchecked = 0;
  }

  /** Rows of JS values into a (small) staging table. */
  async #append(table: string, types: DuckDBType[], rows: Iterable<readonly unknown[]>): Promise<void> {
    const appender = await this.#writer.createAppender(table, 'main', 'temp');
    const chunk = DuckDBDataChunk.create(types, CHUNK);
    let columns: unknown[][] = types.map(() => []);
    const flush = (): void => {
      if (columns[0]!.length === 0) return;
      chunk.rowCount = columns[0]!.length;
      chunk.setColumns(columns as never);
      appender.appendDataChunk(chunk);
      columns = types.map(() => []);
    };
    for (const row of rows) {
      for (let c = 0; c < types.length; c++) columns[c]!.push(row[c]);
      if (columns[0]!.length === CHUNK) flush();
    }
    flush();
    appender.flushSync();
    appender.closeSync();
  }

  /** DuckDB's limit: what the tables hold now plus one query's budget. */
  async #setMemoryLimit(): Promise<void> {
    const used = await this.#writer.runAndReadAll('SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()');
    const tables = Number(used.getRows()[0]![0] as bigint);
    const limit = tables + this.#options.queryMemoryBytes;
    // Only when it moved: a SET per query would cost little, but it is noise.
    if (Math.abs(limit - this.#memoryLimit) > this.#options.queryMemoryBytes / 16) {
      await this.#writer.run(`SET memory_limit = '${Math.ceil(limit / 1048576)}MB'`);
      this.#memoryLimit = limit;
    }
  }

  /** Runs one read-only query within the limits; its answer as JSON bytes. */
  async query(sql: string): Promise<SqlOutcome> {
    const started = performance.now();
    const refused = refusal(sql);
    if (refused !== null) return { ok: false, code: 'SQL_REFUSED', message: refused };
    const r = this.#reader;
    let prepared: DuckDBPreparedStatement;
    try {
      const statements = await r.extractStatements(sql);
      if (statements.count !== 1) return { ok: false, code: 'SQL_REFUSED', message: `exactly one statement is allowed (got ${statements.count})` };
      prepared = await r.prepare(sql);
    } catch (err) {
      return failure(err);
    }
    try {
      const type = prepared.statementType;
      if (type !== StatementType.SELECT && type !== StatementType.EXPLAIN) {
        return { ok: false, code: 'SQL_REFUSED', message: `only queries are allowed (read-only SQL): a ${StatementType[type] ?? type} statement is refused` };
      }
      if (this.#clockMoved() && (type === StatementType.EXPLAIN || (await this.#readsLastUpdate(sql)))) await this.refreshClock();
      await this.#setMemoryLimit();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        r.interrupt();
      }, this.#options.timeoutMs);
      try {
        const result = await prepared.stream();
        const names = result.columnNames();
        const types = result.columnTypes().map(String);
        const isMap = types.map((t) => t.startsWith('MAP('));
        const data: unknown[][] = [];
        for (;;) {
          const chunk = await result.fetchChunk();
          if (chunk === null || chunk.rowCount === 0) break;
          if (data.length + chunk.rowCount > this.#options.maxRows) {
            return { ok: false, code: 'SQL_TOO_LARGE', message: `the answer has more than ${this.#options.maxRows} rows: add a LIMIT or aggregate` };
          }
          for (const row of chunk.convertRows(JSDuckDBValueConverter)) data.push(row.map((v, i) => (isMap[i] ? mapJson(v) : toJson(v))));
        }
        const columns = names.map((name, i) => ({ name, type: types[i]! }));
        return { ok: true, body: Buffer.from(JSON.stringify({ columns, data })), rows: data.length, ms: performance.now() - started };
      } catch (err) {
        if (timedOut) return { ok: false, code: 'SQL_TIMEOUT', message: `the query ran longer than ${this.#options.timeoutMs / 1000} s` };
        return failure(err);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      prepared.destroySync();
    }
  }

  close(): void {
    this.#reader.closeSync();
    this.#writer.closeSync();
    this.#db.closeSync();
  }
}

/** A DuckDB error as the client's mistake: out of memory is 413-like, file access a refusal, the rest a bad query. */
function failure(err: unknown): SqlOutcome {
  const message = err instanceof Error ? err.message : String(err);
  if (/^Out of Memory Error/i.test(message))
    return { ok: false, code: 'SQL_TOO_LARGE', message: `the query needs more memory than allowed: ${firstLine(message)}` };
  if (/^Permission Error/i.test(message)) return { ok: false, code: 'SQL_REFUSED', message: `file and network access is refused: ${firstLine(message)}` };
  return { ok: false, code: 'SQL_ERROR', message: firstLine(message) };
}

function firstLine(message: string): string {
  const line = message.split('\n')[0]!;
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** A MAP column's value (JS form: [{key, value}]) as an object. */
function mapJson(v: unknown): unknown {
  if (!Array.isArray(v)) return toJson(v);
  return Object.fromEntries((v as { key: unknown; value: unknown }[]).map((e) => [String(e.key), toJson(e.value)]));
}

/** A DuckDB value (JS form) as JSON: big integers as numbers when exact, maps of strings as objects, times as ISO text. */
function toJson(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) {
    // A MAP comes as [{key, value}]: an object when its keys are strings.
    if (
      v.length > 0 &&
      v.every(
        (e) =>
          e !== null &&
          typeof e === 'object' &&
          !Array.isArray(e) &&
          Object.keys(e as object).length === 2 &&
          'key' in (e as object) &&
          'value' in (e as object) &&
          typeof (e as { key: unknown }).key === 'string',
      )
    ) {
      return Object.fromEntries((v as { key: string; value: unknown }[]).map((e) => [e.key, toJson(e.value)]));
    }
    return v.map(toJson);
  }
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toJson(x)]));
  return String(v);
}
