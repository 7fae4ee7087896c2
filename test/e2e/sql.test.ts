// SQL over current state and history (GET/POST /api/v1/sql) against a real
// partiscid with a labelled fleet: every question of issue 12's "Why",
// asked in SQL and, where they fit, with label filters, giving the same
// answer; what is refused (anything but a read) and the limits (time,
// memory, rows); freshness; the tables after a restart.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PARTISCI, Server, freePort, sleep, tempDir, until } from './harness.js';

const run = promisify(execFile);
const FUZZ = fileURLToPath(new URL('../../dist/tools/fuzz/cli.js', import.meta.url));

let server: Server;
const data = tempDir();
const ARGS = ['--stale', '3', '--sql-timeout', '1', '--sql-max-rows', '1000', '--sql-memory', '64'];

beforeAll(async () => {
  const port = await freePort();
  server = await Server.start({ port, args: ['--port', String(port), '--data', data, ...ARGS] });
});

afterAll(async () => {
  await server.destroy();
});

type Labels = Record<string, string>;
const u = (app: string, ver: string, host: string, labels: Labels, instance = 0): string => JSON.stringify({ app, ver, host, instance, labels });
const prod = (region: string, dc: string): Labels => ({ env: 'prod', region, dc });

interface SqlAnswer {
  columns: { name: string; type: string }[];
  data: unknown[][];
}

async function sql(q: string): Promise<SqlAnswer> {
  const res = await server.get(`/api/v1/sql?q=${encodeURIComponent(q)}`);
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)} for ${q}`);
  return res.body as SqlAnswer;
}

/** Numeric version order, as a client would compare "2.10.0" and "2.4". */
const verLess = (a: string, b: string): boolean => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) < (y[i] ?? -1);
  }
  return false;
};

describe('the questions of the issue', () => {
  beforeAll(async () => {
    await server.sendUdp([
      u('billing', '2.3.1', 'b-eu-1', prod('eu-west', 'ams3')),
      u('billing', '2.4.0', 'b-eu-2', prod('eu-west', 'fra1')),
      u('billing', '2.10.0', 'b-eu-3', prod('eu-west', 'ams3')),
      u('billing', '2.1', 'b-eu-4', { env: 'staging', region: 'eu-west', dc: 'ams3' }),
      u('billing', '2.2', 'b-us-1', prod('us-east', 'nyc1')),
      u('billing', '2.3.1', 'b-eu-1', prod('eu-west', 'ams3'), 1),
      u('web', '1.0', 'w1', prod('eu-west', 'ams3')),
      u('web', '1.1', 'w2', prod('eu-west', 'ams3')),
      u('web', '1.2', 'w3', prod('us-east', 'nyc1')),
      u('db', '9.1', 'd1', prod('eu-west', 'ams3')),
      u('db', '9.2', 'd2', prod('eu-west', 'fra1')),
      u('agent', '5', 'a1', prod('eu-west', 'ams3')),
      u('agent', '5', 'a2', prod('eu-west', 'ams3')),
      u('agent', '5', 'a3', prod('eu-west', 'fra1')),
      u('agent', '5', 'a4', prod('us-east', 'nyc1')),
      ...['s1', 's2', 's3'].map((h) => u('search', '1.0', h, prod('eu-west', 'ams3'))),
      u('search', '1.0', 's4', prod('us-east', 'nyc1')),
    ]);
    await server.settle();
  });

  test('which production hosts in eu-west still run billing < 2.4?', async () => {
    const answer = await sql(`
      SELECT DISTINCT host FROM versions
      WHERE app_id = 'billing' AND labels['env'] = 'prod' AND labels['region'] = 'eu-west'
        AND [x::INTEGER FOR x IN string_split(ver, '.')] < [2, 4]
      ORDER BY host`);
    expect(answer).toEqual({ columns: [{ name: 'host', type: 'VARCHAR' }], data: [['b-eu-1']] });
    // The label filters narrow the list; the version comparison is the client's.
    const rows = (await server.get('/api/v1/version/?app_id=billing&label.env=prod&label.region=eu-west')).body.data as { host: string; ver: string }[];
    expect(rows).toHaveLength(4);
    expect([...new Set(rows.filter((r) => verLess(r.ver, '2.4')).map((r) => r.host))]).toEqual(['b-eu-1']);
  });

  test('which apps run more than two versions at once?', async () => {
    const answer = await sql(`SELECT app_id, count(DISTINCT ver) AS versions FROM versions GROUP BY app_id HAVING count(DISTINCT ver) > 2 ORDER BY app_id`);
    expect(answer.data).toEqual([
      ['billing', 5],
      ['web', 3],
    ]);
    expect(answer.columns).toEqual([
      { name: 'app_id', type: 'VARCHAR' },
      { name: 'versions', type: 'BIGINT' },
    ]);
    // The same from app/A's version counts.
    const apps = (await server.get('/api/v1/app/')).body.data as { app_id: string }[];
    const many: [string, number][] = [];
    for (const { app_id } of apps) {
      const versions = (await server.get(`/api/v1/app/${app_id}`)).body.data[0].versions as unknown[];
      if (versions.length > 2) many.push([app_id, versions.length]);
    }
    expect(many).toEqual(answer.data);
  });

  test('how long did the last rollout of search take, per region?', async () => {
    await server.sendUdp([u('search', '2.0', 's1', prod('eu-west', 'ams3')), u('search', '2.0', 's4', prod('us-east', 'nyc1'))]);
    await server.settle();
    await sleep(1100);
    await server.sendUdp([u('search', '2.0', 's2', prod('eu-west', 'ams3'))]);
    await server.settle();
    await sleep(1100);
    await server.sendUdp([u('search', '2.0', 's3', prod('eu-west', 'ams3'))]);
    await server.settle();
    const answer = await sql(`
      WITH last AS (SELECT ver FROM history WHERE app_id = 'search' AND change = 'version' ORDER BY time DESC LIMIT 1)
      SELECT labels['region'] AS region, max(time) - min(time) AS seconds, count(*) AS instances
      FROM history WHERE app_id = 'search' AND change = 'version' AND ver = (SELECT ver FROM last)
      GROUP BY region ORDER BY region`);
    // The same from the history, filtered by label.
    const span = async (region: string): Promise<number[]> => {
      const entries = (await server.get(`/api/v1/history/?app_id=search&label.region=${region}`)).body.data as {
        ver: string;
        prev_ver: string | null;
        time: number;
      }[];
      const times = entries.filter((e) => e.ver === '2.0' && e.prev_ver === '1.0').map((e) => e.time);
      return [Math.max(...times) - Math.min(...times), times.length];
    };
    const eu = await span('eu-west');
    expect(eu[0]).toBeGreaterThanOrEqual(2);
    expect(answer.data).toEqual([
      ['eu-west', ...eu],
      ['us-east', ...(await span('us-east'))],
    ]);
    expect(answer.data[1]).toEqual(['us-east', 0, 1]);
    // The rollout endpoint by region: eu-west's instances all on 2.0 now.
    const steps = (await server.get('/api/v1/app/search/rollout?label.region=eu-west&step=1&since=' + (Math.floor(Date.now() / 1000) - 30))).body.data as {
      counts: Record<string, number>;
    }[];
    expect(steps.at(-1)!.counts).toEqual({ '2.0': 3 });
  });

  test('hosts whose agent has been stale (here --stale 3 s; a day with --stale 86400), by datacenter', async () => {
    // The run so far took over three seconds: a2 and a4 report again, a1 and a3 do not.
    await sleep(Math.max(0, 3100));
    await server.sendUdp([u('agent', '5', 'a2', prod('eu-west', 'ams3')), u('agent', '5', 'a4', prod('us-east', 'nyc1'))]);
    await server.settle();
    const answer = await sql(`
      SELECT labels['dc'] AS dc, list(host ORDER BY host) AS hosts, min(last_update) AS oldest
      FROM versions WHERE app_id = 'agent' AND status = 'stale'
      GROUP BY dc ORDER BY dc`);
    expect(answer.data.map((r) => [r[0], r[1]])).toEqual([
      ['ams3', ['a1']],
      ['fra1', ['a3']],
    ]);
    expect(answer.columns.map((c) => c.type)).toEqual(['VARCHAR', 'VARCHAR[]', 'BIGINT']);
    // With an explicit age instead of the server's threshold.
    const old = await sql(`SELECT host FROM versions WHERE app_id = 'agent' AND last_update < epoch(now()) - 3 ORDER BY host`);
    expect(old.data).toEqual([['a1'], ['a3']]);
    // The same with filters: per datacenter, the stale agents.
    for (const [dc, hosts] of [
      ['ams3', ['a1']],
      ['fra1', ['a3']],
      ['nyc1', []],
    ] as const) {
      const rows = (await server.get(`/api/v1/version/?app_id=agent&status=stale&label.dc=${dc}`)).body.data as { host: string }[];
      expect(rows.map((r) => r.host)).toEqual(hosts);
    }
  });
});

describe('the tables agree with the REST API', () => {
  test('apps and hosts are the summaries of versions; last_update follows repeated updates at once', async () => {
    // (up and stale counts are left out: the writer's sweep marks stale once a second, the view at query time)
    const rest = (await server.get('/api/v1/app/')).body.data as Record<string, unknown>[];
    const answer = await sql('SELECT app, app_id, host_count, instance_count, up_count + stale_count FROM apps ORDER BY app_id');
    expect(answer.data).toEqual(rest.map((a) => [a.app, a.app_id, a.host_count, a.instance_count, a.instance_count]));
    const hostsRest = (await server.get('/api/v1/host/')).body.data as Record<string, unknown>[];
    const hosts = await sql('SELECT host, app_count, instance_count FROM hosts ORDER BY host');
    expect(hosts.data).toEqual(hostsRest.map((h) => [h.host, h.app_count, h.instance_count]));
    await sleep(1100);
    await server.sendUdp([u('web', '1.0', 'w1', prod('eu-west', 'ams3'))]);
    await server.settle();
    const restW1 = (await server.get('/api/v1/version/?app_id=web&host=w1')).body.data[0];
    expect((await sql(`SELECT last_update, since, status FROM versions WHERE host = 'w1'`)).data).toEqual([[restW1.last_update, restW1.since, 'up']]);
  });

  test('a change is in the tables as soon as the REST API shows it', async () => {
    const res = await server.request('POST', '/api/v1/update/', JSON.stringify({ app: 'fresh', ver: '1', host: 'f1', labels: { env: 'prod' } }));
    expect(res.status).toBe(200);
    expect((await sql(`SELECT ver, labels FROM versions WHERE app_id = 'fresh'`)).data).toEqual([['1', { env: 'prod' }]]);
    const del = await server.request('DELETE', '/api/v1/version/?app_id=fresh&host=f1');
    expect(del.body).toEqual({ removed: 1 });
    expect((await sql(`SELECT count(*) FROM versions WHERE app_id = 'fresh'`)).data).toEqual([[0]]);
    expect((await sql(`SELECT change, prev_ver FROM history WHERE app_id = 'fresh' ORDER BY time, change`)).data).toEqual([
      ['new', null],
      ['removed', '1'],
    ]);
  });

  test('POST with the query as the body', async () => {
    const res = await server.request('POST', '/api/v1/sql', "SELECT count(*) AS n FROM versions WHERE app_id = 'agent'");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ columns: [{ name: 'n', type: 'BIGINT' }], data: [[4]] });
  });
});

describe('only reads, within limits', () => {
  const refused = async (q: string): Promise<{ status: number; body: { error: string; code: string } }> => {
    const res = await server.get(`/api/v1/sql?q=${encodeURIComponent(q)}`);
    return { status: res.status, body: res.body as { error: string; code: string } };
  };

  test.each([
    ['CREATE TABLE t (a INTEGER)', 'CREATE is refused'],
    ['DROP VIEW versions', 'DROP is refused'],
    ['ALTER TABLE history RENAME TO h', 'ALTER is refused'],
    ["INSERT INTO history (app) VALUES ('x')", 'INSERT is refused'],
    ["UPDATE history SET app = 'x'", 'UPDATE is refused'],
    ['DELETE FROM history', 'DELETE is refused'],
    ["COPY history TO '/tmp/partisci-sql-test.csv'", 'COPY is refused'],
    ["ATTACH '/tmp/partisci-sql-test.db' AS x", 'ATTACH is refused'],
    ['INSTALL httpfs', 'INSTALL is refused'],
    ['LOAD httpfs', 'LOAD is refused'],
    ['PRAGMA version', 'PRAGMA is refused'],
    ["SET memory_limit = '10GB'", 'SET is refused'],
    ['CALL pragma_version()', 'CALL is refused'],
    ['/* hidden */ (  drop table history )', 'DROP is refused'],
    ['SELECT 1; DROP TABLE history', 'exactly one statement is allowed (got 2)'],
  ])('%s: 400 SQL_REFUSED', async (q, reason) => {
    const { status, body } = await refused(q);
    expect(status).toBe(400);
    expect(body.code).toBe('SQL_REFUSED');
    expect(body.error).toContain(reason);
  });

  test.each([
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM 'http://127.0.0.1:1/x.csv'",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
  ])('file and network access: %s is refused', async (q) => {
    const { status, body } = await refused(q);
    expect(status).toBe(400);
    expect(body.code).toBe('SQL_REFUSED');
    expect(body.error).toMatch(/^file and network access is refused: Permission Error/);
  });

  test('the tables are unchanged by all of that', async () => {
    expect((await sql('SELECT count(*) FROM versions')).data).toEqual([[19]]);
    expect((await sql(`SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'`)).data).toEqual([[0]]);
  });

  test('a bad query is a 400 with DuckDB’s reason', async () => {
    const { status, body } = await refused('SELECT nosuch FROM versions');
    expect(status).toBe(400);
    expect(body.code).toBe('SQL_ERROR');
    expect(body.error).toMatch(/^Binder Error: Referenced column "nosuch" not found/);
    expect((await refused('SELEC 1')).body.code).toBe('SQL_ERROR');
    const missing = await server.get('/api/v1/sql');
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: 'sql needs q (the query)', code: 'MISSING_PARAMETER' });
  });

  test('past its time limit a query is interrupted: 408, and the next query runs', async () => {
    const started = Date.now();
    const { status, body } = await refused('SELECT sum(hash(i)) FROM range(100000000000) t(i)');
    expect(status).toBe(408);
    expect(body).toEqual({ error: 'the query ran longer than 1 s', code: 'SQL_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(4000);
    expect((await sql('SELECT 42 AS x')).data).toEqual([[42]]);
  });

  test('past its memory limit: 413; more rows than allowed: 413', { timeout: 150_000 }, async () => {
    // Its own server, with time enough for any machine to reach the memory limit first.
    const port = await freePort();
    const roomy = await Server.start({ port, args: ['--port', String(port), '--data', tempDir(), '--sql-memory', '64', '--sql-timeout', '120'] });
    try {
      const res = await roomy.get(`/api/v1/sql?q=${encodeURIComponent('SELECT list(i) FROM range(50000000) t(i)')}`);
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('SQL_TOO_LARGE');
      expect(res.body.error).toMatch(/^the query needs more memory than allowed: Out of Memory Error/);
    } finally {
      await roomy.destroy();
    }
    const rows = await refused('SELECT * FROM range(1001)');
    expect(rows).toEqual({ status: 413, body: { error: 'the answer has more than 1000 rows: add a LIMIT or aggregate', code: 'SQL_TOO_LARGE' } });
    expect((await sql('SELECT count(*) FROM range(1000)')).data).toEqual([[1000]]);
  });

  test('a slow query does not hold up the REST API', async () => {
    const slow = refused('SELECT sum(hash(i)) FROM range(100000000000) t(i)');
    const t0 = performance.now();
    const res = await server.get('/api/v1/app/');
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(500);
    expect((await slow).status).toBe(408);
  });
});

describe('the command line', () => {
  const partisci = (...args: string[]): Promise<{ stdout: string }> =>
    run(process.execPath, [PARTISCI, '--port', String(server.port), '--server', '127.0.0.1', ...args]);

  test('partisci update --label, versions --label, sql (a table, or --json)', async () => {
    await partisci('update', 'cli-app', '3.1', 'c1', '0', '--http', '--label', 'env=prod', '--label', 'region=eu-west');
    const { stdout } = await partisci('versions', '--app', 'cli_app', '--label', 'region=eu-west');
    expect(stdout.split('\n')[0]).toMatch(/^APP_ID\s+HOST\s+INSTANCE\s+VER\s+STATUS\s+SINCE\s+LAST UPDATE\s+LABELS$/);
    expect(stdout.split('\n')[1]).toMatch(/^cli_app\s+c1\s+0\s+3\.1\s+up\s.*env=prod,region=eu-west$/);
    const none = await partisci('versions', '--app', 'cli_app', '--label', 'region=us-east');
    expect(none.stdout.trim().split('\n')).toHaveLength(1);
    const table = await partisci('sql', "SELECT app_id, labels['env'] AS env, 2 + 2 AS four, labels FROM versions WHERE app_id = 'cli_app'");
    expect(table.stdout).toBe('app_id   env   four  labels\ncli_app  prod  4     {"env":"prod","region":"eu-west"}\n');
    const json = await partisci('sql', '--json', "SELECT count(*) AS n FROM versions WHERE app_id = 'cli_app'");
    expect(JSON.parse(json.stdout)).toEqual({ columns: [{ name: 'n', type: 'BIGINT' }], data: [[1]] });
    const refused = await partisci('sql', 'DROP TABLE history').then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused).toMatchObject({ code: 1, stderr: 'partisci: server answered 400: only queries are allowed (read-only SQL): DROP is refused\n' });
  });
});

describe('after a restart', () => {
  test('the tables are loaded from the store: the same answers', async () => {
    const q = `SELECT app_id, host, instance, ver, labels FROM versions ORDER BY ALL`;
    const h = `SELECT app_id, host, ver, prev_ver, labels, change, time FROM history ORDER BY ALL`;
    const [before, history] = [await sql(q), await sql(h)];
    await server.stop();
    const port = await freePort();
    server = await Server.start({ port, args: ['--port', String(port), '--data', data, ...ARGS] });
    await server.settle(0);
    let answer: SqlAnswer | null = null;
    for (let i = 0; i < 100 && (answer === null || JSON.stringify(answer.data) !== JSON.stringify(before.data)); i++) {
      answer = await sql(q);
      if (JSON.stringify(answer.data) !== JSON.stringify(before.data)) await sleep(50);
    }
    expect(answer!.data).toEqual(before.data);
    expect((await sql(h)).data).toEqual(history.data);
  });
});

describe('during a rollout wave', () => {
  test('every change reaches the tables, also those that arrive while they are being written', async () => {
    // A server of its own: a labelled fleet of 20,000 instances comes online, then a release reaches all of it,
    // as fast as partisci-fuzz sends, while queries keep the SQL thread writing.
    const port = await freePort();
    const own = await Server.start({ port, args: ['--port', String(port), '--data', tempDir()] });
    try {
      const fleet = [
        '--server',
        '127.0.0.1',
        '--port',
        String(port),
        '--hosts',
        '1000',
        '--apps',
        '5',
        '--instances',
        '4',
        '--labels',
        '--rate',
        'max',
        '--json',
      ];
      const ask = async (q: string): Promise<unknown[][]> => (await own.get(`/api/v1/sql?q=${encodeURIComponent(q)}`)).body.data as unknown[][];
      let polling = true;
      const poll = (async () => {
        while (polling) {
          await ask('SELECT count(*) FROM versions');
          await sleep(10);
        }
      })();
      for (const ver of ['1.0.0', '2.0.0']) await run(process.execPath, [FUZZ, ...fleet, '--waves', ver]);
      polling = false;
      await poll;
      const settled = await own.settle(0);
      const rest = (await own.get('/api/v1/app/')).body.data as { app_id: string; instance_count: number }[];
      // The last commit reaches the SQL thread a moment after the REST API sees it.
      const want = JSON.stringify(rest.map((a) => [a.app_id, a.instance_count]));
      const byAppQuery = 'SELECT app_id, count(*) FROM versions GROUP BY app_id ORDER BY app_id';
      await until(async () => JSON.stringify(await ask(byAppQuery)) === want, 2000);
      expect(await ask(byAppQuery)).toEqual(JSON.parse(want));
      expect(await ask('SELECT count(*) FROM versions')).toEqual([[settled.instances]]);
      // Every instance's version and labels as the REST API has them.
      const onTwo = (await own.get('/api/v1/version/?ver=2.0.0')).body.data.length as number;
      expect(await ask(`SELECT count(*) FROM versions WHERE ver = '2.0.0' AND labels['env'] IS NOT NULL`)).toEqual([[onTwo]]);
      const changes = await ask(`SELECT count(*) FILTER (WHERE change = 'new'), count(*) FILTER (WHERE change = 'version') FROM history`);
      expect(changes).toEqual([[settled.instances, onTwo]]);
    } finally {
      await own.destroy();
    }
  }, 90_000);
});
