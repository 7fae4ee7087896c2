// The HTTP API (rooted at /api/v1/, as in the original) as one table: each
// route's path, handlers and documentation. The router (router.ts)
// dispatches from it and the OpenAPI document (query/openapi.ts) is
// generated from it, so the two cannot drift apart.

import type { Handler, HttpContext } from './context.js';
import { debugVars } from '../query/debug-vars.js';
import * as inv from '../query/inventory.js';
import { metricsText } from '../query/metrics.js';
import { openApiDocument } from '../query/openapi.js';
import { dangerClear, deleteHost, deleteVersions, postUpdate } from './update.js';
import { getSql, postSql } from '../query/sql.js';
import { UnknownWorkerError, WriterUnavailableError } from '../errors.js';
import { json, type Reply } from './respond.js';
import { intParam } from './params.js';

export type Method = 'get' | 'post' | 'delete';

export interface ParamDoc {
  name: string;
  in: 'query' | 'path';
  description: string;
  type?: 'string' | 'integer';
  required?: boolean;
}

export interface Operation {
  handler: Handler;
  summary: string;
  params?: ParamDoc[];
  /** Changes data: needs the write token when one is set. */
  write?: boolean;
  /** Response content type (default application/json). */
  produces?: string;
  /** Documented statuses besides 200. */
  errors?: number[];
}

export interface Route {
  /** The documented path; {name} marks a path parameter (one segment). */
  path: string;
  /** Name used in error messages, as the original did ("ApiUpdate"). */
  name: string;
  methods: Partial<Record<Method, Operation>>;
  /** Only with --danger. */
  danger?: boolean;
  /** Not in the OpenAPI document (compatibility aliases). */
  hidden?: boolean;
}

const q = (name: string, description: string, type: 'string' | 'integer' = 'string'): ParamDoc => ({ name, in: 'query', description, type });
const PAGE = [q('limit', 'at most this many rows; the answer carries `next` when more exist', 'integer'), q('cursor', 'the `next` of the previous page')];
/** label.NAME=VALUE, any number of them (all must match). */
const LABEL = q('label.NAME', 'only instances carrying label NAME with this value, e.g. label.env=prod (give several: all must match)');

const appList: Operation = {
  handler: inv.getApps,
  summary: 'distinct active applications (with label filters: counting only the instances that carry them)',
  params: [LABEL, ...PAGE],
  errors: [400],
};
const hostList: Operation = {
  handler: inv.getHosts,
  summary: 'distinct active hosts (with label filters: counting only the instances that carry them)',
  params: [LABEL, ...PAGE],
  errors: [400],
};

export const ROUTES: Route[] = [
  { path: '/api/v1/app/', name: 'ApiApp', methods: { get: appList } },
  {
    path: '/api/v1/app/{app_id}',
    name: 'ApiApp',
    methods: {
      get: {
        handler: inv.getApp,
        summary: 'one application, with instance counts per version',
        params: [{ name: 'app_id', in: 'path', description: 'the app_id', required: true }],
        errors: [404],
      },
    },
  },
  {
    path: '/api/v1/app/{app_id}/rollout',
    name: 'ApiRollout',
    methods: {
      get: {
        handler: inv.getRollout,
        summary: 'instances on each version of an application over time',
        params: [
          { name: 'app_id', in: 'path', description: 'the app_id', required: true },
          q('since', 'start of the timeline, unix seconds (default: a day ago)', 'integer'),
          q('step', 'seconds between points (default: 100 points)', 'integer'),
          LABEL,
        ],
        errors: [400, 404],
      },
    },
  },
  { path: '/api/v1/host/', name: 'ApiHost', methods: { get: hostList } },
  {
    path: '/api/v1/host/{host}',
    name: 'ApiHost',
    methods: {
      get: { handler: inv.getHost, summary: 'one host', params: [{ name: 'host', in: 'path', description: 'the host name', required: true }], errors: [404] },
      delete: {
        handler: deleteHost,
        summary: 'decommission a host: forget every instance on it',
        params: [{ name: 'host', in: 'path', description: 'the host name', required: true }],
        write: true,
        errors: [401, 503],
      },
    },
  },
  {
    path: '/api/v1/version/',
    name: 'ApiVersion',
    methods: {
      get: {
        handler: inv.getVersions,
        summary: 'every app, host and instance with its most recent version (filters combine)',
        params: [
          q('app_id', 'only this application'),
          q('host', 'only this host'),
          q('ver', 'only this version'),
          q('status', '"up" or "stale" (not updated for --stale seconds)'),
          q('since', 'only instances updated after this unix time', 'integer'),
          LABEL,
          ...PAGE,
        ],
        errors: [400],
      },
      delete: {
        handler: deleteVersions,
        summary: 'decommission an app on a host (one instance, or all)',
        params: [
          { ...q('app_id', 'the application'), required: true },
          { ...q('host', 'the host'), required: true },
          q('instance', 'only this instance', 'integer'),
        ],
        write: true,
        errors: [400, 401, 503],
      },
    },
  },
  {
    path: '/api/v1/history/',
    name: 'ApiHistory',
    methods: {
      get: {
        handler: inv.getHistory,
        summary: 'version changes (first sight, changes, changes of labels, removals), newest first',
        params: [
          q('app_id', 'the application (app_id or host is required)'),
          q('host', 'the host'),
          q('instance', 'the instance', 'integer'),
          q('since', 'only entries after this unix time', 'integer'),
          LABEL,
          ...PAGE,
        ],
        errors: [400],
      },
    },
  },
  {
    path: '/api/v1/sql',
    name: 'ApiSql',
    methods: {
      get: {
        handler: getSql,
        summary: 'read-only SQL over tables versions, apps, hosts and history: {"columns":[{name, type}], "data":[[…]]}',
        params: [{ ...q('q', 'the query (one SELECT)'), required: true }],
        errors: [400, 408, 413, 503],
      },
      post: { handler: postSql, summary: 'the same, with the query as the request body', errors: [400, 408, 413, 503] },
    },
  },
  {
    path: '/api/v1/update/',
    name: 'ApiUpdate',
    methods: {
      post: { handler: postUpdate, summary: 'accepts a version update body; answers once it is committed', write: true, errors: [401, 413, 415, 503] },
    },
  },
  {
    path: '/api/v1/_danger/clear/',
    name: 'ApiClear',
    danger: true,
    methods: { post: { handler: dangerClear, summary: 'clear the entire version database (only with --danger)', write: true, errors: [401] } },
  },
  {
    path: '/api/v1/_danger/crash-worker/',
    name: 'ApiCrash',
    danger: true,
    methods: {
      post: {
        handler: (ctx, req) => {
          const n = intParam(req.query, 'worker', 0, 63) ?? 0;
          if (!ctx.engine.crashIngestWorker(n)) throw new UnknownWorkerError('ApiCrash', n);
          return json(200, { crashed: `ingest-${n}` });
        },
        summary: 'end an ingest worker thread abruptly, to test that it is restarted (only with --danger)',
        params: [q('worker', 'the worker number', 'integer')],
        write: true,
        errors: [401, 404],
      },
    },
  },
  {
    path: '/api/v1/_danger/crash-writer/',
    name: 'ApiCrash',
    danger: true,
    methods: {
      post: {
        handler: (ctx) => {
          if (!ctx.engine.crashWriter()) throw new WriterUnavailableError('no writer is ready (one is restarting or loading the store)');
          return json(200, { crashed: 'writer' });
        },
        summary: 'end the writer thread abruptly, to test that it is restarted (only with --danger)',
        write: true,
        errors: [401, 503],
      },
    },
  },
  { path: '/api/v1/_partisci/', name: 'ApiInfo', methods: { get: { handler: (ctx) => json(200, { version: ctx.version }), summary: 'server version' } } },
  {
    path: '/api/v1/openapi.json',
    name: 'ApiDoc',
    methods: { get: { handler: (ctx) => json(200, openApiDocument(ROUTES, ctx.config, ctx.version)), summary: 'this document' } },
  },
  { path: '/debug/vars', name: 'DebugVars', methods: { get: { handler: vars, summary: 'process statistics and engine counters' } } },
  { path: '/api/v1/debug/vars', name: 'DebugVars', hidden: true, methods: { get: { handler: vars, summary: 'process statistics and engine counters' } } },
  {
    path: '/metrics',
    name: 'Metrics',
    methods: {
      get: {
        handler: (ctx) => ({
          status: 200,
          body: metricsText(ctx.engine, ctx.reader, ctx.meter, ctx.cluster),
          headers: { 'Content-Type': 'text/plain; version=0.0.4' },
        }),
        summary: 'Prometheus metrics',
        produces: 'text/plain',
      },
    },
  },
  // The names an earlier version of the original used.
  { path: '/api/v1/summary/app/', name: 'ApiApp', hidden: true, methods: { get: appList } },
  { path: '/api/v1/summary/host/', name: 'ApiHost', hidden: true, methods: { get: hostList } },
];

function vars(ctx: HttpContext): Reply {
  return json(
    200,
    debugVars(ctx.engine, { version: ctx.version, startedAt: ctx.startedAt, uwsNative: ctx.uwsNative, dataDir: ctx.config.dataDir }, ctx.cluster),
  );
}
