// The writer (src/store/fleet.ts) and the committer (committer.ts) on the
// 1,000,000-instance store, in one thread (DirectWriter): absorbing records
// (apply) and committing them (one durable LMDB transaction per batch),
// timed together per batch, reported per update applied.
//
// The choices measured:
// - batch size: a commit touches each B-tree page once however many of its
//   instances change, so one commit of 50,000 changes costs far less per
//   change than 25 commits of 2,048 (the old writer's batch);
// - coalescing: the writer keeps one pending record per instance however
//   many arrive before its batch is cut, so a change followed by repeats
//   costs one write, and several changes of one instance cost one instance
//   write (but still one history entry each).

import { FLEET, unixNow, recordsOfTexts, trafficOf, recordsOf, packetsOf, type Records } from '../fleet.js';
import { appName, hostName } from '../../tools/fuzz/names.js';
import { median } from '../stats.js';
import type { DirectWriter } from '../../src/store/direct-writer.js';
import { runSuite, type MicroOptions, type MicroResult, type MicroTask } from './harness.js';

/** Instances changed per batch: the old writer's commit, and a commit under a 100k/s storm. */
const BATCH = 2048;
const BIG_BATCH = 50_000;
/** Version variants cycled through, so every batch really changes something. */
const VARIANTS = 9;
const PER_INSTANCE = 8;
/** Repeats spread over the fleet, per call. */
const SPREAD = 131_072;
/** First-sight hosts: indexes past the fleet's, 80 instances (20 apps x 4) each. */
const NEW_HOSTS_FROM = 1_000_000;
const HOSTS_PER_BATCH = Math.ceil(BATCH / 80);

/** The packet with ver's JSON text given a suffix, keeping the client's JSON style. */
function withVersionSuffix(json: string, suffix: string): string {
  const changed = json.replace(/("ver":\s*"(?:[^"\\]|\\.)*)"/, `$1${suffix}"`);
  if (changed === json) throw new Error(`no ver in ${json}`);
  return changed;
}

function applyAll(writer: DirectWriter, r: Records): void {
  for (let i = 0; i < r.count; i++) writer.apply(r.buf, r.starts[i]!, r.ends[i]! - r.starts[i]!);
}

export async function writerBench(writer: DirectWriter, options: MicroOptions, log: (line: string) => void): Promise<MicroResult[]> {
  const traffic = trafficOf();
  const now = unixNow();
  const originals = Array.from({ length: BATCH }, (_, n) => traffic.goodJson(n));
  const variants = Array.from({ length: VARIANTS }, (_, v) =>
    recordsOfTexts(
      originals.map((j) => withVersionSuffix(j, `+bench${v}`)),
      now,
    ),
  );
  const bigOriginals = Array.from({ length: BIG_BATCH }, (_, n) => traffic.goodJson(n));
  const bigVariants = Array.from({ length: 3 }, (_, v) =>
    recordsOfTexts(
      bigOriginals.map((j) => withVersionSuffix(j, `+big${v}`)),
      now,
    ),
  );
  const repeats = recordsOf(packetsOf(traffic, 0, 2 * BATCH), now);
  // The fleet's stream is a random permutation: these hit index entries all
  // over the 1,000,000, as a storm does (the hot set above stays in cache).
  const spread = recordsOf(packetsOf(traffic, 2 * BATCH, SPREAD), now);
  writer.commit(); // start from an empty backlog
  let v = 0;
  let bv = 0;
  let firstSightBatch = 0;

  /** A timed batch: apply + persist; the split goes to the task's own lists. */
  const timed = (split: { commitMs: number[]; commits: number[] }, work: () => void) => () => {
    const t0 = performance.now();
    work();
    const t1 = performance.now();
    writer.commit();
    split.commits.push(1);
    const t2 = performance.now();
    split.commitMs.push(t2 - t1);
    return { overriddenDuration: t2 - t0 };
  };
  const splitOf = () => ({ commitMs: [] as number[], commits: [] as number[] });
  const extraOf = (split: ReturnType<typeof splitOf>, writes: number) => () => ({
    commit_ms: median(split.commitMs),
    commits_per_batch: median(split.commits),
    commit_us_per_instance_written: (median(split.commitMs) * 1000) / writes,
  });

  const one = splitOf();
  const big = splitOf();
  const repeated = splitOf();
  const changes = splitOf();
  const fresh = splitOf();
  const tasks: MicroTask[] = [
    {
      name: `apply: repeat (clock only), ${repeats.count.toLocaleString('en-US')} hot instances`,
      items: repeats.count,
      unit: 'update',
      fn: () => applyAll(writer, repeats),
    },
    {
      name: `apply: repeat (clock only), ${spread.count.toLocaleString('en-US')} instances across the fleet`,
      items: spread.count,
      unit: 'update',
      baseline: `apply: repeat (clock only), ${repeats.count.toLocaleString('en-US')} hot instances`,
      note: 'what a storm does: every update a different instance (cache misses)',
      fn: () => applyAll(writer, spread),
    },
    {
      name: `1 change per instance x ${BATCH}, persisted`,
      items: BATCH,
      unit: 'update',
      note: `${BATCH} instance writes + ${BATCH} history entries`,
      fn: timed(one, () => applyAll(writer, variants[v++ % VARIANTS]!)),
      extra: extraOf(one, BATCH),
    },
    {
      name: `1 change per instance x ${BIG_BATCH.toLocaleString('en-US')}, persisted in one commit`,
      items: BIG_BATCH,
      unit: 'update',
      baseline: `1 change per instance x ${BATCH}, persisted`,
      note: 'the batch a 100,000/s rollout makes in half a second',
      fn: timed(big, () => applyAll(writer, bigVariants[bv++ % bigVariants.length]!)),
      extra: extraOf(big, BIG_BATCH),
    },
    {
      name: `1 change + ${PER_INSTANCE - 1} repeats per instance, persisted (coalesced)`,
      items: BATCH * PER_INSTANCE,
      unit: 'update',
      baseline: `1 change per instance x ${BATCH}, persisted`,
      note: `${BATCH} instance writes for ${BATCH * PER_INSTANCE} updates`,
      fn: timed(repeated, () => {
        const r = variants[v++ % VARIANTS]!;
        for (let i = 0; i < PER_INSTANCE; i++) applyAll(writer, r);
      }),
      extra: extraOf(repeated, BATCH),
    },
    {
      name: `${PER_INSTANCE} changes per instance, persisted (coalesced)`,
      items: BATCH * PER_INSTANCE,
      unit: 'update',
      baseline: `1 change per instance x ${BATCH}, persisted`,
      note: `${BATCH} instance writes + ${BATCH * PER_INSTANCE} history entries`,
      fn: timed(changes, () => {
        for (let i = 0; i < PER_INSTANCE; i++) applyAll(writer, variants[v++ % VARIANTS]!);
      }),
      extra: extraOf(changes, BATCH),
    },
    {
      name: `first sight: ${BATCH} new instances, persisted`,
      items: BATCH,
      unit: 'update',
      note: 'new hosts (fleet-style names), 20 apps x 4 instances each',
      fn: () => {
        // New keys every batch, made outside the timed part. Host names come
        // from the fleet's own generator, past its 12,500 hosts: as varied
        // as real ones, so the new keys land all over the B-trees (names
        // sharing a prefix would be appended side by side, which is cheap).
        const b = firstSightBatch++;
        const texts = Array.from({ length: BATCH }, (_, i) =>
          JSON.stringify({
            app: appName(Math.floor(i / 4) % 20),
            ver: '1.0.0',
            host: hostName(FLEET.seed, NEW_HOSTS_FROM + b * HOSTS_PER_BATCH + Math.floor(i / 80)),
            instance: i % 4,
          }),
        );
        const records = recordsOfTexts(texts, now);
        return timed(fresh, () => applyAll(writer, records))();
      },
      extra: extraOf(fresh, BATCH),
    },
  ];
  return runSuite('writer', tasks, options, log);
}
