// Resolving --server once, up front: the addon takes numeric addresses
// only, and one lookup keeps every thread and connection on the same one.

import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface ServerAddress {
  /** The name as given, for messages and the HTTP Host header. */
  name: string;
  ip: string;
  family: 4 | 6;
  port: number;
}

/**
 * Resolves name, preferring IPv4: "localhost" often resolves to ::1 first,
 * and a server listening on 0.0.0.0 would never see datagrams sent there,
 * silently, whereas 127.0.0.1 reaches both IPv4 and dual-stack listeners.
 */
export async function resolveServer(name: string, port: number): Promise<ServerAddress> {
  const literal = isIP(name);
  if (literal === 4 || literal === 6) return { name, ip: name, family: literal, port };
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(name, { all: true });
  } catch (err) {
    throw new Error(`cannot resolve --server ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
  if (chosen === undefined) throw new Error(`cannot resolve --server ${name}: no addresses`);
  return { name, ip: chosen.address, family: chosen.family === 6 ? 6 : 4, port };
}

/** Base URL of the server's HTTP side, e.g. http://127.0.0.1:7777/ or http://[::1]:7777/. */
export function baseUrl(address: ServerAddress): string {
  const host = address.family === 6 ? `[${address.ip}]` : address.ip;
  return `http://${host}:${address.port}/`;
}

/** The Host header value a client would send: name and port. */
export function hostHeader(address: ServerAddress): string {
  const host = isIP(address.name) === 6 ? `[${address.name}]` : address.name;
  return `${host}:${address.port}`;
}
