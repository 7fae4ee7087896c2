// Writing responses with uWebSockets.js. Every API response is JSON; errors
// are {"error": "...", "code": "..."} with a proper status (error-reply.ts).
// Cacheable answers (GET lists and summaries) get an ETag, so a client that
// polls gets 304 while nothing changed, and are gzipped when the client
// accepts it and the body is worth it.

import { gzipSync } from 'node:zlib';
import type { HttpResponse } from 'uWebSockets.js';
import { hashBytes, hashOut } from '../ingest/hash.js';

export const STATUS: Record<number, string> = {
  200: '200 OK',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
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
}

/** What a reply depends on in the request. */
export interface Negotiation {
  acceptEncoding: string;
  ifNoneMatch: string;
}

const GZIP_MIN_BYTES = 1024;
/**
 * Hashing a whole-fleet answer for its ETag costs more than it saves: a
 * client polling that much data pages it (limit/cursor) or watches the feed.
 */
const ETAG_MAX_BYTES = 1 << 20;

export function json(status: number, value: unknown): Reply {
  return { status, body: JSON.stringify(value) };
}

export function error(status: number, message: string): Reply {
  return json(status, { error: message });
}

export function etagOf(body: Uint8Array): string {
  hashBytes(body, 0, body.length);
  return `"${(hashOut[0]! >>> 0).toString(16)}${(hashOut[1]! >>> 0).toString(16)}-${body.length.toString(16)}"`;
}

/** Writes a reply; call inside res.cork() when not in the request handler itself. */
export function send(res: HttpResponse, reply: Reply, req?: Negotiation): void {
  let body = reply.body;
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...reply.headers };
  let status = reply.status;
  if (reply.cacheable === true && status === 200 && req !== undefined) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const etag = bytes.length <= ETAG_MAX_BYTES ? etagOf(bytes) : null;
    if (etag !== null) headers.ETag = etag;
    headers.Vary = 'Accept-Encoding';
    if (etag !== null && req.ifNoneMatch !== '' && req.ifNoneMatch.split(',').some((t) => t.trim() === etag)) {
      status = 304;
      body = '';
    } else if (bytes.length >= GZIP_MIN_BYTES && /\bgzip\b/.test(req.acceptEncoding)) {
      body = gzipSync(bytes, { level: 1 });
      headers['Content-Encoding'] = 'gzip';
    }
  }
  res.writeStatus(STATUS[status] ?? String(status));
  for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
  if (status === 304) res.endWithoutBody(0, reply.close === true);
  else res.end(body, reply.close === true);
}
