// A thin layer over tinybench: every task processes a batch of `items`
// (packets, records, rows...) per call, so results read as time per item,
// and a task may name a baseline in its suite to be compared against
// (ratio = baseline time / task time, so > 1 means the task is faster).
// Medians, not means: a GC pause or a page fault in one sample should not
// move the figure.

import { Bench, type Task } from 'tinybench';

export interface MicroTask {
  name: string;
  /** Items one call processes. */
  items: number;
  /** What an item is: "packet", "record", "row"... */
  unit: string;
  fn: () => unknown;
  /** Name of the task in the same suite this one is compared with. */
  baseline?: string;
  /** One line of context for the table. */
  note?: string;
  /** Extra figures the task gathers itself (e.g. split timings); read after the run. */
  extra?: () => Record<string, number>;
}

export interface MicroOptions {
  timeMs: number;
  warmupMs: number;
  minIterations: number;
}

export interface MicroResult {
  suite: string;
  name: string;
  unit: string;
  items: number;
  samples: number;
  /** Median time of one call (a batch of `items`). */
  median_ms: number;
  p99_ms: number;
  /** median_ms per item, in nanoseconds. */
  per_item_ns: number;
  /** Items per second at the median. */
  items_per_s: number;
  baseline?: string;
  /** baseline's per-item time / this task's (> 1: faster than the baseline). */
  speedup?: number;
  note?: string;
  extra?: Record<string, number>;
}

export async function runSuite(suite: string, tasks: readonly MicroTask[], options: MicroOptions, log: (line: string) => void): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  for (const t of tasks) {
    // One Bench per task, so each gets the whole time budget and a failure names its task.
    const bench = new Bench({ time: options.timeMs, warmupTime: options.warmupMs, iterations: options.minIterations, warmupIterations: 2, throws: true });
    bench.add(t.name, t.fn);
    await bench.run();
    const task = bench.tasks[0] as Task;
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${suite}/${t.name}: ${r.state}`);
    const median = r.latency.p50;
    const result: MicroResult = {
      suite,
      name: t.name,
      unit: t.unit,
      items: t.items,
      samples: r.latency.samplesCount,
      median_ms: median,
      p99_ms: r.latency.p99,
      per_item_ns: (median * 1e6) / t.items,
      items_per_s: (t.items * 1000) / median,
    };
    if (t.note !== undefined) result.note = t.note;
    if (t.extra !== undefined) result.extra = t.extra();
    results.push(result);
    const ns = result.per_item_ns;
    const shown = ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e4 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(ns < 100 ? 1 : 0)} ns`;
    log(`  ${suite}: ${t.name}: ${shown}/${t.unit} (${result.samples} samples)`);
  }
  for (const [i, t] of tasks.entries()) {
    if (t.baseline === undefined) continue;
    const base = results.find((r) => r.name === t.baseline);
    if (base === undefined) throw new Error(`${suite}/${t.name}: no baseline ${t.baseline}`);
    results[i]!.baseline = t.baseline;
    results[i]!.speedup = base.per_item_ns / results[i]!.per_item_ns;
  }
  return results;
}
