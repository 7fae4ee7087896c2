// --check: read the server's /debug/vars counters before and after a run,
// and account for every packet sent.
//
// Accounting, with every server counter taken as (after - before):
//   lost     = sent - (applied + rejected)   packets that left us but that
//              the server neither applied nor rejected;
//   explained by ring_full_drops (server read them but had no room) and
//   kernel_drops (the socket buffer overflowed before the server read
//   them); unexplained_lost is the rest, which should be 0.
// Valid packets should end up applied and malformed ones rejected, so the
// report also gives expected_applied = good sent, expected_rejected = bad
// sent. Other clients of the same server during the run skew all of this.

import http from 'node:http';

export interface ServerCounters {
  udp_datagrams: number;
  http_updates: number;
  rejected: number;
  ring_full_drops: number;
  applied: number;
  kernel_drops: number;
  commits: number;
  rejected_by_reason: Record<string, number>;
}

const COUNTER_NAMES = ['udp_datagrams', 'http_updates', 'rejected', 'ring_full_drops', 'applied', 'kernel_drops', 'commits'] as const;

export const DEBUG_VARS_PATH = '/debug/vars';

/** Picks the counters out of a /debug/vars document; absent counters read as 0. */
export function parseCounters(document: unknown): ServerCounters {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new Error(`${DEBUG_VARS_PATH} did not return a JSON object`);
  }
  const vars = document as Record<string, unknown>;
  const counters = { rejected_by_reason: {} } as unknown as ServerCounters;
  for (const name of COUNTER_NAMES) {
    const value = vars[name];
    if (value !== undefined && typeof value !== 'number') throw new Error(`${DEBUG_VARS_PATH}: ${name} is not a number`);
    counters[name] = value ?? 0;
  }
  const reasons = vars.rejected_by_reason;
  if (reasons !== null && typeof reasons === 'object') {
    for (const [reason, value] of Object.entries(reasons)) {
      if (typeof value === 'number') counters.rejected_by_reason[reason] = value;
    }
  }
  return counters;
}

export function counterDelta(before: ServerCounters, after: ServerCounters): ServerCounters {
  const delta = { rejected_by_reason: {} } as unknown as ServerCounters;
  for (const name of COUNTER_NAMES) delta[name] = after[name] - before[name];
  for (const [reason, value] of Object.entries(after.rejected_by_reason)) {
    const change = value - (before.rejected_by_reason[reason] ?? 0);
    if (change !== 0) delta.rejected_by_reason[reason] = change;
  }
  return delta;
}

/** Packets the server has accounted for, one way or another. */
export function accountedFor(delta: ServerCounters): number {
  return delta.applied + delta.rejected + delta.ring_full_drops + delta.kernel_drops;
}

export interface LossReport {
  sent: number;
  expected_applied: number;
  expected_rejected: number;
  /** Packets the server received (UDP datagrams + HTTP updates). */
  received: number;
  applied: number;
  rejected: number;
  ring_full_drops: number;
  kernel_drops: number;
  lost: number;
  /** lost / sent (0 when nothing was sent). */
  loss_rate: number;
  /** lost not explained by ring_full_drops or kernel_drops. */
  unexplained_lost: number;
  /** Of unexplained_lost, updates the server had received but not yet applied when we stopped waiting. */
  server_pending: number;
  rejected_by_reason: Record<string, number>;
  /** False when the counters were still moving when we stopped waiting. */
  settled: boolean;
}

export function lossReport(sent: { good: number; bad: number }, delta: ServerCounters, settled: boolean): LossReport {
  const total = sent.good + sent.bad;
  const lost = total - (delta.applied + delta.rejected);
  return {
    sent: total,
    expected_applied: sent.good,
    expected_rejected: sent.bad,
    received: delta.udp_datagrams + delta.http_updates,
    applied: delta.applied,
    rejected: delta.rejected,
    ring_full_drops: delta.ring_full_drops,
    kernel_drops: delta.kernel_drops,
    lost,
    loss_rate: total === 0 ? 0 : lost / total,
    unexplained_lost: lost - delta.ring_full_drops - delta.kernel_drops,
    server_pending: serverPending(delta),
    rejected_by_reason: delta.rejected_by_reason,
    settled,
  };
}

/** GET /debug/vars. node:http rather than fetch, which refuses some ports (6000, 6666...) outright. */
export function readCounters(baseUrl: string, timeoutMs = 2000): Promise<ServerCounters> {
  const url = new URL(DEBUG_VARS_PATH, baseUrl);
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => reject(new Error(`cannot read ${url.href}: ${why}`));
    const request = http.get(url, { timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (err) => fail(err.message));
      response.on('end', () => {
        if (response.statusCode !== 200) return fail(`HTTP ${response.statusCode}`);
        let document: unknown;
        try {
          document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return fail('not JSON');
        }
        try {
          resolve(parseCounters(document));
        } catch (err) {
          reject(err);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  });
}

export interface SettleOptions {
  /** Counters unchanged for this long count as settled. */
  stableMs: number;
  /** Give up waiting after this long. */
  capMs: number;
  pollMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const SETTLE_DEFAULTS: SettleOptions = {
  stableMs: 1000,
  capMs: 10_000,
  pollMs: 100,
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Updates the server has received but not yet applied, rejected or dropped:
 * sitting in a ring or in the writer's open transaction.
 */
export function serverPending(delta: ServerCounters): number {
  return Math.max(0, delta.udp_datagrams + delta.http_updates - delta.rejected - delta.ring_full_drops - delta.applied);
}

/**
 * Polls the counters until the server has accounted for every packet sent;
 * or holds none in flight and its counters have not moved for stableMs
 * (the rest were lost on the way); or capMs has passed. Counters standing
 * still is not enough on its own: a writer committing a large batch can
 * keep `applied` still for over a second while updates are pending.
 * Returns the last delta read.
 */
export async function waitForSettle(
  read: () => Promise<ServerCounters>,
  before: ServerCounters,
  sent: number,
  options: SettleOptions = SETTLE_DEFAULTS,
): Promise<{ delta: ServerCounters; settled: boolean }> {
  const started = options.now();
  const progress = (d: ServerCounters): number => accountedFor(d) + d.udp_datagrams + d.http_updates;
  let delta = counterDelta(before, await read());
  let lastProgress = progress(delta);
  let lastChange = options.now();
  for (;;) {
    if (accountedFor(delta) >= sent) return { delta, settled: true };
    const now = options.now();
    if (serverPending(delta) === 0 && now - lastChange >= options.stableMs) return { delta, settled: true };
    if (now - started >= options.capMs) return { delta, settled: false };
    await options.sleep(options.pollMs);
    delta = counterDelta(before, await read());
    if (progress(delta) !== lastProgress) {
      lastProgress = progress(delta);
      lastChange = options.now();
    }
  }
}
