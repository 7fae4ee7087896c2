// A small typed client for Partisci servers: send updates over UDP (fire
// and forget, the recommended way) or HTTP (answered once the server has
// committed the update). Usable from any Node program:
//
//   import { sendUdp, sendHttp } from 'partisci';
//   await sendUdp({ app: 'billing', ver: '2.4.1' }, { server: 'inventory.internal' });

import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import type { ErrorBody, SqlAnswer, StoredVersion, UpdateAnswer, UpdateBody } from '../api/types.js';
import { RequestFailedError } from '../errors.js';

export type { StoredVersion as Version, UpdateBody as Update, Labels, SqlAnswer } from '../api/types.js';
export { PartisciError, RequestFailedError } from '../errors.js';

export interface Target {
  /** Server name or address (default localhost). */
  server?: string;
  /** UDP and HTTP port (default 7777). */
  port?: number;
}

function body(update: UpdateBody): string {
  // Like the original clients: the host defaults to this machine's name.
  const labels = update.labels !== undefined && Object.keys(update.labels).length > 0 ? { labels: update.labels } : {};
  return JSON.stringify({ app: update.app, ver: update.ver, host: update.host ?? hostname(), instance: update.instance ?? 0, ...labels });
}

/** Sends one update as one UDP datagram. Resolves when it has been sent (not received). */
export async function sendUdp(update: UpdateBody, target: Target = {}): Promise<void> {
  const server = target.server ?? 'localhost';
  const address = isIP(server) !== 0 ? server : (await lookup(server)).address;
  const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.send(Buffer.from(body(update)), target.port ?? 7777, address, (err) => (err ? reject(err) : resolve()));
    });
  } finally {
    socket.close();
  }
}

function baseUrl(target: Target): string {
  const server = target.server ?? 'localhost';
  return `http://${isIP(server) === 6 ? `[${server}]` : server}:${target.port ?? 7777}`;
}

async function answerOf<T>(res: Response): Promise<T> {
  const text = await res.text();
  let parsed: Partial<ErrorBody> | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok || parsed === undefined) throw new RequestFailedError(res.status, parsed?.error ?? `HTTP ${res.status}`, parsed?.code);
  return parsed as T;
}

/**
 * Runs a read-only SQL query (tables versions, apps, hosts, history) and
 * resolves with its columns and rows; rejects with RequestFailedError (a
 * refused statement, a bad query, a limit: its status and serverCode).
 */
export async function sql(query: string, target: Target = {}): Promise<SqlAnswer> {
  return answerOf<SqlAnswer>(await fetch(`${baseUrl(target)}/api/v1/sql`, { method: 'POST', body: query }));
}

/**
 * POSTs one update to /api/v1/update/. Resolves with the stored version
 * once the server has committed it; rejects with RequestFailedError (a
 * PartisciError) otherwise: its status, the server's message and code.
 */
export async function sendHttp(update: UpdateBody, target: Target = {}): Promise<StoredVersion> {
  const server = target.server ?? 'localhost';
  const host = isIP(server) === 6 ? `[${server}]` : server;
  const res = await fetch(`http://${host}:${target.port ?? 7777}/api/v1/update/`, { method: 'POST', body: body(update) });
  const text = await res.text();
  let parsed: Partial<UpdateAnswer & ErrorBody> = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) throw new RequestFailedError(res.status, parsed.error ?? `HTTP ${res.status}`, parsed.code);
  const version = parsed.data?.[0];
  if (version === undefined) throw new RequestFailedError(res.status, 'unexpected response');
  return version;
}
