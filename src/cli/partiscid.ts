#!/usr/bin/env node
// partiscid: the Partisci server. See README.md for usage.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, usage, type ServerConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { REASON_NAMES } from '../ingest/reasons.js';
import { engineCounters } from '../query/debug-vars.js';
import { startHttp, type HttpServer } from '../http/server.js';
import { ALLOW_FALLBACK_ENV, uwsNative } from '../http/uws.js';
import { StoreReader } from '../store/reader.js';
import { upgradeIfNeeded } from '../store/upgrade.js';
import { QueryPool } from '../query/query-pool.js';
import { SqlService } from '../query/sql.js';
import { RateMeter } from '../query/metrics.js';
import { Engine } from '../workers/engine.js';
import { ClusterNode } from '../cluster/node.js';
import { setThreadLogLevel } from '../workers/thread-log.js';
import { packageVersion } from '../version.js';

function fail(message: string, code: number): never {
  process.stderr.write(`partiscid: ${message}\n`);
  process.exit(code);
}

/** Once per interval, one line with the count per reason of what was rejected (never one line per packet). */
function startRejectLog(engine: Engine, log: Logger, intervalMs: number): NodeJS.Timeout {
  let last: Record<string, number> = {};
  return setInterval(() => {
    const now = engineCounters(engine).rejected_by_reason;
    const parts = REASON_NAMES.map((r) => [r, (now[r] ?? 0) - (last[r] ?? 0)] as const).filter(([, n]) => n > 0);
    if (parts.length > 0) log.info('updates rejected', { seconds: intervalMs / 1000, ...Object.fromEntries(parts) });
    last = now;
  }, intervalMs).unref();
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(err.message, 2);
    throw err;
  }
  if (config.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const log = createLogger({ level: config.verbose ? 'debug' : 'info' });
  if (!uwsNative) {
    if (process.env[ALLOW_FALLBACK_ENV] !== '1') {
      fail(
        `uWebSockets.js native binary did not load for Node ${process.version}; refusing to serve HTTP with its slow JavaScript fallback (set ${ALLOW_FALLBACK_ENV}=1 to run anyway)`,
        1,
      );
    }
    log.warn('uWebSockets.js is running its slow JavaScript fallback, not the native binary');
  }
  const version = packageVersion();
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  log.info('partiscid starting', { version, node: process.version, data: dataDir, log_level: config.verbose ? 'debug' : 'info' });
  if (config.danger) log.warn('--danger is on: POST /api/v1/_danger/clear/ erases everything');
  if (config.allow !== '') log.info('UDP updates accepted only from --allow', { allow: config.allow });
  if (config.writeToken !== '') log.info('HTTP writes need the write token');

  try {
    // A folder an older partiscid wrote is brought to this layout first.
    upgradeIfNeeded(dataDir, (message, fields) => log.warn(message, fields));
  } catch (err) {
    fail(`cannot upgrade the data folder ${dataDir}: ${(err as Error).message}`, 1);
  }

  let engine: Engine;
  try {
    engine = await Engine.start(
      {
        dataDir,
        listenIp: config.listenIp,
        port: config.port,
        workers: config.workers,
        trimSeconds: config.trimSeconds,
        staleSeconds: config.staleSeconds,
        historyDays: config.historyDays,
        rcvbufBytes: config.rcvbufBytes,
        allow: config.allow,
        ringBytes: config.ringBytes,
        // Cluster mode: remote changes share the HTTP ring, so it gets an ingest ring's size.
        ...(config.cluster === '' ? {} : { nodeName: config.node, httpRingBytes: config.ringBytes }),
      },
      // The engine logs what goes wrong with its threads (exits, restarts, failed commits).
      (line) => log.warn(line),
    );
    setThreadLogLevel(engine.control, config.verbose ? 'debug' : 'info');
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'EADDRINUSE') fail(`UDP port ${config.port} is already in use${config.listenIp ? ` on ${config.listenIp}` : ''}`, 1);
    if (e.code === 'EADDRNOTAVAIL') fail(`cannot listen on ${config.listenIp}: no such local address`, 1);
    fail(`cannot start: ${e.message}`, 1);
  }
  // Started at once: the SQL tables follow every batch committed from now on.
  const sql =
    config.sqlMemoryMiB === 0
      ? null
      : new SqlService(
          {
            path: dataDir,
            clocks: engine.clocks,
            staleSeconds: config.staleSeconds,
            historyDays: config.historyDays,
            threads: config.sqlThreads,
            queryMemoryBytes: config.sqlMemoryMiB * 1024 * 1024,
            timeoutMs: config.sqlTimeoutSeconds * 1000,
            maxRows: config.sqlMaxRows,
          },
          engine,
          log,
        );
  const cluster =
    config.cluster === ''
      ? null
      : ClusterNode.start(
          engine,
          dataDir,
          {
            servers: config.cluster.split(','),
            node: config.node,
            replicas: config.clusterReplicas,
            streamBytes: config.clusterStreamMb * 2 ** 20,
            outboxBytes: config.clusterOutboxMb * 2 ** 20,
            ackTimeoutMs: config.clusterAckTimeout * 1000,
            snapshotMs: config.clusterSnapshotSeconds * 1000,
          },
          log,
        );
  if (cluster !== null) log.info('cluster mode', { node: config.node, nats: config.cluster, replicas: config.clusterReplicas });
  const reader = new StoreReader(dataDir, engine.clocks, config.staleSeconds);
  const pool = new QueryPool({ path: dataDir, clocks: engine.clocks, staleSeconds: config.staleSeconds });
  const meter = new RateMeter(engine);
  const startedAt = Date.now();
  let http: HttpServer;
  try {
    http = await startHttp({ engine, reader, pool, sql, meter, config: { ...config, dataDir }, log, version, startedAt, uwsNative, cluster });
  } catch (err) {
    await engine.stop();
    const e = err as Error & { code?: string };
    if (e.code === 'EADDRINUSE') fail(`TCP port ${config.port} is already in use${config.listenIp ? ` on ${config.listenIp}` : ''}`, 1);
    fail(`cannot start HTTP: ${e.message}`, 1);
  }

  const where = config.listenIp === '' ? 'all' : config.listenIp;
  const granted = engine.sockets.map((s) => s.rcvbuf);
  log.info('listening (UDP and HTTP)', { address: where, port: config.port });
  // The kernel caps the receive buffer at net.core.rmem_max: say what was granted.
  log.info('ingest workers started (SO_REUSEPORT, recvmmsg)', { workers: engine.sockets.length, rcvbuf_granted: granted[0], rcvbuf_asked: config.rcvbufBytes });
  log.info('uWebSockets.js loaded', { native: uwsNative });
  log.info('retention', {
    trim: config.trimSeconds > 0 ? `${config.trimSeconds}s` : 'off',
    stale_after: config.staleSeconds > 0 ? `${config.staleSeconds}s` : 'never',
    history: config.historyDays > 0 ? `${config.historyDays}d` : 'forever',
  });
  void engine.writerReady.then((r) => log.info('store loaded', { instances: r.instances, hosts: r.hosts, apps: r.apps, ms: r.loadMs }));
  const rejectLog = startRejectLog(engine, log, 10_000);

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    clearInterval(rejectLog);
    http.close();
    meter.close();
    // The cluster link first: its last position is saved through the commit thread.
    await cluster?.close();
    const drained = await engine.stop();
    await pool.close();
    await sql?.close();
    await reader.close();
    // drained: records still in the rings at the stop request, persisted before exit.
    log.info('stopped', { drained });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`partiscid: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
