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

export interface Update {
  app: string;
  ver: string;
  /** Defaults to this machine's hostname (like the original clients). */
  host?: string;
  /** 0-65535, default 0. */
  instance?: number;
}

export interface Target {
  /** Server name or address (default localhost). */
  server?: string;
  /** UDP and HTTP port (default 7777). */
  port?: number;
}

/** A stored version object, as the server returns it. */
export interface Version {
  app: string;
  app_id: string;
  host: string;
  host_ip: string;
  instance: number;
  ver: string;
  last_update: number;
}

export class PartisciError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'PartisciError';
    this.status = status;
  }
}

function body(update: Update): string {
  return JSON.stringify({ app: update.app, ver: update.ver, host: update.host ?? hostname(), instance: update.instance ?? 0 });
}

/** Sends one update as one UDP datagram. Resolves when it has been sent (not received). */
export async function sendUdp(update: Update, target: Target = {}): Promise<void> {
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

/**
 * POSTs one update to /api/v1/update/. Resolves with the stored version
 * once the server has committed it; rejects with PartisciError otherwise.
 */
export async function sendHttp(update: Update, target: Target = {}): Promise<Version> {
  const server = target.server ?? 'localhost';
  const host = isIP(server) === 6 ? `[${server}]` : server;
  const res = await fetch(`http://${host}:${target.port ?? 7777}/api/v1/update/`, { method: 'POST', body: body(update) });
  const text = await res.text();
  let parsed: { data?: Version[]; error?: string } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) throw new PartisciError(res.status, parsed.error ?? `HTTP ${res.status}`);
  const version = parsed.data?.[0];
  if (version === undefined) throw new PartisciError(res.status, 'unexpected response');
  return version;
}
