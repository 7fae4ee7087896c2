// The built CLI (dist/, run `npm run build` first) against a stand-in
// server in this process: UDP and HTTP on one port, judging packets by the
// reference rules and serving /debug/vars. Covers what only the whole tool
// can show: piscina threads from dist/, the --json contract the benchmark
// parses, and --check accounting.

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { EXPECTED_REASON, type BadKind } from '../../tools/fuzz/bad-packets.js';
import { HTTP_MAX_BYTES, referenceVerdict } from './fuzz-reference-rules.js';

const CLI = fileURLToPath(new URL('../../dist/tools/fuzz/cli.js', import.meta.url));
const run = promisify(execFile);

class StandInServer {
  port = 0;
  payloads: string[] = [];
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
  private udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  private http = http.createServer((req, res) => this.serve(req, res));

  async start(): Promise<void> {
    this.udp.on('message', (data) => {
      this.vars.udp_datagrams++;
      this.judge(data, 8192);
    });
    this.udp.bind(0, '127.0.0.1');
    await once(this.udp, 'listening');
    this.port = this.udp.address().port;
    this.http.listen(this.port, '127.0.0.1');
    await once(this.http, 'listening');
    expect((this.http.address() as AddressInfo).port).toBe(this.port);
  }

  reset(): void {
    this.payloads = [];
  }

  async stop(): Promise<void> {
    this.udp.close();
    this.http.close();
  }

  private judge(data: Buffer, maxBytes: number): string {
    this.payloads.push(data.toString('latin1'));
    const verdict = referenceVerdict(data, maxBytes);
    if (verdict === 'ok') {
      this.vars.applied++;
    } else {
      this.vars.rejected++;
      this.vars.rejected_by_reason[verdict] = (this.vars.rejected_by_reason[verdict] ?? 0) + 1;
    }
    return verdict;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'GET' && req.url === '/debug/vars') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(this.vars));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.vars.http_updates++;
      const verdict = this.judge(Buffer.concat(chunks), HTTP_MAX_BYTES);
      res.statusCode = verdict === 'ok' ? 200 : verdict === 'oversize' ? 413 : 400;
      res.end();
    });
  }
}

async function fuzz(server: StandInServer, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [CLI, '--server', '127.0.0.1', '--port', String(server.port), '--json', ...args]);
  const lines = stdout.trim().split('\n');
  expect(lines.length).toBe(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** The rejection reasons the bad packets sent should have caused. */
function expectedReasons(badByKind: Record<string, number>): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const [kind, n] of Object.entries(badByKind)) {
    const reason = EXPECTED_REASON[kind as BadKind];
    reasons[reason] = (reasons[reason] ?? 0) + n;
  }
  return reasons;
}

describe.skipIf(!existsSync(CLI))('partisci-fuzz CLI (built)', () => {
  const server = new StandInServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());
  beforeEach(() => server.reset());

  test('UDP with two threads and bad packets: everything sent is applied or rejected as labelled', async () => {
    const summary = await fuzz(server, '--count', '4000', '--rate', '20000', '--bad', '0.2', '--workers', '2', '--check');
    expect(summary).toMatchObject({
      mode: 'udp',
      workers: 2,
      target_rate: 20000,
      sent: 4000,
      send_errors: 0,
      lost: 0,
      loss_rate: 0,
      unexplained_lost: 0,
      ring_full_drops: 0,
      kernel_drops: 0,
      received: 4000,
      check_settled: true,
      interrupted: false,
    });
    expect(summary.sent_bad).toBeGreaterThan(700);
    expect(summary.applied).toBe(summary.sent_good);
    expect(summary.expected_applied).toBe(summary.sent_good);
    expect(summary.rejected).toBe(summary.sent_bad);
    expect(summary.rejected_by_reason).toEqual(expectedReasons(summary.bad_by_kind as Record<string, number>));
    expect(summary.duration_s as number).toBeGreaterThan(0.15);
    expect(summary.duration_s as number).toBeLessThan(2);
    expect(summary.achieved_rate as number).toBeGreaterThan(2000);
    expect(summary.sender_cpu_us as number).toBeGreaterThan(0);
  });

  test('HTTP: every request answered, statuses by outcome', async () => {
    const summary = await fuzz(server, '--http', '--count', '600', '--rate', 'max', '--bad', '0.2', '--connections', '8', '--check');
    expect(summary).toMatchObject({ mode: 'http', sent: 600, send_errors: 0, lost: 0, received: 600, target_rate: null });
    const status = summary.http_status as Record<string, number>;
    expect(status['200']).toBe(summary.sent_good);
    expect((status['400'] ?? 0) + (status['413'] ?? 0)).toBe(summary.sent_bad);
    expect(summary.rejected_by_reason).toEqual(expectedReasons(summary.bad_by_kind as Record<string, number>));
  });

  test('the same seed sends the same packets; another seed does not', async () => {
    const sentWith = async (seed: string): Promise<string[]> => {
      server.reset();
      await fuzz(server, '--count', '300', '--rate', 'max', '--bad', '0.1', '--seed', seed, '--check');
      return [...server.payloads].sort();
    };
    const first = await sentWith('7');
    expect(first.length).toBe(300);
    expect(await sentWith('7')).toEqual(first);
    expect(await sentWith('8')).not.toEqual(first);
  });

  test('a bad flag is a one-line error and exit code 2', async () => {
    const failure = await run(process.execPath, [CLI, '--rate', 'fast']).catch((err: { code: number; stderr: string }) => err);
    expect(failure).toMatchObject({ code: 2, stderr: 'partisci-fuzz: --rate must be a positive integer or "max" (see --help)\n' });
  });

  test('--check against a port without a server fails clearly with exit code 1', async () => {
    const failure = await run(process.execPath, [CLI, '--server', '127.0.0.1', '--port', '1', '--count', '1', '--check']).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure).toMatchObject({ code: 1, stderr: 'partisci-fuzz: cannot read http://127.0.0.1:1/debug/vars: ECONNREFUSED\n' });
  });
});
