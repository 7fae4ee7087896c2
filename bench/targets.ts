// The targets, each checked against what the end-to-end run
// measured. A target whose figure was not measured (e.g. --micro-only)
// reads as "-" rather than passing or failing.

import type { E2eReport } from './e2e/index.js';
import { fmt, MiB, pct } from './stats.js';

export interface TargetResult {
  name: string;
  target: string;
  measured: string;
  value: number | null;
  pass: boolean | null;
}

function check(name: string, target: string, value: number | null | undefined, ok: (v: number) => boolean, show: (v: number) => string): TargetResult {
  if (value === null || value === undefined || !Number.isFinite(value)) return { name, target, measured: '-', value: null, pass: null };
  return { name, target, measured: show(value), value, pass: ok(value) };
}

export function evaluateTargets(e2e: E2eReport | null): TargetResult[] {
  const step = (rate: number | null) => e2e?.ladder.find((s) => s.target_rate === rate);
  const kind = (name: string) => e2e?.queries.kinds.find((k) => k.name === name);
  const max = step(null);
  const rssPeak = e2e === null ? null : Math.max(...e2e.ladder.map((s) => s.rss_anon_peak), e2e.memory_loaded_idle.rss_anon);
  const startMs = e2e === null ? null : Math.max(e2e.start.serving_ms, e2e.restart.serving_ms);
  const bulk = (name: string, label: string): TargetResult => {
    const k = kind(name);
    return check(label, '>= 1,000,000 rows/s', k?.rows_per_s, (v) => v >= 1e6, (v) => `${fmt(v)} rows/s (${fmt(k!.rows_per_answer)} rows in ${fmt(k!.p50_ms)} ms p50)`);
  };
  return [
    check('loss at 50,000/s', '< 0.01%', step(50_000)?.loss, (v) => v < 1e-4, pct),
    check('loss at 100,000/s', '< 0.01%', step(100_000)?.loss, (v) => v < 1e-4, pct),
    check(`loss at the sender's fastest (${max === undefined ? '?' : fmt(max.offered_rate)}/s)`, '< 0.1%', max?.loss, (v) => v < 1e-3, pct),
    check('server CPU per applied update at 100,000/s', '<= 3 µs', step(100_000)?.server_cpu_us_per_update, (v) => v <= 3, (v) => `${v.toFixed(2)} µs`),
    check('RssAnon with 1,000,000 instances (peak over the ladder)', '<= 256 MiB', rssPeak, (v) => v <= 256 * MiB, (v) => `${(v / MiB).toFixed(0)} MiB`),
    check('p99 version/?host=H during the storm', '<= 5 ms', kind('version/?host=H')?.p99_ms, (v) => v <= 5, (v) => `${v.toFixed(2)} ms`),
    check('p99 version/?app_id=A&host=H during the storm', '<= 5 ms', kind('version/?app_id=A&host=H')?.p99_ms, (v) => v <= 5, (v) => `${v.toFixed(2)} ms`),
    check('p99 app/ during the storm', '<= 5 ms', kind('app/')?.p99_ms, (v) => v <= 5, (v) => `${v.toFixed(2)} ms`),
    bulk('version/?app_id=A', 'version/?app_id=A during the storm'),
    bulk('host/', 'host/ during the storm'),
    check('start to serving, 1,000,000 instances (worse of quiet start, restart in storm)', '<= 1 s', startMs, (v) => v <= 1000, (v) => `${(v / 1000).toFixed(2)} s`),
  ];
}
