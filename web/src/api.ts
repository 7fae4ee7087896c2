// The Partisci REST API (/api/v1/) as typed calls. Fields that only newer
// servers send are optional, and endpoints that an older server lacks
// (404 "page not found", as opposed to 404 "no app") come back as null so
// the pages can fall back to what exists.

import type * as api from '../../src/api/types';
import { RequestFailedError } from '../../src/errors';

// The shapes are the server's (src/api/types.ts). Fields this dashboard
// can do without are optional here, because an older partiscid (or the Go
// original) does not send them.

/** T with the keys K optional. */
type Older<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type Status = api.Status;
export type RolloutStep = api.RolloutStep;
export type Counts = Partial<api.Counts>;
export type AppRow = Older<api.AppSummary, keyof api.Counts>;
export type VersionCount = Older<api.VersionCount, 'up_count' | 'stale_count'>;
export type AppDetail = AppRow & { versions: VersionCount[] };
export type HostRow = Older<api.HostSummary, keyof api.Counts>;
export type Instance = Older<api.Version, 'status' | 'since'>;
export type HistoryEntry = api.HistoryEntry;
export type Page<T> = api.List<T>;

/** The counters of /debug/vars the dashboard reads. */
export type Vars = Pick<api.DebugVars, 'udp_datagrams' | 'http_updates' | 'applied' | 'instances' | 'hosts' | 'apps' | 'uptime_s'> &
  Partial<Pick<api.DebugVars, 'version'>>;

/** The path itself is unknown to this server (an older partiscid): not "no such app". */
function missingEndpoint(err: RequestFailedError): boolean {
  if (err.status !== 404) return false;
  return err.serverCode !== undefined ? err.serverCode === 'UNKNOWN_PATH' : /page not found/i.test(err.message);
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    let code: string | undefined;
    try {
      const body = JSON.parse(text) as Partial<api.ErrorBody>;
      message = body.error ?? message;
      code = body.code;
    } catch {
      // not JSON: keep the status line
    }
    throw new RequestFailedError(res.status, message, code);
  }
  return JSON.parse(text) as T;
}

/** Query string from the defined values only. */
function qs(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

const seg = encodeURIComponent;

/** null when the server lacks the endpoint. */
async function optional<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RequestFailedError && missingEndpoint(err)) return null;
    throw err;
  }
}

export const vars = (): Promise<Vars> => get<Vars>('/debug/vars');

export const apps = async (): Promise<AppRow[]> => (await get<Page<AppRow>>('/api/v1/app/')).data;

export function hosts(limit: number, cursor?: string): Promise<Page<HostRow>> {
  return pageOf(get<Page<HostRow>>(`/api/v1/host/${qs({ limit, cursor })}`), limit, cursor);
}

export interface VersionQuery {
  app_id?: string;
  host?: string;
  ver?: string;
  status?: Status;
  /** label.NAME=VALUE filters (all must match). */
  labels?: Record<string, string>;
}

export function versions(query: VersionQuery, limit?: number, cursor?: string): Promise<Page<Instance>> {
  const { labels, ...plain } = query;
  const labelParams = Object.fromEntries(Object.entries(labels ?? {}).map(([k, v]) => [`label.${k}`, v]));
  const p = get<Page<Instance>>(`/api/v1/version/${qs({ ...plain, ...labelParams, limit, cursor })}`);
  return limit === undefined ? p : pageOf(p, limit, cursor);
}

/**
 * An older server ignores limit and cursor and answers everything: page it
 * here (the cursor is then the offset), so the lists behave the same.
 */
async function pageOf<T>(p: Promise<Page<T>>, limit: number, cursor?: string): Promise<Page<T>> {
  const page = await p;
  if (page.data.length <= limit) return page;
  const from = cursor === undefined ? 0 : Number(cursor.replace(/^@/, '')) || 0;
  const data = page.data.slice(from, from + limit);
  return from + limit < page.data.length ? { data, next: `@${from + limit}` } : { data };
}

/** One app with its versions; null if unknown. */
export async function app(appId: string): Promise<AppDetail | null> {
  try {
    const detail = await optional(get<Page<AppDetail>>(`/api/v1/app/${seg(appId)}`));
    if (detail !== null) return detail.data[0] ?? null;
  } catch (err) {
    if (err instanceof RequestFailedError && err.status === 404) return null;
    throw err;
  }
  // No app/A on this server: count versions from every instance of the app.
  const row = (await apps()).find((a) => a.app_id === appId);
  if (row === undefined) return null;
  const all = (await versions({ app_id: appId })).data;
  return { ...row, instance_count: all.length, ...countVersions(all) };
}

function countVersions(all: Instance[]): Counts & { versions: VersionCount[] } {
  const by = new Map<string, VersionCount>();
  let up = 0;
  let stale = 0;
  for (const i of all) {
    const v = by.get(i.ver) ?? { ver: i.ver, count: 0, up_count: 0, stale_count: 0 };
    v.count++;
    if (i.status === 'stale') {
      v.stale_count!++;
      stale++;
    } else {
      v.up_count!++;
      up++;
    }
    by.set(i.ver, v);
  }
  return { up_count: up, stale_count: stale, versions: [...by.values()] };
}

/** One host's summary; null if unknown. */
export async function host(name: string): Promise<HostRow | null> {
  try {
    const detail = await optional(get<Page<HostRow>>(`/api/v1/host/${seg(name)}`));
    if (detail !== null) return detail.data[0] ?? null;
  } catch (err) {
    if (err instanceof RequestFailedError && err.status === 404) return null;
    throw err;
  }
  const all = (await versions({ host: name })).data;
  if (all.length === 0) return null;
  return {
    host: name,
    app_count: new Set(all.map((i) => i.app_id)).size,
    instance_count: all.length,
    last_update: Math.max(...all.map((i) => i.last_update)),
  };
}

/** Newest first; null when the server keeps no history. */
export async function history(query: { app_id?: string; host?: string }, limit: number): Promise<HistoryEntry[] | null> {
  const page = await optional(get<Page<HistoryEntry>>(`/api/v1/history/${qs({ ...query, limit })}`));
  return page === null ? null : page.data;
}

export type SqlAnswer = api.SqlAnswer;

/** Runs a read-only SQL query (POST sql); null when the server has no SQL. */
export async function sql(query: string): Promise<SqlAnswer | null> {
  const res = await fetch('/api/v1/sql', { method: 'POST', body: query, headers: { Accept: 'application/json' } });
  const text = await res.text();
  let body: Partial<api.ErrorBody & SqlAnswer> = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status says it
  }
  if (!res.ok) {
    const err = new RequestFailedError(res.status, body.error ?? `${res.status} ${res.statusText}`, body.code);
    if (missingEndpoint(err)) return null;
    throw err;
  }
  return body as SqlAnswer;
}

/** null when the server has no rollout endpoint. */
export async function rollout(appId: string, since: number, step: number): Promise<RolloutStep[] | null> {
  const page = await optional(get<Page<RolloutStep>>(`/api/v1/app/${seg(appId)}/rollout${qs({ since, step })}`));
  return page === null ? null : page.data;
}
