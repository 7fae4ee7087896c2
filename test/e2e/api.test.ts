// The documented Partisci API, against a real partiscid over real UDP and
// HTTP: every endpoint, filter and error of the original's documentation.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Server, update } from './harness.js';

let server: Server;

beforeAll(async () => {
  server = await Server.start();
});

afterAll(async () => {
  await server.destroy();
});

/** The documented example fleet: apps A and B on host1 and host2. */
async function sendExampleFleet(): Promise<void> {
  await server.sendUdp([
    update('Demo App A', '1.0', 'host1.example.com', 0),
    update('Demo App A', '2.0', 'host2.example.com', 0),
    update('Demo App B', '1.0', 'host1.example.com', 0),
    update('Demo App B', '2.0', 'host2.example.com', 0),
  ]);
  await server.settle();
}

function strip(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  // last_update and since are "now"; checked separately.
  return rows.map(({ last_update: _, since: __, ...rest }) => rest);
}

describe('queries', () => {
  test('empty store answers {"data": []} everywhere', async () => {
    for (const path of ['/api/v1/app/', '/api/v1/host/', '/api/v1/version/', '/api/v1/version/?app_id=nope']) {
      const res = await server.get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.body).toEqual({ data: [] });
    }
  });

  test('version/ lists every app, host and instance with the server-side fields', async () => {
    const before = Math.floor(Date.now() / 1000);
    await sendExampleFleet();
    const res = await server.get('/api/v1/version/');
    expect(strip(res.body.data)).toEqual([
      { app: 'Demo App A', app_id: 'demo_app_a', host: 'host1.example.com', host_ip: '127.0.0.1', instance: 0, ver: '1.0', status: 'up' },
      { app: 'Demo App A', app_id: 'demo_app_a', host: 'host2.example.com', host_ip: '127.0.0.1', instance: 0, ver: '2.0', status: 'up' },
      { app: 'Demo App B', app_id: 'demo_app_b', host: 'host1.example.com', host_ip: '127.0.0.1', instance: 0, ver: '1.0', status: 'up' },
      { app: 'Demo App B', app_id: 'demo_app_b', host: 'host2.example.com', host_ip: '127.0.0.1', instance: 0, ver: '2.0', status: 'up' },
    ]);
    for (const row of res.body.data) {
      expect(row.last_update).toBeGreaterThanOrEqual(before);
      expect(row.last_update).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      // First seen with this version just now.
      expect(row.since).toBe(row.last_update);
    }
  });

  test('version/ filters by app_id, host, ver and their combinations', async () => {
    const pick = async (q: string): Promise<string[]> =>
      ((await server.get(`/api/v1/version/${q}`)).body.data as { app_id: string; host: string; ver: string }[]).map((r) => `${r.app_id}@${r.host}=${r.ver}`);
    expect(await pick('?app_id=demo_app_a')).toEqual(['demo_app_a@host1.example.com=1.0', 'demo_app_a@host2.example.com=2.0']);
    expect(await pick('?host=host1.example.com')).toEqual(['demo_app_a@host1.example.com=1.0', 'demo_app_b@host1.example.com=1.0']);
    expect(await pick('?app_id=demo_app_a&host=host1.example.com')).toEqual(['demo_app_a@host1.example.com=1.0']);
    expect(await pick('?app_id=demo_app_a&ver=1.0')).toEqual(['demo_app_a@host1.example.com=1.0']);
    expect(await pick('?app_id=demo_app_b&ver=2.0&host=host2.example.com')).toEqual(['demo_app_b@host2.example.com=2.0']);
    expect(await pick('?ver=2.0')).toEqual(['demo_app_a@host2.example.com=2.0', 'demo_app_b@host2.example.com=2.0']);
    expect(await pick('?host=host2.example.com&ver=1.0')).toEqual([]);
    expect(await pick('?app_id=demo_app_a&ver=9.9')).toEqual([]);
    // An empty parameter means "not given", as in the original (Go's FormValue).
    expect(await pick('?app_id=&host=host2.example.com')).toEqual(['demo_app_a@host2.example.com=2.0', 'demo_app_b@host2.example.com=2.0']);
    // A host that is a prefix of another host does not match it.
    expect(await pick('?host=host1')).toEqual([]);
  });

  test('app/ and host/ summarize, counting distinct hosts and apps', async () => {
    const apps = (await server.get('/api/v1/app/')).body.data;
    expect(apps.map(({ last_update: _, ...r }: Record<string, unknown>) => r)).toEqual([
      { app: 'Demo App A', app_id: 'demo_app_a', host_count: 2, instance_count: 2, up_count: 2, stale_count: 0 },
      { app: 'Demo App B', app_id: 'demo_app_b', host_count: 2, instance_count: 2, up_count: 2, stale_count: 0 },
    ]);
    const hosts = (await server.get('/api/v1/host/')).body.data;
    expect(hosts.map(({ last_update: _, ...r }: Record<string, unknown>) => r)).toEqual([
      { host: 'host1.example.com', app_count: 2, instance_count: 2, up_count: 2, stale_count: 0 },
      { host: 'host2.example.com', app_count: 2, instance_count: 2, up_count: 2, stale_count: 0 },
    ]);
    for (const row of [...apps, ...hosts]) expect(typeof row.last_update).toBe('number');
  });

  test('only the latest update per app/host/instance is kept', async () => {
    await server.sendUdp([update('Demo App A', '3.0', 'host1.example.com', 0), update('Demo App A', '3.1', 'host1.example.com', 0)]);
    await server.settle();
    const rows = (await server.get('/api/v1/version/?app_id=demo_app_a&host=host1.example.com')).body.data;
    expect(rows).toHaveLength(1);
    expect(rows[0].ver).toBe('3.1');
    // The old version's index entry is gone, the new one present.
    expect((await server.get('/api/v1/version/?app_id=demo_app_a&ver=1.0')).body.data).toEqual([]);
    expect((await server.get('/api/v1/version/?app_id=demo_app_a&ver=3.1')).body.data).toHaveLength(1);
  });
});

describe('updates', () => {
  test('keys cannot collide: app "a" + host "bc" and app "ab" + host "c" are two instances', async () => {
    await server.sendUdp([update('a', '1', 'bc'), update('ab', '2', 'c')]);
    await server.settle();
    expect((await server.get('/api/v1/version/?app_id=a')).body.data.map((r: { host: string }) => r.host)).toEqual(['bc']);
    expect((await server.get('/api/v1/version/?app_id=ab')).body.data.map((r: { host: string }) => r.host)).toEqual(['c']);
  });

  test('a missing host is the sender address; instance defaults to 0', async () => {
    await server.sendUdp([JSON.stringify({ app: 'hostless', ver: '1' })]);
    await server.settle();
    const [row] = (await server.get('/api/v1/version/?app_id=hostless')).body.data;
    expect(row).toMatchObject({ app: 'hostless', host: '127.0.0.1', host_ip: '127.0.0.1', instance: 0, ver: '1' });
  });

  test('POST update/ answers 200 with the stored version once committed', async () => {
    const res = await server.request('POST', '/api/v1/update/', JSON.stringify({ instance: 7, host: 'terminal.example.com', ver: '1.0', app: 'updatenator' }));
    expect(res.status).toBe(200);
    expect(res.body.data[0]).toMatchObject({
      app: 'updatenator',
      app_id: 'updatenator',
      host: 'terminal.example.com',
      host_ip: '127.0.0.1',
      instance: 7,
      ver: '1.0',
    });
    // Committed before the answer: visible at once, without waiting.
    const rows = (await server.get('/api/v1/version/?app_id=updatenator')).body.data;
    expect(rows).toEqual([{ ...res.body.data[0], status: 'up', since: res.body.data[0].last_update }]);
  });

  test.each([
    ['{}', 'value for app & ver must be specified'],
    ['{"app":"x"}', 'value for app & ver must be specified'],
    ['{"app":"x","ver":""}', 'value for app & ver must be specified'],
    ['{"app":"x","ver":"1"', 'body is not valid JSON'],
    ['{"app":"x","ver":"1"} trailing', 'body is not valid JSON'],
    ['[1,2]', 'body must be a JSON object'],
    ['{"app":5,"ver":"1"}', 'app, ver and host must be strings and instance a number'],
    ['{"app":"x","ver":"1","instance":70000}', 'instance must be an integer 0-65535'],
    [`{"app":"${'x'.repeat(51)}","ver":"1"}`, 'app, ver and host are limited to 50 characters, label values to 64'],
    ['', 'body is empty'],
  ])('POST update/ with %j is 415', async (body, message) => {
    const res = await server.request('POST', '/api/v1/update/', body);
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ error: `ApiUpdate: parsePacket: ${message}`, code: 'MALFORMED_UPDATE' });
  });

  test('POST update/ with bytes that are not UTF-8 is 415', async () => {
    const res = await server.request('POST', '/api/v1/update/', Buffer.from([0x7b, 0x22, 0x61, 0x70, 0x70, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ error: 'ApiUpdate: parsePacket: body is not valid UTF-8', code: 'MALFORMED_UPDATE' });
  });
});

describe('errors and other endpoints', () => {
  test('GET update/ is 405; POST app/ is 405; both with a JSON error', async () => {
    const a = await server.request('GET', '/api/v1/update/');
    expect(a.status).toBe(405);
    expect(a.body).toEqual({ error: 'ApiUpdate: only accepts POST requests', code: 'METHOD_NOT_ALLOWED' });
    expect(a.headers.get('allow')).toBe('POST');
    const b = await server.request('POST', '/api/v1/app/', '{}');
    expect(b.status).toBe(405);
    expect(b.body).toEqual({ error: 'ApiApp: only accepts GET requests', code: 'METHOD_NOT_ALLOWED' });
  });

  test('unknown paths are 404 with a JSON error', async () => {
    const res = await server.request('GET', '/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: '404 page not found: /api/v1/nothing-here', code: 'UNKNOWN_PATH' });
  });

  test('_danger/clear/ is 404 without --danger and clears nothing', async () => {
    const before = (await server.get('/api/v1/version/')).body.data.length;
    expect(before).toBeGreaterThan(0);
    const res = await server.request('POST', '/api/v1/_danger/clear/');
    expect(res.status).toBe(404);
    expect((await server.get('/api/v1/version/')).body.data.length).toBe(before);
  });

  test('/debug/vars has the version, memory, uptime and the engine counters', async () => {
    const v = await server.vars();
    expect(v.version).toBe('0.1.0');
    expect(v.uws_native).toBe(true);
    expect(v.memory.rss).toBeGreaterThan(0);
    expect(v.memory.rss_anon).toBeGreaterThan(0);
    expect(typeof v.uptime_s).toBe('number');
    for (const name of ['udp_datagrams', 'http_updates', 'rejected', 'ring_full_drops', 'applied', 'kernel_drops', 'commits']) {
      expect(typeof v[name]).toBe('number');
    }
    expect(v.workers).toHaveLength(2);
  });
});
