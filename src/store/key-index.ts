// The writer's in-memory index of live keys: storage key bytes -> slot.
// The writer keeps three: instances (app_id|host|instance), hosts and apps.
//
// Every live key has a slot number, and per-slot Int32 columns hold what
// the writer needs on its hot path without reading LMDB (for instances: the
// content fingerprint of the stored version object and the host and app
// slots; for hosts and apps: how many apps/hosts they have). last_update
// lives in the writer's SlotClocks, indexed by the same slots. Key bytes
// live in an arena and are compared in full on every lookup, so two keys
// never share a slot.
//
// The hash table is open addressing with linear probing over Int32 cells
// holding slot+1 (0 = empty); deletion shifts followers back instead of
// leaving tombstones. Memory per key: 4 bytes per column, ~11 bytes of
// bookkeeping, ~8 of table, plus the key bytes.

export const SlotState = { free: 0, live: 1, removed: 2 } as const;

export class KeyIndex {
  /** Per-slot Int32 columns; their meaning belongs to the owner. */
  readonly cols: Int32Array[];
  state: Uint8Array;
  #keyHash: Int32Array;
  #keyOff: Uint32Array;
  #keyLen: Uint16Array;

  #table: Int32Array;
  #mask: number;
  #arena: Uint8Array;
  #arenaUsed = 0;
  #arenaGarbage = 0;
  #free: number[] = [];
  #highWater = 0;
  #live = 0;

  constructor(columns: number, initialSlots = 1 << 12) {
    const cap = Math.max(16, initialSlots);
    this.cols = Array.from({ length: columns }, () => new Int32Array(cap));
    this.state = new Uint8Array(cap);
    this.#keyHash = new Int32Array(cap);
    this.#keyOff = new Uint32Array(cap);
    this.#keyLen = new Uint16Array(cap);
    this.#table = new Int32Array(nextPow2(cap * 2));
    this.#mask = this.#table.length - 1;
    this.#arena = new Uint8Array(cap * 48);
  }

  /** Live keys. */
  get size(): number {
    return this.#live;
  }

  /** One past the highest slot ever used (slots below it may be free). */
  get highWater(): number {
    return this.#highWater;
  }

  /** The slot holding key src[off, off+len) (hash from hashBytes), or -1. */
  find(src: Uint8Array, off: number, len: number, hash: number): number {
    const table = this.#table;
    const mask = this.#mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const cell = table[i]!;
      if (cell === 0) return -1;
      const slot = cell - 1;
      if (this.#keyHash[slot] === hash && this.#keyLen[slot] === len && this.#keyEquals(slot, src, off, len)) return slot;
    }
  }

  /**
   * The live slot whose key has this hash and passes match(slot), or -1:
   * for callers that know a key by its hashes only (a cluster digest).
   */
  findHashed(hash: number, match: (slot: number) => boolean): number {
    const table = this.#table;
    const mask = this.#mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const cell = table[i]!;
      if (cell === 0) return -1;
      if (this.#keyHash[cell - 1] === hash && match(cell - 1)) return cell - 1;
    }
  }

  #keyEquals(slot: number, src: Uint8Array, off: number, len: number): boolean {
    const arena = this.#arena;
    const at = this.#keyOff[slot]!;
    for (let i = 0; i < len; i++) if (arena[at + i] !== src[off + i]) return false;
    return true;
  }

  /** Makes room for n keys at once (before a load: no repeated growing and rehashing). */
  reserve(n: number, keyBytes = n * 48): void {
    while (this.state.length < n) this.#growSlots();
    if (this.#table.length < n * 2) this.#rehash(nextPow2(n * 2));
    if (this.#arena.length < keyBytes) this.#growArena(keyBytes - this.#arenaUsed);
  }

  /** Adds a key that find() did not find; returns its new slot, every column 0. */
  insert(src: Uint8Array, off: number, len: number, hash: number): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#highWater++;
    if (slot >= this.state.length) this.#growSlots();
    this.#occupy(slot, src, off, len, hash);
    return slot;
  }

  /** Places a key at a given slot (loading from LMDB, before collectFreeSlots). */
  insertAt(slot: number, src: Uint8Array, off: number, len: number, hash: number): void {
    while (slot >= this.state.length) this.#growSlots();
    if (this.state[slot] !== SlotState.free) throw new Error(`slot ${slot} is already in use`);
    if (slot >= this.#highWater) this.#highWater = slot + 1;
    this.#occupy(slot, src, off, len, hash);
  }

  #occupy(slot: number, src: Uint8Array, off: number, len: number, hash: number): void {
    if (this.#arenaUsed + len > this.#arena.length) this.#growArena(len);
    this.#arena.set(src.subarray(off, off + len), this.#arenaUsed);
    this.#keyOff[slot] = this.#arenaUsed;
    this.#keyLen[slot] = len;
    this.#arenaUsed += len;
    this.#keyHash[slot] = hash;
    for (const col of this.cols) col[slot] = 0;
    this.state[slot] = SlotState.live;
    this.#live++;
    if (this.#live * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    else this.#place(slot);
  }

  /** After loading with insertAt: every slot below highWater not in use becomes free. */
  collectFreeSlots(): void {
    this.#free = [];
    for (let s = this.#highWater - 1; s >= 0; s--) if (this.state[s] === SlotState.free) this.#free.push(s);
  }

  /**
   * Takes a slot out of the table: find() no longer sees it, but its key
   * stays readable (keyOf) until release(), which the writer calls once the
   * removal is committed, so the slot is not reused within the same batch.
   */
  remove(slot: number): void {
    if (this.state[slot] !== SlotState.live) return;
    const table = this.#table;
    const mask = this.#mask;
    let i = this.#keyHash[slot]! & mask;
    while (table[i] !== slot + 1) {
      if (table[i] === 0) throw new Error(`slot ${slot} is live but not in the table`);
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let hole = i;
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.#keyHash[table[j]! - 1]! & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        table[hole] = table[j]!;
        hole = j;
      }
    }
    table[hole] = 0;
    this.state[slot] = SlotState.removed;
    this.#live--;
  }

  release(slot: number): void {
    if (this.state[slot] !== SlotState.removed) return;
    this.state[slot] = SlotState.free;
    this.#arenaGarbage += this.#keyLen[slot]!;
    this.#keyLen[slot] = 0;
    this.#free.push(slot);
    if (this.#arenaGarbage > 1 << 20 && this.#arenaGarbage * 2 > this.#arenaUsed) this.#compactArena();
  }

  /** The key bytes of a slot (a view, valid until the next insert). */
  keyOf(slot: number): Uint8Array {
    const at = this.#keyOff[slot]!;
    return this.#arena.subarray(at, at + this.#keyLen[slot]!);
  }

  /** The length of a slot's key. */
  keyLength(slot: number): number {
    return this.#keyLen[slot]!;
  }

  /** Copies a slot's key bytes into dst at o; returns the end (no view is made). */
  copyKey(slot: number, dst: Uint8Array, o: number): number {
    const arena = this.#arena;
    const at = this.#keyOff[slot]!;
    const end = at + this.#keyLen[slot]!;
    for (let i = at; i < end; i++) dst[o++] = arena[i]!;
    return o;
  }

  /** Forgets everything (after a clear). */
  clear(): void {
    this.#table.fill(0);
    this.state.fill(0);
    this.#free = [];
    this.#highWater = 0;
    this.#live = 0;
    this.#arenaUsed = 0;
    this.#arenaGarbage = 0;
  }

  #place(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = this.#keyHash[slot]! & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  }

  #rehash(size: number): void {
    this.#table = new Int32Array(size);
    this.#mask = size - 1;
    for (let s = 0; s < this.#highWater; s++) if (this.state[s] === SlotState.live) this.#place(s);
  }

  #growSlots(): void {
    const cap = this.state.length * 2;
    const grow = <T extends Uint32Array | Int32Array | Uint16Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    for (let i = 0; i < this.cols.length; i++) this.cols[i] = grow(this.cols[i]!, (n) => new Int32Array(n));
    this.state = grow(this.state, (n) => new Uint8Array(n));
    this.#keyHash = grow(this.#keyHash, (n) => new Int32Array(n));
    this.#keyOff = grow(this.#keyOff, (n) => new Uint32Array(n));
    this.#keyLen = grow(this.#keyLen, (n) => new Uint16Array(n));
  }

  #growArena(need: number): void {
    const next = new Uint8Array(Math.max(this.#arena.length * 2, this.#arenaUsed + need));
    next.set(this.#arena.subarray(0, this.#arenaUsed));
    this.#arena = next;
  }

  #compactArena(): void {
    const next = new Uint8Array(Math.max(1024, (this.#arenaUsed - this.#arenaGarbage) * 2));
    let used = 0;
    for (let s = 0; s < this.#highWater; s++) {
      if (this.state[s] === SlotState.free) continue;
      const at = this.#keyOff[s]!;
      const len = this.#keyLen[s]!;
      next.set(this.#arena.subarray(at, at + len), used);
      this.#keyOff[s] = used;
      used += len;
    }
    this.#arena = next;
    this.#arenaUsed = used;
    this.#arenaGarbage = 0;
  }
}

function nextPow2(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}
