// The LMDB layout: one environment (the --data folder) with these named
// databases. Keys are built by keys.ts; values are little-endian binary
// headers followed by UTF-8 JSON fragments that the query side copies
// straight into responses.
//
// inst    app_id|host|instance       -> INSTANCE value (the version object)
// byhost  host|app_id|instance       -> empty   (version/?host=H)
// byver   app_id|ver|host|instance   -> empty   (version/?app_id=A&ver=V)
// apps    app_id|                    -> SUMMARY value ({app, app_id, host_count})
// hosts   host|                      -> SUMMARY value ({host, app_count})
// clock   kind u8, chunk u32 BE      -> CLOCK_CHUNK x u32 last_update times
// history app_id|host|instance ~time ~seq -> JSON entry (history.ts)
// histhost host|app_id|               -> empty   (the apps a host ever had: its history)
// appvers app_id|                    -> JSON [{ver, count, up_count, stale_count}]
// meta    string                     -> JSON
//
// Why a separate clock: in a storm almost every update only moves
// last_update. Rewriting a 150-byte record at a random place in a B-tree
// for that costs ~10 µs; instead every instance, host and app has a slot
// number, and its last_update lives in a dense array of u32 seconds that the
// writer flushes in 4 KiB chunks a few times a second. A stored record also
// keeps the time it was last written, and readers use the later of the two.

export const DB = {
  inst: 'inst',
  byhost: 'byhost',
  byver: 'byver',
  apps: 'apps',
  hosts: 'hosts',
  clock: 'clock',
  history: 'history',
  histhost: 'histhost',
  appvers: 'appvers',
  meta: 'meta',
} as const;

/**
 * Options for lmdb's open(). Within a process lmdb-js shares one
 * environment per path between threads (writer, HTTP front, query pool), so
 * every opener must pass the same ones. The map size is address space, not
 * disk: the file grows as data does.
 */
export function envOptions(path: string, mapSize = 2 ** 34): { path: string; maxDbs: number; mapSize: number } {
  return { path, maxDbs: 16, mapSize };
}

/** Bumped when the layout changes incompatibly; checked at open. */
export const SCHEMA_VERSION = 1;

// Instance value header: [u32 slot][u32 since][u32 written_at][u16 verOff][u16 verLen]
// then the fragment `{"app":…,"ver":"…","last_update":`.
// since: when this version was first seen; written_at: last_update when the
// record was written; verOff/verLen: ver's JSON content inside the fragment.
export const V_SLOT = 0;
export const V_SINCE = 4;
export const V_WRITTEN_AT = 8;
export const V_VER_OFF = 12;
export const V_VER_LEN = 14;
export const INSTANCE_HEADER = 16;

// Summary value header: [u32 slot][u32 count][u32 written_at][u16 nameLen][u16 0]
// then the fragment `{"app":"…","app_id":"…","host_count":N,"last_update":`
// or `{"host":"…","app_count":N,"last_update":`.
export const S_SLOT = 0;
export const S_COUNT = 4;
export const S_WRITTEN_AT = 8;
/** Length of the name's JSON content, which starts right after `{"app":"` or `{"host":"`. */
export const S_NAME_LEN = 12;
export const SUMMARY_HEADER = 16;

export const ClockKind = { instance: 1, host: 2, app: 3 } as const;
export type ClockKindValue = (typeof ClockKind)[keyof typeof ClockKind];

/** Slots per clock chunk: 1020 x 4 bytes fills one LMDB overflow page. */
export const CLOCK_CHUNK = 1020;

export function clockKey(kind: number, chunk: number): Buffer {
  const key = Buffer.allocUnsafe(5);
  key[0] = kind;
  key.writeUInt32BE(chunk, 1);
  return key;
}
