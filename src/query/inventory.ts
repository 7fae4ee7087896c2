// The inventory endpoints (reads): app/, host/, version/, history/ and the
// summaries and rollout of one app or host. Selective answers are built
// here on the HTTP thread; answers that may hold a whole fleet (every
// version, an app's versions, every host, history, rollouts) run in the
// query pool.

import type { Page } from '../store/reader.js';
import { MAX_STEPS } from './rollout.js';
import type { HttpContext, Request } from '../http/context.js';
import { MissingParameterError, TooManyStepsError, UnknownAppError, UnknownHostError } from '../errors.js';
import { intParam, labelParams, pageParams, param, tooLong, versionFilter } from '../http/params.js';
import { json, type Reply } from '../http/respond.js';

const ok = (body: Uint8Array): Reply => ({ status: 200, body, cacheable: true });
const EMPTY = (): Reply => ({ ...json(200, { data: [] }), cacheable: true });

export async function getApps(ctx: HttpContext, req: Request): Promise<Reply> {
  const labels = labelParams(req.query);
  if (labels === null) return EMPTY();
  // Label filters count from every instance: the pool.
  if (labels.length > 0) return ok(await ctx.pool.run({ kind: 'labelled', summary: 'app', labels, page: pageParams(req.query) }));
  // Few apps: answered inline.
  return ok(ctx.reader.appList(pageParams(req.query)).view());
}

export async function getHosts(ctx: HttpContext, req: Request): Promise<Reply> {
  const labels = labelParams(req.query);
  if (labels === null) return EMPTY();
  if (labels.length > 0) return ok(await ctx.pool.run({ kind: 'labelled', summary: 'host', labels, page: pageParams(req.query) }));
  const page: Page = pageParams(req.query);
  if (page.limit !== undefined && page.limit <= 1000) return ok(ctx.reader.hostList(page).view());
  return ok(await ctx.pool.run({ kind: 'hosts', page }));
}

export async function getVersions(ctx: HttpContext, req: Request): Promise<Reply> {
  const filter = versionFilter(req.query);
  const page = pageParams(req.query);
  if (filter === null) return EMPTY();
  // Host-scoped answers are small (one host's instances): inline.
  const small = filter.host !== undefined || (page.limit !== undefined && page.limit <= 1000);
  if (small) return ok(ctx.reader.versions(filter, page).view());
  return ok(await ctx.pool.run({ kind: 'versions', filter, page }));
}

export function getApp(ctx: HttpContext, req: Request): Reply {
  const appId = req.params.app_id!;
  const body = tooLong(appId) ? null : ctx.reader.app(appId);
  if (body === null) throw new UnknownAppError('ApiApp', appId);
  return ok(body.view());
}

export function getHost(ctx: HttpContext, req: Request): Reply {
  const host = req.params.host!;
  const body = tooLong(host) ? null : ctx.reader.host(host);
  if (body === null) throw new UnknownHostError('ApiHost', host);
  return ok(body.view());
}

export async function getHistory(ctx: HttpContext, req: Request): Promise<Reply> {
  const q = req.query;
  const appId = param(q, 'app_id');
  const host = param(q, 'host');
  if (appId === undefined && host === undefined) throw new MissingParameterError('history/', 'app_id or host');
  if ((appId !== undefined && tooLong(appId)) || (host !== undefined && tooLong(host))) return EMPTY();
  const instance = intParam(q, 'instance', 0, 65535);
  const since = intParam(q, 'since', 0, 2 ** 32 - 1);
  const { limit, cursor } = pageParams(q);
  const labels = labelParams(q);
  if (labels === null) return EMPTY();
  return ok(await ctx.pool.run({ kind: 'history', appId, host, instance, since, limit, cursor, labels }));
}

export async function getRollout(ctx: HttpContext, req: Request): Promise<Reply> {
  const appId = req.params.app_id!;
  if (tooLong(appId) || ctx.reader.app(appId) === null) throw new UnknownAppError('ApiRollout', appId);
  const now = Math.floor(Date.now() / 1000);
  const since = intParam(req.query, 'since', 0, now) ?? now - 86400;
  const step = intParam(req.query, 'step', 1, 2 ** 31) ?? Math.max(60, Math.ceil((now - since) / 100));
  if ((now - since) / step >= MAX_STEPS) throw new TooManyStepsError(MAX_STEPS);
  const labels = labelParams(req.query);
  if (labels === null) return EMPTY();
  return ok(await ctx.pool.run({ kind: 'rollout', appId, since, step, now, labels }));
}
