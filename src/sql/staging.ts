// Rows into DuckDB straight from the store's bytes: the SQL thread writes
// each row's fields into a DuckDB data chunk (2,048 rows) and appends full
// chunks to a staging table, without making a JS string or value object
// per field. Text goes in as the stored UTF-8 bytes (one native call per
// field), numbers column by column from typed arrays (one copy per chunk).
// Decoding every field into a JS string and handing DuckDB arrays of
// values cost ~30 µs of the SQL thread's CPU per change; this ~2.
//
// It needs a few calls of DuckDB's C API that @duckdb/node-api wraps but
// does not expose (vector_assign_string_element_len, copy_data_to_vector):
// they come from node-api's own copy of @duckdb/node-bindings, the one
// whose handles node-api's objects hold.
//
// What the bytes are: the stored instance value (store/instance-value.ts)
// with its key (store/keys.ts), and history entries (store/history.ts).
// Text stored as JSON string content (app, ver, history's host) goes in
// as is unless it holds an escape (a backslash: then decoded in JS, rare);
// a key's host goes in as is unless it holds the key escape byte.

import { createRequire } from 'node:module';
import { DuckDBDataChunk, type DuckDBAppender, type DuckDBType, UINTEGER, USMALLINT, UTINYINT, VARCHAR } from '@duckdb/node-api';
import { EntryFlag, ENTRY_HEADER } from '../store/history.js';
import { INSTANCE_HEADER, V_APP_LEN, V_IP_LEN, V_LABELS_LEN, V_SINCE, V_SLOT, V_VER_LEN, V_WRITTEN_AT } from '../store/layout.js';
import { jsonText } from '../store/json-text.js';
import { keyParts } from './rows.js';

type Bindings = typeof import('@duckdb/node-bindings');
type Vector = ReturnType<Bindings['data_chunk_get_vector']>;

const localRequire = createRequire(import.meta.url);
/** node-api's copy of the bindings (its handles are only good with that one). */
const duckdb = createRequire(localRequire.resolve('@duckdb/node-api'))('@duckdb/node-bindings') as Bindings;

/** Rows per chunk (DuckDB's vector size). */
export const CHUNK = 2048;

type NumberArray = Uint8Array | Uint16Array | Uint32Array;

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Whether b[start, end) holds a backslash (JSON string content with an escape). */
function escaped(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] === 0x5c) return true;
  return false;
}

/** Whether b[start, end) is ASCII. */
function ascii(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/**
 * Fills data chunks of one staging table's columns and appends them. A
 * column is text (VARCHAR) or an unsigned number (UTINYINT, USMALLINT,
 * UINTEGER). Text and numbers are set per row; endRow() moves on.
 */
export class ChunkWriter {
  readonly #types: DuckDBType[];
  readonly #chunk: DuckDBDataChunk;
  readonly #vectors: Vector[];
  readonly #numbers: (NumberArray | null)[];
  #appender: DuckDBAppender | null = null;
  /** The row being written (in the chunk). */
  row = 0;
  /** Rows appended since open(). */
  count = 0;

  constructor(types: DuckDBType[]) {
    this.#types = types;
    this.#chunk = DuckDBDataChunk.create(types, CHUNK);
    this.#vectors = types.map((_, i) => duckdb.data_chunk_get_vector(this.#chunk.chunk, i));
    this.#numbers = types.map((t) =>
      t === UINTEGER ? new Uint32Array(CHUNK) : t === USMALLINT ? new Uint16Array(CHUNK) : t === UTINYINT ? new Uint8Array(CHUNK) : null,
    );
  }

  get types(): DuckDBType[] {
    return this.#types;
  }

  /** Starts appending through appender (a staging table's). */
  open(appender: DuckDBAppender): void {
    this.#appender = appender;
    this.row = 0;
    this.count = 0;
  }

  /** Text column col of this row: the UTF-8 bytes b[start, end). */
  bytes(col: number, b: Uint8Array, start: number, end: number): void {
    duckdb.vector_assign_string_element_len(this.#vectors[col]!, this.row, b.subarray(start, end));
  }

  /** Text column col of this row: a JS string. */
  text(col: number, s: string): void {
    duckdb.vector_assign_string_element(this.#vectors[col]!, this.row, s);
  }

  /** Text column col: JSON string content b[start, end), unescaped if it must be. */
  jsonContent(col: number, b: Uint8Array, start: number, end: number): void {
    if (escaped(b, start, end)) this.text(col, jsonText(b.subarray(start, end)));
    else this.bytes(col, b, start, end);
  }

  /** Number column col of this row. */
  number(col: number, v: number): void {
    this.#numbers[col]![this.row] = v;
  }

  endRow(): void {
    this.count++;
    if (++this.row === CHUNK) this.#flushChunk();
  }

  #flushChunk(): void {
    const n = this.row;
    if (n === 0) return;
    for (let c = 0; c < this.#vectors.length; c++) {
      const a = this.#numbers[c];
      if (a !== null && a !== undefined) duckdb.copy_data_to_vector(this.#vectors[c]!, 0, a.buffer as ArrayBuffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
    }
    this.#chunk.rowCount = n;
    this.#appender!.appendDataChunk(this.#chunk);
    duckdb.data_chunk_reset(this.#chunk.chunk);
    this.row = 0;
  }

  /** Appends what is left and closes the appender. */
  close(): void {
    this.#flushChunk();
    const appender = this.#appender!;
    this.#appender = null;
    appender.flushSync();
    appender.closeSync();
  }
}

/**
 * Label sets by id: a fleet has few distinct label sets, so each is
 * parsed into a MAP once, in DuckDB (the label_sets table), and rows carry
 * its id. Id 0 is no labels (an empty MAP). New sets wait in `fresh` until
 * the rows that use them are inserted.
 */
export class LabelSets {
  #ids = new Map<string, number>();
  #next = 1;
  /** [id, JSON text] of sets not yet in DuckDB. */
  fresh: [number, string][] = [];

  get size(): number {
    return this.#ids.size;
  }

  /** The id of the labels object b[start, end) (0: none). */
  idOf(b: Uint8Array, start: number, end: number): number {
    if (start === end) return 0;
    const text = latin1(b, start, end);
    let id = this.#ids.get(text);
    if (id === undefined) {
      id = this.#next++;
      this.#ids.set(text, id);
      // The map key is the bytes as latin1; DuckDB gets them as text.
      this.fresh.push([id, Buffer.from(text, 'latin1').toString('utf8')]);
    }
    return id;
  }

  /** Forgets every set (the table is emptied alongside). */
  reset(): void {
    this.#ids.clear();
    this.#next = 1;
    this.fresh = [];
  }
}

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;
function latin1(b: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(b, start, end);
}

/** Staging columns of an instance row. */
export const INST_STAGING =
  'app VARCHAR, app_id VARCHAR, host VARCHAR, host_ip VARCHAR, ver VARCHAR, instance USMALLINT, lset UINTEGER, since UINTEGER, slot UINTEGER, last_update UINTEGER';
export const INST_STAGING_TYPES: DuckDBType[] = [VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, USMALLINT, UINTEGER, UINTEGER, UINTEGER, UINTEGER];

/**
 * Writes the staging row of a stored instance (key, value); last_update is
 * the later of its written_at and `clock` (the instance's clock now).
 * Returns the slot.
 */
export function writeInstance(w: ChunkWriter, labels: LabelSets, key: Uint8Array, value: Uint8Array, clock: number): number {
  // The key: app_id 0 host 0 instance (u16 BE); 0 and 1 inside a part are escaped with 1.
  let appEnd = 0;
  while (key[appEnd] !== 0) appEnd++;
  let hostEnd = appEnd + 1;
  let plain = true;
  for (; hostEnd < key.length && key[hostEnd] !== 0; hostEnd++) if (key[hostEnd] === 1) plain = false;
  for (let i = 0; i < appEnd && plain; i++) if (key[i] === 1) plain = false;
  if (plain && hostEnd === key.length - 3) {
    w.bytes(1, key, 0, appEnd);
    w.bytes(2, key, appEnd + 1, hostEnd);
    w.number(5, (key[hostEnd + 1]! << 8) | key[hostEnd + 2]!);
  } else {
    const [appId, host, instance] = keyParts(key);
    w.text(1, appId);
    w.text(2, host);
    w.number(5, instance);
  }
  const verAt = INSTANCE_HEADER + u16(value, V_APP_LEN);
  const ipAt = verAt + u16(value, V_VER_LEN);
  const labelsAt = ipAt + value[V_IP_LEN]!;
  w.jsonContent(0, value, INSTANCE_HEADER, verAt);
  if (ascii(value, ipAt, labelsAt)) w.bytes(3, value, ipAt, labelsAt);
  else w.text(3, latin1(value, ipAt, labelsAt));
  w.jsonContent(4, value, verAt, ipAt);
  w.number(6, labels.idOf(value, labelsAt, labelsAt + u16(value, V_LABELS_LEN)));
  w.number(7, u32(value, V_SINCE));
  const slot = u32(value, V_SLOT);
  w.number(8, slot);
  const writtenAt = u32(value, V_WRITTEN_AT);
  w.number(9, Math.max(clock, writtenAt));
  w.endRow();
  return slot;
}

/** The slot of a stored instance value. */
export function slotOf(value: Uint8Array): number {
  return u32(value, V_SLOT);
}

/** Staging columns of a history row: text as stored, NULLs and `change` made in SQL from flags. */
export const HISTORY_STAGING =
  'app VARCHAR, app_id VARCHAR, host VARCHAR, host_ip VARCHAR, ver VARCHAR, prev_ver VARCHAR, instance USMALLINT, lset UINTEGER, time UINTEGER, flags UTINYINT';
export const HISTORY_STAGING_TYPES: DuckDBType[] = [VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, USMALLINT, UINTEGER, UINTEGER, UTINYINT];

/** How the staging history columns become store.history's. */
export const HISTORY_SELECT = `h.app, h.app_id, h.host, CASE WHEN h.host_ip = '' THEN NULL ELSE h.host_ip END, h.instance::INTEGER,
  CASE WHEN h.flags & ${EntryFlag.removed} <> 0 THEN NULL ELSE h.ver END, CASE WHEN h.flags & ${EntryFlag.first} <> 0 THEN NULL ELSE h.prev_ver END,
  l.map, h.time::BIGINT,
  CASE WHEN h.flags & ${EntryFlag.removed} <> 0 THEN 'removed' WHEN h.flags & ${EntryFlag.first} <> 0 THEN 'new' WHEN h.flags & ${EntryFlag.labels} <> 0 THEN 'labels' ELSE 'version' END`;

/** Writes the staging rows of a history block's entries (store/history.ts); returns how many. */
export function writeHistoryBlock(w: ChunkWriter, labels: LabelSets, block: Uint8Array): number {
  let n = 0;
  const size = block.length;
  // Block: [u32 count][u32 oldest][u32 newest][u32 0], then entries.
  for (let at = 16; at < size; at += u16(block, at)) {
    const end = at + u16(block, at);
    let o = at + ENTRY_HEADER;
    const appIdEnd = o + u16(block, at + 10);
    const appEnd = appIdEnd + u16(block, at + 12);
    const hostEnd = appEnd + u16(block, at + 14);
    const verEnd = hostEnd + u16(block, at + 16);
    const prevEnd = verEnd + u16(block, at + 18);
    const ipEnd = prevEnd + block[at + 9]!;
    w.jsonContent(1, block, o, appIdEnd);
    o = appIdEnd;
    w.jsonContent(0, block, o, appEnd);
    w.jsonContent(2, block, appEnd, hostEnd);
    w.jsonContent(4, block, hostEnd, verEnd);
    w.jsonContent(5, block, verEnd, prevEnd);
    if (ascii(block, prevEnd, ipEnd)) w.bytes(3, block, prevEnd, ipEnd);
    else w.text(3, Buffer.from(block.buffer, block.byteOffset + prevEnd, ipEnd - prevEnd).toString('utf8'));
    w.number(6, u16(block, at + 6));
    w.number(7, labels.idOf(block, ipEnd, end));
    w.number(8, u32(block, at + 2));
    w.number(9, block[at + 8]!);
    w.endRow();
    n++;
  }
  return n;
}
