// The rollout chart: the share of an app's instances on each version over
// time (GET app/A/rollout), as stacked areas with the newest version at
// the bottom, so a rollout reads as the bottom colour filling the chart.

import { useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import type { RolloutStep } from '../api';
import { num, percent, when } from '../format';
import { MAX_COLORED, newestFirst, OTHER_COLOR, type VersionColors } from '../versions';
import { Chart } from './chart';

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
const TIME_INCRS = [1, 5, 10, 15, 30, MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

export interface Rollout {
  times: number[];
  /** Newest first; the last may be OLDER. */
  names: string[];
  /** counts[k][i]: instances on names[k] at times[i]. */
  counts: number[][];
  totals: number[];
}

/** The series that sums the versions past the palette. */
export const OLDER = 'older';

/**
 * The steps as series, newest version first, leading steps without
 * instances (before the server had data) left out. Like the version bars,
 * the newest versions get a series each and the rest are summed as OLDER:
 * a rollout is about the recent versions.
 */
export function toRollout(steps: readonly RolloutStep[]): Rollout {
  const first = steps.findIndex((s) => Object.values(s.counts).some((n) => n > 0));
  const used = first < 0 ? [] : steps.slice(first);
  const all = new Set<string>();
  for (const s of used) for (const v of Object.keys(s.counts)) all.add(v);
  const sorted = [...all].sort(newestFirst);
  const own = sorted.length > MAX_COLORED ? sorted.slice(0, MAX_COLORED - 1) : sorted;
  const names = own.length < sorted.length ? [...own, OLDER] : own;
  const counts = names.map(() => new Array<number>(used.length).fill(0));
  const index = new Map(own.map((v, k) => [v, k]));
  used.forEach((s, i) => {
    for (const [v, n] of Object.entries(s.counts)) counts[index.get(v) ?? names.length - 1]![i]! += n;
  });
  const totals = used.map((_, i) => counts.reduce((t, c) => t + c[i]!, 0));
  return { times: used.map((s) => s.time), names, counts, totals };
}

export function RolloutChart({ rollout, colors }: { rollout: Rollout; colors: VersionColors }) {
  const [hover, setHover] = useState<number | null>(null);
  const { times, names, counts, totals } = rollout;
  const color = (name: string): string => (name === OLDER ? OTHER_COLOR : colors.get(name));

  // Cumulative shares, drawn from the top band down: each area is filled
  // to the bottom and the next one (lower) paints over it.
  const data = useMemo((): uPlot.AlignedData => {
    const tops: (number | null)[][] = [];
    let acc = times.map(() => 0);
    for (const c of counts) {
      acc = acc.map((a, i) => a + c[i]!);
      tops.push(acc.map((a, i) => (totals[i]! > 0 ? (100 * a) / totals[i]! : null)));
    }
    return [times, ...tops.reverse()];
  }, [rollout]);

  const options = (): Omit<uPlot.Options, 'width' | 'height'> => ({
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: { x: { time: true }, y: { range: [0, 100] } },
    axes: [
      // Whole seconds at least: history has one-second resolution.
      { stroke: '#5b6472', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d9dde3' }, incrs: TIME_INCRS, space: 70 },
      { stroke: '#5b6472', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d9dde3' }, values: (_u, ticks) => ticks.map((t) => `${t}%`), size: 52 },
    ],
    series: [
      {},
      ...[...names].reverse().map((name) => ({
        label: name,
        stroke: '#ffffff',
        width: 1,
        fill: color(name),
        points: { show: false },
      })),
    ],
    hooks: { setCursor: [(u: uPlot) => setHover(u.cursor.idx ?? null)] },
  });

  const i = hover ?? times.length - 1;
  return (
    <div class="rollout">
      <Chart
        options={options}
        data={data}
        shape={`${names.join('\u0000')}|${colors.key}`}
        height={220}
        class="rollout-plot"
        label="Share of instances per version over time"
      />
      <div class="readout" aria-live="off">
        <span class="muted">{hover === null ? `Latest (${when(times[i])})` : when(times[i])}:</span>
        {names.map((name, k) => (
          <span key={name} class="chip">
            <i style={{ background: color(name) }} />
            {name} <b>{percent(counts[k]![i] ?? 0, totals[i] ?? 0)}</b> <span class="muted">({num(counts[k]![i])})</span>
          </span>
        ))}
      </div>
    </div>
  );
}
