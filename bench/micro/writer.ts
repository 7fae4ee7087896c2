// The store writer (src/store/writer.ts) on the 1,000,000-instance store:
// absorbing records (apply) and persisting them (commit: durable LMDB
// transactions of up to 2048 instances, run until the backlog is empty),
// timed together per batch, reported per update applied.
//
// The choice measured: coalescing. The writer keeps one pending record per
// instance however many arrive before it is persisted, so
// - a change followed by repeats (a storm re-sending while the backlog is
//   written) costs one write, and
// - several changes of one instance cost one instance write (but still one
//   history entry each: history records every version change).
// Both are compared with one change per instance per commit.

import { FLEET, unixNow, recordsOfTexts, trafficOf, recordsOf, packetsOf, type Records } from '../fleet.js';
import { appName, hostName } from '../../tools/fuzz/names.js';
import { median } from '../stats.js';
import { persistAll } from '../persist.js';
import type { StoreWriter } from '../../src/store/writer.js';
import { runSuite, type MicroOptions, type MicroResult, type MicroTask } from './harness.js';

/** Instances changed per batch: one commit's worth (PERSIST_BATCH). */
const BATCH = 2048;
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

function applyAll(writer: StoreWriter, r: Records): void {
  for (let i = 0; i < r.count; i++) writer.apply(r.buf, r.starts[i]!, r.ends[i]! - r.starts[i]!);
}

export async function writerBench(writer: StoreWriter, options: MicroOptions, log: (line: string) => void): Promise<MicroResult[]> {
  const traffic = trafficOf();
  const now = unixNow();
  const originals = Array.from({ length: BATCH }, (_, n) => traffic.goodJson(n));
  const variants = Array.from({ length: VARIANTS }, (_, v) => recordsOfTexts(originals.map((j) => withVersionSuffix(j, `+bench${v}`)), now));
  const repeats = recordsOf(packetsOf(traffic, 0, 2 * BATCH), now);
  // The fleet's stream is a random permutation: these hit index entries all
  // over the 1,000,000, as a storm does (the hot set above stays in cache).
  const spread = recordsOf(packetsOf(traffic, 2 * BATCH, SPREAD), now);
  persistAll(writer); // start from an empty backlog
  let v = 0;
  let firstSightBatch = 0;

  /** A timed batch: apply + persist; the split goes to the task's own lists. */
  const timed = (split: { commitMs: number[]; commits: number[] }, work: () => void) => () => {
    const t0 = performance.now();
    work();
    const t1 = performance.now();
    split.commits.push(persistAll(writer));
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
          JSON.stringify({ app: appName(Math.floor(i / 4) % 20), ver: '1.0.0', host: hostName(FLEET.seed, NEW_HOSTS_FROM + b * HOSTS_PER_BATCH + Math.floor(i / 80)), instance: i % 4 }),
        );
        const records = recordsOfTexts(texts, now);
        return timed(fresh, () => applyAll(writer, records))();
      },
      extra: extraOf(fresh, BATCH),
    },
  ];
  return runSuite('writer', tasks, options, log);
}
