// The labels and SQL section (issue 12's figures), against real partiscids:
//
// 1. Repeat-storm CPU per update, labels on every packet or none: the
//    plain and the labelled 1,000,000-instance stores each take their own
//    fleet's repeats at the storm rate (SQL off, so only ingest is
//    compared), server CPU over datagrams received; side by side.
// 2. The labelled store with SQL on: how long the SQL tables take to load
//    and what they add to RssAnon; GROUP BYs over all instances, quiet;
//    then during a repeat storm, version/?label.env=prod&app_id=A (a page
//    of 100, and the whole answer) and a GROUP BY, timed.
// 3. A rollout wave on a fresh server (partisci-fuzz --waves 1.0.0,2.0.0
//    --labels): every 100 ms the REST API's count of one app on 2.0.0
//    (app/A) and the SQL tables' (SELECT count(*) ... ver = '2.0.0') are
//    sampled; the lag is how long after the REST API showed a count the
//    SQL tables first showed it.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appIdOf } from '../../src/ingest/app-id.js';
import { appName } from '../../tools/fuzz/names.js';
import { removeDir, trackDir } from '../cleanup.js';
import { FLEET, LABELLED_FLEET, fleetArgs, shapeArgs } from '../fleet.js';
import { quantile, sleep } from '../stats.js';
import { copyStore, ensureStore, type CachedStore } from '../store-cache.js';
import { runFuzz, startFuzz } from './fuzz.js';
import { cpuMicros, memory } from './proc.js';
import { ENGINE_ONLY, Server, getJson } from './server.js';

export interface LabelsOptions {
  stormRate: number;
  /** Seconds of each CPU run. */
  cpuSeconds: number;
  /** CPU runs of each kind, alternating plain and labelled (the machine's other load drifts). */
  cpuRounds: number;
  /** Timed requests of each kind during the storm. */
  requests: number;
  wave: { hosts: number; apps: number; instances: number; rate: number };
}

export const LABELS_FULL: LabelsOptions = {
  stormRate: 100_000,
  cpuSeconds: 15,
  cpuRounds: 5,
  requests: 300,
  wave: { hosts: 10_000, apps: 25, instances: 4, rate: 100_000 },
};
export const LABELS_QUICK: LabelsOptions = {
  stormRate: 100_000,
  cpuSeconds: 6,
  cpuRounds: 3,
  requests: 100,
  wave: { hosts: 2_500, apps: 25, instances: 4, rate: 50_000 },
};

export interface Timing {
  name: string;
  p50_ms: number;
  p99_ms: number;
  rows: number;
}

export interface LabelsReport {
  /** Medians over the rounds; ratio is labelled / plain per round, its median. */
  cpu: { rate: number; rounds: number; plain_us_per_update: number; labelled_us_per_update: number; ratio: number; plain_loss: number; labelled_loss: number };
  sql_load_ms: number;
  /** RssAnon with the SQL tables loaded, and of the same store with SQL off. */
  rss_anon_sql: number;
  rss_anon_no_sql: number;
  quiet: Timing[];
  storm: { rate: number; loss: number; kinds: Timing[] };
  wave: { instances_per_app: number; rest_complete_s: number; sql_complete_s: number; lag_max_ms: number; lag_p99_ms: number; samples: number };
}

const sql = (q: string): string => `/api/v1/sql?q=${encodeURIComponent(q)}`;

/** Times `n` GETs of a path in turn; the rows of the last answer. */
async function time(port: number, name: string, path: string, n: number, rows: (body: Record<string, unknown>) => number): Promise<Timing> {
  const ms: number[] = [];
  let last: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    last = await getJson<Record<string, unknown>>(port, path, false, 30_000);
    ms.push(performance.now() - t0);
  }
  return { name, p50_ms: quantile(ms, 0.5), p99_ms: quantile(ms, 0.99), rows: rows(last) };
}

const dataRows = (b: Record<string, unknown>): number => (b.data as unknown[]).length;

async function onStore(store: CachedStore, args: readonly string[], log: (l: string) => void): Promise<{ server: Server; dir: string }> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'partisci-bench-labels-')));
  copyStore(store, join(dir, 'data'));
  const { server } = await Server.start(join(dir, 'data'), { args });
  log(`  partiscid on ${store.dir.split('/').pop()} (${args.join(' ') || 'defaults'})`);
  return { server, dir };
}

/** Server CPU per datagram while the fleet's repeats arrive at `rate` for `seconds`. */
async function cpuPerUpdate(server: Server, shape: typeof FLEET, rate: number, seconds: number): Promise<{ us: number; loss: number }> {
  await server.settle(60_000);
  const v0 = await server.vars();
  const c0 = cpuMicros(server.pid);
  const summary = await runFuzz(server.port, ['--rate', String(rate), '--duration', String(seconds), '--check', ...fleetArgs(shape)]);
  const c1 = cpuMicros(server.pid);
  const v1 = await server.vars();
  return { us: (c1 - c0) / Math.max(1, v1.udp_datagrams - v0.udp_datagrams), loss: summary.loss_rate ?? NaN };
}

export async function runLabelsSection(o: LabelsOptions, log: (line: string) => void): Promise<LabelsReport> {
  log('labels and SQL: the plain and the labelled 1,000,000-instance stores');
  const plainStore = await ensureStore(log, false, FLEET);
  const labelledStore = await ensureStore(log, false, LABELLED_FLEET);

  // 1. CPU per repeated update, plain and labelled, SQL off: both servers up, storms in turn.
  const plainRun = await onStore(plainStore, ENGINE_ONLY, log);
  let run = await onStore(labelledStore, ENGINE_ONLY, log);
  // After loading, a writer rewrites every summary in its first batch (12,500 hosts): let that pass, and warm both up.
  for (const [r, shape] of [
    [plainRun, FLEET],
    [run, LABELLED_FLEET],
  ] as const) {
    await r.server.settle(60_000);
    await runFuzz(r.server.port, ['--rate', String(o.stormRate), '--duration', '2', ...fleetArgs(shape)]);
  }
  await sleep(3000);
  const rounds: { plain: { us: number; loss: number }; labelled: { us: number; loss: number } }[] = [];
  for (let r = 0; r < o.cpuRounds; r++) {
    const p = await cpuPerUpdate(plainRun.server, FLEET, o.stormRate, o.cpuSeconds);
    const l = await cpuPerUpdate(run.server, LABELLED_FLEET, o.stormRate, o.cpuSeconds);
    rounds.push({ plain: p, labelled: l });
    log(`  round ${r + 1}: CPU per repeated update ${p.us.toFixed(2)} µs plain, ${l.us.toFixed(2)} µs labelled`);
  }
  await plainRun.server.stop();
  removeDir(plainRun.dir);
  await run.server.settle(60_000);
  const rssNoSql = memory(run.server.pid).rss_anon;
  await run.server.stop();
  removeDir(run.dir);
  const med = (f: (x: (typeof rounds)[number]) => number): number => quantile(rounds.map(f), 0.5);

  // 2. The labelled store with SQL on.
  const spawned = performance.now();
  run = await onStore(labelledStore, [], log);
  const { server } = run;
  const count = `SELECT count(*) AS n FROM versions`;
  for (;;) {
    const body = await getJson<{ data: number[][] }>(server.port, sql(count), false, 60_000).catch(() => null);
    if (body !== null && body.data[0]![0] === labelledStore.instances) break;
    if (performance.now() - spawned > 300_000) throw new Error('the SQL tables did not load within 300 s');
    await sleep(100);
  }
  const sqlLoadMs = performance.now() - spawned;
  await server.settle(60_000);
  await sleep(2000);
  const rssSql = memory(server.pid).rss_anon;
  log(`  SQL tables loaded ${(sqlLoadMs / 1000).toFixed(1)} s after spawn`);

  const appId = appIdOf(appName(0));
  const groupBys: [string, string][] = [
    ['GROUP BY app_id, ver (all instances)', 'SELECT app_id, ver, count(*) AS n FROM versions GROUP BY ALL'],
    ["GROUP BY labels['region'] WHERE env = prod", "SELECT labels['region'] AS region, count(*) AS n FROM versions WHERE labels['env'] = 'prod' GROUP BY ALL"],
    ['apps with more than two versions', 'SELECT app_id, count(DISTINCT ver) AS n FROM versions GROUP BY app_id HAVING count(DISTINCT ver) > 2'],
    ['GROUP BY status, dc (reads last_update)', "SELECT status, labels['dc'] AS dc, count(*) AS n FROM versions GROUP BY ALL"],
  ];
  const quiet: Timing[] = [];
  for (const [name, q] of groupBys) quiet.push(await time(server.port, name, sql(q), 10, dataRows));

  const storm = startFuzz(server.port, ['--rate', String(o.stormRate), '--duration', '600', '--check', ...fleetArgs(LABELLED_FLEET)]);
  const v0 = await server.vars();
  while ((await server.vars()).udp_datagrams < v0.udp_datagrams + o.stormRate / 10) await sleep(50);
  const kinds: Timing[] = [];
  try {
    // The same page without a label filter, side by side.
    kinds.push(await time(server.port, `version/?app_id=A&limit=100 (no label filter)`, `/api/v1/version/?app_id=${appId}&limit=100`, o.requests, dataRows));
    kinds.push(
      await time(server.port, `version/?label.env=prod&app_id=A&limit=100`, `/api/v1/version/?label.env=prod&app_id=${appId}&limit=100`, o.requests, dataRows),
    );
    kinds.push(
      await time(
        server.port,
        `version/?label.env=prod&label.region=eu-west&app_id=A&limit=100`,
        `/api/v1/version/?label.env=prod&label.region=eu-west&app_id=${appId}&limit=100`,
        o.requests,
        dataRows,
      ),
    );
    kinds.push(
      await time(
        server.port,
        'version/?label.env=prod&app_id=A (whole answer)',
        `/api/v1/version/?label.env=prod&app_id=${appId}`,
        Math.ceil(o.requests / 10),
        dataRows,
      ),
    );
    kinds.push(await time(server.port, 'SQL GROUP BY app_id, ver (all instances)', sql(groupBys[0]![1]), Math.ceil(o.requests / 10), dataRows));
    kinds.push(await time(server.port, "SQL GROUP BY labels['region'] WHERE env = prod", sql(groupBys[1]![1]), Math.ceil(o.requests / 10), dataRows));
  } finally {
    storm.stop();
  }
  const stormSummary = await storm.done;
  await server.stop();
  removeDir(run.dir);

  // 3. The SQL tables' lag behind the REST API during a rollout wave.
  const wave = await waveLag(o, log);
  return {
    cpu: {
      rate: o.stormRate,
      rounds: rounds.length,
      plain_us_per_update: med((x) => x.plain.us),
      labelled_us_per_update: med((x) => x.labelled.us),
      ratio: med((x) => x.labelled.us / x.plain.us),
      plain_loss: med((x) => x.plain.loss),
      labelled_loss: med((x) => x.labelled.loss),
    },
    sql_load_ms: sqlLoadMs,
    rss_anon_sql: rssSql,
    rss_anon_no_sql: rssNoSql,
    quiet,
    storm: { rate: o.stormRate, loss: stormSummary.loss_rate ?? NaN, kinds },
    wave,
  };
}

async function waveLag(o: LabelsOptions, log: (line: string) => void): Promise<LabelsReport['wave']> {
  const { hosts, apps, instances, rate } = o.wave;
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'partisci-bench-wave-sql-')));
  const { server } = await Server.start(join(dir, 'data'), { args: [] });
  log(
    `  a rollout wave: ${hosts.toLocaleString('en-US')} hosts x ${apps} apps x ${instances} at ${rate.toLocaleString('en-US')}/s, 1.0.0 then 2.0.0 (labelled)`,
  );
  const shape = shapeArgs({ hosts, apps, instances, labels: true, seed: 7 });
  await runFuzz(server.port, ['--waves', '1.0.0', '--rate', String(rate), ...shape]);
  await server.settle(120_000);
  // The app with the most instances (on a busy machine a wave can lose a few packets).
  const list = await getJson<{ data: { app_id: string; instance_count: number }[] }>(server.port, '/api/v1/app/');
  const top = list.data.reduce((a, b) => (b.instance_count > a.instance_count ? b : a));
  const appId = top.app_id;
  let full = top.instance_count;
  const rest: [number, number][] = [];
  const tables: [number, number][] = [];
  let stop = false;
  const t0 = performance.now();
  // The REST API's count is taken as of its request's start, the SQL tables' as of their answer's end:
  // what the lag measures is the worst case.
  const sample = async (into: [number, number][], read: () => Promise<number>, atEnd: boolean): Promise<void> => {
    while (!stop) {
      const start = performance.now() - t0;
      const n = await read().catch(() => -1);
      const t = atEnd ? performance.now() - t0 : start;
      if (n >= 0) into.push([t, n]);
      if (n >= full && n > 0 && performance.now() - t0 > 1000) return;
      await sleep(100);
    }
  };
  const readRest = async (): Promise<number> => {
    const body = await getJson<{ data: { versions: { ver: string; count: number }[] }[] }>(server.port, `/api/v1/app/${encodeURIComponent(appId)}`);
    return body.data[0]!.versions.find((v) => v.ver === '2.0.0')?.count ?? 0;
  };
  const readSql = async (): Promise<number> => {
    const body = await getJson<{ data: number[][] }>(
      server.port,
      sql(`SELECT count(*) FROM versions WHERE app_id = '${appId.replaceAll("'", "''")}' AND ver = '2.0.0'`),
      false,
      30_000,
    );
    return body.data[0]![0]!;
  };
  const samplers = [sample(rest, readRest, false), sample(tables, readSql, true)];
  await runFuzz(server.port, ['--waves', '2.0.0', '--rate', String(rate), ...shape]);
  // What the wave delivered (a lost packet leaves an instance on 1.0.0): the REST API's count once settled.
  await server.settle(120_000);
  full = await readRest();
  const deadline = sleep(120_000).then(() => {
    stop = true;
  });
  await Promise.race([Promise.all(samplers), deadline]);
  stop = true;
  await Promise.all(samplers);
  await server.stop();
  removeDir(dir);
  // For each count the REST API showed: how much later the SQL tables first showed as many.
  const lags: number[] = [];
  for (const [t, n] of rest) {
    if (n === 0) continue;
    const seen = tables.find(([ts, ns]) => ns >= n && ts >= t - 100);
    lags.push(seen === undefined ? Infinity : Math.max(0, seen[0] - t));
  }
  const complete = (s: [number, number][]): number => (s.find(([, n]) => n >= full)?.[0] ?? NaN) / 1000;
  return {
    instances_per_app: full,
    rest_complete_s: complete(rest),
    sql_complete_s: complete(tables),
    lag_max_ms: lags.length === 0 ? NaN : Math.max(...lags),
    lag_p99_ms: lags.length === 0 ? NaN : quantile(lags, 0.99),
    samples: rest.length,
  };
}

export function formatLabels(r: LabelsReport): string {
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    'Labels and SQL',
    `  repeat storm at ${r.cpu.rate.toLocaleString('en-US')}/s, server CPU per update (medians of ${r.cpu.rounds} alternating rounds): ${r.cpu.plain_us_per_update.toFixed(2)} µs without labels, ${r.cpu.labelled_us_per_update.toFixed(2)} µs with labels on every packet (x${r.cpu.ratio.toFixed(3)}; loss ${(r.cpu.plain_loss * 100).toFixed(3)}% / ${(r.cpu.labelled_loss * 100).toFixed(3)}%)`,
    `  SQL tables: loaded ${(r.sql_load_ms / 1000).toFixed(1)} s after spawn; RssAnon ${mib(r.rss_anon_sql)} with them, ${mib(r.rss_anon_no_sql)} with --sql-memory 0`,
    '  quiet, 1,000,000 labelled instances:',
    ...r.quiet.map((k) => `    ${k.name.padEnd(56)} p50 ${k.p50_ms.toFixed(1)} ms  p99 ${k.p99_ms.toFixed(1)} ms  (${k.rows} rows)`),
    `  during a ${r.storm.rate.toLocaleString('en-US')}/s labelled repeat storm (loss ${(r.storm.loss * 100).toFixed(3)}%):`,
    ...r.storm.kinds.map((k) => `    ${k.name.padEnd(56)} p50 ${k.p50_ms.toFixed(1)} ms  p99 ${k.p99_ms.toFixed(1)} ms  (${k.rows} rows)`),
    `  rollout wave (${r.wave.instances_per_app.toLocaleString('en-US')} instances of one app): REST complete ${r.wave.rest_complete_s.toFixed(2)} s, SQL complete ${r.wave.sql_complete_s.toFixed(2)} s; SQL behind REST: max ${r.wave.lag_max_ms.toFixed(0)} ms, p99 ${r.wave.lag_p99_ms.toFixed(0)} ms over ${r.wave.samples} samples`,
  ];
  return lines.join('\n');
}
