import { describe, expect, test } from 'vitest';
import { latenciesWithin, WAVES_FULL, type WaveFigures, type WavesReport, type WavesRun } from '../../bench/e2e/waves.js';
import { evaluateTargets } from '../../bench/targets.js';

function wave(n: number, version: string, kind: 'changed' | 'repeat', extra: Partial<WaveFigures> = {}): WaveFigures {
  return {
    wave: n,
    version,
    kind,
    sent: 1000,
    offered_rate: 100_000,
    duration_s: 0.01,
    shown_pct: 100,
    complete_s: 0.2,
    poll_end: 'complete',
    persisted_s: 0.5,
    max_disagreement: 0,
    received: 1000,
    ring_full_drops: 0,
    kernel_drops: 0,
    rejected: 0,
    rejected_by_reason: {},
    write_backlog_peak: 10,
    persist_lag_ms: null,
    window_s: 1,
    updates: 1000,
    cpu_us_per_update: 5,
    cpu_split_us_per_update: { ingest: 2, writer: 2, main: 0.5, other: 0.5 },
    rss_anon_peak: 100 * 2 ** 20,
    ...extra,
  };
}

function run(rate: number | null, waves: WaveFigures[], extra: Partial<WavesRun> = {}): WavesRun {
  return {
    label: String(rate),
    rate,
    sender_workers: rate === null ? 2 : 1,
    fleet_size: 1000,
    idle_cpu_cores: 0.01,
    rss_anon_peak: 200 * 2 ** 20,
    rss_file_peak: 0,
    waves,
    max_disagreement: 0,
    queries: null,
    query_errors: null,
    fuzz_seconds: 10,
    ...extra,
  };
}

const byName = (report: WavesReport) =>
  new Map(
    evaluateTargets(null, report)
      .filter((t) => t.section === 'waves')
      .map((t) => [t.name.replace(/\(.*?\)/g, '').trim(), t]),
  );

describe('bench: the waves targets', () => {
  test('a server that keeps up passes; the worst wave counts', () => {
    const report: WavesReport = {
      options: WAVES_FULL,
      seconds: 1,
      runs: [
        run(
          100_000,
          [
            wave(1, '1.0.0', 'changed', { cpu_us_per_update: 11 }),
            wave(2, '2.0.0', 'changed', { complete_s: 0.9 }),
            wave(3, '2.0.0', 'repeat', { cpu_us_per_update: 2.5 }),
          ],
          {
            queries: [
              { name: 'version/?host=H', requests: 100, p50_ms: 0.5, p99_ms: 4, max_ms: 6 },
              { name: 'app/', requests: 100, p50_ms: 0.5, p99_ms: 3, max_ms: 6 },
            ],
          },
        ),
        run(null, [
          wave(1, '1.0.0', 'changed', { shown_pct: 99.95, persist_lag_ms: { p50: 10, p99: 900, max: 1200 } }),
          wave(2, '2.0.0', 'changed'),
          wave(3, '2.0.0', 'repeat'),
        ]),
      ],
    };
    const targets = evaluateTargets(null, report).filter((t) => t.section === 'waves');
    expect(targets).toHaveLength(10);
    expect(targets.map((t) => [t.measured, t.pass])).toEqual([
      ['100.000%', true],
      ['0.90 s', true],
      ['99.950%', true],
      ['11.00 µs', true],
      ['2.50 µs', true],
      ['200 MiB', true],
      ['4.00 ms', true],
      ['3.00 ms', true],
      ['0.90 s', true],
      ['0', true],
    ]);
  });

  test('an incomplete wave misses, a missing figure is not measured, a disagreement misses', () => {
    const report: WavesReport = {
      options: WAVES_FULL,
      seconds: 1,
      runs: [
        run(100_000, [wave(1, '1.0.0', 'changed', { complete_s: null, shown_pct: 60 }), wave(2, '2.0.0', 'changed'), wave(3, '2.0.0', 'repeat')], {
          max_disagreement: 7,
        }),
      ],
    };
    const t = byName(report);
    expect(t.get('waves at 100,000/s: complete after the last packet')).toMatchObject({ measured: 'incomplete', pass: false });
    expect(t.get('waves at 100,000/s: every wave shown by the listings')).toMatchObject({ measured: '60.000%', pass: false });
    expect(t.get("waves at the sender's fastest : shown")).toMatchObject({ measured: '-', pass: null });
    expect(t.get('waves: persist lag p99')).toMatchObject({ measured: '-', pass: null });
    expect(t.get('waves: max disagreement between app/A and its listing')).toMatchObject({ measured: '7', pass: false });
  });

  test('without the waves section, its targets are not measured', () => {
    const targets = evaluateTargets(null, null).filter((t) => t.section === 'waves');
    expect(targets.every((t) => t.pass === null && t.measured === '-')).toBe(true);
  });
});

describe('bench: query latencies during the waves', () => {
  test('only requests sent inside a wave window count', () => {
    const kinds = [{ name: 'app/', t: [10, 20, 30, 40, 50], ms: [1, 2, 3, 4, 100] }];
    expect(
      latenciesWithin(kinds, [
        [15, 32],
        [40, 40],
      ]),
    ).toEqual([{ name: 'app/', requests: 3, p50_ms: 3, p99_ms: 4, max_ms: 4 }]);
  });
});
