// The HTTP front: one uWebSockets.js app on the main thread. Selective
// queries are answered synchronously from LMDB read transactions (never
// waiting for the writer); bulk ones run in the query pool; updates and
// other writes go to the engine and are answered when the writer reports
// their commit. The same app serves the change feed and the dashboard.

import { createServer } from 'node:net';
import type { us_listen_socket } from 'uWebSockets.js';
import type { HttpContext, Request } from './context.js';
import { asCatalogError, errorReply, internalError } from './error-reply.js';
import { formatIp } from './remote-ip.js';
import { RequestLog } from './request-log.js';
import { negotiate, write, type Reply, type Wire } from './respond.js';
import { Router } from './router.js';
import type { Route } from './routes.js';
import { uWS } from './uws.js';
import { attachWatch } from '../query/watch.js';

export interface HttpServer {
  close(): void;
}

/** Fails with EADDRINUSE if anything holds the TCP port (uWS itself would share it via SO_REUSEPORT). */
function probeTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host: host === '' ? '::' : host, port, exclusive: true, ipv6Only: false }, () => probe.close(() => resolve()));
  });
}

export async function startHttp(ctx: HttpContext): Promise<HttpServer> {
  const { listenIp, port } = ctx.config;
  await probeTcp(listenIp, port);
  const router = new Router(ctx.config);
  const requestLog = new RequestLog(ctx.log);
  const app = uWS.App();
  attachWatch(app, ctx.engine);

  app.any('/*', (res, uwsReq) => {
    const started = performance.now();
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const req: Request = {
      method: uwsReq.getMethod(),
      path: uwsReq.getUrl(),
      params: {},
      query: new URLSearchParams(uwsReq.getQuery() ?? ''),
      remoteIp: formatIp(res.getRemoteAddress()),
      contentLength: Number(uwsReq.getHeader('content-length') || 0),
      authorization: uwsReq.getHeader('authorization'),
      acceptEncoding: uwsReq.getHeader('accept-encoding'),
      ifNoneMatch: uwsReq.getHeader('if-none-match'),
    };
    const resolved = router.resolve(req);
    // inHandler: uWS corks the handler's own writes; later ones must cork themselves.
    const respond = (reply: Reply, inHandler: boolean): void => {
      const wire = negotiate(reply, req);
      const done = (w: Wire, corked: boolean): void => {
        if (aborted) return;
        if (corked) write(res, w);
        else res.cork(() => write(res, w));
        requestLog.answered(req, resolved.route, resolved.op, reply, performance.now() - started);
      };
      if (wire instanceof Promise) void wire.then((w) => done(w, false));
      else done(wire, inHandler);
    };
    if (resolved.reply !== undefined) {
      respond(resolved.reply, true);
      return;
    }
    const { route, op } = resolved;
    let result: Reply | Promise<Reply>;
    try {
      result = op.handler(ctx, req, res);
    } catch (err) {
      result = failure(ctx, req, route, err);
    }
    if (!(result instanceof Promise)) {
      respond(result, true);
      return;
    }
    result.then(
      (reply) => respond(reply, false),
      (err: unknown) => respond(failure(ctx, req, route, err), false),
    );
  });

  const token = await new Promise<us_listen_socket>((resolve, reject) => {
    const done = (t: us_listen_socket | false): void => {
      if (t === false) reject(Object.assign(new Error(`cannot listen on TCP port ${port}`), { code: 'EADDRINUSE' }));
      else resolve(t);
    };
    // Exclusive (no SO_REUSEPORT) where uWS offers it: all addresses.
    if (listenIp === '') app.listen(port, 1, done);
    else app.listen(listenIp, port, done);
  });
  return {
    close(): void {
      uWS.us_listen_socket_close(token);
    },
  };
}

/** Errors of the catalog become their reply; anything else is logged, and the client gets no stack trace or internal path. */
function failure(ctx: HttpContext, req: Request, route: Route, err: unknown): Reply {
  const known = asCatalogError(err, route.name);
  if (known !== null) return errorReply(known);
  ctx.log.error('request failed', { method: req.method.toUpperCase(), path: req.path, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return internalError();
}
