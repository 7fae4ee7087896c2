// The live change feed: WebSocket /api/v1/watch[?app_id=A | ?host=H],
// on uWebSockets.js pub/sub. The writer produces events after each commit
// (so a subscriber never sees what the API doesn't have yet), and only
// while someone watches. A subscriber that cannot keep up is disconnected
// at its backpressure limit: it never slows ingest or other subscribers.

import type { TemplatedApp } from 'uWebSockets.js';
import type { ChangeEvent } from '../api/types.js';
import type { Engine } from '../workers/engine.js';
import { uWS } from '../http/uws.js';

interface Subscriber {
  topic: string;
}

const ALL = 'all';

function topicsOf(event: ChangeEvent): string[] {
  if (event.type === 'cleared') return [ALL];
  return [ALL, `app/${event.version.app_id}`, `host/${event.version.host}`];
}

export function attachWatch(app: TemplatedApp, engine: Engine): void {
  const topics = new Map<string, number>();
  const changed = (topic: string, by: number): void => {
    const n = (topics.get(topic) ?? 0) + by;
    if (n <= 0) topics.delete(topic);
    else topics.set(topic, n);
    engine.eventsWanted = topics.size > 0;
  };

  app.ws<Subscriber>('/api/v1/watch', {
    compression: uWS.DISABLED,
    maxPayloadLength: 4096,
    maxBackpressure: 1 << 20,
    closeOnBackpressureLimit: 1,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const query = new URLSearchParams(req.getQuery() ?? '');
      const appId = query.get('app_id');
      const host = query.get('host');
      const topic = appId ? `app/${appId}` : host ? `host/${host}` : ALL;
      res.upgrade<Subscriber>(
        { topic },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const { topic } = ws.getUserData();
      ws.subscribe(topic);
      changed(topic, 1);
    },
    close: (ws) => {
      changed(ws.getUserData().topic, -1);
    },
  });

  engine.on('events', (batch) => {
    // The writer still types an event's version loosely (store/writer.ts
    // has its own ChangeEvent): what it sends is api/types.ts's.
    const events = batch as unknown as ChangeEvent[];
    for (const event of events) {
      const text = JSON.stringify(event);
      // A clear concerns every subscriber, whatever it watches.
      const targets = event.type === 'cleared' ? [...topics.keys()] : topicsOf(event);
      for (const topic of targets) if (topics.has(topic)) app.publish(topic, text);
    }
  });
}
