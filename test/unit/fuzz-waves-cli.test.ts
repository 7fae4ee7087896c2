// partisci-fuzz --waves, built (dist/; run `npm run build` first), against
// a stand-in server in this process: it keeps the latest version of every
// app/host/instance it receives over UDP and answers app/A, version/
// (paged in small pages, to exercise `next`) and /debug/vars. A "hiding"
// stand-in leaves some instances out of its listings while counting them
// in app/A: the tool must see less than the fleet shown, and the API
// contradicting itself.

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { appIdOf } from '../../src/ingest/app-id.js';
import { referenceVerdict } from './fuzz-reference-rules.js';

const CLI = fileURLToPath(new URL('../../dist/tools/fuzz/cli.js', import.meta.url));
const run = promisify(execFile);
const PAGE = 37;

interface Row {
  app: string;
  app_id: string;
  host: string;
  instance: number;
  ver: string;
}

class StandInApi {
  port = 0;
  rows = new Map<string, Row>();
  /** Version listings leave out every instance whose key hashes to 0 mod this (0: none). */
  hideEvery = 0;
  vars = {
    udp_datagrams: 0,
    http_updates: 0,
    applied: 0,
    rejected: 0,
    ring_full_drops: 0,
    kernel_drops: 0,
    commits: 0,
    rejected_by_reason: {} as Record<string, number>,
  };
  requests: string[] = [];
  private udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  private http = http.createServer((req, res) => this.serve(req, res));

  async start(): Promise<void> {
    this.udp.on('message', (data) => this.receive(data));
    this.udp.bind(0, '127.0.0.1');
    await once(this.udp, 'listening');
    this.port = this.udp.address().port;
    this.http.listen(this.port, '127.0.0.1');
    await once(this.http, 'listening');
    expect((this.http.address() as AddressInfo).port).toBe(this.port);
  }

  async stop(): Promise<void> {
    this.udp.close();
    this.http.close();
  }

  private receive(data: Buffer): void {
    this.vars.udp_datagrams++;
    const verdict = referenceVerdict(data, 8192);
    if (verdict !== 'ok') {
      this.vars.rejected++;
      return;
    }
    const u = JSON.parse(data.toString('utf8')) as { app: string; ver: string; host: string; instance?: number };
    const row = { app: u.app, app_id: appIdOf(u.app), host: u.host, instance: u.instance ?? 0, ver: u.ver };
    this.rows.set(JSON.stringify([row.app_id, row.host, row.instance]), row);
    this.vars.applied++;
  }

  private hidden(row: Row): boolean {
    return this.hideEvery > 0 && (row.host.length + row.instance) % this.hideEvery === 0;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    this.requests.push(url.pathname + url.search);
    const send = (status: number, body: unknown): void => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/debug/vars') {
      send(200, this.vars);
      return;
    }
    const app = /^\/api\/v1\/app\/([^/]+)$/.exec(url.pathname);
    if (app !== null) {
      const appId = decodeURIComponent(app[1]!);
      const counts = new Map<string, number>();
      for (const row of this.rows.values()) if (row.app_id === appId) counts.set(row.ver, (counts.get(row.ver) ?? 0) + 1);
      if (counts.size === 0) send(404, { error: `no app "${appId}"` });
      else send(200, { data: [{ app_id: appId, versions: [...counts].map(([ver, count]) => ({ ver, count, up_count: count, stale_count: 0 })) }] });
      return;
    }
    if (url.pathname === '/api/v1/version/') {
      const appId = url.searchParams.get('app_id');
      const ver = url.searchParams.get('ver');
      const rows = [...this.rows.values()].filter((r) => r.app_id === appId && r.ver === ver && !this.hidden(r));
      const from = Number(url.searchParams.get('cursor') ?? 0);
      const size = Math.min(PAGE, Number(url.searchParams.get('limit') ?? Infinity));
      const page = rows.slice(from, from + size);
      send(200, from + size < rows.length ? { data: page, next: String(from + size) } : { data: page });
      return;
    }
    send(404, { error: 'not here' });
  }
}

async function waves(server: StandInApi, ...args: string[]): Promise<Record<string, unknown> & { waves: Record<string, unknown>[] }> {
  const { stdout } = await run(process.execPath, [CLI, '--server', '127.0.0.1', '--port', String(server.port), '--json', '--wave-pause', '0', ...args]);
  const lines = stdout.trim().split('\n');
  expect(lines.length).toBe(1);
  return JSON.parse(lines[0]!) as Record<string, unknown> & { waves: Record<string, unknown>[] };
}

const FLEET = ['--hosts', '50', '--apps', '3', '--instances', '2'];

describe.skipIf(!existsSync(CLI))('partisci-fuzz --waves (built)', () => {
  let server: StandInApi | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  test('three waves, each the whole fleet with its version, checked through the API', async () => {
    server = new StandInApi();
    await server.start();
    const summary = await waves(server, '--waves', '1.0.0,2.0.0,2.0.0', ...FLEET, '--rate', '5000', '--check');
    expect(summary).toMatchObject({ fleet_size: 300, sent: 900, sent_bad: 0, send_errors: 0, interrupted: false, target_rate: 5000 });
    expect(summary.waves.map((w) => [w.wave, w.version, w.sent, w.shown_before, w.shown, w.shown_pct, w.max_disagreement, w.poll_end])).toEqual([
      [1, '1.0.0', 300, 0, 300, 100, 0, 'complete'],
      [2, '2.0.0', 300, 0, 300, 100, 0, 'complete'],
      [3, '2.0.0', 300, 300, 300, 100, 0, 'complete'],
    ]);
    for (const w of summary.waves) {
      expect(w).toMatchObject({
        received: 300,
        applied: 300,
        ring_full_drops: 0,
        kernel_drops: 0,
        rejected: 0,
        rejected_by_reason: {},
        persist_lag_ms: null,
        write_backlog: null,
      });
      expect(w.complete_s as number).toBeGreaterThanOrEqual(0);
      expect(w.complete_s as number).toBeLessThan(2);
      expect(w.disagreement_samples as number).toBeGreaterThanOrEqual(3);
      expect(w.duration_s as number).toBeGreaterThan(0.03);
      expect(w.last_packet_at as number).toBeGreaterThanOrEqual(w.started_at as number);
      expect(w.settled_at as number).toBeGreaterThanOrEqual(w.last_packet_at as number);
    }
    // Everything the fleet has is on the last version; the listings were paged.
    expect([...server.rows.values()].every((r) => r.ver === '2.0.0')).toBe(true);
    expect(server.rows.size).toBe(300);
    expect(server.requests.some((r) => r.startsWith('/api/v1/version/') && r.includes('cursor='))).toBe(true);
  });

  test('a server whose listings miss instances its counts have: less than 100% shown, disagreement seen', async () => {
    server = new StandInApi();
    server.hideEvery = 7;
    await server.start();
    const summary = await waves(server, '--waves', '3.0', ...FLEET, '--rate', 'max', '--workers', '2', '--check');
    const [w] = summary.waves;
    const hidden = [...server.rows.values()].filter((r) => (r.host.length + r.instance) % 7 === 0).length;
    expect(hidden).toBeGreaterThan(0);
    expect(w).toMatchObject({ sent: 300, shown: 300 - hidden, counted: 300, poll_end: 'complete' });
    expect(w!.shown_pct as number).toBeLessThan(100);
    expect(w!.max_disagreement as number).toBeGreaterThan(0);
    expect(summary.workers).toBe(2);
  });

  test('without --check: the waves are sent and timed, nothing asked', async () => {
    server = new StandInApi();
    await server.start();
    const summary = await waves(server, '--waves', 'a,b', ...FLEET, '--rate', 'max');
    expect(summary.waves.map((w) => [w.version, w.sent, w.shown])).toEqual([
      ['a', 300, undefined],
      ['b', 300, undefined],
    ]);
    expect(server.requests).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.vars.udp_datagrams).toBe(600);
  });

  test('the human output is one line per wave', async () => {
    server = new StandInApi();
    await server.start();
    const { stdout } = await run(process.execPath, [
      CLI,
      '--server',
      '127.0.0.1',
      '--port',
      String(server.port),
      '--waves',
      '1,2',
      ...FLEET,
      '--rate',
      'max',
      '--check',
      '--wave-pause',
      '0',
    ]);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^2 wave\(s\) of 300 instances over UDP to 127\.0\.0\.1:\d+/);
    expect(lines[1]).toMatch(/^ {2}wave +version +sent +rate\/s +took s +shown +complete after +disagree/);
    expect(lines[2]).toMatch(/^ {2}1 +1 +300 .* 100\.000% +\d+\.\d\d s +0 /);
    expect(lines[3]).toMatch(/^ {2}2 +2 +300 .* 100\.000% /);
  });

  test('--waves with --duration is a usage error (exit 2)', async () => {
    const failure = await run(process.execPath, [CLI, '--waves', '1.0', '--duration', '5']).catch((err: { code: number; stderr: string }) => err);
    expect(failure).toMatchObject({
      code: 2,
      stderr: "partisci-fuzz: --duration does not apply with --waves (a wave is every fleet instance once, with the wave's version) (see --help)\n",
    });
  });
});
