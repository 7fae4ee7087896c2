// The end-to-end run against one real partiscid, in this order:
//   start on a copy of the 1,000,000-instance store (time to serving),
//   idle CPU, the UDP rate ladder (repeats), query latency during a
//   100k/s storm, a restart while a 100k/s storm goes on, and
//   last the first-sight step, which adds instances and so must not come
//   before anything that assumes 1,000,000.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, trackDir } from '../cleanup.js';
import { FLEET_SIZE } from '../fleet.js';
import { copyStore, type CachedStore } from '../store-cache.js';
import { firstSight, type FirstSight } from './first-sight.js';
import { idleCpu, ladderStep, type LadderStep } from './ladder.js';
import { ingestThreads, memory, type CpuSplit, type Memory } from './proc.js';
import { queryPhase, type QueryPhase } from './queries.js';
import { restartUnderStorm, type RestartUnderStorm } from './restart.js';
import { Server, type Startup } from './server.js';

export interface E2eOptions {
  stepSeconds: number;
  rates: (number | null)[];
  querySmallSeconds: number;
  queryBulkSeconds: number;
  firstSightCount: number;
  firstSightRate: number;
  restartStormRate: number;
  restartStormSeconds: number;
}

export const FULL: E2eOptions = {
  stepSeconds: 10,
  rates: [50_000, 100_000, 200_000, null],
  querySmallSeconds: 3,
  queryBulkSeconds: 4,
  firstSightCount: 200_000,
  firstSightRate: 100_000,
  restartStormRate: 100_000,
  restartStormSeconds: 10,
};

export const QUICK: E2eOptions = {
  stepSeconds: 3,
  rates: [50_000, 100_000, 200_000, null],
  querySmallSeconds: 1,
  queryBulkSeconds: 1.5,
  firstSightCount: 50_000,
  firstSightRate: 100_000,
  restartStormRate: 100_000,
  restartStormSeconds: 6,
};

export interface E2eReport {
  options: E2eOptions;
  store_copy_ms: number;
  start: Startup;
  restart: RestartUnderStorm;
  idle_cpu_cores: number;
  idle_cpu_split_cores: CpuSplit;
  memory_loaded_idle: Memory;
  ladder: LadderStep[];
  queries: QueryPhase;
  first_sight: FirstSight;
  seconds: number;
}

export async function runE2e(store: CachedStore, options: E2eOptions, log: (line: string) => void): Promise<E2eReport> {
  const started = performance.now();
  const dataDir = trackDir(mkdtempSync(join(tmpdir(), 'partisci-bench-e2e-')));
  let server: Server | null = null;
  try {
    const copyMs = copyStore(store, dataDir);
    log(`e2e: store copied in ${(copyMs / 1000).toFixed(1)} s; starting partiscid`);
    const first = await Server.start(dataDir);
    server = first.server;
    if (first.startup.instances !== FLEET_SIZE) throw new Error(`server loaded ${first.startup.instances} instances, expected ${FLEET_SIZE}`);
    log(`  serving after ${first.startup.serving_ms.toFixed(0)} ms, store loaded after ${first.startup.loaded_ms.toFixed(0)} ms`);

    const ingest = await ingestThreads(server.pid);
    if (ingest.size !== 2) log(`  warning: found ${ingest.size} ingest threads (expected 2): the CPU split by thread is unreliable`);
    const idle = await idleCpu(server, ingest, 3000);
    const memoryIdle = memory(server.pid);
    log(`  idle: ${(idle.us_per_s / 1e4).toFixed(1)}% of a core; RssAnon ${(memoryIdle.rss_anon / 2 ** 20).toFixed(0)} MiB`);

    const ladder: LadderStep[] = [];
    for (const rate of options.rates) {
      log(`e2e: ladder ${rate === null ? 'max' : rate.toLocaleString('en-US')}/s for ${options.stepSeconds} s`);
      const step = await ladderStep(server, rate, options.stepSeconds, idle, ingest);
      ladder.push(step);
      log(
        `  offered ${step.offered_rate.toLocaleString('en-US')}/s, loss ${(step.loss * 100).toFixed(3)}%, ` +
          `${step.server_cpu_us_per_update.toFixed(2)} µs/update, sender ${(step.sender_cores * 100).toFixed(0)}% of a core`,
      );
    }

    log(`e2e: query latency during a 100,000/s storm`);
    const queries = await queryPhase(server, 100_000, options.querySmallSeconds, options.queryBulkSeconds);
    for (const k of queries.kinds) log(`  ${k.name}: p50 ${k.p50_ms.toFixed(2)} ms, p99 ${k.p99_ms.toFixed(2)} ms (${k.requests} requests)`);

    log(`e2e: restart under a ${options.restartStormRate.toLocaleString('en-US')}/s storm`);
    const old = server;
    server = null;
    const again = await restartUnderStorm(old, options.restartStormRate, options.restartStormSeconds);
    server = again.server;
    const restart = again.result;
    log(
      `  stopped in ${restart.stop_ms.toFixed(0)} ms; serving after ${restart.serving_ms.toFixed(0)} ms, store loaded after ${restart.loaded_ms.toFixed(0)} ms; ` +
        `storm loss ${(restart.loss * 100).toFixed(1)}%`,
    );

    log(`e2e: first sight: ${options.firstSightCount.toLocaleString('en-US')} new instances at ${options.firstSightRate.toLocaleString('en-US')}/s`);
    const fs = await firstSight(server, options.firstSightRate, options.firstSightCount, 300);
    log(`  backlog peak ${fs.backlog_peak.toLocaleString('en-US')} instances, persisted in ${fs.persist_s.toFixed(1)} s, loss ${(fs.loss * 100).toFixed(2)}%`);

    await server.stop();
    server = null;
    return {
      options,
      store_copy_ms: copyMs,
      start: first.startup,
      restart,
      idle_cpu_cores: idle.us_per_s / 1e6,
      idle_cpu_split_cores: { ingest: idle.split.ingest / 1e6, writer: idle.split.writer / 1e6, main: idle.split.main / 1e6, other: idle.split.other / 1e6 },
      memory_loaded_idle: memoryIdle,
      ladder,
      queries,
      first_sight: fs,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    if (server !== null) await server.stop(5000);
    removeDir(dataDir);
  }
}
