// The final summary: one flat JSON object (--json; the benchmark parses
// it) or a few lines for people. Both come from the same Summary.

import type { LossReport } from './check.js';
import type { FuzzOptions } from './options.js';
import { formatCount, formatRate } from './progress.js';
import type { SendSummary } from './run-senders.js';
import type { ServerAddress } from './server-address.js';
import type { WaveResult } from './wave-run.js';

export interface Summary {
  mode: 'udp' | 'http';
  server: string;
  address: string;
  port: number;
  seed: number;
  workers: number;
  fleet_size: number;
  /** null when sending as fast as possible. */
  target_rate: number | null;
  sent: number;
  sent_good: number;
  sent_bad: number;
  send_errors: number;
  achieved_rate: number;
  duration_s: number;
  /** User + system CPU of the whole fuzz process (all threads) up to the end of sending. */
  sender_cpu_us: number;
  interrupted: boolean;
  bad_by_kind: Record<string, number>;
  http_status?: Record<string, number>;
  // With --check: the LossReport fields, plus whether the counters settled.
  applied?: number;
  rejected?: number;
  ring_full_drops?: number;
  kernel_drops?: number;
  received?: number;
  lost?: number;
  loss_rate?: number;
  unexplained_lost?: number;
  server_pending?: number;
  expected_applied?: number;
  expected_rejected?: number;
  rejected_by_reason?: Record<string, number>;
  check_settled?: boolean;
  /** --waves: one entry per wave played (the totals above are over all waves). */
  waves?: WaveResult[];
}

export function buildSummary(options: FuzzOptions, address: ServerAddress, sent: SendSummary, cpuMicros: number, loss: LossReport | null): Summary {
  const durationS = sent.elapsedMs / 1000;
  const summary: Summary = {
    mode: options.http ? 'http' : 'udp',
    server: address.name,
    address: address.ip,
    port: address.port,
    seed: options.seed,
    workers: options.workers,
    fleet_size: options.hosts * options.apps * options.instances,
    target_rate: options.rate === 0 ? null : options.rate,
    sent: sent.sent,
    sent_good: sent.sent - sent.sentBad,
    sent_bad: sent.sentBad,
    send_errors: sent.sendErrors,
    achieved_rate: durationS > 0 ? Math.round(sent.sent / durationS) : 0,
    duration_s: Math.round(durationS * 1000) / 1000,
    sender_cpu_us: cpuMicros,
    interrupted: sent.interrupted,
    bad_by_kind: sent.badByKind,
  };
  if (options.http) summary.http_status = sent.httpStatus;
  if (loss !== null) {
    const { settled, sent: _sent, ...counts } = loss;
    Object.assign(summary, counts, { check_settled: settled });
  }
  return summary;
}

function breakdown(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '' : ` (${entries.map(([name, n]) => `${name} ${formatCount(n)}`).join(', ')})`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(3)}%`;
}

export function formatSummary(s: Summary): string {
  const via = s.mode === 'http' ? 'HTTP' : 'UDP';
  const lines = [
    `sent ${formatCount(s.sent)} updates over ${via} to ${s.server}:${s.port} (${s.address}) in ${s.duration_s.toFixed(2)} s` +
      (s.interrupted ? ' (interrupted)' : ''),
    `  rate      ${formatCount(s.achieved_rate)}/s achieved, target ${formatRate(s.target_rate ?? 0)}, ${s.workers} thread(s)`,
    `  packets   ${formatCount(s.sent_good)} valid, ${formatCount(s.sent_bad)} malformed${breakdown(s.bad_by_kind)}`,
  ];
  if (s.send_errors > 0) lines.push(`  errors    ${formatCount(s.send_errors)} not sent (${s.mode === 'http' ? 'no answer' : 'refused by the kernel'})`);
  if (s.http_status !== undefined) lines.push(`  answers  ${breakdown(s.http_status) || ' none'}`);
  const cpuS = s.sender_cpu_us / 1e6;
  // The CPU time includes start-up, so a share of a core means little for short runs.
  const share = s.duration_s >= 1 ? ` (${Math.round((cpuS / s.duration_s) * 100)}% of one core)` : '';
  lines.push(`  cpu       ${cpuS.toFixed(2)} s, whole process${share}`);
  if (s.applied !== undefined) {
    lines.push(
      `check (server counters, after minus before${s.check_settled ? '' : '; not settled when we stopped waiting'}):`,
      `  applied   ${formatCount(s.applied)} of ${formatCount(s.expected_applied ?? 0)} valid sent`,
      `  rejected  ${formatCount(s.rejected ?? 0)} of ${formatCount(s.expected_rejected ?? 0)} malformed sent${breakdown(s.rejected_by_reason ?? {})}`,
      `  lost      ${formatCount(s.lost ?? 0)} (${percent(s.loss_rate ?? 0)}): ring full ${formatCount(s.ring_full_drops ?? 0)}, ` +
        `kernel drops ${formatCount(s.kernel_drops ?? 0)}, unexplained ${formatCount(s.unexplained_lost ?? 0)}` +
        (s.server_pending ? ` (${formatCount(s.server_pending)} received but not yet applied)` : ''),
    );
  }
  return lines.join('\n');
}

function pad(cells: string[][]): string[] {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    row
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The human output of --waves: the totals, then one line per wave. */
export function formatWaves(s: Summary): string {
  const waves = s.waves ?? [];
  const checked = waves.some((w) => w.shown !== undefined);
  const via = s.mode === 'http' ? 'HTTP' : 'UDP';
  const lines = [
    `${waves.length} wave(s) of ${formatCount(s.fleet_size)} instances over ${via} to ${s.server}:${s.port} (${s.address}), ` +
      `target ${formatRate(s.target_rate ?? 0)}, ${s.workers} thread(s)${s.interrupted ? ' (interrupted)' : ''}`,
  ];
  const header = ['wave', 'version', 'sent', 'rate/s', 'took s'];
  if (checked) header.push('shown', 'complete after', 'disagree', 'persisted after', 'ring drops', 'kernel drops', 'rejected', 'backlog');
  const rows = waves.map((w) => {
    const row = [String(w.wave), w.version, formatCount(w.sent), formatCount(w.offered_rate), w.duration_s.toFixed(2)];
    if (checked) {
      row.push(
        w.shown_pct === undefined ? '-' : `${w.shown_pct.toFixed(3)}%`,
        w.complete_s === undefined ? '-' : w.complete_s === null ? `incomplete (${w.poll_end})` : `${w.complete_s.toFixed(2)} s`,
        w.max_disagreement === undefined ? '-' : formatCount(w.max_disagreement),
        w.persisted_s === undefined ? '-' : w.persisted_s === null ? 'not yet' : `${w.persisted_s.toFixed(2)} s`,
        formatCount(w.ring_full_drops ?? 0),
        formatCount(w.kernel_drops ?? 0),
        `${formatCount(w.rejected ?? 0)}${breakdown(w.rejected_by_reason ?? {})}`,
        w.write_backlog === null || w.write_backlog === undefined ? '-' : formatCount(w.write_backlog),
      );
    }
    return row;
  });
  lines.push(...pad([header, ...rows]).map((line) => `  ${line}`));
  if (s.send_errors > 0) lines.push(`  errors: ${formatCount(s.send_errors)} not sent (${s.mode === 'http' ? 'no answer' : 'refused by the kernel'})`);
  if (checked) {
    lines.push(
      "  shown: fleet instances the version/ listings show on the wave's version; complete after: seconds after the last packet",
      '  until the app/A counts covered the fleet; disagree: largest gap between an app/A count and its listing;',
      '  persisted after: until everything was taken in and write_backlog was 0.',
    );
  }
  return lines.join('\n');
}
