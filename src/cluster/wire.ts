// What travels between nodes: messages of ring records (src/ingest/record.ts),
// as the origin's writer committed them, many per message.
//
//   [u8 WIRE_VERSION][u8 kind][u8 origin length][origin name][u32 count]
//   then count x ([u32 length][record bytes])
//
// kind changes: update records (first sights, version and address
// changes, HTTP re-sends); kind control: one remove or clear record;
// kind snapshot: update records rebuilt from a node's store (snapshot.ts).
// A receiver pushes each record into its HTTP ring flagged remote, with
// the origin after it (remote.ts), so remote changes take the same path
// as local ones. Records keep the origin's content fingerprint, so a
// repeat is a repeat on every node.

import { RECORD_HEADER, R_FRAG_LEN, R_KEY_LEN, R_TYPE, RecordType, get16 } from '../ingest/record.js';

export const WIRE_VERSION = 1;
export const WireKind = { changes: 1, control: 2, snapshot: 3 } as const;

/** Length of the record at rec[at] (header, key, fragment for updates). */
export function recordLength(rec: Uint8Array, at: number): number {
  const keyLen = get16(rec, at + R_KEY_LEN);
  return RECORD_HEADER + keyLen + (rec[at + R_TYPE] === RecordType.update ? get16(rec, at + R_FRAG_LEN) : 0);
}

/** Builds one message; grows as needed. */
export class WireWriter {
  #buf: Buffer;
  #len: number;
  #count = 0;
  readonly #countAt: number;

  constructor(kind: number, origin: Uint8Array, initial = 1 << 14) {
    this.#buf = Buffer.allocUnsafe(Math.max(initial, 64 + origin.length));
    this.#buf[0] = WIRE_VERSION;
    this.#buf[1] = kind;
    this.#buf[2] = origin.length;
    this.#buf.set(origin, 3);
    this.#countAt = 3 + origin.length;
    this.#len = this.#countAt + 4;
  }

  get count(): number {
    return this.#count;
  }

  get length(): number {
    return this.#len;
  }

  /** Adds the record rec[at, at + length). */
  add(rec: Uint8Array, at: number, length: number): void {
    if (this.#len + 4 + length > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + 4 + length));
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    const buf = this.#buf;
    let o = this.#len;
    buf[o++] = length;
    buf[o++] = length >>> 8;
    buf[o++] = length >>> 16;
    buf[o++] = length >>> 24;
    // A loop for a record's couple of hundred bytes: no view to allocate,
    // and cheaper than Buffer#copy's checks (the writer calls this per change).
    if (length <= 512) {
      for (let i = 0; i < length; i++) buf[o + i] = rec[at + i]!;
    } else {
      buf.set(rec.subarray(at, at + length), o);
    }
    this.#len += 4 + length;
    this.#count++;
  }

  /** The message (a view of the writer's buffer; the writer may be reused after reset()). */
  bytes(): Buffer {
    this.#buf.writeUInt32LE(this.#count, this.#countAt);
    return this.#buf.subarray(0, this.#len);
  }

  reset(): void {
    this.#len = this.#countAt + 4;
    this.#count = 0;
  }
}

export interface WireMessage {
  kind: number;
  origin: Buffer;
  count: number;
  /** The message's bytes: record i is bytes[spans[2i], spans[2i] + spans[2i + 1]). */
  bytes: Buffer;
  spans: number[];
  /** Calls visit(bytes, at, length) for every record. */
  each(visit: (bytes: Buffer, at: number, length: number) => void): void;
}

export class WireError extends Error {
  override readonly name = 'WireError';
}

/** Whether a message comes from this origin, without reading it further. */
export function fromOrigin(data: Uint8Array, origin: Uint8Array): boolean {
  if (data.length < 3 + origin.length || data[2] !== origin.length) return false;
  for (let i = 0; i < origin.length; i++) if (data[3 + i] !== origin[i]) return false;
  return true;
}

/** Reads a message (checking its lengths). */
export function readWire(data: Uint8Array): WireMessage {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 8 || buf[0] !== WIRE_VERSION) throw new WireError(`not a cluster message of version ${WIRE_VERSION}`);
  const kind = buf[1]!;
  const nameLen = buf[2]!;
  const origin = buf.subarray(3, 3 + nameLen);
  const countAt = 3 + nameLen;
  const count = buf.readUInt32LE(countAt);
  let at = countAt + 4;
  const spans: number[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw new WireError('cluster message cut short');
    const len = buf.readUInt32LE(at);
    if (len < RECORD_HEADER || at + 4 + len > buf.length) throw new WireError('cluster message has a bad record length');
    spans.push(at + 4, len);
    at += 4 + len;
  }
  return {
    kind,
    origin,
    count,
    bytes: buf,
    spans,
    each(visit) {
      for (let i = 0; i < spans.length; i += 2) visit(buf, spans[i]!, spans[i + 1]!);
    },
  };
}
