// --waves: plays the waves one after the other. Each wave is one run of the
// sender threads (every fleet member once, with the wave's version); with
// --check, the wave is then checked through the API (wave-check.ts) before
// the pause and the next wave, so a wave never starts on the previous
// one's unfinished work unless that timed out.

import { type FuzzOptions, fleetShapeOf } from './options.js';
import type { Progress, SendSummary, WaveToSend } from './run-senders.js';
import { ApiClient, checkWave, FleetMembers, readVars, shownByCounts, type DisagreementSample, type PersistLag } from './wave-check.js';
import { fleetAppIds } from './waves.js';

/** One wave, as reported (--json: the summary's `waves` array). Times are unix epoch milliseconds. */
export interface WaveResult {
  /** 1-based. */
  wave: number;
  version: string;
  sent: number;
  send_errors: number;
  /** Packets per second the senders achieved. */
  offered_rate: number;
  /** Seconds from the first to the last packet. */
  duration_s: number;
  interrupted: boolean;
  started_at: number;
  last_packet_at: number;
  // With --check:
  /** Members on the version by the app/A counts before the wave (e.g. all of them before a repeat wave). */
  shown_before?: number;
  /** Members the listings show on the version after the wave, and their share of the fleet in %. */
  shown?: number;
  shown_pct?: number;
  /** By the last app/A counts. */
  counted?: number;
  /** Seconds after the last packet until the app/A counts covered the fleet; null: incomplete. */
  complete_s?: number | null;
  poll_end?: 'complete' | 'stable' | 'timeout' | 'interrupted';
  /** Largest distance between an app/A count and the listing's length (0: the API never contradicted itself). */
  max_disagreement?: number;
  disagreement_samples?: number;
  worst_sample?: DisagreementSample | null;
  /** Seconds after the last packet until everything was taken in and persisted (write_backlog 0); null: not within the wait. */
  persisted_s?: number | null;
  received?: number;
  applied?: number;
  ring_full_drops?: number;
  kernel_drops?: number;
  rejected?: number;
  rejected_by_reason?: Record<string, number>;
  write_backlog?: number | null;
  write_backlog_peak?: number | null;
  persist_lag_ms?: PersistLag | null;
  complete_at?: number | null;
  /** When the wave's settling ended (everything taken in and persisted, or the wait gave up): the end of its work. */
  settled_at?: number;
  checked_at?: number;
}

export type SendWave = (wave: WaveToSend, onProgress: (progress: Progress) => void) => Promise<SendSummary>;

export interface WaveRunHooks {
  send: SendWave;
  onProgress: (progress: Progress) => void;
  /** Called before and after each wave's sending (progress display, messages). */
  onWaveStart?: (wave: number, version: string) => void;
  onWaveSent?: (wave: number, sent: SendSummary) => void;
  onWaveDone?: (result: WaveResult) => void;
  signal: AbortSignal;
}

function epoch(performanceMs: number): number {
  return Math.round(performance.timeOrigin + performanceMs);
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

export interface WaveRun {
  results: WaveResult[];
  /** The sending of all waves together (for the summary's totals). */
  sent: SendSummary;
}

export async function runWaves(options: FuzzOptions, baseUrl: string, hooks: WaveRunHooks): Promise<WaveRun> {
  const versions = options.waves ?? [];
  const shape = fleetShapeOf(options);
  const client = options.check ? new ApiClient(baseUrl) : null;
  const members = new FleetMembers(shape);
  const appIds = fleetAppIds(shape);
  const results: WaveResult[] = [];
  const total: SendSummary = { sent: 0, sentBad: 0, sendErrors: 0, badByKind: {}, httpStatus: {}, elapsedMs: 0, interrupted: false, startedAtMs: 0 };
  try {
    // Fails early and clearly when --check has no server to ask.
    if (client !== null) await readVars(client);
    for (let w = 0; w < versions.length && !hooks.signal.aborted; w++) {
      const version = versions[w]!;
      const before = client === null ? null : await readVars(client);
      const shownBefore = client === null ? undefined : await shownByCounts(client, appIds, version, members.perApp);

      hooks.onWaveStart?.(w, version);
      const sent = await hooks.send({ index: w, version }, hooks.onProgress);
      hooks.onWaveSent?.(w, sent);
      const lastPacketMs = sent.startedAtMs + sent.elapsedMs;
      if (w === 0) total.startedAtMs = sent.startedAtMs;
      total.sent += sent.sent;
      total.sendErrors += sent.sendErrors;
      total.elapsedMs += sent.elapsedMs;
      for (const [status, n] of Object.entries(sent.httpStatus)) total.httpStatus[status] = (total.httpStatus[status] ?? 0) + n;
      total.interrupted ||= sent.interrupted;

      const result: WaveResult = {
        wave: w + 1,
        version,
        sent: sent.sent,
        send_errors: sent.sendErrors,
        offered_rate: sent.elapsedMs > 0 ? Math.round(sent.sent / (sent.elapsedMs / 1000)) : 0,
        duration_s: Math.round(sent.elapsedMs) / 1000,
        interrupted: sent.interrupted,
        started_at: epoch(sent.startedAtMs),
        last_packet_at: epoch(lastPacketMs),
      };
      if (client !== null && before !== null) {
        const check = await checkWave({
          client,
          members,
          appIds,
          wave: w,
          version,
          previousVersion: w > 0 ? versions[w - 1]! : null,
          sent: sent.sent,
          lastPacketMs,
          before,
          signal: hooks.signal,
        });
        const { completeMs, settledMs, checkedMs, ...figures } = check;
        Object.assign(result, { shown_before: shownBefore }, figures, {
          complete_at: completeMs === null ? null : epoch(completeMs),
          settled_at: epoch(settledMs),
          checked_at: epoch(checkedMs),
        });
      }
      results.push(result);
      hooks.onWaveDone?.(result);
      if (w < versions.length - 1) await abortableSleep(options.wavePauseS * 1000, hooks.signal);
    }
  } finally {
    client?.close();
  }
  total.interrupted ||= hooks.signal.aborted;
  return { results, sent: total };
}
