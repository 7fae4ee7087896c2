// The JSON shapes of the HTTP API (/api/v1/) and of the change feed, as one
// set of types for everyone who writes or reads them: the server, the Node
// client (src/client), the partisci command and the dashboard (web/, which
// imports this file type-only through Vite). Types only: nothing here
// exists at run time.

import type { ErrorCode } from '../errors.js';

export type Status = 'up' | 'stale';

/** An update, as a client sends it (one UDP datagram, or POST update/). Unknown keys are ignored. */
export interface UpdateBody {
  app: string;
  ver: string;
  /** Default: the sender's address. */
  host?: string;
  /** 0-65535, default 0. */
  instance?: number;
  /** At most 16; names [a-z0-9_.-]{1,32}, values at most 64 characters. */
  labels?: Labels;
}

/** An instance's labels: name → value (e.g. env, region, dc). */
export type Labels = Record<string, string>;

/** Instances per label value: name → value → count (the 50 most common values per name). */
export type LabelCounts = Record<string, Record<string, number>>;

/** The stored version object of one app/host/instance: POST update/'s answer and the feed's events. */
export interface StoredVersion {
  app: string;
  app_id: string;
  host: string;
  /** The sender as the server saw it. */
  host_ip: string;
  instance: number;
  ver: string;
  /** Present when the instance has labels. */
  labels?: Labels;
  /** Unix seconds of the latest update. */
  last_update: number;
}

/** A row of GET version/: the stored version with what the server derives. */
export interface Version extends StoredVersion {
  /** stale: not updated for --stale seconds. */
  status: Status;
  /** When this instance first reported this version (unix seconds). */
  since: number;
}

export interface Counts {
  instance_count: number;
  up_count: number;
  stale_count: number;
}

/** A row of GET app/. */
export interface AppSummary extends Counts {
  app: string;
  app_id: string;
  host_count: number;
  /** Present when any of its instances has labels. */
  label_counts?: LabelCounts;
  last_update: number;
}

/** Instances of one app on one version. */
export interface VersionCount {
  ver: string;
  count: number;
  up_count: number;
  stale_count: number;
}

/** GET app/A: the summary with its versions. */
export interface AppDetail extends AppSummary {
  versions: VersionCount[];
}

/** A row of GET host/ and GET host/H. */
export interface HostSummary extends Counts {
  host: string;
  app_count: number;
  /** Present when any of its instances has labels. */
  label_counts?: LabelCounts;
  last_update: number;
}

/** A row of GET history/: a version change (or a change of labels: ver equals prev_ver) of one instance. */
export interface HistoryEntry {
  app: string;
  app_id: string;
  host: string;
  instance: number;
  /** null: removed. */
  ver: string | null;
  /** null: first sight. */
  prev_ver: string | null;
  /** null for a removal (the address is not kept). */
  host_ip: string | null;
  time: number;
  /** The instance's labels then, when it had some. */
  labels?: Labels;
}

/** A row of GET app/A/rollout: instances per version at one time. */
export interface RolloutStep {
  time: number;
  counts: Record<string, number>;
}

/** Every answer with rows: `next` is there when the answer was cut short at `limit` (pass it as `cursor`). */
export interface List<T> {
  data: T[];
  next?: string;
}

/** POST update/: the stored version, once committed. */
export type UpdateAnswer = List<StoredVersion>;

/** DELETE host/H and DELETE version/: how many instances were forgotten. */
export interface RemoveAnswer {
  removed: number;
}

/** A column of an SQL answer: its name and DuckDB type (e.g. VARCHAR, BIGINT, MAP(VARCHAR, VARCHAR)). */
export interface SqlColumn {
  name: string;
  type: string;
}

/** GET/POST sql: the columns, and the rows as arrays in column order. */
export interface SqlAnswer {
  columns: SqlColumn[];
  data: unknown[][];
}

/** Every error answer, whatever its status. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
}

/** A message of WebSocket /api/v1/watch, sent after the change is committed. */
export type ChangeEvent =
  | { type: 'new'; version: StoredVersion }
  | { type: 'changed'; version: StoredVersion; old_ver: string }
  /** Same version, other labels. */
  | { type: 'labels'; version: StoredVersion }
  | { type: 'removed'; version: KnownVersion; reason: 'trim' | 'delete' }
  | { type: 'stale'; version: KnownVersion & { status: 'stale' } }
  | { type: 'cleared' };

/**
 * An instance as the writer's memory knows it, in removal and stale events:
 * the version object without host_ip (the address is kept only in the store).
 */
export type KnownVersion = Omit<StoredVersion, 'host_ip'>;

/** The engine's counters in GET /debug/vars (and, as counters, in /metrics). */
export interface Counters {
  udp_datagrams: number;
  http_updates: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
  ring_full_drops: number;
  /** UDP datagrams from senders outside --allow. */
  refused: number;
  applied: number;
  kernel_drops: number;
  commits: number;
  commit_errors: number;
  written: number;
  removed: number;
  /** Records put into the rings (UDP and HTTP), and read out of them by the writer. */
  queued: number;
  drained: number;
  /** Instances absorbed whose latest state is not in LMDB yet, and their bytes. */
  write_backlog: number;
  write_backlog_bytes: number;
  instances: number;
  hosts: number;
  apps: number;
  worker_restarts: number;
  /** Writer threads restarted after dying, and why the last one died. */
  writer_restarts: number;
  writer_last_error: string | null;
  /** Updates a dying writer had absorbed but not committed (UDP; its HTTP requests were answered 503). */
  lost_on_writer_crash: number;
  /** How long absorbed changes waited for their commit to be on disk, over the last minute (ms). */
  persist_lag_ms: { p50: number; p99: number; max: number };
  last_commit_ms: number;
  /** How long the writer took to cut its last batch, and its longest cut (ms): time it did not drain the rings. */
  last_cut_ms: number;
  max_cut_ms: number;
  history_blocks_pruned: number;
}

/** GET /debug/vars: the counters, per-worker figures and process statistics. */
export interface DebugVars extends Counters {
  version: string;
  node_version: string;
  cmdline: string[];
  uptime_s: number;
  uws_native: boolean;
  data_dir: string;
  memory: Record<string, number>;
  cpu_us: { user: number; system: number };
  /** The last commit error while commits fail; null when healthy. */
  writer_error: string | null;
  workers: Record<string, number>[];
  /** Cluster mode only. */
  cluster?: ClusterStats;
}

/** /debug/vars `cluster` (cluster mode only). */
export interface ClusterStats {
  node: string;
  servers: string[];
  connected: boolean;
  stream_ready: boolean;
  published_messages: number;
  published_changes: number;
  published_bytes: number;
  received_messages: number;
  received_changes: number;
  publish_errors: number;
  publish_lag_ms: { p50: number; p99: number };
  replication_lag_ms: { p50: number; p99: number };
  outbox_entries: number;
  outbox_bytes: number;
  outbox_full: boolean;
  resync_pending: boolean;
  position: number;
  catching_up: boolean;
  digests_sent: number;
  digests_received: number;
  digest_bytes_sent: number;
  nodes: Record<string, { last_seen_ms_ago: number }>;
  /** Times the stream consumer stalled and was started again. */
  consumer_restarts: number;
  /** Snapshots this node wrote, and the one it caught up from (src/cluster/snapshot.ts). */
  snapshots: { written: number; last_seq: number; last_instances: number; last_ms: number; loaded_instances: number; loaded_seq: number; loaded_ms: number };
  /** Changes from other nodes that lost the conflict rule here. */
  remote_lost: number;
  /** Instances named in the liveness digests this node sent. */
  digest_entries: number;
}
