// Sending updates as HTTP POSTs over a bounded pool of keep-alive
// connections. At most `connections` requests are in flight (one per
// connection: Node does not pipeline), so the agent never builds a hidden
// queue; when the server is slower than the target rate, the sender falls
// behind instead, which the progress display shows as a rate shortfall.

import http from 'node:http';
import type { BadKind } from './bad-packets.js';
import type { SendTally } from './tally.js';

export interface HttpTarget {
  kind: 'http';
  ip: string;
  port: number;
  /** Host header: the server name as the user gave it. */
  hostHeader: string;
  /** Connections of this thread. */
  connections: number;
}

export const UPDATE_PATH = '/api/v1/update/';
/** A request without an answer after this long counts as a send error. */
const REQUEST_TIMEOUT_MS = 10_000;

export class HttpSender {
  private readonly target: HttpTarget;
  private readonly tally: SendTally;
  private readonly agent: http.Agent;
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(target: HttpTarget, tally: SendTally) {
    this.target = target;
    this.tally = tally;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: target.connections });
  }

  get hasCapacity(): boolean {
    return this.inFlight < this.target.connections;
  }

  send(body: string | Uint8Array, kind: BadKind | null): void {
    const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    this.inFlight++;
    let finished = false;
    const finish = (status: number | null): void => {
      if (finished) return;
      finished = true;
      if (status === null) {
        this.tally.sendErrors++;
      } else {
        this.tally.countSent(kind);
        this.tally.countStatus(status);
      }
      this.inFlight--;
      for (const wake of this.waiters.splice(0)) wake();
    };
    const request = http.request(
      {
        agent: this.agent,
        host: this.target.ip,
        port: this.target.port,
        method: 'POST',
        path: UPDATE_PATH,
        headers: { host: this.target.hostHeader, 'content-type': 'application/json', 'content-length': payload.length },
      },
      (response) => {
        response.on('end', () => finish(response.statusCode ?? 0));
        response.on('error', () => finish(null));
        response.resume();
      },
    );
    request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error('request timed out')));
    request.on('error', () => finish(null));
    request.end(payload);
  }

  /** Resolves once a request slot is free. */
  whenCapacity(): Promise<void> {
    if (this.hasCapacity) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once every request has been answered or has failed. */
  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.agent.destroy();
  }
}
