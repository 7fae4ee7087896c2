// The Partisci REST API (/api/v1/) as typed calls. Fields that only newer
// servers send are optional, and endpoints that an older server lacks
// (404 "page not found", as opposed to 404 "no app") come back as null so
// the pages can fall back to what exists.

export type Status = 'up' | 'stale';

export interface Counts {
  instance_count?: number;
  up_count?: number;
  stale_count?: number;
}

export interface AppRow extends Counts {
  app: string;
  app_id: string;
  host_count: number;
  last_update: number;
}

export interface VersionCount {
  ver: string;
  count: number;
  up_count?: number;
  stale_count?: number;
}

export interface AppDetail extends AppRow {
  versions: VersionCount[];
}

export interface HostRow extends Counts {
  host: string;
  app_count: number;
  last_update: number;
}

export interface Instance {
  app: string;
  app_id: string;
  host: string;
  host_ip: string;
  instance: number;
  ver: string;
  last_update: number;
  status?: Status;
  /** When this instance first reported this version. */
  since?: number;
}

export interface HistoryEntry {
  app: string;
  app_id: string;
  host: string;
  instance: number;
  /** null: removed. */
  ver: string | null;
  /** null: first sight. */
  prev_ver: string | null;
  host_ip: string;
  time: number;
}

export interface RolloutStep {
  time: number;
  counts: Record<string, number>;
}

export interface Page<T> {
  data: T[];
  next?: string;
}

/** The counters of /debug/vars the dashboard reads. */
export interface Vars {
  udp_datagrams: number;
  http_updates: number;
  applied: number;
  instances: number;
  hosts: number;
  apps: number;
  uptime_s: number;
  version?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  /** The path itself is unknown to this server (an older partiscid). */
  get missingEndpoint(): boolean {
    return this.status === 404 && /page not found/i.test(this.message);
  }
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new HttpError(res.status, message);
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
    if (err instanceof HttpError && err.missingEndpoint) return null;
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
}

export function versions(query: VersionQuery, limit?: number, cursor?: string): Promise<Page<Instance>> {
  const p = get<Page<Instance>>(`/api/v1/version/${qs({ ...query, limit, cursor })}`);
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
    if (err instanceof HttpError && err.status === 404) return null;
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
    if (err instanceof HttpError && err.status === 404) return null;
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

/** null when the server has no rollout endpoint. */
export async function rollout(appId: string, since: number, step: number): Promise<RolloutStep[] | null> {
  const page = await optional(get<Page<RolloutStep>>(`/api/v1/app/${seg(appId)}/rollout${qs({ since, step })}`));
  return page === null ? null : page.data;
}
