// GET /debug/vars: process statistics and the engine's monotonic counters,
// in the spirit of Go's expvar that the original exposed at this path.

import { readFileSync } from 'node:fs';
import type { Counters, DebugVars } from '../api/types.js';
import { REASON_NAMES } from '../ingest/reasons.js';
import type { Engine } from '../workers/engine.js';
import type { ClusterNode } from '../cluster/node.js';
import type { ClusterStats } from '../api/types.js';
import { COMMIT_REGION, HTTP_REGION, Stat, WRITER_REGION, ingestRegion, statRegion } from '../workers/shared-layout.js';

/** Per-socket kernel drops, from /proc/net/udp{,6} rows matching our sockets' inodes. */
export function kernelDrops(inodes: readonly number[]): number[] {
  const wanted = new Map(inodes.map((inode, i) => [String(inode), i]));
  const drops = inodes.map(() => 0);
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      const i = wanted.get(cols[9] ?? '');
      if (i !== undefined) drops[i] = Number(cols[12] ?? 0);
    }
  }
  return drops;
}

/** RssAnon and RssFile (bytes) from /proc/self/status: heap vs mapped file pages. */
export function rssBreakdown(pid: number | 'self' = 'self'): { rss_anon: number; rss_file: number; rss_shmem: number } {
  const out = { rss_anon: 0, rss_file: 0, rss_shmem: 0 };
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    out.rss_anon = kb('RssAnon');
    out.rss_file = kb('RssFile');
    out.rss_shmem = kb('RssShmem');
  } catch {
    // not Linux: leave zeros
  }
  return out;
}

export function engineCounters(engine: Engine): Counters & { workers: Record<string, number>[] } {
  const sab = engine.statsBuffer;
  const writer = statRegion(sab, WRITER_REGION);
  const commit = statRegion(sab, COMMIT_REGION);
  const http = statRegion(sab, HTTP_REGION);
  const drops = kernelDrops(engine.sockets.map((s) => s.inode));
  const byReason: Record<string, number> = {};
  for (let code = 1; code <= REASON_NAMES.length; code++) byReason[REASON_NAMES[code - 1]!] = http[Stat.rejectBase + code]!;
  let datagrams = 0;
  let queued = http[Stat.accepted]!;
  let rejected = http[Stat.rejected]!;
  let ringFull = 0;
  let refused = 0;
  const workers = engine.sockets.map((socket, i) => {
    const w = statRegion(sab, ingestRegion(i));
    datagrams += w[Stat.datagrams]!;
    queued += w[Stat.accepted]!;
    rejected += w[Stat.rejected]!;
    ringFull += w[Stat.ringFull]!;
    refused += w[Stat.refused]!;
    for (let code = 1; code <= REASON_NAMES.length; code++) byReason[REASON_NAMES[code - 1]!]! += w[Stat.rejectBase + code]!;
    return {
      datagrams: w[Stat.datagrams]!,
      accepted: w[Stat.accepted]!,
      rejected: w[Stat.rejected]!,
      ring_full_drops: w[Stat.ringFull]!,
      kernel_drops: drops[i]!,
      rcvbuf_bytes: socket.rcvbuf,
    };
  });
  return {
    udp_datagrams: datagrams,
    http_updates: http[Stat.httpUpdates]!,
    rejected,
    rejected_by_reason: byReason,
    ring_full_drops: ringFull + http[Stat.ringFull]!,
    refused,
    applied: commit[Stat.applied]!,
    kernel_drops: drops.reduce((a, b) => a + b, 0),
    commits: commit[Stat.commits]!,
    commit_errors: commit[Stat.commitErrors]!,
    written: commit[Stat.written]!,
    removed: commit[Stat.removed]!,
    queued,
    drained: writer[Stat.drained]!,
    write_backlog: writer[Stat.backlog]!,
    write_backlog_bytes: writer[Stat.backlogBytes]!,
    instances: writer[Stat.instances]!,
    hosts: writer[Stat.hosts]!,
    apps: writer[Stat.apps]!,
    worker_restarts: engine.restarts,
    writer_restarts: engine.writerRestarts,
    writer_last_error: engine.lastWriterError,
    lost_on_writer_crash: engine.lostOnWriterCrash,
    persist_lag_ms: { p50: commit[Stat.lagP50]!, p99: commit[Stat.lagP99]!, max: commit[Stat.lagMax]! },
    last_commit_ms: commit[Stat.lastCommitMs]!,
    last_cut_ms: writer[Stat.lastCutMs]!,
    max_cut_ms: writer[Stat.maxCutMs]!,
    history_blocks_pruned: commit[Stat.pruned]!,
    workers,
  };
}

/** The cluster section: the node's link and the writer's cluster counters. */
export function clusterVars(engine: Engine, cluster: ClusterNode): ClusterStats {
  const writer = statRegion(engine.statsBuffer, WRITER_REGION);
  return { ...cluster.stats(), remote_lost: writer[Stat.remoteLost]!, digest_entries: writer[Stat.digestEntries]! };
}

export function debugVars(
  engine: Engine,
  info: { version: string; startedAt: number; uwsNative: boolean; dataDir: string },
  cluster: ClusterNode | null = null,
): DebugVars {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    version: info.version,
    node_version: process.version,
    cmdline: process.argv.slice(1),
    uptime_s: Math.round((Date.now() - info.startedAt) / 1000),
    uws_native: info.uwsNative,
    data_dir: info.dataDir,
    memory: { rss: mem.rss, heap_used: mem.heapUsed, heap_total: mem.heapTotal, external: mem.external, array_buffers: mem.arrayBuffers, ...rssBreakdown() },
    cpu_us: { user: cpu.user, system: cpu.system },
    writer_error: engine.commitError,
    ...engineCounters(engine),
    ...(cluster === null ? {} : { cluster: clusterVars(engine, cluster) }),
  };
}
