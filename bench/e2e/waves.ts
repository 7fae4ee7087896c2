// The waves section: change, the hard case. A FRESH partiscid on an EMPTY
// data folder (not the cached store) takes partisci-fuzz --waves: the whole
// fleet coming online with 1.0.0, a release of 2.0.0 reaching every
// instance, then every instance restarting (2.0.0 again), each wave paced
// at 100,000/s; then a second fresh server takes the same three waves as
// fast as the sender can go (--rate max --workers 2).
//
// partisci-fuzz --waves --check measures, per wave, what the API shows and
// when (see tools/fuzz/wave-check.ts) and gives each wave's times; around
// it, this samples the server every 100 ms from /proc (per-thread CPU,
// RssAnon), so the CPU of each wave is split by thread group over the
// wave's own window: from its first packet until it was taken in and
// persisted (or the tool stopped waiting) — the tool's full listings,
// which come after, are outside it. During the paced waves a query client
// (its own process) asks version/?host=H and app/ in turn, 100 times a
// second, and keeps the latencies that fell inside the waves' windows.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WaveResult } from '../../tools/fuzz/wave-run.js';
import { removeDir, trackChild, trackDir } from '../cleanup.js';
import { shapeArgs } from '../fleet.js';
import { QUERY_CLIENT } from '../paths.js';
import { quantile } from '../stats.js';
import { runFuzz, type FuzzSummary } from './fuzz.js';
import { idleCpu, type Idle } from './ladder.js';
import { ingestThreads, memory, splitCpu, threadCpu, type CpuSplit } from './proc.js';
import type { TimedLatencies } from './query-client.js';
import { Server } from './server.js';

export interface WavesOptions {
  hosts: number;
  apps: number;
  instances: number;
  versions: string[];
  /** The paced runs' rate. */
  pacedRate: number;
  /** Sender threads of the as-fast-as-possible run. */
  maxWorkers: number;
  /** Queries per second during the paced waves (both kinds together). */
  queryRate: number;
  seed: number;
}

const VERSIONS = ['1.0.0', '2.0.0', '2.0.0'];

export const WAVES_FULL: WavesOptions = {
  hosts: 10_000,
  apps: 25,
  instances: 4,
  versions: VERSIONS,
  pacedRate: 100_000,
  maxWorkers: 2,
  queryRate: 100,
  seed: 1,
};
export const WAVES_QUICK: WavesOptions = {
  hosts: 2_500,
  apps: 25,
  instances: 4,
  versions: VERSIONS,
  pacedRate: 50_000,
  maxWorkers: 2,
  queryRate: 100,
  seed: 1,
};

export interface QueryLatency {
  name: string;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface WaveFigures {
  wave: number;
  version: string;
  /** 'changed': first sights or version changes (a new version); 'repeat': the same version again. */
  kind: 'changed' | 'repeat';
  sent: number;
  offered_rate: number;
  duration_s: number;
  shown_pct: number | null;
  /** Seconds after the last packet until app/A counted the whole fleet on the version; null: never (within 60 s, or the counts stopped moving). */
  complete_s: number | null;
  poll_end: string | null;
  persisted_s: number | null;
  max_disagreement: number | null;
  received: number | null;
  ring_full_drops: number | null;
  kernel_drops: number | null;
  rejected: number | null;
  rejected_by_reason: Record<string, number>;
  write_backlog_peak: number | null;
  /** The server's own figure (/debug/vars persist_lag_ms) after the wave; null when it has none. */
  persist_lag_ms: { p50: number; p99: number; max: number } | null;
  /** Seconds of the CPU window: first packet to settled (taken in and persisted, or the tool stopped waiting). */
  window_s: number;
  /** Updates the server took in as such (received - rejected - ring drops): the divisor of the CPU figures. */
  updates: number;
  /** Server CPU (idle-corrected) per update over the window, µs: all threads, and by thread group. */
  cpu_us_per_update: number;
  cpu_split_us_per_update: CpuSplit;
  rss_anon_peak: number;
}

export interface WavesRun {
  label: string;
  /** null: as fast as possible. */
  rate: number | null;
  sender_workers: number;
  fleet_size: number;
  idle_cpu_cores: number;
  rss_anon_peak: number;
  rss_file_peak: number;
  waves: WaveFigures[];
  max_disagreement: number | null;
  /** During the paced waves only (null for the fastest run). */
  queries: QueryLatency[] | null;
  query_errors: number | null;
  fuzz_seconds: number;
}

export interface WavesReport {
  options: WavesOptions;
  runs: WavesRun[];
  seconds: number;
}

interface Sample {
  /** unix ms */
  t: number;
  threads: Map<number, number>;
  rssAnon: number;
  rssFile: number;
}

/** /proc every 100 ms: per-thread CPU and memory, kept as a timeline. */
class Timeline {
  readonly samples: Sample[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #pid: number;

  constructor(pid: number) {
    this.#pid = pid;
    this.take();
    this.#timer = setInterval(() => this.take(), 100);
  }

  take(): void {
    try {
      const t = performance.timeOrigin + performance.now();
      const threads = threadCpu(this.#pid);
      const m = memory(this.#pid);
      this.samples.push({ t, threads, rssAnon: m.rss_anon, rssFile: m.rss_file });
    } catch {
      // the process is gone; the caller will notice
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.take();
  }

  /** The last sample at or before t (the first if none). */
  before(t: number): Sample {
    let found = this.samples[0]!;
    for (const s of this.samples) {
      if (s.t > t) break;
      found = s;
    }
    return found;
  }

  /** The first sample at or after t (the last if none). */
  after(t: number): Sample {
    for (const s of this.samples) if (s.t >= t) return s;
    return this.samples[this.samples.length - 1]!;
  }

  peak(from: number, to: number, field: 'rssAnon' | 'rssFile'): number {
    let peak = 0;
    for (const s of this.samples) if (s.t >= from - 100 && s.t <= to + 100) peak = Math.max(peak, s[field]);
    return peak;
  }
}

function startQueryClient(port: number, options: WavesOptions): { stop: () => Promise<{ kinds: TimedLatencies[]; errors: number }> } {
  const child = trackChild(
    spawn(
      process.execPath,
      [
        QUERY_CLIENT,
        '--mode',
        'waves',
        '--port',
        String(port),
        '--hosts',
        String(options.hosts),
        '--seed',
        String(options.seed),
        '--rate',
        String(options.queryRate),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      if (code !== 0) throw new Error(`query client failed (exit ${code}): ${stderr}`);
      return JSON.parse(stdout.trim()) as { kinds: TimedLatencies[]; errors: number };
    },
  };
}

/** The latencies of each kind that were sent inside one of the windows. */
export function latenciesWithin(kinds: readonly TimedLatencies[], windows: readonly [number, number][]): QueryLatency[] {
  return kinds.map((k) => {
    const inside = k.ms.filter((_, i) => windows.some(([from, to]) => k.t[i]! >= from && k.t[i]! <= to));
    return {
      name: k.name,
      requests: inside.length,
      p50_ms: quantile(inside, 0.5),
      p99_ms: quantile(inside, 0.99),
      max_ms: inside.length === 0 ? NaN : Math.max(...inside),
    };
  });
}

function idleSplit(idle: Idle, seconds: number): CpuSplit {
  return { ingest: idle.split.ingest * seconds, writer: idle.split.writer * seconds, main: idle.split.main * seconds, other: idle.split.other * seconds };
}

/** One wave's figures from the tool's report and the server's timeline. */
function waveFigures(w: WaveResult, previous: WaveResult | undefined, timeline: Timeline, pid: number, ingest: Set<number>, idle: Idle): WaveFigures {
  const from = w.started_at;
  const to = w.settled_at ?? w.last_packet_at;
  const a = timeline.before(from);
  const b = timeline.after(to);
  const windowS = Math.max(0.001, (b.t - a.t) / 1000);
  const split = splitCpu(pid, ingest, a.threads, b.threads);
  const idleCpu = idleSplit(idle, windowS);
  const updates = Math.max(1, (w.received ?? w.sent) - (w.rejected ?? 0) - (w.ring_full_drops ?? 0));
  const per = (role: keyof CpuSplit): number => Math.max(0, split[role] - idleCpu[role]) / updates;
  const cpuSplit: CpuSplit = { ingest: per('ingest'), writer: per('writer'), main: per('main'), other: per('other') };
  return {
    wave: w.wave,
    version: w.version,
    kind: previous !== undefined && previous.version === w.version ? 'repeat' : 'changed',
    sent: w.sent,
    offered_rate: w.offered_rate,
    duration_s: w.duration_s,
    shown_pct: w.shown_pct ?? null,
    complete_s: w.complete_s ?? null,
    poll_end: w.poll_end ?? null,
    persisted_s: w.persisted_s ?? null,
    max_disagreement: w.max_disagreement ?? null,
    received: w.received ?? null,
    ring_full_drops: w.ring_full_drops ?? null,
    kernel_drops: w.kernel_drops ?? null,
    rejected: w.rejected ?? null,
    rejected_by_reason: w.rejected_by_reason ?? {},
    write_backlog_peak: w.write_backlog_peak ?? null,
    persist_lag_ms: w.persist_lag_ms ?? null,
    window_s: windowS,
    updates,
    cpu_us_per_update: cpuSplit.ingest + cpuSplit.writer + cpuSplit.main + cpuSplit.other,
    cpu_split_us_per_update: cpuSplit,
    rss_anon_peak: timeline.peak(from, to, 'rssAnon'),
  };
}

async function wavesRun(options: WavesOptions, rate: number | null, workers: number, log: (line: string) => void): Promise<WavesRun> {
  const label = rate === null ? `max, ${workers} sender threads` : `${rate.toLocaleString('en-US')}/s`;
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'partisci-bench-waves-')));
  let server: Server | null = null;
  let client: ReturnType<typeof startQueryClient> | null = null;
  try {
    // A folder that does not exist yet: partiscid creates it, empty.
    const started = await Server.start(join(dir, 'data'));
    server = started.server;
    if (started.startup.instances !== 0) throw new Error(`a fresh server loaded ${started.startup.instances} instances`);
    const ingest = await ingestThreads(server.pid);
    if (ingest.size !== 2) log(`  warning: found ${ingest.size} ingest threads (expected 2): the CPU split by thread is unreliable`);
    const idle = await idleCpu(server, ingest, 2000);
    const timeline = new Timeline(server.pid);
    if (rate !== null) client = startQueryClient(server.port, options);
    const t0 = performance.now();
    let fuzz: FuzzSummary;
    try {
      fuzz = await runFuzz(
        server.port,
        ['--waves', options.versions.join(','), ...shapeArgs(options), '--rate', rate === null ? 'max' : String(rate), '--check'],
        workers,
      );
    } finally {
      timeline.stop();
    }
    const fuzzSeconds = (performance.now() - t0) / 1000;
    const queries = client === null ? null : await client.stop();
    client = null;
    const results = fuzz.waves ?? [];
    if (results.length !== options.versions.length) throw new Error(`partisci-fuzz reported ${results.length} waves, expected ${options.versions.length}`);
    const waves = results.map((w, i) => waveFigures(w, results[i - 1], timeline, server!.pid, ingest, idle));
    const windows = results.map((w): [number, number] => [w.started_at, w.settled_at ?? w.last_packet_at]);
    const disagreements = waves.map((w) => w.max_disagreement).filter((d): d is number => d !== null);
    for (const w of waves) {
      log(
        `  wave ${w.wave} (${w.version}, ${w.kind}): ${(w.offered_rate / 1000).toFixed(0)}k/s offered, shown ${w.shown_pct?.toFixed(3) ?? '-'}%, ` +
          `complete ${w.complete_s === null ? 'never' : `after ${w.complete_s.toFixed(2)} s`}, ${w.cpu_us_per_update.toFixed(2)} µs/update, ` +
          `drops ring ${w.ring_full_drops ?? '-'} kernel ${w.kernel_drops ?? '-'}, disagreement ${w.max_disagreement ?? '-'}`,
      );
    }
    const first = timeline.samples[0]?.t ?? 0;
    const last = timeline.samples[timeline.samples.length - 1]?.t ?? 0;
    return {
      label,
      rate,
      sender_workers: workers,
      fleet_size: options.hosts * options.apps * options.instances,
      idle_cpu_cores: idle.us_per_s / 1e6,
      rss_anon_peak: timeline.peak(first, last, 'rssAnon'),
      rss_file_peak: timeline.peak(first, last, 'rssFile'),
      waves,
      max_disagreement: disagreements.length === 0 ? null : Math.max(...disagreements),
      queries: queries === null ? null : latenciesWithin(queries.kinds, windows),
      query_errors: queries?.errors ?? null,
      fuzz_seconds: fuzzSeconds,
    };
  } finally {
    if (client !== null) await client.stop().catch(() => {});
    // The data is thrown away: no need to wait long for it to be persisted.
    if (server !== null) await server.stop(10_000);
    removeDir(dir);
  }
}

export async function runWavesSection(options: WavesOptions, log: (line: string) => void): Promise<WavesReport> {
  const started = performance.now();
  const fleet = options.hosts * options.apps * options.instances;
  const runs: WavesRun[] = [];
  for (const [rate, workers] of [
    [options.pacedRate, 1],
    [null, options.maxWorkers],
  ] as const) {
    log(
      `waves: fresh server, ${fleet.toLocaleString('en-US')} instances (${options.hosts.toLocaleString('en-US')} hosts x ${options.apps} apps x ${options.instances}), ` +
        `waves ${options.versions.join(' -> ')} at ${rate === null ? `max (${workers} sender threads)` : `${rate.toLocaleString('en-US')}/s`}`,
    );
    runs.push(await wavesRun(options, rate, workers, log));
  }
  return { options, runs, seconds: (performance.now() - started) / 1000 };
}
