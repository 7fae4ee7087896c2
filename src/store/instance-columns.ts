// The columns of the writer's instance index (key-index.ts): what memory
// knows of every instance besides its key. fleet.ts owns the index; the cut
// (cut.ts) and the loader (loader.ts) read and fill the same columns.

/** Content fingerprint (the record's fragment hashes): equal on both means a repeat. */
export const FRAG_A = 0;
export const FRAG_B = 1;
/** Slots of the instance's host and app in their summary indexes. */
export const HOST = 2;
export const APP = 3;
/** Offset+1 of the pending record in the arena (pending.ts); 0 = nothing pending. */
export const PENDING = 4;
/** Records coalesced into the pending state (they count as applied when it is written). */
export const PENDING_N = 5;
/** Flags: STORED | DIRTY | STALE. */
export const FLAGS = 6;
/** In LMDB (or in a batch on its way). */
export const STORED = 1;
/** In the change set's dirty list. */
export const DIRTY = 2;
/** Not heard from for --stale seconds. */
export const STALE = 8;
/** The instance's version id (fleet-counts.ts). */
export const VER = 7;
/** When the instance's version was first seen (unix s). */
export const SINCE = 8;
/** The instance's label set id (label-sets.ts; 0 = no labels). */
export const LABELS = 9;
export const INSTANCE_COLUMNS = 10;

// Cluster mode only (two more columns): when the content was set (unix s)
// and by which node (an origin id of ClusterState; 0 = this node).
export const CTIME = 10;
export const ORIGIN = 11;
export const CLUSTER_COLUMNS = 2;
