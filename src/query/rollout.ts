// The rollout of an app over time, from its history: for each time step,
// how many instances ran each version. Runs in the query pool (piscina),
// because an app on 10,000 hosts has tens of thousands of entries.

import type { RolloutStep } from '../api/types.js';
import type { HistoryPoint } from '../store/reader.js';

export type { HistoryPoint };

/** Most steps one answer may have. */
export const MAX_STEPS = 1000;

export function stepTimes(since: number, step: number, now: number): number[] {
  const times = [];
  for (let t = since; t <= now && times.length < MAX_STEPS; t += step) times.push(t);
  return times;
}

/**
 * Counts, at each time, the version each instance ran: the version of its
 * latest entry at or before that time (none before its first sight, none
 * after its removal). One pass over the entries in time order.
 */
export function rollout(points: readonly HistoryPoint[], times: readonly number[]): RolloutStep[] {
  const ordered = [...points].sort((a, b) => a.time - b.time);
  const current = new Map<string, string | null>();
  const counts = new Map<string, number>();
  const steps: RolloutStep[] = [];
  let i = 0;
  for (const time of times) {
    for (; i < ordered.length && ordered[i]!.time <= time; i++) {
      const p = ordered[i]!;
      const before = current.get(p.id);
      if (before !== undefined && before !== null) {
        const n = counts.get(before)! - 1;
        if (n === 0) counts.delete(before);
        else counts.set(before, n);
      }
      current.set(p.id, p.ver);
      if (p.ver !== null) counts.set(p.ver, (counts.get(p.ver) ?? 0) + 1);
    }
    steps.push({ time, counts: Object.fromEntries(counts) });
  }
  return steps;
}
