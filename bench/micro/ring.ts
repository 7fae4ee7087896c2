// The ingest ring (src/workers/ring.ts): push and drain of real records
// (~250 bytes each), on one thread (the cost of the code) and across two
// threads (what the writer sees: the producer's cache lines move to its
// core). The ring is partiscid's default size, 8 MiB.
//
// The choice measured: ring.ts and record.ts copy records with a byte loop
// because "a loop beats subarray()+set() for a few hundred bytes"; the
// last pair checks that claim on the same records.

import { Worker } from 'node:worker_threads';
import { RingConsumer, RingProducer, createRing } from '../../src/workers/ring.js';
import { packetsOf, recordsOf, trafficOf, unixNow, type Records } from '../fleet.js';
import { median } from '../stats.js';
import { runSuite, type MicroOptions, type MicroResult, type MicroTask } from './harness.js';

const RING_BYTES = 8 * 1024 * 1024;
const BATCH = 4096;
/** Records the producer thread pushes per cross-thread run. */
const CROSS_RECORDS = 2_000_000;

export let sink = 0;

function copyLoop(dst: Uint8Array, o: number, src: Uint8Array, s: number, e: number): void {
  for (let i = s; i < e; i++) dst[o++] = src[i]!;
}

function copySet(dst: Uint8Array, o: number, src: Uint8Array, s: number, e: number): void {
  dst.set(src.subarray(s, e), o);
}

/** One producer thread, the consumer here; returns ns per record moved. */
async function crossThread(records: Records): Promise<number> {
  const sab = createRing(RING_BYTES);
  const consumer = new RingConsumer(sab);
  const worker = new Worker(new URL('./ring-producer.js', import.meta.url), {
    workerData: { sab, buf: records.buf, starts: records.starts, ends: records.ends, total: CROSS_RECORDS },
  });
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  await Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]); // ready
  let got = 0;
  let bytes = 0;
  const visit = (_b: Uint8Array, _o: number, len: number): void => {
    bytes += len;
  };
  const started = performance.now();
  worker.postMessage('go');
  // Like the writer: read what is there, release, read again. A synchronous
  // loop cannot hear the worker fail, hence the deadline.
  const deadline = started + 60_000;
  while (got < CROSS_RECORDS) {
    got += consumer.read(visit, BATCH);
    consumer.release();
    if ((got & 0xffff) === 0 && performance.now() > deadline) {
      await worker.terminate();
      throw new Error(`cross-thread ring: only ${got} of ${CROSS_RECORDS} records arrived in 60 s`);
    }
  }
  const ns = ((performance.now() - started) * 1e6) / CROSS_RECORDS;
  sink += bytes;
  await Promise.race([new Promise((resolve) => worker.once('exit', resolve)), failed]);
  return ns;
}

export async function ringBench(
  options: MicroOptions,
  log: (line: string) => void,
): Promise<{ results: MicroResult[]; crossThreadNs: number; recordBytes: number }> {
  const records = recordsOf(packetsOf(trafficOf(), 0, BATCH), unixNow());
  const recordBytes = records.buf.length / records.count;
  const sab = createRing(RING_BYTES);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  const pushNs: number[] = [];
  const drainNs: number[] = [];
  let seen = 0;
  const visit = (_b: Uint8Array, _o: number, len: number): void => {
    seen += len;
  };
  const scratch = new Uint8Array(records.buf.length + 64);

  const copyTask = (name: string, copy: typeof copyLoop, baseline?: string): MicroTask => ({
    name,
    items: records.count,
    unit: 'record',
    baseline,
    fn: (): void => {
      let o = 0;
      for (let i = 0; i < records.count; i++) {
        copy(scratch, o, records.buf, records.starts[i]!, records.ends[i]!);
        o += records.ends[i]! - records.starts[i]!;
      }
      sink += scratch[o - 1]!;
    },
  });

  const tasks: MicroTask[] = [
    {
      name: `push ${BATCH} + drain ${BATCH} (one thread)`,
      items: records.count,
      unit: 'record',
      note: `records of ${recordBytes.toFixed(0)} bytes on average`,
      fn: (): void => {
        const t0 = performance.now();
        for (let i = 0; i < records.count; i++) {
          if (!producer.tryPush(records.buf, records.starts[i]!, records.ends[i]! - records.starts[i]!)) throw new Error('ring full');
        }
        const t1 = performance.now();
        let n = 0;
        while (n < records.count) n += consumer.read(visit, records.count);
        consumer.release();
        const t2 = performance.now();
        pushNs.push(((t1 - t0) * 1e6) / records.count);
        drainNs.push(((t2 - t1) * 1e6) / records.count);
      },
      extra: () => ({ push_ns_per_record: median(pushNs), drain_ns_per_record: median(drainNs) }),
    },
    copyTask('copy records: subarray().set()', copySet),
    copyTask('copy records: byte loop (as ring.ts)', copyLoop, 'copy records: subarray().set()'),
  ];
  const results = await runSuite('ring', tasks, options, log);
  sink += seen;

  const runs: number[] = [];
  for (let i = 0; i < 3; i++) runs.push(await crossThread(records));
  const crossThreadNs = median(runs);
  log(`  ring: producer thread -> consumer thread: ${crossThreadNs.toFixed(0)} ns/record`);
  results.push({
    suite: 'ring',
    name: 'producer thread -> consumer thread (throughput)',
    unit: 'record',
    items: CROSS_RECORDS,
    samples: runs.length,
    median_ms: (crossThreadNs * CROSS_RECORDS) / 1e6,
    p99_ms: (Math.max(...runs) * CROSS_RECORDS) / 1e6,
    per_item_ns: crossThreadNs,
    items_per_s: 1e9 / crossThreadNs,
    note: `${(CROSS_RECORDS / 1e6).toFixed(0)}M records; not tinybench: median of ${runs.length} runs`,
  });
  return { results, crossThreadNs, recordBytes };
}
