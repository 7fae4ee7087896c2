// Writing responses with uWebSockets.js. Every API response is JSON; errors
// are {"error": "...", "code": "..."} with a proper status (error-reply.ts).
// Cacheable answers (GET lists and summaries) get an ETag, so a client that
// polls gets 304 while nothing changed, and are gzipped when the client
// accepts it and the body is worth it.
//
// A large answer is compressed on libuv's thread pool, not on the event
// loop: gzipping a 9 MiB fleet list takes tens of milliseconds, during which
// every other request and the change feed would wait. Small ones are
// compressed at once (well under a millisecond), which costs less than the
// round trip to the pool.

import { promisify } from 'node:util';
import { gzip, gzipSync, type ZlibOptions } from 'node:zlib';
import type { HttpResponse } from 'uWebSockets.js';
import type { Fields } from '../log.js';
import { hashBytes, hashOut } from '../ingest/hash.js';

export const STATUS: Record<number, string> = {
  200: '200 OK',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  502: '502 Bad Gateway',
  503: '503 Service Unavailable',
};

export interface Reply {
  status: number;
  body: Uint8Array | string;
  headers?: Record<string, string>;
  /** Close the connection after this response (e.g. unread request body). */
  close?: boolean;
  /** ETag and gzip apply. */
  cacheable?: boolean;
  /** The body gzipped beforehand (static files). */
  gzipped?: Uint8Array;
  /** Fields for the request's debug log line (never sent). */
  note?: Fields;
}

/** What a reply depends on in the request. */
export interface Negotiation {
  acceptEncoding: string;
  ifNoneMatch: string;
}

/** A response ready to write. */
export interface Wire {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
  close: boolean;
}

const GZIP_MIN_BYTES = 1024;
/** Larger bodies are compressed off the event loop. */
export const GZIP_SYNC_MAX_BYTES = 64 * 1024;
const GZIP_OPTIONS: ZlibOptions = { level: 1 };
const gzipAsync = promisify(gzip);
/**
 * Hashing a whole-fleet answer for its ETag costs more than it saves: a
 * client polling that much data pages it (limit/cursor) or watches the feed.
 */
const ETAG_MAX_BYTES = 1 << 20;

export function json(status: number, value: unknown): Reply {
  return { status, body: JSON.stringify(value) };
}

export function etagOf(body: Uint8Array): string {
  hashBytes(body, 0, body.length);
  return `"${(hashOut[0]! >>> 0).toString(16)}${(hashOut[1]! >>> 0).toString(16)}-${body.length.toString(16)}"`;
}

/**
 * The response for a reply and what the request accepts: ETag, 304,
 * gzip. A promise when the body is being compressed off the event loop.
 */
export function negotiate(reply: Reply, req?: Negotiation): Wire | Promise<Wire> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...reply.headers };
  const wire: Wire = { status: reply.status, headers, body: reply.body, close: reply.close === true };
  if (reply.cacheable !== true || reply.status !== 200 || req === undefined) return wire;
  const bytes = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
  const etag = bytes.length <= ETAG_MAX_BYTES ? etagOf(bytes) : null;
  if (etag !== null) headers.ETag = etag;
  headers.Vary = 'Accept-Encoding';
  if (etag !== null && req.ifNoneMatch !== '' && req.ifNoneMatch.split(',').some((t) => t.trim() === etag)) {
    wire.status = 304;
    wire.body = '';
    return wire;
  }
  if (bytes.length < GZIP_MIN_BYTES || !/\bgzip\b/.test(req.acceptEncoding)) return wire;
  headers['Content-Encoding'] = 'gzip';
  if (reply.gzipped !== undefined) {
    wire.body = reply.gzipped;
    return wire;
  }
  if (bytes.length <= GZIP_SYNC_MAX_BYTES) {
    wire.body = gzipSync(bytes, GZIP_OPTIONS);
    return wire;
  }
  return gzipAsync(bytes, GZIP_OPTIONS).then(
    (compressed) => ({ ...wire, body: compressed }),
    // Cannot happen with valid options; the identity body is still right.
    () => {
      delete headers['Content-Encoding'];
      return wire;
    },
  );
}

/** Writes a response; call inside res.cork() when not in the request handler itself. */
export function write(res: HttpResponse, wire: Wire): void {
  res.writeStatus(STATUS[wire.status] ?? String(wire.status));
  for (const [k, v] of Object.entries(wire.headers)) res.writeHeader(k, v);
  if (wire.status === 304) res.endWithoutBody(0, wire.close);
  else res.end(wire.body, wire.close);
}
