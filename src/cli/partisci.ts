#!/usr/bin/env node
// partisci: the command-line client. Sends updates (like the original) and
// answers questions from a server: human-readable tables, or --json.

import WebSocket from 'ws';
import type { AppSummary, ChangeEvent, ErrorBody, HistoryEntry, HostSummary, List, RolloutStep, SqlAnswer, Version } from '../api/types.js';
import { sendHttp, sendUdp } from '../client/index.js';
import { RequestFailedError, UsageError } from '../errors.js';
import { USAGE, parseOptions, toUpdate, type Options } from './partisci-options.js';
import { table, when, type Column } from './table.js';

function base(o: Options): string {
  const host = o.server.includes(':') ? `[${o.server}]` : o.server;
  return `http://${host}:${o.port}`;
}

async function getJson<T>(o: Options, path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
  // --label filters every list.
  if (o.command !== 'sql') for (const [name, value] of o.labels) params.append(`label.${name}`, value);
  const qs = params.toString();
  const res = await fetch(`${base(o)}${path}${qs === '' ? '' : `?${qs}`}`);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RequestFailedError(res.status, `not a JSON answer (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const e = body as Partial<ErrorBody>;
    throw new RequestFailedError(res.status, e.error ?? `HTTP ${res.status}`, e.code);
  }
  return body as T;
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
      if (o.labels.length > 0) update.labels = Object.fromEntries(o.labels);
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
      const body = await getJson<List<AppSummary>>(o, '/api/v1/app/');
      print(o, body, () =>
        table(body.data, [
          ['APP_ID', 'app_id'],
          ['APP', 'app'],
          ['HOSTS', 'host_count'],
          ['INSTANCES', 'instance_count'],
          ['UP', 'up_count'],
          ['STALE', 'stale_count'],
          ['LAST UPDATE', (r) => when(r.last_update)],
        ]),
      );
      return;
    }
    case 'hosts': {
      const body = await getJson<List<HostSummary>>(o, '/api/v1/host/');
      print(o, body, () =>
        table(body.data, [
          ['HOST', 'host'],
          ['APPS', 'app_count'],
          ['INSTANCES', 'instance_count'],
          ['UP', 'up_count'],
          ['STALE', 'stale_count'],
          ['LAST UPDATE', (r) => when(r.last_update)],
        ]),
      );
      return;
    }
    case 'versions': {
      const body = await getJson<List<Version>>(o, '/api/v1/version/', { app_id: o.app, host: o.host, ver: o.ver, status: o.stale ? 'stale' : undefined });
      const columns: Column<Version>[] = [
        ['APP_ID', 'app_id'],
        ['HOST', 'host'],
        ['INSTANCE', 'instance'],
        ['VER', 'ver'],
        ['STATUS', 'status'],
        ['SINCE', (r) => when(r.since)],
        ['LAST UPDATE', (r) => when(r.last_update)],
      ];
      if (body.data.some((r) => r.labels !== undefined))
        columns.push([
          'LABELS',
          (r) =>
            Object.entries(r.labels ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
        ]);
      print(o, body, () => table(body.data, columns));
      return;
    }
    case 'history': {
      const body = await getJson<List<HistoryEntry>>(o, '/api/v1/history/', { app_id: needApp(o), host: o.host, since: o.since });
      print(o, body, () =>
        table(body.data, [
          ['TIME', (r) => when(r.time)],
          ['HOST', 'host'],
          ['INSTANCE', 'instance'],
          ['FROM', (r) => r.prev_ver ?? '(new)'],
          ['TO', (r) => r.ver ?? '(removed)'],
          ['ADDRESS', (r) => r.host_ip ?? ''],
        ]),
      );
      return;
    }
    case 'rollout': {
      const body = await getJson<List<RolloutStep>>(o, `/api/v1/app/${encodeURIComponent(needApp(o))}/rollout`, { since: o.since, step: o.step });
      const vers = [...new Set(body.data.flatMap((s) => Object.keys(s.counts)))].sort();
      print(o, body, () => table(body.data, [['TIME', (r) => when(r.time)], ...vers.map((v): Column<RolloutStep> => [v, (r) => r.counts[v] ?? 0])]));
      return;
    }
    case 'watch':
      await watch(o);
      return;
    case 'sql': {
      if (o.args.length !== 1) throw new UsageError('sql needs one argument: the query (quoted)');
      const body = await getJson<SqlAnswer>(o, '/api/v1/sql', { q: o.args[0] });
      const cell = (v: unknown): string => (v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
      print(o, body, () =>
        table(
          body.data,
          body.columns.map((c, i): Column<unknown[]> => [c.name, (row) => cell(row[i])]),
        ),
      );
      return;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(o.command)}`);
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
        const e = JSON.parse(data.toString()) as ChangeEvent;
        if (e.type === 'cleared') {
          process.stdout.write(`${new Date().toISOString()} cleared\n`);
          return;
        }
        const v = e.version;
        const what = e.type === 'changed' ? `${e.old_ver} -> ${v.ver}` : e.type === 'labels' ? `${v.ver} ${JSON.stringify(v.labels ?? {})}` : v.ver;
        process.stdout.write(`${new Date().toISOString()} ${e.type.padEnd(8)} ${v.app_id} ${v.host}#${v.instance} ${what}\n`);
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
    o = parseOptions(process.argv.slice(2));
    if (o.help || o.command === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return o.help ? 0 : 2;
    }
    await command(o);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      // One line, like partiscid's.
      process.stderr.write(`partisci: ${err.message}${err.message.includes('--help') ? '' : ' (see --help)'}\n`);
      return 2;
    }
    if (err instanceof RequestFailedError) {
      process.stderr.write(`partisci: server answered ${err.status}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`partisci: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main();
