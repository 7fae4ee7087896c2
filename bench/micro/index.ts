// The micro-benchmarks, in order: per-packet parsing and --allow, the ring, then the
// store (queries read the working copy before the writer suite changes it).

import type { CachedStore } from '../store-cache.js';
import type { MicroOptions, MicroResult } from './harness.js';
import { allowBench } from './allow.js';
import { parseBench } from './parse.js';
import { queryBench } from './query.js';
import { ringBench } from './ring.js';
import { openFixture } from './store-fixture.js';
import { writerBench } from './writer.js';

export interface MicroReport {
  results: MicroResult[];
  /** Share of the fleet's packets parseUpdate takes on its fast path. */
  fast_path_share: number;
  record_bytes: number;
  /** Copying the cached store, and StoreWriter.load() of 1,000,000 instances, in ms. */
  store_copy_ms: number;
  store_load_ms: number;
  seconds: number;
}

export async function runMicro(store: CachedStore, quick: boolean, log: (line: string) => void): Promise<MicroReport> {
  const started = performance.now();
  const scale = quick ? 0.3 : 1;
  const cpu: MicroOptions = { timeMs: 1000 * scale, warmupMs: 200 * scale, minIterations: 20 };
  const store_: MicroOptions = { timeMs: 1000 * scale, warmupMs: 200 * scale, minIterations: 10 };
  const writes: MicroOptions = { timeMs: 2500 * scale, warmupMs: 0, minIterations: quick ? 3 : 8 };

  log('micro: parse');
  const parse = await parseBench(cpu, log);
  log('micro: allow');
  const allow = await allowBench(cpu, log);
  log('micro: ring');
  const ring = await ringBench(cpu, log);
  log('micro: opening a copy of the 1,000,000-instance store');
  const fx = await openFixture(store);
  log(`  copied in ${(fx.copyMs / 1000).toFixed(1)} s, StoreWriter.load() in ${(fx.loadMs / 1000).toFixed(1)} s`);
  let query: MicroResult[];
  let writer: MicroResult[];
  try {
    log('micro: queries');
    query = await queryBench(fx, store_, log);
    log('micro: writer');
    writer = await writerBench(fx.writer, writes, log);
  } finally {
    await fx.close();
  }
  return {
    results: [...parse.results, ...allow, ...ring.results, ...writer, ...query],
    fast_path_share: parse.fastShare,
    record_bytes: ring.recordBytes,
    store_copy_ms: fx.copyMs,
    store_load_ms: fx.loadMs,
    seconds: (performance.now() - started) / 1000,
  };
}
