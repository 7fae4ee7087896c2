// The printed tables, and the JSON file with the same figures (and more)
// under bench/results/, named by the run's start time so runs sort and
// compare.

import { formatLabels, type LabelsReport } from './e2e/labels.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { E2eReport } from './e2e/index.js';
import type { WavesReport } from './e2e/waves.js';
import type { ClusterReport } from './e2e/cluster.js';
import type { MicroReport } from './micro/index.js';
import type { MicroResult } from './micro/harness.js';
import { RESULTS_DIR } from './paths.js';
import { fmt, mib, pct } from './stats.js';
import type { TargetResult } from './targets.js';

export interface Environment {
  started_at: string;
  node: string;
  cpu: string;
  cores: number;
  memory_gib: number;
  git_commit: string | null;
  git_dirty: boolean | null;
  /** 1-minute load average when the run started and ended (other work on the machine skews everything). */
  load_start: number;
  load_end?: number;
  argv: string[];
}

export interface BenchReport {
  environment: Environment;
  /** The cached 1,000,000-instance store; null when not needed (--waves-only). */
  cache: { key: string; built_at: number; build_ms: number } | null;
  targets: TargetResult[];
  micro: MicroReport | null;
  e2e: E2eReport | null;
  /** The waves section (fresh servers, partisci-fuzz --waves); null when not run. */
  waves: WavesReport | null;
  /** The labels and SQL section; null when not run. */
  labels?: LabelsReport | null;
  /** The cluster section (two nodes on a 3-server JetStream cluster); null when not run. */
  cluster: ClusterReport | null;
  total_seconds: number;
}

type Align = 'l' | 'r';

/** A plain-text table: header, a rule, rows; columns padded to fit. */
export function table(header: string[], rows: string[][], align: Align[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => ((align[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function section(title: string, body: string): string {
  return `\n== ${title} ==\n${body}\n`;
}

function rate(r: number | null): string {
  return r === null ? 'max' : fmt(r);
}

function perItem(r: MicroResult): string {
  if (r.unit === 'query') return r.median_ms >= 1 ? `${fmt(r.median_ms)} ms` : `${fmt(r.median_ms * 1000)} µs`;
  return r.per_item_ns >= 1000 ? `${fmt(r.per_item_ns / 1000)} µs` : `${fmt(r.per_item_ns)} ns`;
}

export function formatReport(report: BenchReport): string {
  const out: string[] = [];
  const env = report.environment;
  out.push(
    `Partisci benchmark, ${env.started_at}: node ${env.node}, ${env.cores} x ${env.cpu}, ${env.memory_gib} GiB; ` +
      `commit ${env.git_commit?.slice(0, 10) ?? '?'}${env.git_dirty ? ' (+ uncommitted changes)' : ''}; ${report.total_seconds.toFixed(0)} s; ` +
      `load average ${env.load_start.toFixed(2)} at start, ${env.load_end?.toFixed(2) ?? '?'} at end`,
  );

  const e2e = report.e2e;
  const waves = report.waves ?? null;
  const cluster = report.cluster ?? null;
  const shown = { e2e: e2e !== null, waves: waves !== null, labels: (report.labels ?? null) !== null, cluster: cluster !== null };
  const targets = report.targets.filter((t) => shown[t.section]);
  if (targets.length > 0) {
    out.push(
      section(
        'Targets',
        table(
          ['target', 'goal', 'measured', ''],
          targets.map((t) => [t.name, t.target, t.measured, t.pass === null ? '-' : t.pass ? 'PASS' : 'MISS']),
          ['l', 'l', 'l', 'l'],
        ),
      ),
    );
  }
  if (waves !== null) out.push(formatWaves(waves));
  if (report.labels !== undefined && report.labels !== null) out.push(formatLabels(report.labels));
  if (cluster !== null) out.push(formatCluster(cluster));
  if (e2e !== null) {
    out.push(
      section(
        `UDP ladder: repeats of the 1,000,000-instance fleet, ${e2e.options.stepSeconds} s per step, 1 sender thread (server idle: ${(e2e.idle_cpu_cores * 100).toFixed(1)}% of a core)`,
        table(
          [
            'rate',
            'offered/s',
            'applied/s',
            'loss',
            'ring drops',
            'kernel drops',
            'server µs/update',
            'ingest+writer+main+other µs',
            'server cores',
            'sender cores',
            'other cores',
            'RssAnon peak',
            'RssFile peak',
            'written',
          ],
          e2e.ladder.map((s) => [
            rate(s.target_rate),
            fmt(s.offered_rate),
            fmt(s.applied_rate),
            pct(s.loss),
            fmt(s.ring_full_drops),
            fmt(s.kernel_drops),
            `${s.server_cpu_us_per_update.toFixed(2)} (${s.server_cpu_us_per_update_gross.toFixed(2)} gross)`,
            [s.cpu_split_us_per_update.ingest, s.cpu_split_us_per_update.writer, s.cpu_split_us_per_update.main, s.cpu_split_us_per_update.other]
              .map((v) => v.toFixed(2))
              .join(' + '),
            s.server_cores.toFixed(2),
            s.sender_cores.toFixed(2),
            s.other_cores.toFixed(2),
            mib(s.rss_anon_peak),
            mib(s.rss_file_peak),
            fmt(s.written),
          ]),
        ),
      ),
    );

    const f = e2e.first_sight;
    out.push(
      section(
        `First sight: ${fmt(f.sent)} updates of new instances at ${fmt(f.rate)}/s into the 1,000,000 (fuzz --seed 2)`,
        table(
          [
            'offered/s',
            'new instances',
            'loss',
            'ring drops',
            'kernel drops',
            'backlog peak',
            'backlog bytes peak',
            'persisted in',
            'after send end',
            'persist rate',
            'server µs/new',
            'RssAnon peak',
            'RssAnon after',
          ],
          [
            [
              fmt(f.offered_rate),
              fmt(f.new_instances),
              pct(f.loss),
              fmt(f.ring_full_drops),
              fmt(f.kernel_drops),
              fmt(f.backlog_peak),
              mib(f.backlog_bytes_peak),
              `${f.persist_s.toFixed(1)} s${f.settled ? '' : ' (timed out)'}`,
              `${f.persist_after_send_s.toFixed(1)} s`,
              `${fmt(f.persist_rate)}/s`,
              fmt(f.server_cpu_us_per_new_instance),
              mib(f.rss_anon_peak),
              mib(f.rss_anon_end),
            ],
          ],
          ['r'],
        ),
      ),
    );

    const q = e2e.queries;
    out.push(
      section(
        `Queries during a ${fmt(q.storm_rate)}/s storm (${fmt(q.instances)} instances, ${fmt(q.hosts)} hosts, ${fmt(q.apps)} apps; storm loss ${pct(q.storm_loss)}, server ${q.server_cores.toFixed(2)} cores)`,
        table(
          ['query', 'rows/answer', 'KiB/answer', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'rows/s (p50)'],
          q.kinds.map((k) => [
            k.name,
            fmt(k.rows_per_answer),
            fmt(k.bytes_per_answer / 1024),
            fmt(k.p50_ms),
            fmt(k.p90_ms),
            fmt(k.p99_ms),
            fmt(k.max_ms),
            fmt(k.requests),
            k.bulk ? fmt(k.rows_per_s) : '',
          ]),
        ),
      ),
    );

    const r = e2e.restart;
    out.push(
      section(
        'Start-up with 1,000,000 instances in LMDB',
        table(
          ['', 'serving (first HTTP answer)', 'writer loaded', 'writer load (its log)', 'stop before'],
          [
            [
              'start on the copied store, quiet',
              `${fmt(e2e.start.serving_ms)} ms`,
              `${fmt(e2e.start.loaded_ms)} ms`,
              `${fmt(e2e.start.writer_load_ms)} ms`,
              '',
            ],
            [
              `restart during a ${fmt(r.storm_rate)}/s storm`,
              `${fmt(r.serving_ms)} ms`,
              `${fmt(r.loaded_ms)} ms`,
              `${fmt(r.writer_load_ms)} ms`,
              `${fmt(r.stop_ms)} ms`,
            ],
          ],
        ),
      ) +
        `the storm across the restart: ${fmt(r.sent)} sent, ${fmt(r.applied)} applied, loss ${pct(r.loss)} ` +
        `(ring full ${fmt(r.ring_full_drops)}, kernel ${fmt(r.kernel_drops)}, before the port was open ${fmt(r.lost_before_open)})\n`,
    );
  }

  const micro = report.micro;
  if (micro !== null) {
    out.push(
      section(
        `Micro (tinybench medians; "vs baseline" = baseline time / this time; parseUpdate fast path share ${(micro.fast_path_share * 100).toFixed(0)}%)`,
        table(
          ['suite', 'task', 'median', 'per', 'per second', 'vs baseline', 'samples', 'notes'],
          micro.results.map((r) => [
            r.suite,
            r.name,
            perItem(r),
            r.unit,
            r.unit === 'query' && r.extra?.rows_per_s !== undefined && (r.extra.rows_per_answer ?? 0) > 100
              ? `${fmt(r.extra.rows_per_s)} rows`
              : `${fmt(r.items_per_s)}`,
            r.speedup === undefined ? '' : `${r.speedup.toFixed(2)}x`,
            String(r.samples),
            notes(r),
          ]),
          ['l', 'l', 'r', 'l', 'r', 'r', 'r', 'l'],
        ),
      ),
    );
  }
  return out.join('\n');
}

function reasons(byReason: Record<string, number>): string {
  const entries = Object.entries(byReason).filter(([, n]) => n !== 0);
  return entries.length === 0 ? '' : ` (${entries.map(([r, n]) => `${r} ${fmt(n)}`).join(', ')})`;
}

function formatCluster(c: ClusterReport): string {
  const rows = c.steps.map((s) => [
    s.wave === '1.0.0' ? 'first sights' : 'version changes',
    fmt(s.changes),
    `${s.send_s.toFixed(1)} s (${fmt(s.offered_rate)}/s)`,
    `${s.a_committed_s.toFixed(1)} s`,
    `${s.b_received_s.toFixed(1)} s`,
    `${s.b_visible_s.toFixed(1)} s${s.complete ? '' : ' (incomplete)'}`,
    fmt(s.replicated_per_s),
    `${fmt(s.replication_lag_ms.p50)} / ${fmt(s.replication_lag_ms.p99)} ms`,
    [s.cpu_us_per_change.a, s.cpu_us_per_change.b, s.cpu_us_per_change.nats, s.cpu_us_per_change.machine].map((v) => v.toFixed(1)).join(', '),
  ]);
  const lines = [
    `reference, one node without --cluster: ${fmt(c.single_node.changes)} first sights committed ${c.single_node.committed_s.toFixed(1)} s after the first packet (${fmt(c.single_node.committed_per_s)}/s)`,
    table(
      ['wave to A', 'changes', 'sent in', 'A committed', 'B received all', 'B shows all', 'replicated/s', 'B lag p50/p99', 'CPU µs/change A, B, nats, machine'],
      rows,
    ),
    `repeat wave (each instance once): ${fmt(c.repeats.repeats)} repeats, ${fmt(c.repeats.published_bytes)} bytes of changes + ${fmt(c.repeats.digest_bytes)} bytes of digests = ${c.repeats.bytes_per_repeat.toFixed(2)} bytes per repeat`,
    `hot repeat storm (10,000 instances, 5 s): ${fmt(c.hot_repeats.repeats)} repeats, ${fmt(c.hot_repeats.published_bytes)} + ${fmt(c.hot_repeats.digest_bytes)} bytes = ${c.hot_repeats.bytes_per_repeat.toFixed(3)} bytes per repeat`,
  ];
  if (c.catch_up !== null) {
    lines.push(
      `catch-up: node C, started empty, shows ${fmt(c.catch_up.instances)} instances after ${c.catch_up.seconds.toFixed(1)} s (snapshot of ${fmt(c.catch_up.snapshot_instances)} loaded in ${(c.catch_up.snapshot_load_ms / 1000).toFixed(1)} s, then the stream)${c.catch_up.complete ? '' : ' (incomplete)'}`,
    );
  }
  return section(`cluster: nodes A and B on 3 nats-servers (R3), fleet ${fmt(c.fleet)}, everything on this machine`, lines.join('\n'));
}

function formatWaves(waves: WavesReport): string {
  const o = waves.options;
  const fleet = o.hosts * o.apps * o.instances;
  const rows = waves.runs.flatMap((r) =>
    r.waves.map((w) => [
      r.rate === null ? `max (${r.sender_workers} senders)` : fmt(r.rate),
      String(w.wave),
      `${w.version} (${w.kind})`,
      fmt(w.offered_rate),
      w.duration_s.toFixed(2),
      w.shown_pct === null ? '-' : `${w.shown_pct.toFixed(3)}%`,
      w.complete_s === null ? `never (${w.poll_end ?? '?'})` : `${w.complete_s.toFixed(2)} s`,
      w.persisted_s === null ? 'not in 60 s' : `${w.persisted_s.toFixed(2)} s`,
      fmt(w.max_disagreement),
      fmt(w.ring_full_drops),
      fmt(w.kernel_drops),
      `${fmt(w.rejected)}${reasons(w.rejected_by_reason)}`,
      fmt(w.write_backlog_peak),
      w.cpu_us_per_update.toFixed(2),
      [w.cpu_split_us_per_update.ingest, w.cpu_split_us_per_update.writer, w.cpu_split_us_per_update.main, w.cpu_split_us_per_update.other]
        .map((v) => v.toFixed(2))
        .join(' + '),
      mib(w.rss_anon_peak),
      w.persist_lag_ms === null ? '-' : `${fmt(w.persist_lag_ms.p99)} ms`,
    ]),
  );
  let body = table(
    [
      'rate',
      'wave',
      'version',
      'offered/s',
      'took s',
      'shown',
      'complete after',
      'persisted after',
      'disagree',
      'ring drops',
      'kernel drops',
      'rejected',
      'backlog peak',
      'µs/update',
      'ingest+writer+main+other µs',
      'RssAnon peak',
      'persist lag p99',
    ],
    rows,
    ['r', 'r', 'l'],
  );
  body +=
    "\nshown: fleet instances the version/ listings show on the wave's version; complete after: seconds after the last packet until app/A\n" +
    'counted the fleet on it; persisted after: until the server had taken in everything and write_backlog was 0; µs/update: server CPU\n' +
    '(idle-corrected) from the first packet until persisted (or 60 s after the last packet), per update taken in (changes, or repeats).\n';
  for (const r of waves.runs) {
    body += `${r.label}: RssAnon peak ${mib(r.rss_anon_peak)}, RssFile peak ${mib(r.rss_file_peak)}; server idle ${(r.idle_cpu_cores * 100).toFixed(1)}% of a core; partisci-fuzz ran ${r.fuzz_seconds.toFixed(0)} s\n`;
    if (r.queries !== null) {
      body +=
        `  queries during the waves (${fmt(o.queryRate)}/s, one at a time${r.query_errors ? `, ${fmt(r.query_errors)} failed` : ''}): ` +
        r.queries.map((q) => `${q.name} p50 ${fmt(q.p50_ms)} ms, p99 ${fmt(q.p99_ms)} ms, max ${fmt(q.max_ms)} ms (${fmt(q.requests)} requests)`).join('; ') +
        '\n';
    }
  }
  return section(
    `Waves: fresh server, empty data folder; ${fmt(fleet)} instances (${fmt(o.hosts)} hosts x ${o.apps} apps x ${o.instances}); ${o.versions.join(' -> ')}`,
    body.trimEnd(),
  );
}

function notes(r: MicroResult): string {
  const parts: string[] = [];
  if (r.note !== undefined) parts.push(r.note);
  const x = r.extra ?? {};
  if (x.push_ns_per_record !== undefined) parts.push(`push ${fmt(x.push_ns_per_record)} ns + drain ${fmt(x.drain_ns_per_record)} ns`);
  if (x.commit_ms !== undefined)
    parts.push(`commits ${fmt(x.commit_ms)} ms/batch (${fmt(x.commits_per_batch)} txns), ${fmt(x.commit_us_per_instance_written)} µs per instance written`);
  return parts.join('; ');
}

export function saveReport(report: BenchReport): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${report.environment.started_at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
