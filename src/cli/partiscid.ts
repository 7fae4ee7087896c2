#!/usr/bin/env node
// partiscid: the Partisci server. See README.md for usage.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, usage, type ServerConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { REASON_NAMES } from '../ingest/reasons.js';
import { engineCounters } from '../query/debug-vars.js';
import { startHttp, type HttpServer } from '../http/server.js';
import { ALLOW_FALLBACK_ENV, uwsNative } from '../http/uws.js';
import { StoreReader } from '../store/reader.js';
import { QueryPool } from '../query/query-pool.js';
import { RateMeter } from '../query/metrics.js';
import { Engine } from '../workers/engine.js';
import { packageVersion } from '../version.js';

function log(line: string): void {
  const t = new Date().toISOString().replace('T', ' ').slice(0, 19);
  process.stderr.write(`${t} ${line}\n`);
}

function fail(message: string, code: number): never {
  process.stderr.write(`partiscid: ${message}\n`);
  process.exit(code);
}

/** Once per interval, one line per reason that rejected something (never one line per packet). */
function startRejectLog(engine: Engine, intervalMs: number): NodeJS.Timeout {
  let last: Record<string, number> = {};
  return setInterval(() => {
    const now = engineCounters(engine).rejected_by_reason;
    const parts = REASON_NAMES.map((r) => [r, (now[r] ?? 0) - (last[r] ?? 0)] as const).filter(([, n]) => n > 0);
    if (parts.length > 0) log(`rejected in the last ${intervalMs / 1000}s: ${parts.map(([r, n]) => `${r}=${n}`).join(' ')}`);
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
  if (!uwsNative) {
    if (process.env[ALLOW_FALLBACK_ENV] !== '1') {
      fail(`uWebSockets.js native binary did not load for Node ${process.version}; refusing to serve HTTP with its slow JavaScript fallback (set ${ALLOW_FALLBACK_ENV}=1 to run anyway)`, 1);
    }
    log('WARNING: uWebSockets.js is running its slow JavaScript fallback, not the native binary');
  }
  const version = packageVersion();
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  log(`partiscid ${version} starting (node ${process.version}), data: ${dataDir}`);
  if (config.danger) log('WARNING: --danger is on: POST /api/v1/_danger/clear/ erases everything');
  if (config.allow !== '') log(`UDP updates accepted only from: ${config.allow}`);
  if (config.writeToken !== '') log('HTTP writes need the write token');

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
      },
      log,
    );
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'EADDRINUSE') fail(`UDP port ${config.port} is already in use${config.listenIp ? ` on ${config.listenIp}` : ''}`, 1);
    if (e.code === 'EADDRNOTAVAIL') fail(`cannot listen on ${config.listenIp}: no such local address`, 1);
    fail(`cannot start: ${e.message}`, 1);
  }
  const reader = new StoreReader(dataDir, engine.clocks, config.staleSeconds);
  const pool = new QueryPool({ path: dataDir, clocks: engine.clocks, staleSeconds: config.staleSeconds });
  const meter = new RateMeter(engine);
  const startedAt = Date.now();
  let http: HttpServer;
  try {
    http = await startHttp({ engine, reader, pool, meter, config: { ...config, dataDir }, log, version, startedAt, uwsNative });
  } catch (err) {
    await engine.stop();
    const e = err as Error & { code?: string };
    if (e.code === 'EADDRINUSE') fail(`TCP port ${config.port} is already in use${config.listenIp ? ` on ${config.listenIp}` : ''}`, 1);
    fail(`cannot start HTTP: ${e.message}`, 1);
  }

  const where = config.listenIp === '' ? `all addresses` : config.listenIp;
  const granted = engine.sockets.map((s) => s.rcvbuf);
  log(`listening on ${where}, port ${config.port} (UDP and HTTP)`);
  log(`ingest workers: ${engine.sockets.length} (SO_REUSEPORT, recvmmsg); UDP receive buffer granted: ${granted[0]} bytes per socket (asked ${config.rcvbufBytes})`);
  log(`uWebSockets.js: ${uwsNative ? 'native' : 'JavaScript fallback (slow)'}`);
  log(`trim: ${config.trimSeconds > 0 ? `${config.trimSeconds}s` : 'off'}; stale after: ${config.staleSeconds > 0 ? `${config.staleSeconds}s` : 'never'}; history: ${config.historyDays > 0 ? `${config.historyDays} days` : 'forever'}`);
  void engine.writerReady.then((r) => log(`store loaded: ${r.instances} instances, ${r.hosts} hosts, ${r.apps} apps in ${r.loadMs} ms`));
  const rejectLog = startRejectLog(engine, 10_000);

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    clearInterval(rejectLog);
    http.close();
    meter.close();
    const drained = await engine.stop();
    await pool.close();
    await reader.close();
    log(`stopped; drained ${drained} updates from the rings before exit`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`partiscid: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
