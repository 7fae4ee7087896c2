// The router: matches a request against the route table (routes.ts), fills
// in its path parameters and checks the write token; paths outside the API
// go to the dashboard's static files.
//
// A path is matched with or without its trailing slash; a known path with
// the wrong method gets 405, an unknown path 404, a write without the write
// token (when one is set) 401.

import type { ServerConfig } from '../config.js';
import { authorized } from './auth.js';
import { BadPathEscapeError, MethodNotAllowedError, UnknownPathError, WriteTokenRequiredError } from '../errors.js';
import type { Request } from './context.js';
import { errorReply } from './error-reply.js';
import type { Reply } from './respond.js';
import { ROUTES, type Method, type Operation, type Route } from './routes.js';
import { StaticFiles } from './static.js';

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const body = route.path
    .replace(/\/$/, '')
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)\}$/.exec(seg);
      if (m === null) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${body}/?$`), names };
}

/** What a request resolved to: a route's operation to run, or the reply to send at once. */
export type Resolved = { route: Route; op: Operation; reply?: undefined } | { route?: Route; op?: Operation; reply: Reply };

export class Router {
  readonly #routes: Compiled[];
  readonly #static: StaticFiles;
  readonly #token: string;

  constructor(config: ServerConfig, files: StaticFiles = new StaticFiles()) {
    this.#routes = ROUTES.filter((r) => r.danger !== true || config.danger).map(compile);
    this.#static = files;
    this.#token = config.writeToken;
  }

  /** The operation for a request (its path parameters filled in), or the reply to send instead. */
  resolve(req: Request): Resolved {
    for (const { route, pattern, names } of this.#routes) {
      const m = pattern.exec(req.path);
      if (m === null) continue;
      const op = route.methods[req.method as Method];
      if (op === undefined) {
        const allowed = Object.keys(route.methods)
          .map((x) => x.toUpperCase())
          .join(', ');
        return { route, reply: errorReply(new MethodNotAllowedError(route.name, allowed), { headers: { Allow: allowed } }) };
      }
      if (op.write === true && !authorized(this.#token, req.authorization)) {
        // A refused POST's body is never read: close rather than let it be taken for the next request.
        return {
          route,
          op,
          reply: errorReply(new WriteTokenRequiredError(route.name), { headers: { 'WWW-Authenticate': 'Bearer' }, close: req.method === 'post' }),
        };
      }
      try {
        names.forEach((name, i) => {
          req.params[name] = decodeURIComponent(m[i + 1]!);
        });
      } catch {
        return { route, op, reply: errorReply(new BadPathEscapeError(route.name)) };
      }
      return { route, op };
    }
    const file = req.method === 'get' ? this.#static.lookup(req.path) : undefined;
    return { reply: file ?? errorReply(new UnknownPathError(req.path)) };
  }
}
