// The live change feed (WebSocket /api/v1/watch) and the dashboard's
// connection state. Events are handed over in batches a few times a second
// rather than one by one: a fleet rolling out a release sends thousands per
// second, and each page only needs to know what changed since last time.
// The socket reconnects by itself (the server restarts, or drops a
// subscriber that falls behind); after a reconnect the page refetches,
// since events may have been missed meanwhile.

import type { ChangeEvent } from '../../src/api/types';

export type { ChangeEvent };

export type Connection = 'connecting' | 'live' | 'offline';

const FLUSH_MS = 250;
const MAX_BACKOFF_MS = 5000;

// --- connection state, shown in the header ------------------------------

let connection: Connection = 'connecting';
const listeners = new Set<(c: Connection) => void>();

export function connectionState(): Connection {
  return connection;
}

export function onConnection(fn: (c: Connection) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setConnection(c: Connection): void {
  if (c === connection) return;
  connection = c;
  for (const fn of listeners) fn(c);
}

// --- the feed -------------------------------------------------------------

export interface FeedHandlers {
  events(batch: ChangeEvent[]): void;
  /** Connected again after a drop: refetch what may have been missed. */
  resync(): void;
}

/** Watches `query` (e.g. "app_id=x", "host=y", "" for everything) until closed. */
export function watch(query: string, handlers: FeedHandlers): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let failures = 0;
  let everOpen = false;
  let pending: ChangeEvent[] = [];
  let flushTimer: number | undefined;
  let retryTimer: number | undefined;

  const flush = (): void => {
    flushTimer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length > 0) handlers.events(batch);
  };

  const connect = (): void => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/watch${query === '' ? '' : `?${query}`}`);
    socket = ws;
    ws.onopen = () => {
      const reconnected = everOpen || failures > 0;
      everOpen = true;
      failures = 0;
      setConnection('live');
      if (reconnected) handlers.resync();
    };
    ws.onmessage = (msg: MessageEvent<string>) => {
      try {
        pending.push(JSON.parse(msg.data) as ChangeEvent);
      } catch {
        return; // not an event: ignore
      }
      flushTimer ??= window.setTimeout(flush, FLUSH_MS);
    };
    ws.onclose = () => {
      if (closed) return;
      failures++;
      setConnection('offline');
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures, 5));
      retryTimer = window.setTimeout(connect, delay);
    };
  };

  connect();
  return () => {
    closed = true;
    window.clearTimeout(flushTimer);
    window.clearTimeout(retryTimer);
    socket?.close();
  };
}
