// The rollout of an app over time, from its history: for each time step,
// how many instances ran each version. Runs in the query pool (piscina),
// because an app on 10,000 hosts has tens of thousands of entries.

import type { RolloutStep } from '../api/types.js';

export interface HistoryPoint {
  /** The instance's storage key (entries of one instance are contiguous, newest first). */
  key: Uint8Array;
  time: number;
  /** null: removed. */
  ver: string | null;
}


/** Most steps one answer may have. */
export const MAX_STEPS = 1000;

export function stepTimes(since: number, step: number, now: number): number[] {
  const times = [];
  for (let t = since; t <= now && times.length < MAX_STEPS; t += step) times.push(t);
  return times;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Counts, at each time, the version each instance ran: the version of its
 * latest entry at or before that time (none before its first sight, none
 * after its removal).
 */
export function rollout(points: readonly HistoryPoint[], times: readonly number[]): RolloutStep[] {
  const counts = times.map(() => new Map<string, number>());
  let i = 0;
  while (i < points.length) {
    let j = i;
    while (j < points.length && sameKey(points[j]!.key, points[i]!.key)) j++;
    // points[i..j) is one instance, newest first: walk it oldest first.
    let k = j - 1;
    let current: string | null = null;
    for (let s = 0; s < times.length; s++) {
      while (k >= i && points[k]!.time <= times[s]!) current = points[k--]!.ver;
      if (current !== null) counts[s]!.set(current, (counts[s]!.get(current) ?? 0) + 1);
    }
    i = j;
  }
  return times.map((time, s) => ({ time, counts: Object.fromEntries(counts[s]!) }));
}
