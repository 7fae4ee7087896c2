// The conflict rule, on the writer thread: what a node does with a change
// that another node committed (a ring record flagged RecordFlag.remote).
//
// Every instance's content carries when it was set (its content time: the
// unix second the update that set it was received, on whichever node) and
// the node that received it (its origin). A change replaces the content
// only if (time, origin name) is not older than what the instance has:
// the later update wins, and at the same second the greater node name
// wins. The rule is a total order on changes, so every node that sees the
// same changes, in any order, ends with the same content (a last-writer-
// wins register per instance). A change from the same origin at the same
// second replaces the content too: one node's changes travel in the order
// it committed them.
//
// Removals (DELETE) take part as tombstones: a removal at time T by node N
// removes only instances whose content is older than (T, N), and a change
// older than a tombstone that matches its instance arrives too late and is
// dropped. Tombstones are kept for TOMBSTONE_SECONDS (at most MAX_TOMBSTONES).
//
// A remote record carries its origin in a trailer after its bytes:
// [u8 name length][name], and when it comes from a node's stored state (a
// snapshot or resync, whose content may be older than its last_update) the
// instance's last_update after it: [u32 unix s]. Content time is the
// record's R_TIME.

import { RECORD_HEADER, R_FRAG_LEN, R_KEY_LEN, R_TYPE, RecordType, get16 } from '../ingest/record.js';
import type { Selector } from '../store/selector.js';
import { Liveness } from './liveness.js';

const TOMBSTONE_SECONDS = 24 * 3600;
const MAX_TOMBSTONES = 10_000;
/** Longest node name (it is also a NATS subject token). */
export const MAX_NODE_NAME = 64;
export const NODE_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

interface Tombstone {
  sel: Selector;
  time: number;
  origin: number;
}

/** Where the origin trailer of a remote record starts. */
export function trailerAt(rec: Uint8Array, off: number): number {
  const keyLen = get16(rec, off + R_KEY_LEN);
  const body = rec[off + R_TYPE] === RecordType.update ? keyLen + get16(rec, off + R_FRAG_LEN) : keyLen;
  return off + RECORD_HEADER + body;
}

/** The record's own bytes, without the origin trailer (what the fleet keeps). */
export function recordBytes(rec: Uint8Array, off: number): number {
  return trailerAt(rec, off) - off;
}

/** The last_update a state record carries after its origin (0: none). */
export function remoteClock(rec: Uint8Array, off: number, len: number): number {
  const at = trailerAt(rec, off);
  const end = at + 1 + rec[at]!;
  if (off + len < end + 4) return 0;
  return (rec[end]! | (rec[end + 1]! << 8) | (rec[end + 2]! << 16) | (rec[end + 3]! << 24)) >>> 0;
}

/** Appends a state record's last_update after its origin; returns the end. */
export function writeClock(out: Uint8Array, at: number, time: number): number {
  out[at] = time;
  out[at + 1] = time >>> 8;
  out[at + 2] = time >>> 16;
  out[at + 3] = time >>> 24;
  return at + 4;
}

/** Appends [u8 length][name] at out[at]; returns the end. */
export function writeOrigin(out: Uint8Array, at: number, name: Uint8Array): number {
  out[at] = name.length;
  out.set(name, at + 1);
  return at + 1 + name.length;
}

export class ClusterState {
  /** This node's name: origin id 0. */
  readonly self: Buffer;
  readonly #names: Buffer[];
  readonly #ids = new Map<string, number>();
  #lastName: Buffer;
  #lastId = 0;
  #tombstones: Tombstone[] = [];
  /** Remote changes that lost the rule (older than what this node has). */
  lost = 0;
  /** What this node heard since its last liveness digest. */
  readonly liveness = new Liveness();
  /** Set by the writer thread: whether the outbox takes entries (false while it is full). */
  outboxOpen: () => boolean = () => true;

  constructor(self: string) {
    this.self = Buffer.from(self);
    this.#names = [this.self];
    this.#ids.set(self, 0);
    this.#lastName = this.self;
  }

  /** The id of a node name (bytes), added if new. */
  originId(name: Uint8Array): number {
    if (bytesEqual(name, this.#lastName)) return this.#lastId;
    const key = Buffer.from(name).toString('latin1');
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#names.length;
      this.#names.push(Buffer.from(name));
      this.#ids.set(key, id);
    }
    this.#lastName = this.#names[id]!;
    this.#lastId = id;
    return id;
  }

  /** The origin id in the trailer of the remote record at rec[off]. */
  recordOrigin(rec: Uint8Array, off: number): number {
    const at = trailerAt(rec, off);
    return this.originId(rec.subarray(at + 1, at + 1 + rec[at]!));
  }

  name(id: number): Buffer {
    return this.#names[id] ?? this.self;
  }

  /** Orders (time, origin) pairs: negative when a is older than b. */
  compare(timeA: number, originA: number, timeB: number, originB: number): number {
    if (timeA !== timeB) return timeA - timeB;
    if (originA === originB) return 0;
    return Buffer.compare(this.#names[originA]!, this.#names[originB]!);
  }

  /** A removal at (time, origin) of what sel matches: later changes older than it are dropped. */
  addTombstone(sel: Selector, time: number, origin: number): void {
    const cutoff = time - TOMBSTONE_SECONDS;
    if (this.#tombstones.length >= MAX_TOMBSTONES || (this.#tombstones.length > 0 && this.#tombstones[0]!.time < cutoff)) {
      this.#tombstones = this.#tombstones.filter((t) => t.time >= cutoff).slice(-(MAX_TOMBSTONES - 1));
    }
    this.#tombstones.push({ sel, time, origin });
  }

  /**
   * Whether a change at (time, origin) to the instance (appId, host,
   * instance) is older than a removal that covers it. `parts` is called
   * only when there are tombstones (it decodes the key).
   */
  buried(time: number, origin: number, parts: () => { appId: string; host: string; instance: number }): boolean {
    if (this.#tombstones.length === 0) return false;
    const p = parts();
    for (const t of this.#tombstones) {
      if (t.sel.appId !== undefined && t.sel.appId !== p.appId) continue;
      if (t.sel.host !== undefined && t.sel.host !== p.host) continue;
      if (t.sel.instance !== undefined && t.sel.instance !== p.instance) continue;
      if (this.compare(time, origin, t.time, t.origin) < 0) return true;
    }
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
