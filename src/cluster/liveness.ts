// Liveness digests, on the writer thread: which instances this node heard
// from since its last digest, and when. A repeated update only moves the
// instance's clock (slot-clock.ts); once per digest period the writer
// compares the clock with what it last sent (one u32 per slot, a linear
// scan: ~1 ms per million instances) and sends the slots that moved. So a
// storm of repeats costs the cluster one entry per instance per period,
// however many repeats each instance sent.
//
// Instances are named by key hash (slots are a node's own): an entry is
// [i32 hash32(key)][i32 second hash of the key][u16 seconds before the
// digest's time], 10 bytes. A receiver finds the slot by the first hash
// (its key index is keyed by it) and confirms it with the second.
//
// Digest: [u32 time][u32 count] then count entries.
// Clocks moved by a peer's digest or change are marked as already sent,
// so digests are not echoed back.

import { hash32, hashBytes, hashOut } from '../ingest/hash.js';
import { SlotState, type KeyIndex } from '../store/key-index.js';

export const DIGEST_HEADER = 8;
export const DIGEST_ENTRY = 10;
/** Entries per digest part (a ring record each on the receiving side). */
export const DIGEST_PART_ENTRIES = 3000;

export class Liveness {
  #sent = new Uint32Array(1 << 16);

  /** A peer told this node that slot was heard from at time: no need to tell the others. */
  heard(slot: number, time: number): void {
    if (slot >= this.#sent.length) this.#grow(slot);
    if (time > this.#sent[slot]!) this.#sent[slot] = time;
  }

  #grow(slot: number): void {
    let n = this.#sent.length;
    while (n <= slot) n *= 2;
    const grown = new Uint32Array(n);
    grown.set(this.#sent);
    this.#sent = grown;
  }

  /** Forgets what was sent (after a clear). */
  reset(): void {
    this.#sent.fill(0);
  }

  /**
   * The digest parts of everything heard since the last call, at time
   * `now` (unix s), or an empty list.
   */
  build(inst: KeyIndex, clock: Uint32Array, now: number): Buffer[] {
    const high = inst.highWater;
    if (high > this.#sent.length) this.#grow(high - 1);
    const sent = this.#sent;
    const parts: Buffer[] = [];
    let part: Buffer | null = null;
    let n = 0;
    const close = (): void => {
      if (part === null) return;
      part.writeUInt32LE(n, 4);
      parts.push(part.subarray(0, DIGEST_HEADER + n * DIGEST_ENTRY));
      part = null;
      n = 0;
    };
    for (let s = 0; s < high; s++) {
      const t = clock[s]!;
      if (t <= sent[s]! || inst.state[s] !== SlotState.live) continue;
      sent[s] = t;
      if (part === null) {
        part = Buffer.allocUnsafe(DIGEST_HEADER + DIGEST_PART_ENTRIES * DIGEST_ENTRY);
        part.writeUInt32LE(now, 0);
      }
      const key = inst.keyOf(s);
      const at = DIGEST_HEADER + n * DIGEST_ENTRY;
      part.writeInt32LE(hash32(key, 0, key.length), at);
      hashBytes(key, 0, key.length);
      part.writeInt32LE(hashOut[0]!, at + 4);
      part.writeUInt16LE(Math.min(0xffff, Math.max(0, now - t)), at + 8);
      if (++n === DIGEST_PART_ENTRIES) close();
    }
    close();
    return parts;
  }
}

/**
 * Applies a digest part: for each entry whose instance this node has,
 * touch(slot, time). Returns how many it found.
 */
export function applyDigest(body: Uint8Array, inst: KeyIndex, touch: (slot: number, time: number) => void): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < DIGEST_HEADER) return 0;
  const now = view.getUint32(0, true);
  const count = Math.min(view.getUint32(4, true), Math.floor((body.length - DIGEST_HEADER) / DIGEST_ENTRY));
  let found = 0;
  for (let i = 0; i < count; i++) {
    const at = DIGEST_HEADER + i * DIGEST_ENTRY;
    const h = view.getInt32(at, true);
    const check = view.getInt32(at + 4, true);
    const slot = inst.findHashed(h, (s) => {
      const key = inst.keyOf(s);
      hashBytes(key, 0, key.length);
      return hashOut[0] === check;
    });
    if (slot < 0) continue;
    touch(slot, now - view.getUint16(at + 8, true));
    found++;
  }
  return found;
}
