// The measuring side of the query-latency test, run as its own process so
// that neither the bench's bookkeeping nor the load generator delays its
// timers: one keep-alive HTTP connection, one request at a time, each
// query kind for a fixed time. Latency is from sending the request to the
// last byte of the answer. Prints one JSON object on stdout.
//
//   node dist/bench/e2e/query-client.js --port N --small-seconds S --bulk-seconds S
//
// --mode waves (the waves section): the server starts empty and the fleet
// arrives while we ask, so the hosts asked about are the fleet's own
// (--hosts, --seed, as partisci-fuzz names them). version/?host=H and app/
// in turn, --rate requests per second in all, one at a time, until SIGTERM;
// then every latency with the (unix ms) time it was sent, so the bench can
// keep those that fell inside the waves.
//
//   node dist/bench/e2e/query-client.js --mode waves --port N --hosts N --seed S --rate R

import http from 'node:http';
import { parseArgs } from 'node:util';
import { hostName } from '../../tools/fuzz/names.js';
import { Rng } from '../../tools/fuzz/prng.js';

export interface QueryKindResult {
  name: string;
  bulk: boolean;
  requests: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  rows_per_answer: number;
  bytes_per_answer: number;
}

/** --mode waves: the latencies of one kind, each with the unix ms it was sent at. */
export interface TimedLatencies {
  name: string;
  t: number[];
  ms: number[];
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'small-seconds': { type: 'string' },
    'bulk-seconds': { type: 'string' },
    mode: { type: 'string' },
    hosts: { type: 'string' },
    seed: { type: 'string' },
    rate: { type: 'string' },
  },
  strict: true,
});
const port = Number(values.port);
const smallSeconds = Number(values['small-seconds'] ?? 2);
const bulkSeconds = Number(values['bulk-seconds'] ?? 3);
const WARMUP = 3;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(path: string): Promise<{ ms: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const ms = performance.now() - t0;
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        else resolve({ ms, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
  });
}

function rows(body: Buffer): number {
  return (JSON.parse(body.toString('utf8')) as { data: unknown[] }).data.length;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function measure(name: string, bulk: boolean, nextPath: () => string): Promise<QueryKindResult> {
  // Warm-up answers are not timed; they give the row counts.
  let rowSum = 0;
  let byteSum = 0;
  for (let i = 0; i < WARMUP; i++) {
    const { body } = await get(nextPath());
    rowSum += rows(body);
    byteSum += body.length;
  }
  const latencies: number[] = [];
  const end = performance.now() + (bulk ? bulkSeconds : smallSeconds) * 1000;
  while (performance.now() < end) latencies.push((await get(nextPath())).ms);
  latencies.sort((a, b) => a - b);
  return {
    name,
    bulk,
    requests: latencies.length,
    p50_ms: quantile(latencies, 0.5),
    p90_ms: quantile(latencies, 0.9),
    p99_ms: quantile(latencies, 0.99),
    max_ms: latencies[latencies.length - 1]!,
    rows_per_answer: rowSum / WARMUP,
    bytes_per_answer: byteSum / WARMUP,
  };
}

async function main(): Promise<void> {
  const apps = (JSON.parse((await get('/api/v1/app/')).body.toString('utf8')) as { data: { app_id: string }[] }).data.map((a) => a.app_id);
  const allHosts = (JSON.parse((await get('/api/v1/host/')).body.toString('utf8')) as { data: { host: string }[] }).data.map((h) => h.host);
  const rng = new Rng(11);
  let k = 0;
  const host = (): string => encodeURIComponent(rng.pick(allHosts));
  const app = (): string => encodeURIComponent(apps[k++ % apps.length]!);
  const results = [
    await measure('version/?host=H', false, () => `/api/v1/version/?host=${host()}`),
    await measure('version/?app_id=A&host=H', false, () => `/api/v1/version/?app_id=${app()}&host=${host()}`),
    await measure('app/', false, () => '/api/v1/app/'),
    await measure('version/?app_id=A', true, () => `/api/v1/version/?app_id=${app()}`),
    await measure('host/', true, () => '/api/v1/host/'),
  ];
  process.stdout.write(`${JSON.stringify({ apps: apps.length, hosts: allHosts.length, results })}\n`);
  agent.destroy();
}

/** --mode waves: the fleet's hosts and app/, in turn, paced, until SIGTERM. */
async function mainWaves(): Promise<void> {
  const hosts = Number(values.hosts);
  const seed = Number(values.seed ?? 1);
  const rate = Number(values.rate ?? 100);
  if (!(hosts > 0) || !(rate > 0)) throw new Error('--mode waves needs --hosts N and --rate R');
  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = (): void => {
    stopping = true;
    wake?.();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const rng = new Rng(12);
  const kinds: { name: string; path: () => string; out: TimedLatencies }[] = [
    {
      name: 'version/?host=H',
      path: () => `/api/v1/version/?host=${encodeURIComponent(hostName(seed, rng.below(hosts)))}`,
      out: { name: 'version/?host=H', t: [], ms: [] },
    },
    { name: 'app/', path: () => '/api/v1/app/', out: { name: 'app/', t: [], ms: [] } },
  ];
  let errors = 0;
  const intervalMs = 1000 / rate;
  const start = performance.now();
  for (let k = 0; !stopping; k++) {
    const due = start + k * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, wait);
      });
      wake = null;
      if (stopping) break;
    }
    const kind = kinds[k % kinds.length]!;
    const sentAt = performance.timeOrigin + performance.now();
    try {
      const { ms } = await get(kind.path());
      kind.out.t.push(Math.round(sentAt));
      kind.out.ms.push(Math.round(ms * 1000) / 1000);
    } catch {
      errors++;
    }
  }
  process.stdout.write(`${JSON.stringify({ mode: 'waves', errors, kinds: kinds.map((k) => k.out) })}\n`);
  agent.destroy();
}

(values.mode === 'waves' ? mainWaves() : main()).catch((err: unknown) => {
  process.stderr.write(`query-client: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
