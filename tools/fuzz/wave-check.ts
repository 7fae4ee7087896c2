// --waves --check: what a user of the API sees after a wave. After the last
// packet of a wave:
//
//  1. poll GET /api/v1/app/<app_id> of every fleet app until the counts of
//     the wave's version cover the whole fleet, or stop changing for 3 s,
//     or 60 s have passed since the last packet; meanwhile, a few times,
//     compare an app's count of a version with the length of its listing
//     (GET version/?app_id=A&ver=V), to catch the API contradicting itself;
//  2. wait (within the same 60 s) until the server has taken in everything
//     sent and, where /debug/vars says so, persisted it (write_backlog 0),
//     so the next wave does not start on the previous one's work and the
//     server's drop counters are final;
//  3. confirm with the full listings version/?app_id=A&ver=V of every app
//     (paged with limit and cursor when the answer carries `next`),
//     counting the fleet members listed, each once;
//  4. read the drop counters from /debug/vars.
//
// HTTP through node:http with a keep-alive agent (fetch refuses some ports).

import http from 'node:http';
import { counterDelta, DEBUG_VARS_PATH, parseCounters, type ServerCounters } from './check.js';
import { Fleet, type FleetShape } from './fleet.js';
import { hash32 } from './prng.js';

const API = '/api/v1/';
/** Rows asked for per page of a confirmation listing. */
export const LISTING_PAGE = 100_000;

export interface WaveCheckTiming {
  /** Between two rounds of app/A polls. */
  pollMs: number;
  /** Counts unchanged this long: stop waiting (the rest will not come). */
  stableMs: number;
  /** Give up this long after the last packet. */
  timeoutMs: number;
  /** Between two disagreement samples while the wave settles. */
  sampleEveryMs: number;
  /** Samples taken per wave at least (after settling if it was quicker). */
  minSamples: number;
  /** Between two /debug/vars reads. */
  varsEveryMs: number;
}

export const WAVE_CHECK_TIMING: WaveCheckTiming = {
  pollMs: 25,
  stableMs: 3000,
  timeoutMs: 60_000,
  sampleEveryMs: 500,
  minSamples: 3,
  varsEveryMs: 100,
};

/** GETs against the server's HTTP API, a few at a time over keep-alive connections. */
export class ApiClient {
  readonly baseUrl: string;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly timeoutMs: number;

  constructor(baseUrl: string, timeoutMs = 30_000) {
    this.baseUrl = baseUrl;
    this.timeoutMs = timeoutMs;
  }

  get(path: string): Promise<{ status: number; body: Buffer }> {
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => reject(new Error(`cannot read ${url.href}: ${why}`));
      const request = http.get(url, { agent: this.agent, timeout: this.timeoutMs }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (err) => fail(err.message));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      request.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    });
  }

  async getJson(path: string): Promise<{ status: number; json: unknown }> {
    const { status, body } = await this.get(path);
    if (status !== 200) return { status, json: null };
    try {
      return { status, json: JSON.parse(body.toString('utf8')) };
    } catch {
      throw new Error(`${path}: answer is not JSON`);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

// --- reading answers ----------------------------------------------------------

/** The count of `ver` in a GET app/A answer (`{"data":[{…,"versions":[{ver,count,…}]}]}` or the object itself); 0 if absent. */
export function versionCount(answer: unknown, ver: string): number {
  let app: unknown = answer;
  if (app !== null && typeof app === 'object' && Array.isArray((app as { data?: unknown }).data)) app = (app as { data: unknown[] }).data[0];
  const versions = app !== null && typeof app === 'object' ? (app as { versions?: unknown }).versions : undefined;
  if (!Array.isArray(versions)) throw new Error('app/A answer has no "versions" list');
  for (const v of versions as { ver?: unknown; count?: unknown }[]) {
    if (v?.ver === ver && typeof v.count === 'number') return v.count;
  }
  return 0;
}

function path(appId: string): string {
  return `${API}app/${encodeURIComponent(appId)}`;
}

function listingPath(appId: string, ver: string, limit?: number, cursor?: string): string {
  let p = `${API}version/?app_id=${encodeURIComponent(appId)}&ver=${encodeURIComponent(ver)}`;
  if (limit !== undefined) p += `&limit=${limit}`;
  if (cursor !== undefined) p += `&cursor=${encodeURIComponent(cursor)}`;
  return p;
}

/** The count of ver in app/A; 0 when the app is not known yet (404). */
export async function appVersionCount(client: ApiClient, appId: string, ver: string): Promise<number> {
  const { status, json } = await client.getJson(path(appId));
  if (status === 404) return 0;
  if (status !== 200) throw new Error(`GET ${path(appId)}: HTTP ${status}`);
  return versionCount(json, ver);
}

export interface ListingRow {
  app_id?: unknown;
  host?: unknown;
  instance?: unknown;
  ver?: unknown;
}

/**
 * Every row of version/?app_id=A&ver=V, page by page (each page's rows
 * handed to onRows). pageSize undefined asks for everything at once and
 * pages only if the server cuts the answer short.
 */
export async function listVersion(client: ApiClient, appId: string, ver: string, onRows: (rows: ListingRow[]) => void, pageSize?: number): Promise<void> {
  let cursor: string | undefined;
  let limit = pageSize;
  for (let page = 0; ; page++) {
    const p = listingPath(appId, ver, limit, cursor);
    const { status, json } = await client.getJson(p);
    if (status !== 200) throw new Error(`GET ${p}: HTTP ${status}`);
    const answer = json as { data?: unknown; next?: unknown };
    if (!Array.isArray(answer.data)) throw new Error(`GET ${p}: no "data" list`);
    onRows(answer.data as ListingRow[]);
    if (typeof answer.next !== 'string' || answer.next === '') return;
    if (page > 1_000_000) throw new Error(`GET ${p}: paging does not end`);
    cursor = answer.next;
    limit ??= Math.max(1, answer.data.length);
  }
}

// --- the fleet members a listing shows ----------------------------------------

/** Counts the fleet members of one app a listing shows on a version, each once. */
export class FleetMembers {
  readonly shape: FleetShape;
  private hostIndex: Map<string, number> | null = null;
  /** Beyond this many hosts, or members per app, rows are counted without telling members apart. */
  static readonly HOSTS_LIMIT = 2_000_000;
  static readonly MEMBERS_PER_APP_LIMIT = 64_000_000;

  constructor(shape: FleetShape) {
    this.shape = shape;
  }

  get perApp(): number {
    return this.shape.hosts * this.shape.instances;
  }

  private hosts(): Map<string, number> | null {
    if (this.shape.hosts > FleetMembers.HOSTS_LIMIT || this.perApp > FleetMembers.MEMBERS_PER_APP_LIMIT) return null;
    if (this.hostIndex === null) {
      const fleet = new Fleet(this.shape);
      this.hostIndex = new Map();
      for (let h = 0; h < this.shape.hosts; h++) this.hostIndex.set(fleet.hostName(h), h);
    }
    return this.hostIndex;
  }

  /** A counter for one app's listing of ver. */
  counter(appId: string, ver: string): { add: (rows: ListingRow[]) => void; count: () => number; rows: () => number } {
    const hosts = this.hosts();
    const instances = this.shape.instances;
    const seen = hosts === null ? null : new Uint8Array(this.perApp);
    let members = 0;
    let rows = 0;
    return {
      add: (page) => {
        for (const row of page) {
          rows++;
          if (row.ver !== ver || row.app_id !== appId) continue;
          if (seen === null || hosts === null) {
            members++;
            continue;
          }
          const h = typeof row.host === 'string' ? hosts.get(row.host) : undefined;
          const i = row.instance ?? 0; // a Go client's omitted 0
          if (h === undefined || typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= instances) continue;
          const k = h * instances + i;
          if (seen[k] === 0) {
            seen[k] = 1;
            members++;
          }
        }
      },
      count: () => Math.min(members, this.perApp),
      rows: () => rows,
    };
  }
}

// --- 1. completion ----------------------------------------------------------

/**
 * Tracks the count of the wave's version app by app. An app is complete
 * once its count covers its members (hosts x instances); the wave once
 * every app is. Pure, so the decisions can be tested with a fake clock.
 */
export class CompletionTracker {
  readonly expectedPerApp: number;
  readonly counts: number[];
  /** When each app was first seen complete (ms, caller's clock), or null. */
  readonly completeAt: (number | null)[];
  private lastSum = -1;
  private lastChangeMs: number;

  constructor(apps: number, expectedPerApp: number, startMs: number) {
    this.expectedPerApp = expectedPerApp;
    this.counts = new Array<number>(apps).fill(0);
    this.completeAt = new Array<number | null>(apps).fill(null);
    this.lastChangeMs = startMs;
  }

  /** The apps still to poll. */
  pending(): number[] {
    const out: number[] = [];
    for (let a = 0; a < this.counts.length; a++) if (this.completeAt[a] === null) out.push(a);
    return out;
  }

  record(app: number, count: number, atMs: number): void {
    this.counts[app] = count;
    if (count >= this.expectedPerApp && this.completeAt[app] === null) this.completeAt[app] = atMs;
  }

  /** Members shown on the version, by the counts (each app capped at its members). */
  sum(): number {
    return this.counts.reduce((total, c) => total + Math.min(c, this.expectedPerApp), 0);
  }

  /** Call after each round: notes whether the counts moved. */
  endRound(nowMs: number): void {
    const sum = this.sum();
    if (sum !== this.lastSum) {
      this.lastSum = sum;
      this.lastChangeMs = nowMs;
    }
  }

  get complete(): boolean {
    return this.completeAt.every((t) => t !== null);
  }

  /** When the last app became complete, or null while some is not. */
  get completedAtMs(): number | null {
    let last = -Infinity;
    for (const t of this.completeAt) {
      if (t === null) return null;
      last = Math.max(last, t);
    }
    return this.completeAt.length === 0 ? null : last;
  }

  /** Whether to stop polling: complete, counts still for stableMs, or past the deadline. */
  shouldStop(nowMs: number, stableMs: number, deadlineMs: number): 'complete' | 'stable' | 'timeout' | null {
    if (this.complete) return 'complete';
    if (nowMs - this.lastChangeMs >= stableMs) return 'stable';
    if (nowMs >= deadlineMs) return 'timeout';
    return null;
  }
}

/** Runs fn over items, at most `concurrency` at a time. */
async function eachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Members shown on ver by the app/A counts (each app capped at its members): one round over every app. */
export async function shownByCounts(client: ApiClient, appIds: readonly string[], ver: string, perApp: number): Promise<number> {
  let total = 0;
  await eachLimited(appIds, 8, async (appId) => {
    const count = await appVersionCount(client, appId, ver);
    total += Math.min(perApp, count);
  });
  return total;
}

// --- disagreement samples ----------------------------------------------------

export interface DisagreementSample {
  app_id: string;
  ver: string;
  /** app/A's count of ver just before, and just after, the listing. */
  count_before: number;
  count_after: number;
  /** Rows of version/?app_id=A&ver=V. */
  listed: number;
  disagreement: number;
}

/**
 * How far a listing's length is from what app/A said around it. The two
 * answers are not taken at the same instant, and counts move while a wave
 * settles, so app/A is read just before and just after the listing: a
 * consistent server's listing lies between the two (a wave moves each
 * version's count one way). The disagreement is its distance outside that
 * range; 0 when the API agrees with itself.
 */
export function disagreement(countBefore: number, listed: number, countAfter: number): number {
  const low = Math.min(countBefore, countAfter);
  const high = Math.max(countBefore, countAfter);
  return listed < low ? low - listed : listed > high ? listed - high : 0;
}

export async function sampleDisagreement(client: ApiClient, appId: string, ver: string): Promise<DisagreementSample> {
  const countBefore = await appVersionCount(client, appId, ver);
  let listed = 0;
  await listVersion(client, appId, ver, (rows) => (listed += rows.length));
  const countAfter = await appVersionCount(client, appId, ver);
  return { app_id: appId, ver, count_before: countBefore, count_after: countAfter, listed, disagreement: disagreement(countBefore, listed, countAfter) };
}

// --- /debug/vars ---------------------------------------------------------------

export interface PersistLag {
  p50: number;
  p99: number;
  max: number;
}

export interface VarsReading {
  counters: ServerCounters;
  /** Instances absorbed but not yet persisted; null when the server does not say. */
  writeBacklog: number | null;
  queued: number | null;
  drained: number | null;
  /** How long absorbed changes wait until their commit is on disk; null when the server does not say. */
  persistLag: PersistLag | null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function parseVars(document: unknown): VarsReading {
  const counters = parseCounters(document);
  const vars = document as Record<string, unknown>;
  const lag = vars.persist_lag_ms;
  let persistLag: PersistLag | null = null;
  if (lag !== null && typeof lag === 'object') {
    const { p50, p99, max } = lag as Record<string, unknown>;
    if (typeof p50 === 'number' && typeof p99 === 'number' && typeof max === 'number') persistLag = { p50, p99, max };
  }
  return {
    counters,
    writeBacklog: numberOrNull(vars.write_backlog),
    queued: numberOrNull(vars.queued),
    drained: numberOrNull(vars.drained),
    persistLag,
  };
}

export async function readVars(client: ApiClient): Promise<VarsReading> {
  const { status, json } = await client.getJson(DEBUG_VARS_PATH);
  if (status !== 200) throw new Error(`cannot read ${new URL(DEBUG_VARS_PATH, client.baseUrl).href}: HTTP ${status}`);
  return parseVars(json);
}

// --- one wave -------------------------------------------------------------------

export interface WaveCheckInput {
  client: ApiClient;
  members: FleetMembers;
  appIds: readonly string[];
  /** 0-based wave number (seeds which apps are sampled). */
  wave: number;
  version: string;
  /** The previous wave's version, also sampled for disagreement when it differs. */
  previousVersion: string | null;
  /** Packets the wave sent. */
  sent: number;
  /** performance.now() of the last packet. */
  lastPacketMs: number;
  /** /debug/vars before the wave. */
  before: VarsReading;
  timing?: WaveCheckTiming;
  /** Stop waiting early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface WaveCheck {
  /** Members shown on the version by the listings, and their share of the fleet (%). */
  shown: number;
  shown_pct: number;
  /** By the last app/A counts. */
  counted: number;
  /** Seconds after the last packet until the counts covered the fleet; null when they did not. */
  complete_s: number | null;
  /** Why polling stopped. */
  poll_end: 'complete' | 'stable' | 'timeout' | 'interrupted';
  max_disagreement: number;
  disagreement_samples: number;
  /** The sample with the largest disagreement (the first, if all were 0). */
  worst_sample: DisagreementSample | null;
  /** Seconds after the last packet until the server had taken in everything and its write_backlog was 0; null if not within the wait. */
  persisted_s: number | null;
  /** Server counters over the wave (after its check minus before). */
  received: number;
  applied: number;
  ring_full_drops: number;
  kernel_drops: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
  /** write_backlog after the check, and its peak while the wave settled (null: not reported). */
  write_backlog: number | null;
  write_backlog_peak: number | null;
  persist_lag_ms: PersistLag | null;
  /** performance.now() when the counts were complete, when settling ended (step 2), when the check ended. */
  completeMs: number | null;
  settledMs: number;
  checkedMs: number;
}

/** The members the listings show on ver, over every fleet app. */
export async function shownByListings(client: ApiClient, members: FleetMembers, appIds: readonly string[], ver: string): Promise<number> {
  let total = 0;
  // Two at a time: each answer may be large.
  await eachLimited(appIds, 2, async (appId) => {
    const counter = members.counter(appId, ver);
    await listVersion(client, appId, ver, counter.add, LISTING_PAGE);
    total += counter.count();
  });
  return total;
}

/** Milliseconds as seconds, to the millisecond, never negative. */
function seconds(ms: number): number {
  return Math.round(Math.max(0, ms)) / 1000;
}

export async function checkWave(input: WaveCheckInput): Promise<WaveCheck> {
  const { client, members, appIds, version, signal } = input;
  const timing = input.timing ?? WAVE_CHECK_TIMING;
  const fleetSize = members.perApp * appIds.length;
  const deadline = input.lastPacketMs + timing.timeoutMs;
  const aborted = (): boolean => signal?.aborted ?? false;

  let backlogPeak: number | null = input.before.writeBacklog;
  const noteBacklog = (v: VarsReading): void => {
    if (v.writeBacklog !== null) backlogPeak = Math.max(backlogPeak ?? 0, v.writeBacklog);
  };

  // Disagreement samples, in the background while the counts settle.
  const samples: DisagreementSample[] = [];
  const versions = input.previousVersion !== null && input.previousVersion !== version ? [version, input.previousVersion] : [version];
  const firstApp = hash32(members.shape.seed, 0x44495341, input.wave) % Math.max(1, appIds.length);
  const takeSample = async (): Promise<void> => {
    const k = samples.length;
    const appId = appIds[(firstApp + k) % appIds.length]!;
    samples.push(await sampleDisagreement(client, appId, versions[k % versions.length]!));
  };
  let polling = true;
  const sampler = (async () => {
    while (polling && !aborted()) {
      const started = performance.now();
      await takeSample();
      await sleep(started + timing.sampleEveryMs - performance.now());
    }
  })();

  // 1. Poll the counts until complete, still for stableMs, or the deadline.
  const tracker = new CompletionTracker(appIds.length, members.perApp, performance.now());
  let pollEnd: WaveCheck['poll_end'];
  let lastVarsMs = -Infinity;
  try {
    for (;;) {
      const roundStart = performance.now();
      await eachLimited(tracker.pending(), 8, async (a) => {
        const count = await appVersionCount(client, appIds[a]!, version);
        tracker.record(a, count, performance.now());
      });
      const now = performance.now();
      tracker.endRound(now);
      if (now - lastVarsMs >= timing.varsEveryMs * 2) {
        lastVarsMs = now;
        noteBacklog(await readVars(client));
      }
      const stop = aborted() ? 'interrupted' : tracker.shouldStop(now, timing.stableMs, deadline);
      if (stop !== null) {
        pollEnd = stop;
        break;
      }
      await sleep(roundStart + timing.pollMs - performance.now());
    }
  } finally {
    polling = false;
    await sampler.catch(() => {});
  }
  // The samples' errors surface here, once polling is over.
  await sampler;
  while (samples.length < timing.minSamples && !aborted()) await takeSample();
  const completeMs = tracker.completedAtMs;

  // 2. Until everything sent is taken in (received or dropped) and persisted.
  let settledAt = performance.now();
  let persistedMs: number | null = null;
  {
    let lastProgress = '';
    let lastChange = performance.now();
    for (;;) {
      const v = await readVars(client);
      noteBacklog(v);
      const now = performance.now();
      const d = counterDelta(input.before.counters, v.counters);
      const takenIn = d.udp_datagrams + d.http_updates + d.kernel_drops >= input.sent;
      const drained = v.queued === null || v.drained === null || v.drained >= v.queued;
      const persisted = v.writeBacklog === null || v.writeBacklog === 0;
      if (takenIn && drained && persisted) {
        persistedMs = now;
        settledAt = now;
        break;
      }
      const progress = `${d.udp_datagrams + d.http_updates + d.kernel_drops}/${v.drained}/${v.writeBacklog}/${d.applied}`;
      if (progress !== lastProgress) {
        lastProgress = progress;
        lastChange = now;
      }
      if (aborted() || now - lastChange >= timing.stableMs || now >= deadline) {
        settledAt = now;
        break;
      }
      await sleep(timing.varsEveryMs);
    }
  }

  // 3. The listings.
  const shown = aborted() ? 0 : await shownByListings(client, members, appIds, version);

  // 4. The counters.
  const after = await readVars(client);
  noteBacklog(after);
  const delta = counterDelta(input.before.counters, after.counters);
  const worst = samples.reduce<DisagreementSample | null>((w, s) => (w === null || s.disagreement > w.disagreement ? s : w), null);
  return {
    shown,
    shown_pct: fleetSize === 0 ? 0 : (shown / fleetSize) * 100,
    counted: tracker.sum(),
    complete_s: completeMs === null ? null : seconds(completeMs - input.lastPacketMs),
    poll_end: pollEnd,
    max_disagreement: worst?.disagreement ?? 0,
    disagreement_samples: samples.length,
    worst_sample: worst,
    persisted_s: persistedMs === null ? null : seconds(persistedMs - input.lastPacketMs),
    received: delta.udp_datagrams + delta.http_updates,
    applied: delta.applied,
    ring_full_drops: delta.ring_full_drops,
    kernel_drops: delta.kernel_drops,
    rejected: delta.rejected,
    rejected_by_reason: delta.rejected_by_reason,
    write_backlog: after.writeBacklog,
    write_backlog_peak: backlogPeak,
    persist_lag_ms: after.persistLag,
    completeMs,
    settledMs: settledAt,
    checkedMs: performance.now(),
  };
}
