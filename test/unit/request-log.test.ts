// What the HTTP front logs at debug level about requests (src/http/request-log.ts).

import { describe, expect, test } from 'vitest';
import { UnknownAppError } from '../../src/errors.js';
import type { Request } from '../../src/http/context.js';
import { errorReply } from '../../src/http/error-reply.js';
import { RequestLog, SLOW_QUERY_MS } from '../../src/http/request-log.js';
import { ROUTES } from '../../src/http/routes.js';
import { RateLimiter, createLogger, type Level } from '../../src/log.js';

function setup(level: Level = 'debug') {
  const lines: string[] = [];
  let now = 0;
  const log = new RequestLog(createLogger({ level, write: (l) => lines.push(l.slice(24, -1)) }), new RateLimiter(1000, () => now));
  return { log, lines, at: (t: number) => (now = t) };
}

function request(method: string, path: string, query = '', params: Record<string, string> = {}): Request {
  return {
    method,
    path,
    params,
    query: new URLSearchParams(query),
    remoteIp: '10.0.0.9',
    contentLength: 0,
    authorization: '',
    acceptEncoding: '',
    ifNoneMatch: '',
  };
}

const route = (path: string) => ROUTES.find((r) => r.path === path)!;
const ok = { status: 200, body: '{}' };

describe('RequestLog', () => {
  test('a slow read: route, params and time; a fast one: nothing', () => {
    const { log, lines } = setup();
    const r = route('/api/v1/app/{app_id}');
    log.answered(request('get', '/api/v1/app/a%20b', 'x=1', { app_id: 'a b' }), r, r.methods.get, ok, SLOW_QUERY_MS + 12.34);
    log.answered(request('get', '/api/v1/app/c'), r, r.methods.get, ok, SLOW_QUERY_MS - 1);
    expect(lines).toEqual(['DEBUG slow query route=/api/v1/app/{app_id} method=GET path=/api/v1/app/a%20b params="app_id=a%20b&x=1" status=200 ms=62.3']);
  });

  test('a write, however fast, with its query and what the handler noted', () => {
    const { log, lines } = setup();
    const r = route('/api/v1/version/');
    log.answered(request('delete', '/api/v1/version/', 'app_id=a&host=h'), r, r.methods.delete, { ...ok, note: { removed: 2 } }, 1.26);
    expect(lines).toEqual(['DEBUG http write method=DELETE path=/api/v1/version/ query="app_id=a&host=h" from=10.0.0.9 status=200 ms=1.3 removed=2']);
  });

  test('rejections: one line per code per second, with the count skipped', () => {
    const { log, lines, at } = setup();
    const r = route('/api/v1/app/{app_id}');
    const reply = errorReply(new UnknownAppError('ApiApp', 'x'));
    for (let i = 0; i < 3; i++) log.answered(request('get', '/api/v1/app/x'), r, r.methods.get, reply, 1);
    at(1500);
    log.answered(request('get', '/api/v1/app/y'), r, r.methods.get, reply, 1);
    expect(lines).toEqual([
      'DEBUG http request rejected code=UNKNOWN_APP status=404 method=GET path=/api/v1/app/x from=10.0.0.9 skipped=0',
      'DEBUG http request rejected code=UNKNOWN_APP status=404 method=GET path=/api/v1/app/y from=10.0.0.9 skipped=2',
    ]);
  });

  test('nothing at info level', () => {
    const { log, lines } = setup('info');
    const r = route('/api/v1/update/');
    log.answered(request('post', '/api/v1/update/'), r, r.methods.post, ok, 500);
    expect(log.enabled).toBe(false);
    expect(lines).toEqual([]);
  });
});
