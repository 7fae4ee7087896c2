// The LMDB layout: one environment (the --data folder) with these named
// databases. Keys are built by keys.ts; values are little-endian binary
// headers followed by UTF-8 JSON fragments that the query side copies
// straight into responses.
//
// inst     app_id|host|instance        -> INSTANCE value (the version object)
// apps     app_id|                     -> SUMMARY value ({app, app_id, host_count, …})
// hosts    host|                       -> SUMMARY value ({host, app_count, …}) + the host's app_ids
// appvers  app_id|                     -> JSON [{ver, count, up_count, stale_count}]
// history  app_id| block(u64 BE)       -> history block: the app's entries of one commit
// histhost host| block(u64 BE)         -> history block: the host's entries of one commit
// clock    kind u8, chunk u32 BE       -> CLOCK_CHUNK x u32 last_update times
// meta     string                      -> JSON (schema, next history block)
// outbox   batch id (u64 BE)           -> cluster only: the batch's local changes, to publish (src/cluster/outbox.ts)
//
// One put per changed instance. A commit rewrites every B-tree page it
// touches, and on this kind of machine touching a page costs far more than
// the put itself (see ARCHITECTURE.md), so the layout keeps what a change
// writes to a minimum: no secondary index per instance (a host's instances
// are found through the app list in its summary, a version's through a scan
// of its app's range), and history written as one block per app and per
// host per commit instead of one entry per change.
//
// Why a separate clock: in a storm almost every update only moves
// last_update. Every instance, host and app has a slot number, and its
// last_update lives in a dense array of u32 seconds that the writer
// persists in chunks every few seconds. A stored record also keeps the
// time it was last written, and readers use the later of the two.

export const DB = {
  inst: 'inst',
  apps: 'apps',
  hosts: 'hosts',
  appvers: 'appvers',
  history: 'history',
  histhost: 'histhost',
  clock: 'clock',
  meta: 'meta',
  outbox: 'outbox',
} as const;

export type DbName = (typeof DB)[keyof typeof DB];

/** Database ids in a write batch (batch.ts), in one place with their names. */
export const DB_IDS: readonly DbName[] = [DB.inst, DB.apps, DB.hosts, DB.appvers, DB.history, DB.histhost, DB.clock, DB.meta, DB.outbox];
export const DbId = { inst: 0, apps: 1, hosts: 2, appvers: 3, history: 4, histhost: 5, clock: 6, meta: 7, outbox: 8 } as const;

/**
 * 16 KiB pages: a big commit touches most leaf pages of `inst` whatever
 * their size, and with fewer, larger pages it touches fewer of them (each
 * page touched costs page faults and a random write). Set when the store is
 * created; an existing store keeps its own.
 */
export const PAGE_SIZE = 16384;

export interface EnvOptions {
  path: string;
  maxDbs: number;
  mapSize: number;
  pageSize: number;
  useWritemap: boolean;
  noSubdir: false;
}

/**
 * Options for lmdb's open(). Within a process lmdb-js shares one
 * environment per path between threads (committer, writer, HTTP front,
 * query pool), so every opener must pass the same ones.
 *
 * - The map size is where the file starts: lmdb-js doubles it as the data
 *   grows (with a writable map the file's length is the map's size, but it
 *   is sparse: only what is used takes disk).
 * - useWritemap: a commit writes into the map itself. Without it LMDB
 *   copies every dirty page into malloc'd memory that it keeps for reuse
 *   for the life of the process: a commit of 100,000 changes would pin
 *   hundreds of MiB of heap. A writable map on a full disk can raise SIGBUS,
 *   so the committer reserves the file's blocks before each commit
 *   (reserve.ts) and refuses to commit when it cannot.
 * - noSubdir false: the path is a folder even when its name has a dot
 *   (lmdb-js would otherwise take `partisci.d` for a file name).
 */
export function envOptions(path: string, mapSize = 2 ** 28): EnvOptions {
  return { path, maxDbs: 16, mapSize, pageSize: PAGE_SIZE, useWritemap: true, noSubdir: false };
}

/** The data file inside the folder. */
export const DATA_FILE = 'data.mdb';

/** Bumped when the layout changes incompatibly; checked at open. */
export const SCHEMA_VERSION = 2;

// Instance value: [u32 slot][u32 since][u32 written_at][i32 fingerprint A][i32 fingerprint B]
//                 [u16 app len][u16 ver len][u16 labels len][u8 host_ip len][u8 0]
// then app and ver (JSON string content), host_ip (text) and labels (a JSON
// object, or nothing). Compact on purpose: a commit rewrites every page its
// changes touch, so the smaller the rows, the fewer pages a storm rewrites.
// app_id, host and instance are in the key; the query side builds the
// version object from both (instance-value.ts).
// since: when this version was first seen; written_at: last_update when the
// record was written; fingerprint: the content hash the writer compares
// updates with (a repeat moves only the clock), kept so a restart need not
// recompute it.
export const V_SLOT = 0;
export const V_SINCE = 4;
export const V_WRITTEN_AT = 8;
export const V_FP_A = 12;
export const V_FP_B = 16;
export const V_APP_LEN = 20;
export const V_VER_LEN = 22;
export const V_LABELS_LEN = 24;
export const V_IP_LEN = 26;
/** u8 flags (ValueFlag); 0 on a single node. */
export const V_FLAGS = 27;
export const INSTANCE_HEADER = 28;

export const ValueFlag = {
  /**
   * A cluster trailer follows the labels: [u32 content time][u8 origin
   * length][origin node name]: when the content was set and by which node,
   * the two things the conflict rule compares (src/cluster/remote.ts).
   * Readers ignore it (they go by the lengths in the header).
   */
  cluster: 1,
} as const;

// Summary value header: [u32 slot][u32 count][u32 written_at][u16 nameLen][u16 0][u32 fragLen]
// then the fragment `{"app":"…","app_id":"…","host_count":N,…,"last_update":`
// or `{"host":"…","app_count":N,…,"last_update":`, then (hosts only) the
// app_id key parts of the apps on the host, in key order.
export const S_SLOT = 0;
export const S_COUNT = 4;
export const S_WRITTEN_AT = 8;
/** Length of the name's JSON content, which starts right after `{"app":"` or `{"host":"`. */
export const S_NAME_LEN = 12;
export const S_FRAG_LEN = 16;
export const SUMMARY_HEADER = 20;

export const ClockKind = { instance: 1, host: 2, app: 3 } as const;
export type ClockKindValue = (typeof ClockKind)[keyof typeof ClockKind];

/** Slots per clock chunk (4 bytes each): a chunk of 16 KiB fills a page. */
export const CLOCK_CHUNK = 4092;

export function clockKey(kind: number, chunk: number): Buffer {
  const key = Buffer.allocUnsafe(5);
  key[0] = kind;
  key.writeUInt32BE(chunk, 1);
  return key;
}

/** meta keys. */
export const META = {
  schema: 'schema',
  nextBlock: 'next_history_block',
  /** Cluster: the last change-stream sequence whose changes are committed here. */
  clusterSeq: 'cluster_seq',
  /** Cluster: set when the outbox overflowed; cleared after a resync (src/cluster/outbox.ts). */
  clusterResync: 'cluster_resync',
} as const;
