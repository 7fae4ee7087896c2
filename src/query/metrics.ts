// GET /metrics: Prometheus text exposition. Engine counters (monotonic, as
// counters), live gauges, instances per app and version by status, recent
// ingest and commit rates, and the size of the data file.

import type { Engine } from '../workers/engine.js';
import type { StoreReader } from '../store/reader.js';
import { clusterVars, engineCounters, rssBreakdown } from './debug-vars.js';
import type { ClusterNode } from '../cluster/node.js';

/** Per-second rates over the last window, sampled every few seconds. */
export class RateMeter {
  #last: { t: number; received: number; applied: number; commits: number } | null = null;
  rates = { received: 0, applied: 0, commits: 0 };
  readonly #timer: NodeJS.Timeout;

  constructor(engine: Engine, everyMs = 5000) {
    const sample = (): void => {
      const c = engineCounters(engine);
      const now = { t: Date.now(), received: c.udp_datagrams + c.http_updates, applied: c.applied, commits: c.commits };
      if (this.#last !== null) {
        const dt = (now.t - this.#last.t) / 1000;
        this.rates = {
          received: (now.received - this.#last.received) / dt,
          applied: (now.applied - this.#last.applied) / dt,
          commits: (now.commits - this.#last.commits) / dt,
        };
      }
      this.#last = now;
    };
    sample();
    this.#timer = setInterval(sample, everyMs).unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function metricsText(engine: Engine, reader: StoreReader, meter: RateMeter, cluster: ClusterNode | null = null): string {
  const c = engineCounters(engine);
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
  };
  metric('partisci_udp_datagrams_total', 'counter', 'UDP datagrams received.', [['', c.udp_datagrams]]);
  metric('partisci_http_updates_total', 'counter', 'Updates accepted over HTTP.', [['', c.http_updates]]);
  metric(
    'partisci_rejected_total',
    'counter',
    'Updates rejected, by reason.',
    Object.entries(c.rejected_by_reason).map(([r, n]) => [`{reason="${r}"}`, n]),
  );
  metric('partisci_ring_full_drops_total', 'counter', 'Updates dropped because an ingest ring was full.', [['', c.ring_full_drops]]);
  metric('partisci_kernel_drops_total', 'counter', 'Datagrams the kernel dropped on our sockets (receive buffer full).', [['', c.kernel_drops]]);
  metric('partisci_applied_total', 'counter', 'Updates reflected in committed data.', [['', c.applied]]);
  metric('partisci_commits_total', 'counter', 'LMDB commits.', [['', c.commits]]);
  metric('partisci_commit_errors_total', 'counter', 'Failed LMDB commits (retried).', [['', c.commit_errors]]);
  metric('partisci_write_backlog', 'gauge', 'Instances absorbed whose latest state is not persisted yet.', [['', c.write_backlog]]);
  metric('partisci_ingest_rate', 'gauge', 'Updates received per second (recent).', [['', meter.rates.received]]);
  metric('partisci_apply_rate', 'gauge', 'Updates applied per second (recent).', [['', meter.rates.applied]]);
  metric('partisci_commit_rate', 'gauge', 'Commits per second (recent).', [['', meter.rates.commits]]);
  metric('partisci_hosts', 'gauge', 'Hosts with at least one instance.', [['', c.hosts]]);
  metric('partisci_apps', 'gauge', 'Apps with at least one instance.', [['', c.apps]]);
  const byVersion: [string, number][] = [];
  let up = 0;
  let stale = 0;
  for (const app of reader.versionCounts()) {
    for (const v of app.versions) {
      byVersion.push([`{app_id="${label(app.appId)}",ver="${label(v.ver)}",status="up"}`, v.up_count]);
      byVersion.push([`{app_id="${label(app.appId)}",ver="${label(v.ver)}",status="stale"}`, v.stale_count]);
      up += v.up_count;
      stale += v.stale_count;
    }
  }
  metric('partisci_instances', 'gauge', 'Instances per app and version, by status.', byVersion);
  metric('partisci_instances_by_status', 'gauge', 'Instances up and stale.', [
    ['{status="up"}', up],
    ['{status="stale"}', stale],
  ]);
  metric('partisci_lmdb_bytes', 'gauge', 'Size of the LMDB data in use (pages up to the last one written).', [['', reader.stats().mapBytes]]);
  const mem = rssBreakdown();
  metric('partisci_memory_bytes', 'gauge', 'Resident memory: anonymous (heap) and file-backed (mapped data).', [
    ['{kind="anon"}', mem.rss_anon],
    ['{kind="file"}', mem.rss_file],
  ]);
  if (cluster !== null) {
    const k = clusterVars(engine, cluster);
    metric('partisci_cluster_connected', 'gauge', 'Whether this node is connected to NATS.', [['', k.connected ? 1 : 0]]);
    metric('partisci_cluster_published_changes_total', 'counter', 'Local changes published to the cluster.', [['', k.published_changes]]);
    metric('partisci_cluster_received_changes_total', 'counter', 'Changes received from other nodes.', [['', k.received_changes]]);
    metric('partisci_cluster_remote_lost_total', 'counter', 'Changes from other nodes that lost the conflict rule.', [['', k.remote_lost]]);
    metric('partisci_cluster_outbox_bytes', 'gauge', 'Bytes of committed changes not yet published.', [['', k.outbox_bytes]]);
    metric('partisci_cluster_outbox_entries', 'gauge', 'Batches of committed changes not yet published.', [['', k.outbox_entries]]);
    metric('partisci_cluster_publish_lag_ms', 'gauge', 'Commit to JetStream acknowledgement (recent).', [
      ['{quantile="0.5"}', k.publish_lag_ms.p50],
      ['{quantile="0.99"}', k.publish_lag_ms.p99],
    ]);
    metric('partisci_cluster_replication_lag_ms', 'gauge', 'Publish by the origin to commit here (recent).', [
      ['{quantile="0.5"}', k.replication_lag_ms.p50],
      ['{quantile="0.99"}', k.replication_lag_ms.p99],
    ]);
    metric('partisci_cluster_position', 'gauge', 'Last change-stream sequence committed here.', [['', k.position]]);
    metric(
      'partisci_cluster_node_last_seen_seconds',
      'gauge',
      'Seconds since each other node was last heard.',
      Object.entries(k.nodes).map(([n, v]) => [`{node="${label(n)}"}`, v.last_seen_ms_ago / 1000]),
    );
  }
  return `${lines.join('\n')}\n`;
}
