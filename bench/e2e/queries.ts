// Query latency during a storm: fuzz sends the fleet's repeats at 100k/s
// while the query client (its own process, keep-alive) times each query
// kind in turn. The storm runs exactly as long as the client: it starts
// first, the client starts once datagrams flow, and the storm is stopped
// when the client is done. The storm's own loss and the server's CPU over
// the phase are reported too: queries and ingest share two cores.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { trackChild } from '../cleanup.js';
import { fleetArgs } from '../fleet.js';
import { QUERY_CLIENT } from '../paths.js';
import { sleep } from '../stats.js';
import { startFuzz } from './fuzz.js';
import { cpuMicros, memory } from './proc.js';
import type { QueryKindResult } from './query-client.js';
import type { Server } from './server.js';

export interface QueryPhase {
  storm_rate: number;
  storm_offered_rate: number;
  storm_loss: number;
  storm_sender_cores: number;
  server_cores: number;
  instances: number;
  hosts: number;
  apps: number;
  rss_anon_end: number;
  kinds: (QueryKindResult & { rows_per_s: number })[];
}

function runClient(port: number, smallSeconds: number, bulkSeconds: number): Promise<{ results: QueryKindResult[] }> {
  const child = trackChild(
    spawn(process.execPath, [QUERY_CLIENT, '--port', String(port), '--small-seconds', String(smallSeconds), '--bulk-seconds', String(bulkSeconds)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`query client failed (exit ${code}): ${stderr}`);
    return JSON.parse(stdout.trim()) as { results: QueryKindResult[] };
  });
}

export async function queryPhase(server: Server, rate: number, smallSeconds: number, bulkSeconds: number): Promise<QueryPhase> {
  await server.settle(30_000);
  const v0 = await server.vars();
  // Longer than the client needs; stopped when it is done.
  const storm = startFuzz(server.port, ['--rate', String(rate), '--duration', '120', '--check', ...fleetArgs()]);
  const deadline = performance.now() + 30_000;
  while ((await server.vars()).udp_datagrams < v0.udp_datagrams + rate / 10) {
    if (performance.now() > deadline) throw new Error('the storm did not start');
    await sleep(50);
  }
  const c0 = cpuMicros(server.pid);
  const t0 = performance.now();
  let client: Awaited<ReturnType<typeof runClient>>;
  try {
    client = await runClient(server.port, smallSeconds, bulkSeconds);
  } finally {
    storm.stop();
  }
  const c1 = cpuMicros(server.pid);
  const seconds = (performance.now() - t0) / 1000;
  const summary = await storm.done;
  const v1 = await server.vars();
  return {
    storm_rate: rate,
    storm_offered_rate: summary.achieved_rate,
    storm_loss: summary.loss_rate ?? NaN,
    storm_sender_cores: summary.sender_cpu_us / 1e6 / summary.duration_s,
    server_cores: (c1 - c0) / 1e6 / seconds,
    instances: v1.instances,
    hosts: v1.hosts,
    apps: v1.apps,
    rss_anon_end: memory(server.pid).rss_anon,
    kinds: client.results.map((k) => ({ ...k, rows_per_s: (k.rows_per_answer * 1000) / k.p50_ms })),
  };
}
