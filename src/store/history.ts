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

/** The instance part of an entry's key. */
export function historyInstance(key: Uint8Array): Uint8Array {
  return key.subarray(0, key.length - 8);
}

export function historyValue(e: HistoryEntry): Buffer {
  return Buffer.from(JSON.stringify(e));
}
