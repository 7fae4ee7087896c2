#!/usr/bin/env node
// partisci: the command-line client. Sends updates (like the original) and
// answers questions from a server: human-readable tables, or --json.

import WebSocket from 'ws';
import { PartisciError, sendHttp, sendUdp, type Update } from '../client/index.js';
import { table, when } from './table.js';

const USAGE = `Usage:
  partisci update APP VERSION [[HOST] INSTANCE]   send one update (UDP; --http to wait for the commit)
  partisci apps                                   applications, with instance counts
  partisci hosts                                  hosts
  partisci versions [--app A] [--host H] [--ver V] [--stale]
                                                  where each version runs
  partisci history --app A [--host H]             version changes, newest first
  partisci rollout --app A [--since T] [--step S] instances per version over time
  partisci watch [--app A] [--host H]             print changes as they happen
Options:
  --server NAME   partiscid address (IP or DNS name, default localhost)
  --port N        partiscid port (default 7777)
  --http          (update) send over HTTP and report the server's answer
  --json          print the server's JSON instead of a table
  -h, --help      show this help`;

class UsageError extends Error {}

interface Options {
  command: string | undefined;
  args: string[];
  server: string;
  port: number;
  http: boolean;
  json: boolean;
  help: boolean;
  stale: boolean;
  app?: string;
  host?: string;
  ver?: string;
  since?: string;
  step?: string;
}

const VALUE_FLAGS = new Set(['server', 'port', 'app', 'host', 'ver', 'since', 'step']);
const BOOL_FLAGS = new Set(['http', 'json', 'help', 'h', 'stale']);

function parse(argv: readonly string[]): Options {
  const out: Options = { command: undefined, args: [], server: 'localhost', port: 7777, http: false, json: false, help: false, stale: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z]+)(?:=(.*))?$/s.exec(arg);
    if (m === null) {
      if (out.command === undefined) out.command = arg;
      else out.args.push(arg);
      continue;
    }
    const [, name, inline] = m as unknown as [string, string, string | undefined];
    if (BOOL_FLAGS.has(name)) {
      if (name === 'h' || name === 'help') out.help = true;
      else (out as unknown as Record<string, boolean>)[name] = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown flag "${arg}"`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (name === 'port') {
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new UsageError(`--port must be an integer 1-65535 (got "${value}")`);
      out.port = n;
    } else {
      (out as unknown as Record<string, string>)[name] = value;
    }
  }
  return out;
}

function toUpdate(args: string[]): Update {
  if (args.length < 2 || args.length > 4) throw new UsageError('update needs APP VERSION [[HOST] INSTANCE]');
  const [app, ver] = args as [string, string];
  const update: Update = { app, ver };
  // Like the original: with three arguments the third is INSTANCE.
  const rest = args.slice(2);
  const instanceText = rest.length === 1 ? rest[0] : rest[1];
  if (rest.length === 2) update.host = rest[0];
  if (instanceText !== undefined) {
    const n = /^\d+$/.test(instanceText) ? Number(instanceText) : NaN;
    if (!(n >= 0 && n <= 65535)) throw new UsageError(`INSTANCE must be an integer 0-65535 (got "${instanceText}")`);
    update.instance = n;
  }
  return update;
}

function base(o: Options): string {
  const host = o.server.includes(':') ? `[${o.server}]` : o.server;
  return `http://${host}:${o.port}`;
}

async function getJson(o: Options, path: string, query: Record<string, string | undefined> = {}): Promise<{ data: Record<string, unknown>[] } & Record<string, unknown>> {
  const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const res = await fetch(`${base(o)}${path}${qs === '' ? '' : `?${qs}`}`);
  const body = (await res.json()) as { data: Record<string, unknown>[]; error?: string };
  if (!res.ok) throw new PartisciError(res.status, body.error ?? `HTTP ${res.status}`);
  return body;
}

function print(o: Options, body: unknown, render: () => string): void {
  process.stdout.write(o.json ? `${JSON.stringify(body)}\n` : render());
}

function needApp(o: Options): string {
  if (o.app === undefined) throw new UsageError(`${o.command} needs --app APP_ID`);
  return o.app;
}

async function command(o: Options): Promise<void> {
  switch (o.command) {
    case 'update': {
      const update = toUpdate(o.args);
      const target = { server: o.server, port: o.port };
      if (o.http) {
        const version = await sendHttp(update, target);
        process.stdout.write(`200 OK ${JSON.stringify(version)}\n`);
      } else {
        await sendUdp(update, target);
        process.stdout.write('command: UPDATE\n');
      }
      return;
    }
    case 'apps': {
      const body = await getJson(o, '/api/v1/app/');
      print(o, body, () => table(body.data, [['APP_ID', 'app_id'], ['APP', 'app'], ['HOSTS', 'host_count'], ['INSTANCES', 'instance_count'], ['UP', 'up_count'], ['STALE', 'stale_count'], ['LAST UPDATE', (r) => when(r.last_update)]]));
      return;
    }
    case 'hosts': {
      const body = await getJson(o, '/api/v1/host/');
      print(o, body, () => table(body.data, [['HOST', 'host'], ['APPS', 'app_count'], ['INSTANCES', 'instance_count'], ['UP', 'up_count'], ['STALE', 'stale_count'], ['LAST UPDATE', (r) => when(r.last_update)]]));
      return;
    }
    case 'versions': {
      const body = await getJson(o, '/api/v1/version/', { app_id: o.app, host: o.host, ver: o.ver, status: o.stale ? 'stale' : undefined });
      print(o, body, () => table(body.data, [['APP_ID', 'app_id'], ['HOST', 'host'], ['INSTANCE', 'instance'], ['VER', 'ver'], ['STATUS', 'status'], ['SINCE', (r) => when(r.since)], ['LAST UPDATE', (r) => when(r.last_update)]]));
      return;
    }
    case 'history': {
      const body = await getJson(o, '/api/v1/history/', { app_id: needApp(o), host: o.host, since: o.since });
      print(o, body, () => table(body.data, [['TIME', (r) => when(r.time)], ['HOST', 'host'], ['INSTANCE', 'instance'], ['FROM', (r) => r.prev_ver ?? '(new)'], ['TO', (r) => r.ver ?? '(removed)'], ['ADDRESS', (r) => r.host_ip ?? '']]));
      return;
    }
    case 'rollout': {
      const body = await getJson(o, `/api/v1/app/${encodeURIComponent(needApp(o))}/rollout`, { since: o.since, step: o.step });
      const steps = body.data as unknown as { time: number; counts: Record<string, number> }[];
      const vers = [...new Set(steps.flatMap((s) => Object.keys(s.counts)))].sort();
      print(o, body, () => table(steps as unknown as Record<string, unknown>[], [['TIME', (r) => when(r.time)], ...vers.map((v): [string, (r: Record<string, unknown>) => unknown] => [v, (r) => (r.counts as Record<string, number>)[v] ?? 0])]));
      return;
    }
    case 'watch':
      await watch(o);
      return;
    default:
      throw new UsageError(`unknown command "${o.command}"`);
  }
}

/** Prints events until interrupted; reconnects when the server goes away. */
function watch(o: Options): Promise<void> {
  const query = o.app !== undefined ? `?app_id=${encodeURIComponent(o.app)}` : o.host !== undefined ? `?host=${encodeURIComponent(o.host)}` : '';
  const url = `${base(o).replace(/^http/, 'ws')}/api/v1/watch${query}`;
  return new Promise(() => {
    const connect = (): void => {
      const ws = new WebSocket(url);
      ws.on('message', (data: Buffer) => {
        if (o.json) {
          process.stdout.write(`${data.toString()}\n`);
          return;
        }
        const e = JSON.parse(data.toString()) as { type: string; version?: Record<string, unknown>; old_ver?: string };
        const v = e.version ?? {};
        const what = e.type === 'changed' ? `${e.old_ver} -> ${String(v.ver)}` : String(v.ver ?? '');
        process.stdout.write(`${new Date().toISOString()} ${e.type.padEnd(8)} ${String(v.app_id ?? '')} ${String(v.host ?? '')}#${String(v.instance ?? '')} ${what}\n`);
      });
      ws.on('error', () => undefined);
      ws.on('close', () => setTimeout(connect, 1000));
    };
    connect();
  });
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parse(process.argv.slice(2));
    if (o.help || o.command === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return o.help ? 0 : 2;
    }
    await command(o);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`partisci: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof PartisciError) {
      process.stderr.write(`partisci: server answered ${err.status}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`partisci: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main();
