// A table scan that hands each row's key and value bytes to a callback,
// straight from lmdb-js's shared read buffers: no Buffer is created per row.
// Bulk answers (tens of thousands of rows) spend most of their time in
// per-row allocation otherwise. The bytes are valid only during the call.

import type { Database, RootDatabase } from 'lmdb';

/** Return false to stop the scan. */
export type RowVisitor = (key: Uint8Array, keyLength: number, value: Uint8Array, valueLength: number) => boolean;

export class RowStream {
  readonly #db: Database<number, Buffer>;
  #visit: RowVisitor | null = null;
  #key = new Uint8Array(4096);
  #keyLength = 0;
  #stopped = false;

  constructor(env: RootDatabase, name: string) {
    // A second handle on the table, whose key and value "codecs" capture
    // the bytes instead of decoding them into new objects.
    this.#db = env.openDB<number, Buffer>(name, {
      keyEncoder: {
        writeKey: (key: Uint8Array, target: Uint8Array, start: number) => {
          target.set(key, start);
          return start + key.length;
        },
        readKey: (buf: Uint8Array, start: number, end: number) => {
          const key = this.#key;
          for (let i = start; i < end; i++) key[i - start] = buf[i]!;
          this.#keyLength = end - start;
          return 0;
        },
      },
      encoder: {
        encode: (value: Buffer) => value,
        decode: (bytes: Uint8Array, size: number) => {
          if (this.#visit !== null && !this.#visit(this.#key, this.#keyLength, bytes, size)) this.#stopped = true;
          return 0;
        },
      },
    } as never);
  }

  /** Visits the rows with keys in [start, end) (or after start when exclusiveStart). */
  each(start: Uint8Array | undefined, end: Uint8Array | undefined, exclusiveStart: boolean, visit: RowVisitor): void {
    this.#visit = visit;
    this.#stopped = false;
    try {
      for (const _ of this.#db.getRange({ start: start as never, end: end as never, exclusiveStart })) {
        if (this.#stopped) break;
      }
    } finally {
      this.#visit = null;
    }
  }
}

export function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
