// The targets, each checked against what the end-to-end run
// measured. A target whose figure was not measured (e.g. --micro-only)
// reads as "-" rather than passing or failing.

import type { LabelsReport } from './e2e/labels.js';
import type { E2eReport } from './e2e/index.js';
import type { WavesReport, WavesRun } from './e2e/waves.js';
import type { ClusterReport } from './e2e/cluster.js';
import { fmt, MiB, pct } from './stats.js';

export interface TargetResult {
  name: string;
  target: string;
  measured: string;
  value: number | null;
  pass: boolean | null;
  /** The part of the run that measures it. */
  section: 'e2e' | 'waves' | 'labels' | 'cluster';
}

function check(name: string, target: string, value: number | null | undefined, ok: (v: number) => boolean, show: (v: number) => string): TargetResult {
  if (value === null || value === undefined || !Number.isFinite(value)) return { name, target, measured: '-', value: null, pass: null, section: 'e2e' };
  return { name, target, measured: show(value), value, pass: ok(value), section: 'e2e' };
}

export function evaluateTargets(
  e2e: E2eReport | null,
  waves: WavesReport | null = null,
  labels: LabelsReport | null = null,
  cluster: ClusterReport | null = null,
): TargetResult[] {
  return [...e2eTargets(e2e), ...waveTargets(waves), ...labelTargets(labels), ...clusterTargets(cluster)];
}

/** Issue 12's figures: label filters and SQL over 1,000,000 labelled instances. */
function labelTargets(r: LabelsReport | null): TargetResult[] {
  const kind = (name: string): number | undefined => r?.storm.kinds.find((k) => k.name === name)?.p99_ms;
  const quietGroupBy = r === null ? null : Math.max(...r.quiet.map((k) => k.p50_ms));
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  return [
    check('p99 version/?label.env=prod&app_id=A&limit=100 during the storm', '<= 5 ms', kind('version/?label.env=prod&app_id=A&limit=100'), (v) => v <= 5, ms),
    check('SQL GROUP BY over all instances (worst of four, quiet, p50)', '<= 100 ms', quietGroupBy, (v) => v <= 100, ms),
    check('SQL GROUP BY app_id, ver during the storm (p99)', '<= 100 ms', kind('SQL GROUP BY app_id, ver (all instances)'), (v) => v <= 100, ms),
    check('SQL tables behind the REST API during a rollout wave (max)', '<= 1 s', r?.wave.lag_max_ms, (v) => v <= 1000, ms),
    check(
      'repeat-storm CPU per update, labels on every packet / none',
      '1.00 +- 0.05',
      r?.cpu.ratio,
      (v) => Math.abs(v - 1) <= 0.05,
      (v) => `x${v.toFixed(3)} (${r!.cpu.labelled_us_per_update.toFixed(2)} / ${r!.cpu.plain_us_per_update.toFixed(2)} µs)`,
    ),
  ].map((t) => ({ ...t, section: 'labels' as const }));
}

function clusterTargets(c: ClusterReport | null): TargetResult[] {
  const worstRate =
    c === null
      ? null
      : worst(
          c.steps.map((s) => (s.complete ? s.replicated_per_s : 0)),
          Math.min,
        );
  const lagP99 =
    c === null
      ? null
      : worst(
          c.steps.map((s) => s.replication_lag_ms.p99),
          Math.max,
        );
  const catchUp = c?.catch_up;
  const targets = [
    check(
      'cluster: changes replicated from A, shown by B (the slower wave)',
      '>= 50,000/s',
      worstRate,
      (v) => v >= 50_000,
      (v) => `${fmt(v)}/s`,
    ),
    check(
      'cluster: replication lag p99 on B under that load',
      '<= 1 s',
      lagP99,
      (v) => v <= 1000,
      (v) => `${(v / 1000).toFixed(2)} s`,
    ),
    check(
      `cluster: catch-up of an empty node (${c === null ? '?' : fmt(c.fleet)} instances)`,
      c !== null && c.fleet >= 1_000_000 ? '<= 30 s' : '<= 30 s for 1,000,000',
      catchUp === null || catchUp === undefined || !catchUp.complete ? null : catchUp.seconds,
      (v) => v <= 30 * ((c?.fleet ?? 1e6) / 1e6),
      (v) => `${v.toFixed(1)} s`,
    ),
    check(
      'cluster: bytes per repeat, hot storm (10,000 instances, 10 repeats each per second)',
      '~0 (<= 1)',
      c?.hot_repeats.bytes_per_repeat,
      (v) => v <= 1,
      (v) => v.toFixed(3),
    ),
  ];
  return targets.map((t) => ({ ...t, section: 'cluster' as const }));
}

function e2eTargets(e2e: E2eReport | null): TargetResult[] {
  const step = (rate: number | null) => e2e?.ladder.find((s) => s.target_rate === rate);
  const kind = (name: string) => e2e?.queries.kinds.find((k) => k.name === name);
  const max = step(null);
  const rssPeak = e2e === null ? null : Math.max(...e2e.ladder.map((s) => s.rss_anon_peak), e2e.memory_loaded_idle.rss_anon);
  const startMs = e2e === null ? null : Math.max(e2e.start.serving_ms, e2e.restart.serving_ms);
  const bulk = (name: string, label: string): TargetResult => {
    const k = kind(name);
    return check(
      label,
      '>= 1,000,000 rows/s',
      k?.rows_per_s,
      (v) => v >= 1e6,
      (v) => `${fmt(v)} rows/s (${fmt(k!.rows_per_answer)} rows in ${fmt(k!.p50_ms)} ms p50)`,
    );
  };
  return [
    check('loss at 50,000/s', '< 0.01%', step(50_000)?.loss, (v) => v < 1e-4, pct),
    check('loss at 100,000/s', '< 0.01%', step(100_000)?.loss, (v) => v < 1e-4, pct),
    check(`loss at the sender's fastest (${max === undefined ? '?' : fmt(max.offered_rate)}/s)`, '< 0.1%', max?.loss, (v) => v < 1e-3, pct),
    check(
      'server CPU per applied update at 100,000/s',
      '<= 3 µs',
      step(100_000)?.server_cpu_us_per_update,
      (v) => v <= 3,
      (v) => `${v.toFixed(2)} µs`,
    ),
    check(
      'RssAnon with 1,000,000 instances (peak over the ladder)',
      '<= 256 MiB',
      rssPeak,
      (v) => v <= 256 * MiB,
      (v) => `${(v / MiB).toFixed(0)} MiB`,
    ),
    check(
      'p99 version/?host=H during the storm',
      '<= 5 ms',
      kind('version/?host=H')?.p99_ms,
      (v) => v <= 5,
      (v) => `${v.toFixed(2)} ms`,
    ),
    check(
      'p99 version/?app_id=A&host=H during the storm',
      '<= 5 ms',
      kind('version/?app_id=A&host=H')?.p99_ms,
      (v) => v <= 5,
      (v) => `${v.toFixed(2)} ms`,
    ),
    check(
      'p99 app/ during the storm',
      '<= 5 ms',
      kind('app/')?.p99_ms,
      (v) => v <= 5,
      (v) => `${v.toFixed(2)} ms`,
    ),
    bulk('version/?app_id=A', 'version/?app_id=A during the storm'),
    bulk('host/', 'host/ during the storm'),
    check(
      'start to serving, 1,000,000 instances (worse of quiet start, restart in storm)',
      '<= 1 s',
      startMs,
      (v) => v <= 1000,
      (v) => `${(v / 1000).toFixed(2)} s`,
    ),
  ];
}

/** The worst of some figures (max or min); null when none was measured. */
function worst(values: (number | null | undefined)[], pick: (a: number, b: number) => number): number | null {
  const measured = values.filter((v): v is number => v !== null && v !== undefined && !Number.isNaN(v));
  return measured.length === 0 ? null : measured.reduce((a, b) => pick(a, b));
}

const seconds = (v: number): string => `${v.toFixed(2)} s`;

function waveTargets(waves: WavesReport | null): TargetResult[] {
  const paced: WavesRun | undefined = waves?.runs.find((r) => r.rate !== null);
  const fastest: WavesRun | undefined = waves?.runs.find((r) => r.rate === null);
  const rate = paced?.rate ?? waves?.options.pacedRate ?? 100_000;
  const at = `at ${fmt(rate)}/s`;
  const offered = fastest?.waves.map((w) => w.offered_rate) ?? [];
  const fastestRate = offered.length === 0 ? '?' : `${fmt(Math.min(...offered))}-${fmt(Math.max(...offered))}`;
  const all = waves?.runs ?? [];
  const kind = (name: string) => paced?.queries?.find((q) => q.name === name);
  // An incomplete wave counts as never complete.
  const completeS =
    paced === undefined
      ? null
      : worst(
          paced.waves.map((w) => (w.complete_s === null ? Infinity : w.complete_s)),
          Math.max,
        );
  const changed = paced?.waves.filter((w) => w.kind === 'changed') ?? [];
  const repeats = paced?.waves.filter((w) => w.kind === 'repeat') ?? [];
  const lagP99 = worst(
    all.flatMap((r) => r.waves.map((w) => w.persist_lag_ms?.p99)),
    Math.max,
  );
  const targets = [
    check(
      `waves ${at}: every wave shown by the listings (the worst wave)`,
      '100%',
      paced === undefined
        ? null
        : worst(
            paced.waves.map((w) => w.shown_pct),
            Math.min,
          ),
      (v) => v >= 100,
      (v) => `${v.toFixed(3)}%`,
    ),
    completeS === Infinity
      ? {
          name: `waves ${at}: complete after the last packet (the slowest wave)`,
          target: '<= 1 s',
          measured: 'incomplete',
          value: null,
          pass: false,
          section: 'waves' as const,
        }
      : check(`waves ${at}: complete after the last packet (the slowest wave)`, '<= 1 s', completeS, (v) => v <= 1, seconds),
    check(
      `waves at the sender's fastest (${fastestRate}/s): shown (the worst wave)`,
      '>= 99.9%',
      fastest === undefined
        ? null
        : worst(
            fastest.waves.map((w) => w.shown_pct),
            Math.min,
          ),
      (v) => v >= 99.9,
      (v) => `${v.toFixed(3)}%`,
    ),
    check(
      `waves ${at}: server CPU per changed update (the worst changing wave)`,
      '<= 12 µs',
      worst(
        changed.map((w) => w.cpu_us_per_update),
        Math.max,
      ),
      (v) => v <= 12,
      (v) => `${v.toFixed(2)} µs`,
    ),
    check(
      `waves ${at}: server CPU per repeated update (the restart wave)`,
      '<= 3 µs',
      worst(
        repeats.map((w) => w.cpu_us_per_update),
        Math.max,
      ),
      (v) => v <= 3,
      (v) => `${v.toFixed(2)} µs`,
    ),
    check(
      'waves: RssAnon peak (both runs)',
      '<= 320 MiB',
      worst(
        all.map((r) => r.rss_anon_peak),
        Math.max,
      ),
      (v) => v <= 320 * MiB,
      (v) => `${(v / MiB).toFixed(0)} MiB`,
    ),
    check(
      `waves ${at}: p99 version/?host=H during the waves`,
      '<= 5 ms',
      kind('version/?host=H')?.p99_ms,
      (v) => v <= 5,
      (v) => `${v.toFixed(2)} ms`,
    ),
    check(
      `waves ${at}: p99 app/ during the waves`,
      '<= 5 ms',
      kind('app/')?.p99_ms,
      (v) => v <= 5,
      (v) => `${v.toFixed(2)} ms`,
    ),
    check(
      'waves: persist lag p99 (/debug/vars persist_lag_ms, the worst wave)',
      '<= 1 s',
      lagP99,
      (v) => v <= 1000,
      (v) => `${(v / 1000).toFixed(2)} s`,
    ),
    check(
      'waves: max disagreement between app/A and its listing (both runs)',
      '0',
      worst(
        all.map((r) => r.max_disagreement),
        Math.max,
      ),
      (v) => v === 0,
      fmt,
    ),
  ];
  return targets.map((t) => ({ ...t, section: 'waves' as const }));
}
