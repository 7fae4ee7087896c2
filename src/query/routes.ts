// The HTTP API (rooted at /api/v1/, as in the original) and its dispatch.
// A path is matched with or without its trailing slash; a known path with
// the wrong method gets 405, an unknown path 404, both as {"error": ...}.

import type { HttpResponse } from 'uWebSockets.js';
import { MAX_FIELD_CHARS, MAX_HTTP_BODY_BYTES } from '../ingest/limits.js';
import { MAX_RECORD_BYTES, RecordFlag, RecordType, encodeUpdate, recordToVersion } from '../ingest/record.js';
import { Reason, reasonMessage } from '../ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../ingest/update.js';
import type { ServerConfig } from '../config.js';
import type { StoreReader, VersionFilter } from '../store/reader.js';
import { EngineError, Stat, type Engine, type Logger } from '../workers/engine.js';
import { debugVars } from './debug-vars.js';
import { error, json, type Reply } from './respond.js';
import { StaticFiles } from './static.js';

export interface HttpContext {
  engine: Engine;
  reader: StoreReader;
  config: ServerConfig;
  log: Logger;
  version: string;
  startedAt: number;
  uwsNative: boolean;
}

/** What a handler may know about a request (uWS's request object dies with the handler call). */
export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  remoteIp: string;
  contentLength: number;
}

export type Handler = (ctx: HttpContext, req: Request, res: HttpResponse) => Reply | Promise<Reply>;

interface Route {
  /** Name used in 405 messages, as the original did ("ApiUpdate"). */
  name: string;
  methods: Partial<Record<'get' | 'post' | 'delete', Handler>>;
}

const ok = (body: Uint8Array): Reply => ({ status: 200, body });

/** A filter value no stored field can equal (stored fields are at most 50 characters). */
function tooLong(v: string): boolean {
  return v.length > MAX_FIELD_CHARS * 2 || [...v].length > MAX_FIELD_CHARS;
}

/** Go's FormValue: the first value, and "" means "not given". */
function param(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  return v === null || v === '' ? undefined : v;
}

function getVersions(ctx: HttpContext, req: Request): Reply {
  const filter: VersionFilter = {};
  for (const [name, key] of [['app_id', 'appId'], ['host', 'host'], ['ver', 'ver']] as const) {
    const v = param(req.query, name);
    if (v === undefined) continue;
    if (tooLong(v)) return json(200, { data: [] });
    filter[key] = v;
  }
  return ok(ctx.reader.versions(filter).view());
}

// Scratch for the synchronous part of submitUpdate (nothing awaits in between).
const parsed = new ParsedUpdate();
const record = new Uint8Array(MAX_RECORD_BYTES);

/** Reads the body (at most MAX_HTTP_BODY_BYTES), then validates and submits it. */
function postUpdate(ctx: HttpContext, req: Request, res: HttpResponse): Promise<Reply> | Reply {
  if (req.contentLength > MAX_HTTP_BODY_BYTES) {
    return { ...error(413, `ERROR: ApiUpdate: body larger than ${MAX_HTTP_BODY_BYTES} bytes`), close: true };
  }
  return new Promise<Reply>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > MAX_HTTP_BODY_BYTES) {
        done = true;
        resolve({ ...error(413, `ERROR: ApiUpdate: body larger than ${MAX_HTTP_BODY_BYTES} bytes`), close: true });
        return;
      }
      // uWS reuses the chunk's memory after this callback returns.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        done = true;
        resolve(submitUpdate(ctx, req, Buffer.concat(chunks, size)));
      }
    });
  });
}

async function submitUpdate(ctx: HttpContext, req: Request, body: Buffer): Promise<Reply> {
  const engine = ctx.engine;
  const reason = parseUpdate(body, 0, body.length, parsed);
  if (reason !== Reason.ok) {
    engine.countHttp(Stat.rejected);
    engine.countHttp(Stat.rejectBase + reason);
    return error(415, `ERROR: ApiUpdate: parsePacket: ${reasonMessage(reason)}`);
  }
  const ip = Buffer.from(req.remoteIp, 'latin1');
  const seq = engine.nextSeq();
  const len = encodeUpdate(parsed, ip, 0, ip.length, Math.floor(Date.now() / 1000), seq, RecordFlag.http, record);
  const version = recordToVersion(record);
  try {
    await engine.submit(record, len, seq);
  } catch (err) {
    if (err instanceof EngineError) return error(503, `ERROR: ApiUpdate: ${err.message}`);
    throw err;
  }
  engine.countHttp(Stat.httpUpdates);
  return json(200, { data: [version] });
}

async function dangerClear(ctx: HttpContext): Promise<Reply> {
  ctx.log('WARNING: version database cleared via _danger/clear/');
  await ctx.engine.submitControl(RecordType.clear);
  return json(200, {});
}

function routes(config: ServerConfig): Map<string, Route> {
  const table = new Map<string, Route>([
    ['/api/v1/app', { name: 'ApiApp', methods: { get: (ctx) => ok(ctx.reader.appList().view()) } }],
    ['/api/v1/host', { name: 'ApiHost', methods: { get: (ctx) => ok(ctx.reader.hostList().view()) } }],
    ['/api/v1/version', { name: 'ApiVersion', methods: { get: getVersions } }],
    ['/api/v1/update', { name: 'ApiUpdate', methods: { post: postUpdate } }],
    ['/api/v1/_partisci', { name: 'ApiInfo', methods: { get: (ctx) => json(200, { version: ctx.version }) } }],
  ]);
  // The names an earlier version of the original used.
  table.set('/api/v1/summary/app', table.get('/api/v1/app')!);
  table.set('/api/v1/summary/host', table.get('/api/v1/host')!);
  const vars: Route = {
    name: 'DebugVars',
    methods: {
      get: (ctx) => json(200, debugVars(ctx.engine, { version: ctx.version, startedAt: ctx.startedAt, uwsNative: ctx.uwsNative, dataDir: ctx.config.dataDir })),
    },
  };
  table.set('/debug/vars', vars);
  table.set('/api/v1/debug/vars', vars);
  if (config.danger) table.set('/api/v1/_danger/clear', { name: 'ApiClear', methods: { post: dangerClear } });
  return table;
}

export class Router {
  readonly #table: Map<string, Route>;
  readonly #static: StaticFiles;

  constructor(config: ServerConfig, files: StaticFiles = new StaticFiles()) {
    this.#table = routes(config);
    this.#static = files;
  }

  /** The handler for a request, or the error reply to send instead. */
  resolve(req: Request): Handler | Reply {
    const path = req.path.length > 1 && req.path.endsWith('/') ? req.path.slice(0, -1) : req.path;
    const route = this.#table.get(path);
    if (route === undefined) {
      const file = req.method === 'get' ? this.#static.lookup(req.path) : undefined;
      return file ?? error(404, `ERROR: 404 page not found: ${truncate(req.path)}`);
    }
    const handler = route.methods[req.method as 'get' | 'post' | 'delete'];
    if (handler === undefined) {
      const allowed = Object.keys(route.methods).map((m) => m.toUpperCase()).join(', ');
      return { ...error(405, `ERROR: ${route.name}: only accepts ${allowed} requests`), headers: { Allow: allowed } };
    }
    return handler;
  }
}

function truncate(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}
