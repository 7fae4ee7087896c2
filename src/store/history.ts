// Version history: one entry per first sight, version change and removal
// of an instance, kept for --history-days.
//
// Entries are stored in blocks, one block per app and one per host per
// commit (DB history: app_id| block; DB histhost: host| block; block is the
// batch id, u64 big-endian, so an app's or a host's blocks are in time
// order). A change therefore costs no LMDB write of its own: in a storm of
// 100,000 changes a commit writes a few dozen app blocks and a few thousand
// host blocks instead of 100,000 random entries.
//
// Block value: [u32 entry count][u32 oldest time][u32 newest time][u32 0] then entries.
// Entry:       [u16 size][u32 time][u16 instance][u16 app_id len][u16 host len][u16 ver len][u8 flags][u8 0]
//              then app_id, host (JSON string content), ver (JSON string content), and the
//              entry as JSON: {"app","app_id","host","host_ip","instance","ver","prev_ver","time"}.
// The binary part lets queries filter (host, instance, time) and the rollout
// count versions without parsing JSON; the JSON is copied into answers.

export const BLOCK_HEADER = 16;
export const ENTRY_HEADER = 16;

export const EntryFlag = {
  /** The instance was removed (ver is null). */
  removed: 1,
  /** Removed by --trim (else by a DELETE). */
  trimmed: 2,
} as const;

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

/** The key of a block: an app's or host's key part, then the block id. */
export function blockKey(part: Uint8Array, block: number): Buffer {
  const key = Buffer.allocUnsafe(part.length + 8);
  key.set(part, 0);
  key.writeUInt32BE(Math.floor(block / 2 ** 32), part.length);
  key.writeUInt32BE(block >>> 0, part.length + 4);
  return key;
}

/** The block id of a block key. */
export function blockOf(key: Uint8Array): number {
  const at = key.length - 8;
  const hi = ((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) >>> 0;
  const lo = ((key[at + 4]! << 24) | (key[at + 5]! << 16) | (key[at + 6]! << 8) | key[at + 7]!) >>> 0;
  return hi * 2 ** 32 + lo;
}

/** One entry as read back from a block: views into the block. */
export interface EntryView {
  time: number;
  instance: number;
  flags: number;
  appId: Uint8Array;
  host: Uint8Array;
  ver: Uint8Array;
  json: Uint8Array;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** The newest entry time in a block. */
export function blockNewest(block: Uint8Array): number {
  return u32(block, 8);
}

/** Offsets of every entry of a block, oldest first. */
export function entryOffsets(block: Uint8Array, size = block.length): number[] {
  const out: number[] = [];
  for (let at = BLOCK_HEADER; at < size; at += u16(block, at)) out.push(at);
  return out;
}

/** Reads the entry at offset `at` of a block. */
export function readEntry(block: Uint8Array, at: number, into: EntryView): EntryView {
  const size = u16(block, at);
  const appIdLen = u16(block, at + 8);
  const hostLen = u16(block, at + 10);
  const verLen = u16(block, at + 12);
  let o = at + ENTRY_HEADER;
  into.time = u32(block, at + 2);
  into.instance = u16(block, at + 6);
  into.flags = block[at + 14]!;
  into.appId = block.subarray(o, (o += appIdLen));
  into.host = block.subarray(o, (o += hostLen));
  into.ver = block.subarray(o, (o += verLen));
  into.json = block.subarray(o, at + size);
  return into;
}

export function newEntryView(): EntryView {
  const empty = new Uint8Array(0);
  return { time: 0, instance: 0, flags: 0, appId: empty, host: empty, ver: empty, json: empty };
}

/**
 * The entries absorbed since the last cut, in arrival order, each tagged
 * with its app and host slot; cut() groups them into blocks.
 */
export class HistoryLog {
  #buf = Buffer.alloc(1 << 16);
  #used = 0;
  #app = new Int32Array(1024);
  #host = new Int32Array(1024);
  #at = new Int32Array(1024);
  #count = 0;

  get length(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#used;
  }

  /**
   * Appends an entry. appId, host and ver are JSON string content; json is
   * the concatenation of jsonParts.
   */
  push(app: number, host: number, time: number, instance: number, flags: number, appId: Uint8Array, hostJson: Uint8Array, ver: Uint8Array, jsonParts: readonly Uint8Array[]): void {
    let jsonLength = 0;
    for (const p of jsonParts) jsonLength += p.length;
    const size = ENTRY_HEADER + appId.length + hostJson.length + ver.length + jsonLength;
    if (size > 0xffff) throw new RangeError(`history entry of ${size} bytes`);
    if (this.#used + size > this.#buf.length) {
      const grown = Buffer.alloc(Math.max(this.#buf.length * 2, this.#used + size));
      this.#buf.copy(grown, 0, 0, this.#used);
      this.#buf = grown;
    }
    if (this.#count === this.#app.length) {
      const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#app = grow(this.#app);
      this.#host = grow(this.#host);
      this.#at = grow(this.#at);
    }
    const b = this.#buf;
    const at = this.#used;
    b.writeUInt16LE(size, at);
    b.writeUInt32LE(time >>> 0, at + 2);
    b.writeUInt16LE(instance, at + 6);
    b.writeUInt16LE(appId.length, at + 8);
    b.writeUInt16LE(hostJson.length, at + 10);
    b.writeUInt16LE(ver.length, at + 12);
    b[at + 14] = flags;
    b[at + 15] = 0;
    let o = at + ENTRY_HEADER;
    for (const p of [appId, hostJson, ver, ...jsonParts]) {
      b.set(p, o);
      o += p.length;
    }
    this.#app[this.#count] = app;
    this.#host[this.#count] = host;
    this.#at[this.#count] = at;
    this.#count++;
    this.#used += size;
  }

  /**
   * Groups the entries into one block per app and one per host; calls
   * emit(kind, slot, block bytes) for each. Entries stay in arrival order
   * inside a block.
   */
  blocks(emit: (kind: 'app' | 'host', slot: number, block: Uint8Array) => void): void {
    this.#group(this.#app, (slot, block) => emit('app', slot, block));
    this.#group(this.#host, (slot, block) => emit('host', slot, block));
  }

  #group(slots: Int32Array, emit: (slot: number, block: Uint8Array) => void): void {
    const n = this.#count;
    // Stable grouping by slot (a counting sort: slots are small integers).
    let max = 0;
    for (let i = 0; i < n; i++) if (slots[i]! > max) max = slots[i]!;
    const start = new Int32Array(max + 2);
    for (let i = 0; i < n; i++) start[slots[i]! + 1]!++;
    for (let s = 1; s < start.length; s++) start[s]! += start[s - 1]!;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[start[slots[i]!]!++] = i;
    const buf = this.#buf;
    let i = 0;
    while (i < n) {
      const slot = slots[order[i]!]!;
      let j = i;
      let bytes = BLOCK_HEADER;
      let oldest = 0xffffffff;
      let newest = 0;
      while (j < n && slots[order[j]!] === slot) {
        const at = this.#at[order[j]!]!;
        bytes += buf.readUInt16LE(at);
        const t = buf.readUInt32LE(at + 2);
        if (t < oldest) oldest = t;
        if (t > newest) newest = t;
        j++;
      }
      const block = Buffer.allocUnsafe(bytes);
      block.writeUInt32LE(j - i, 0);
      block.writeUInt32LE(oldest, 4);
      block.writeUInt32LE(newest, 8);
      block.writeUInt32LE(0, 12);
      let o = BLOCK_HEADER;
      for (let k = i; k < j; k++) {
        const at = this.#at[order[k]!]!;
        const size = buf.readUInt16LE(at);
        buf.copy(block, o, at, at + size);
        o += size;
      }
      emit(slot, block);
      i = j;
    }
  }

  clear(): void {
    this.#used = 0;
    this.#count = 0;
    if (this.#buf.length > 1 << 22) this.#buf = Buffer.alloc(1 << 16);
  }
}
