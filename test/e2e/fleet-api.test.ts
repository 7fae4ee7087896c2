// Beyond the original API: history, liveness, the change feed, summaries of
// one app or host, decommissioning, paging, /metrics, OpenAPI, caching
// headers and the write token; against a real partiscid.

import { execFile } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROUTES } from '../../src/http/routes.js';
import { PARTISCI, Server, freePort, sleep, tempDir, until, update } from './harness.js';

const run = promisify(execFile);
let server: Server;

beforeAll(async () => {
  const port = await freePort();
  // --stale 3: instances not updated for 3 s turn stale during the tests.
  server = await Server.start({ port, args: ['--port', String(port), '--data', tempDir(), '--stale', '3', '--write-token', 'sekret'] });
});

afterAll(async () => {
  await server.destroy();
});

const AUTH = { Authorization: 'Bearer sekret' };

/** A WebSocket subscriber collecting events. */
async function subscribe(query = ''): Promise<{ events: Record<string, any>[]; close: () => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/v1/watch${query}`);
  const events: Record<string, any>[] = [];
  ws.on('message', (data: Buffer) => events.push(JSON.parse(data.toString()) as Record<string, any>));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  // The writer learns there is a subscriber at its next pass.
  await sleep(50);
  return { events, close: () => ws.close() };
}

describe('history', () => {
  test('first sight, version changes and removal, newest first, with the previous version', async () => {
    await server.sendUdp([update('hist', '1.0', 'h1', 0)]);
    await server.settle();
    await sleep(1100); // distinct seconds
    await server.sendUdp([update('hist', '2.0', 'h1', 0)]);
    await server.settle();
    // A repeat of the same version is not a change.
    await server.sendUdp([update('hist', '2.0', 'h1', 0)]);
    await server.settle();
    const del = await server.request('DELETE', '/api/v1/version/?app_id=hist&host=h1', undefined, AUTH);
    expect(del.body).toEqual({ removed: 1 });
    const rows = (await server.get('/api/v1/history/?app_id=hist')).body.data;
    expect(rows.map((r: Record<string, unknown>) => [r.prev_ver, r.ver])).toEqual([
      ['2.0', null],
      ['1.0', '2.0'],
      [null, '1.0'],
    ]);
    expect(rows[1]).toMatchObject({ app: 'hist', app_id: 'hist', host: 'h1', instance: 0, host_ip: '127.0.0.1' });
    expect(rows[1].time).toBeGreaterThan(rows[2].time);
    expect((await server.get(`/api/v1/history/?app_id=hist&since=${rows[1].time - 1}`)).body.data).toHaveLength(2);
    const page1 = (await server.get('/api/v1/history/?app_id=hist&limit=2')).body;
    expect(page1.data).toEqual(rows.slice(0, 2));
    const page2 = (await server.get(`/api/v1/history/?app_id=hist&limit=2&cursor=${page1.next}`)).body;
    expect(page2).toEqual({ data: rows.slice(2) });
    expect((await server.get('/api/v1/history/?host=h1')).body.data).toEqual(rows);
    expect((await server.get('/api/v1/history/')).status).toBe(400);
  });
});

describe('summaries of one app or host', () => {
  test('app/A counts instances per version; host/H its apps and instances; unknown ones are 404', async () => {
    await server.sendUdp([update('sum', '1', 'a', 0), update('sum', '1', 'a', 1), update('sum', '2', 'b', 0), update('other', '9', 'a', 0)]);
    await server.settle();
    const app = (await server.get('/api/v1/app/sum')).body.data[0];
    expect(app).toMatchObject({ app: 'sum', app_id: 'sum', host_count: 2, instance_count: 3, up_count: 3, stale_count: 0 });
    expect(app.versions).toEqual([
      { ver: '1', count: 2, up_count: 2, stale_count: 0 },
      { ver: '2', count: 1, up_count: 1, stale_count: 0 },
    ]);
    expect((await server.get('/api/v1/host/a')).body.data[0]).toMatchObject({ host: 'a', app_count: 2, instance_count: 3 });
    expect(await server.get('/api/v1/app/nope')).toMatchObject({ status: 404, body: { error: 'ApiApp: no app "nope"', code: 'UNKNOWN_APP' } });
    expect(await server.get('/api/v1/host/nope')).toMatchObject({ status: 404, body: { error: 'ApiHost: no host "nope"', code: 'UNKNOWN_HOST' } });
  });

  test('DELETE host/H decommissions every instance on it (with the write token)', async () => {
    await server.sendUdp([update('dec', '1', 'doomed', 0), update('dec2', '1', 'doomed', 0), update('dec', '1', 'kept', 0)]);
    await server.settle();
    expect((await server.request('DELETE', '/api/v1/host/doomed')).status).toBe(401);
    const res = await server.request('DELETE', '/api/v1/host/doomed', undefined, AUTH);
    expect(res.body).toEqual({ removed: 2 });
    expect((await server.get('/api/v1/host/doomed')).status).toBe(404);
    expect((await server.get('/api/v1/app/dec')).body.data[0]).toMatchObject({ host_count: 1, instance_count: 1 });
    expect((await server.get('/api/v1/app/dec2')).status).toBe(404);
  });
});

describe('lists', () => {
  test('limit and cursor page through version/ without gaps or repeats', async () => {
    await server.sendUdp(Array.from({ length: 7 }, (_, i) => update('paged', '1', `p${i}`)));
    await server.settle();
    const all = (await server.get('/api/v1/version/?app_id=paged')).body.data.map((r: { host: string }) => r.host);
    expect(all).toHaveLength(7);
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const res = (await server.get(`/api/v1/version/?app_id=paged&limit=3${cursor === '' ? '' : `&cursor=${cursor}`}`)).body;
      seen.push(...res.data.map((r: { host: string }) => r.host));
      if (res.next === undefined) break;
      cursor = res.next;
    }
    expect(seen).toEqual(all);
    expect((await server.get('/api/v1/version/?cursor=bogus!')).status).toBe(400);
    expect((await server.get('/api/v1/version/?limit=0')).status).toBe(400);
  });

  test('since= returns only instances updated after T; status=stale finds what stopped reporting', async () => {
    await server.sendUdp([update('live', '1', 'quiet')]);
    await server.settle();
    const t = Math.floor(Date.now() / 1000);
    expect((await server.get(`/api/v1/version/?app_id=live&since=${t + 10}`)).body.data).toEqual([]);
    expect((await server.get(`/api/v1/version/?app_id=live&since=${t - 10}`)).body.data).toHaveLength(1);
    const stale = await until(async () => (await server.get('/api/v1/version/?app_id=live&status=stale')).body.data.length === 1, 8000);
    expect(stale).toBe(true);
    const [row] = (await server.get('/api/v1/version/?app_id=live')).body.data;
    expect(row.status).toBe('stale');
    const app = await until(
      async () => ((await server.get('/api/v1/app/live')).body.data[0].stale_count === 1 ? (await server.get('/api/v1/app/live')).body.data[0] : null),
      5000,
    );
    expect(app).toMatchObject({ instance_count: 1, up_count: 0, stale_count: 1 });
    // An update brings it back.
    await server.sendUdp([update('live', '1', 'quiet')]);
    await server.settle();
    expect((await server.get('/api/v1/version/?app_id=live')).body.data[0].status).toBe('up');
  });
});

describe('the change feed', () => {
  test('new, changed and removed events arrive in order, after commit, and repeats make none', async () => {
    const sub = await subscribe('?app_id=feed');
    const everything = await subscribe();
    await server.sendUdp([update('feed', '1.0', 'fh', 0)]);
    await server.settle();
    await until(async () => sub.events.length >= 1, 5000);
    // Visible through the API by the time the event arrives.
    expect((await server.get('/api/v1/version/?app_id=feed')).body.data).toHaveLength(1);
    await server.sendUdp(Array.from({ length: 20 }, () => update('feed', '1.0', 'fh', 0)));
    await server.settle();
    await server.sendUdp([update('feed', '2.0', 'fh', 0), update('unrelated', '1', 'x', 0)]);
    await server.settle();
    await server.request('DELETE', '/api/v1/version/?app_id=feed&host=fh&instance=0', undefined, AUTH);
    await until(async () => sub.events.length >= 3, 5000);
    await sleep(200);
    expect(sub.events.map((e) => e.type)).toEqual(['new', 'changed', 'removed']);
    expect(sub.events[0].version).toMatchObject({ app_id: 'feed', host: 'fh', instance: 0, ver: '1.0' });
    expect(sub.events[1]).toMatchObject({ old_ver: '1.0', version: { ver: '2.0' } });
    expect(sub.events[2]).toMatchObject({ reason: 'delete', version: { app_id: 'feed', ver: '2.0' } });
    expect(everything.events.some((e) => e.version?.app_id === 'unrelated')).toBe(true);
    sub.close();
    everything.close();
  });

  test('stale events are published when an instance stops reporting', async () => {
    const sub = await subscribe('?host=fading');
    await server.sendUdp([update('fade', '1', 'fading')]);
    await server.settle();
    const got = await until(async () => sub.events.some((e) => e.type === 'stale'), 8000);
    expect(got).toBe(true);
    expect(sub.events.find((e) => e.type === 'stale')!.version).toMatchObject({ app_id: 'fade', host: 'fading', ver: '1', status: 'stale' });
    sub.close();
  });
});

describe('rollout', () => {
  test('instances per version at each step', async () => {
    await server.sendUdp([update('roll', '1', 'r1'), update('roll', '1', 'r2')]);
    await server.settle();
    await sleep(2100);
    await server.sendUdp([update('roll', '2', 'r1')]);
    await server.settle();
    const now = Math.floor(Date.now() / 1000);
    const steps = (await server.get(`/api/v1/app/roll/rollout?since=${now - 4}&step=1`)).body.data;
    expect(steps.at(-1)).toEqual({ time: now, counts: { 1: 1, 2: 1 } });
    expect(steps[0]).toEqual({ time: now - 4, counts: {} });
    expect(steps.some((s: { counts: Record<string, number> }) => s.counts['1'] === 2 && s.counts['2'] === undefined)).toBe(true);
    expect(await server.get('/api/v1/app/nope/rollout')).toMatchObject({ status: 404, body: { error: 'ApiRollout: no app "nope"', code: 'UNKNOWN_APP' } });
    expect(await server.get('/api/v1/app/roll/rollout?since=0&step=1')).toMatchObject({
      status: 400,
      body: { error: 'since and step give more than 1000 steps', code: 'TOO_MANY_STEPS' },
    });
  });
});

describe('operations', () => {
  test('/metrics speaks Prometheus, with instances per app and version', async () => {
    await server.sendUdp([update('metered', '3.1', 'm1')]);
    await server.settle();
    const res = await fetch(server.url('/metrics'));
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toContain('# TYPE partisci_udp_datagrams_total counter');
    expect(text).toMatch(/^partisci_instances\{app_id="metered",ver="3\.1",status="up"\} 1$/m);
    expect(text).toMatch(/^partisci_applied_total \d+$/m);
  });

  test('the OpenAPI document lists exactly the routes the server has', async () => {
    const doc = (await server.get('/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const expected = ROUTES.filter((r) => r.hidden !== true && r.danger !== true)
      .map((r) => r.path)
      .sort();
    expect(Object.keys(doc.paths).sort()).toEqual(expected);
    for (const route of ROUTES.filter((r) => r.hidden !== true && r.danger !== true)) {
      expect(Object.keys(doc.paths[route.path]).sort()).toEqual(Object.keys(route.methods).sort());
    }
    // Every route answers something other than 404 at its documented path.
    for (const path of expected) {
      const res = await server.request('GET', path.replace('{app_id}', 'sum').replace('{host}', 'a'));
      expect(res.status, path).not.toBe(404);
    }
  });

  test('lists carry an ETag (304 when unchanged) and are gzipped when asked', async () => {
    const first = await fetch(server.url('/api/v1/app/'));
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    const again = await fetch(server.url('/api/v1/app/'), { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    await server.sendUdp(Array.from({ length: 30 }, (_, i) => update('zipped', '1', `z${i}`)));
    await server.settle();
    // Raw socket-level check: fetch decodes gzip itself, so ask node:http.
    const { request } = await import('node:http');
    const body = await new Promise<{ encoding: string | undefined; data: Buffer }>((resolve) => {
      request(server.url('/api/v1/version/?app_id=zipped'), { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], data: Buffer.concat(chunks) }));
      }).end();
    });
    expect(body.encoding).toBe('gzip');
    expect(JSON.parse(gunzipSync(body.data).toString()).data).toHaveLength(30);
  });

  test('with a write token, HTTP writes need it; reads do not', async () => {
    const denied = await server.request('POST', '/api/v1/update/', update('tok', '1', 't'));
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ error: 'ApiUpdate: a valid write token is required (Authorization: Bearer ...)', code: 'WRITE_TOKEN_REQUIRED' });
    expect((await server.request('POST', '/api/v1/update/', update('tok', '1', 't'), { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await server.request('POST', '/api/v1/update/', update('tok', '1', 't'), AUTH)).status).toBe(200);
    expect((await server.get('/api/v1/version/?app_id=tok')).status).toBe(200);
  });
});

describe('partisci answers questions', () => {
  test('apps, versions, history and rollout as tables or JSON', async () => {
    await server.sendUdp([update('Cli App', '4.2', 'cli-host', 1)]);
    await server.settle();
    const opts = ['--server', '127.0.0.1', '--port', String(server.port)];
    const apps = await run(process.execPath, [PARTISCI, 'apps', ...opts]);
    expect(apps.stdout.split('\n')[0]).toMatch(/^APP_ID\s+APP\s+HOSTS\s+INSTANCES\s+UP\s+STALE\s+LAST UPDATE$/);
    expect(apps.stdout).toMatch(/^cli_app\s+Cli App\s+1\s+1\s+1\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
    const versions = JSON.parse((await run(process.execPath, [PARTISCI, 'versions', '--app', 'cli_app', '--json', ...opts])).stdout);
    expect(versions.data).toHaveLength(1);
    expect(versions.data[0]).toMatchObject({ host: 'cli-host', instance: 1, ver: '4.2', status: 'up' });
    const history = await run(process.execPath, [PARTISCI, 'history', '--app', 'cli_app', ...opts]);
    expect(history.stdout).toMatch(/cli-host\s+1\s+\(new\)\s+4\.2\s+127\.0\.0\.1/);
    const rollout = await run(process.execPath, [PARTISCI, 'rollout', '--app', 'cli_app', ...opts]);
    expect(rollout.stdout.split('\n')[0]).toMatch(/^TIME\s+4\.2$/);
    await expect(run(process.execPath, [PARTISCI, 'history', ...opts])).rejects.toMatchObject({ code: 2 });
  });
});
