// Version history (DB history): one entry per first sight, version change
// and removal of an instance, kept for --history-days.
//
// key   app_id| host| instance(u16) ~time(u32 BE) ~seq(u32 BE)
// value {"app","app_id","host","instance","ver","prev_ver","host_ip","time"} as JSON text
//
// Entries of one instance are contiguous and newest first (the inverted
// time), so "the history of this app on this host" is one short range, and
// an app's whole history is one range grouped by instance, which is what the
// rollout aggregation wants.

const INVERT = 0xffffffff;
let seq = Number(process.hrtime.bigint() % 0x100000000n);

export interface HistoryEntry {
  app: string;
  app_id: string;
  host: string;
  instance: number;
  /** null when the instance was removed. */
  ver: string | null;
  /** null at first sight. */
  prev_ver: string | null;
  /** null for a removal (the address is not kept in memory). */
  host_ip: string | null;
  time: number;
}

/** The key of a new entry for the instance with storage key instKey. */
export function historyKey(instKey: Uint8Array, time: number): Buffer {
  const key = Buffer.allocUnsafe(instKey.length + 8);
  key.set(instKey, 0);
  key.writeUInt32BE(INVERT - time, instKey.length);
  seq = (seq + 1) >>> 0;
  key.writeUInt32BE(INVERT - seq, instKey.length + 4);
  return key;
}

/** The time of an entry, from its key. */
export function historyTime(key: Uint8Array): number {
  const at = key.length - 8;
  return INVERT - (((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) >>> 0);
}

export function historyValue(e: HistoryEntry): Buffer {
  return Buffer.from(JSON.stringify(e));
}

/**
 * History entries waiting to be persisted, packed in one growable buffer
 * ([u16 key length][u32 value length][key][value] each): a storm of first
 * sights makes hundreds of thousands of them, which as separate Buffers
 * would bloat the writer's heap long after they are written.
 */
export class HistoryQueue {
  #buf = Buffer.alloc(1 << 16);
  #head = 0;
  #tail = 0;
  #count = 0;

  get length(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#tail - this.#head;
  }

  /** Queues an entry whose value is the concatenation of parts. */
  push(key: Uint8Array, ...parts: Uint8Array[]): void {
    let valueLength = 0;
    for (const p of parts) valueLength += p.length;
    const need = 6 + key.length + valueLength;
    if (this.#tail + need > this.#buf.length) {
      const live = this.#tail - this.#head;
      const next = live + need > this.#buf.length / 2 ? Buffer.alloc(Math.max(this.#buf.length * 2, live + need)) : this.#buf;
      this.#buf.copy(next, 0, this.#head, this.#tail);
      this.#buf = next;
      this.#head = 0;
      this.#tail = live;
    }
    const b = this.#buf;
    b.writeUInt16LE(key.length, this.#tail);
    b.writeUInt32LE(valueLength, this.#tail + 2);
    b.set(key, this.#tail + 6);
    let o = this.#tail + 6 + key.length;
    for (const p of parts) {
      b.set(p, o);
      o += p.length;
    }
    this.#tail += need;
    this.#count++;
  }

  /** Calls put(key, value) for the first n entries, without removing them. */
  peek(n: number, put: (key: Buffer, value: Buffer) => void): void {
    let at = this.#head;
    for (let i = 0; i < n && i < this.#count; i++) {
      const kl = this.#buf.readUInt16LE(at);
      const vl = this.#buf.readUInt32LE(at + 2);
      put(this.#buf.subarray(at + 6, at + 6 + kl), this.#buf.subarray(at + 6 + kl, at + 6 + kl + vl));
      at += 6 + kl + vl;
    }
  }

  /** Removes the first n entries (after they are committed). */
  drop(n: number): void {
    for (let i = 0; i < n && this.#count > 0; i++) {
      this.#head += 6 + this.#buf.readUInt16LE(this.#head) + this.#buf.readUInt32LE(this.#head + 2);
      this.#count--;
    }
    if (this.#count === 0) {
      this.#head = this.#tail = 0;
      if (this.#buf.length > 1 << 20) this.#buf = Buffer.alloc(1 << 16);
    }
  }

  clear(): void {
    this.#head = this.#tail = this.#count = 0;
    this.#buf = Buffer.alloc(1 << 16);
  }
}
