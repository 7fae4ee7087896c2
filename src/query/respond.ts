// Writing responses with uWebSockets.js. Every response is JSON; errors
// are {"error": "..."} with a proper status (the original API's format).
// A response to an aborted request must not be written (uWS would throw),
// so asynchronous handlers check the `aborted` flag they registered.

import type { HttpResponse } from 'uWebSockets.js';

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
  503: '503 Service Unavailable',
};

export interface Reply {
  status: number;
  body: Uint8Array | string;
  headers?: Record<string, string>;
  /** Close the connection after this response (e.g. unread request body). */
  close?: boolean;
}

export function json(status: number, value: unknown): Reply {
  return { status, body: JSON.stringify(value) };
}

export function error(status: number, message: string): Reply {
  return json(status, { error: message });
}

/** Writes a reply; call inside res.cork() when not in the request handler itself. */
export function send(res: HttpResponse, reply: Reply): void {
  res.writeStatus(STATUS[reply.status] ?? String(reply.status));
  res.writeHeader('Content-Type', reply.headers?.['Content-Type'] ?? 'application/json');
  if (reply.headers !== undefined) {
    for (const [k, v] of Object.entries(reply.headers)) if (k !== 'Content-Type') res.writeHeader(k, v);
  }
  res.end(reply.body, reply.close === true);
}
