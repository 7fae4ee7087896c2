// What the HTTP front says about requests at debug level (-v): every write
// (with what it wrote), every rejection with its code and reason (at most
// one line per code per second: a misbehaving client can send thousands),
// and every read slower than SLOW_QUERY_MS.

import { RateLimiter, type Logger } from '../log.js';
import type { Request } from './context.js';
import type { Reply } from './respond.js';
import type { Operation, Route } from './routes.js';

export const SLOW_QUERY_MS = 50;

export class RequestLog {
  readonly #log: Logger;
  readonly #rejections: RateLimiter;

  constructor(log: Logger, rejections = new RateLimiter(1000)) {
    this.#log = log;
    this.#rejections = rejections;
  }

  get enabled(): boolean {
    return this.#log.enabled('debug');
  }

  /** After the response is written; ms since the request arrived. */
  answered(req: Request, route: Route | undefined, op: Operation | undefined, reply: Reply, ms: number): void {
    if (!this.#log.enabled('debug')) return;
    const where = { method: req.method.toUpperCase(), path: req.path };
    if (reply.status >= 400) {
      // INTERNAL is logged as an error where it happens.
      const code = String(reply.note?.code ?? reply.status);
      if (code === 'INTERNAL') return;
      const skipped = this.#rejections.take(code);
      if (skipped === null) return;
      this.#log.debug('http request rejected', { ...reply.note, status: reply.status, ...where, from: req.remoteIp, skipped });
      return;
    }
    if (op?.write === true) {
      this.#log.debug('http write', {
        ...where,
        query: req.query.size > 0 ? req.query.toString() : undefined,
        from: req.remoteIp,
        status: reply.status,
        ms: round(ms),
        ...reply.note,
      });
      return;
    }
    if (ms > SLOW_QUERY_MS && route !== undefined) {
      this.#log.debug('slow query', { route: route.path, ...where, params: paramsOf(req), status: reply.status, ms: round(ms) });
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function paramsOf(req: Request): string | undefined {
  const parts = [...Object.entries(req.params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`), req.query.toString()].filter((p) => p !== '');
  return parts.length === 0 ? undefined : parts.join('&');
}
