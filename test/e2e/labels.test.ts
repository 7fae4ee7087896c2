// Labels end to end: stored with the instance, in version objects, counted
// per app and host, filtering every list (label.NAME=VALUE, all must
// match), a change of labels in the history and the feed, a label set in
// another order a repeat, bad label sets rejected by reason, and all of it
// still there after a restart.

import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Server, freePort, sleep, tempDir } from './harness.js';

let server: Server;
const data = tempDir();

beforeAll(async () => {
  const port = await freePort();
  server = await Server.start({ port, args: ['--port', String(port), '--data', data] });
});

afterAll(async () => {
  await server.destroy();
});

const u = (app: string, ver: string, host: string, instance: number, labels?: Record<string, string>): string =>
  JSON.stringify({ app, ver, host, instance, labels });
const hostsOf = (rows: { host: string; instance: number }[]): string[] => rows.map((r) => `${r.host}/${r.instance}`).sort();

describe('labels', () => {
  test('a labelled fleet: version objects carry labels, lists filter on them', async () => {
    await server.sendUdp([
      u('Billing', '2.3.0', 'b1', 0, { env: 'prod', region: 'eu-west', dc: 'ams3' }),
      u('Billing', '2.4.1', 'b2', 0, { region: 'eu-west', env: 'prod', dc: 'fra1' }),
      u('Billing', '2.3.0', 'b3', 0, { env: 'prod', region: 'us-east', dc: 'nyc1' }),
      u('Billing', '2.3.0', 'b4', 0, { env: 'staging', region: 'eu-west', dc: 'ams3' }),
      u('Billing', '2.3.0', 'b5', 0),
      u('search', '7.0', 'b1', 1, { env: 'prod', region: 'eu-west', dc: 'ams3' }),
    ]);
    await server.settle();
    const b1 = (await server.get('/api/v1/version/?app_id=billing&host=b1')).body.data[0];
    expect(b1).toMatchObject({ app: 'Billing', host: 'b1', ver: '2.3.0', labels: { dc: 'ams3', env: 'prod', region: 'eu-west' }, status: 'up' });
    // Sorted by name whatever the sender's order.
    expect(Object.keys(b1.labels)).toEqual(['dc', 'env', 'region']);
    expect((await server.get('/api/v1/version/?app_id=billing&host=b5')).body.data[0]).not.toHaveProperty('labels');

    const prodEu = (await server.get('/api/v1/version/?app_id=billing&label.env=prod&label.region=eu-west')).body.data;
    expect(hostsOf(prodEu)).toEqual(['b1/0', 'b2/0']);
    expect(hostsOf((await server.get('/api/v1/version/?label.dc=ams3')).body.data)).toEqual(['b1/0', 'b1/1', 'b4/0']);
    expect(hostsOf((await server.get('/api/v1/version/?host=b1&label.env=prod')).body.data)).toEqual(['b1/0', 'b1/1']);
    expect((await server.get('/api/v1/version/?label.env=prod&label.env=staging')).body.data).toEqual([]);
    expect((await server.get('/api/v1/version/?label.env=pro')).body.data).toEqual([]);
    expect((await server.get('/api/v1/version/?label.nosuch=x')).body.data).toEqual([]);
    // Paged like any list.
    const page = (await server.get('/api/v1/version/?label.env=prod&limit=2')).body;
    expect(page.data).toHaveLength(2);
    expect((await server.get(`/api/v1/version/?label.env=prod&limit=2&cursor=${page.next}`)).body.data).toHaveLength(2);
  });

  test('app/A and host/H count instances per label value; app/ and host/ filter on labels', async () => {
    const app = (await server.get('/api/v1/app/billing')).body.data[0];
    expect(app.label_counts).toEqual({ dc: { ams3: 2, fra1: 1, nyc1: 1 }, env: { prod: 3, staging: 1 }, region: { 'eu-west': 3, 'us-east': 1 } });
    const host = (await server.get('/api/v1/host/b1')).body.data[0];
    expect(host.label_counts).toEqual({ dc: { ams3: 2 }, env: { prod: 2 }, region: { 'eu-west': 2 } });
    expect((await server.get('/api/v1/host/b5')).body.data[0]).not.toHaveProperty('label_counts');

    const apps = (await server.get('/api/v1/app/?label.region=eu-west&label.env=prod')).body.data;
    expect(apps.map((a: Record<string, unknown>) => [a.app_id, a.instance_count, a.host_count])).toEqual([
      ['billing', 2, 2],
      ['search', 1, 1],
    ]);
    expect(apps[0]).toMatchObject({ app: 'Billing', up_count: 2, stale_count: 0 });
    const hosts = (await server.get('/api/v1/host/?label.env=prod')).body.data;
    expect(hosts.map((h: Record<string, unknown>) => [h.host, h.app_count, h.instance_count])).toEqual([
      ['b1', 2, 2],
      ['b2', 1, 1],
      ['b3', 1, 1],
    ]);
    const first = (await server.get('/api/v1/host/?label.env=prod&limit=2')).body;
    expect(first.data.map((h: Record<string, unknown>) => h.host)).toEqual(['b1', 'b2']);
    expect((await server.get(`/api/v1/host/?label.env=prod&limit=2&cursor=${first.next}`)).body.data.map((h: Record<string, unknown>) => h.host)).toEqual([
      'b3',
    ]);
  });

  test('a label name no label can have is a 400; an overlong value matches nothing', async () => {
    const bad = await server.get('/api/v1/version/?label.Env=prod');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'label.Env must be label.NAME with a NAME of 1-32 characters [a-z0-9_.-]', code: 'INVALID_PARAMETER' });
    expect((await server.get('/api/v1/app/?label.=x')).status).toBe(400);
    expect((await server.get(`/api/v1/version/?label.env=${'x'.repeat(65)}`)).body).toEqual({ data: [] });
  });

  test('the same labels in another order are a repeat; other labels are a change (history, feed)', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/v1/watch?app_id=billing`);
    const events: Record<string, any>[] = [];
    ws.on('message', (d: Buffer) => events.push(JSON.parse(d.toString()) as Record<string, any>));
    await new Promise((resolve) => ws.once('open', resolve));
    await sleep(50);
    const before = (await server.get('/api/v1/history/?app_id=billing&host=b1')).body.data;
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ ver: '2.3.0', prev_ver: null, labels: { dc: 'ams3', env: 'prod', region: 'eu-west' } });
    const v0 = await server.vars();
    await server.sendUdp([u('Billing', '2.3.0', 'b1', 0, { region: 'eu-west', dc: 'ams3', env: 'prod' })]);
    const v1 = await server.settle();
    expect(v1.written - v0.written).toBe(0);
    expect((await server.get('/api/v1/history/?app_id=billing&host=b1')).body.data).toHaveLength(1);

    await server.sendUdp([u('Billing', '2.3.0', 'b1', 0, { env: 'prod', region: 'eu-west', dc: 'ams4' })]);
    await server.settle();
    const after = (await server.get('/api/v1/history/?app_id=billing&host=b1')).body.data;
    expect(after[0]).toMatchObject({ ver: '2.3.0', prev_ver: '2.3.0', labels: { dc: 'ams4', env: 'prod', region: 'eu-west' } });
    expect((await server.get('/api/v1/app/billing')).body.data[0].label_counts.dc).toEqual({ ams3: 1, ams4: 1, fra1: 1, nyc1: 1 });
    // The history filters on the labels an entry's instance had then.
    expect((await server.get('/api/v1/history/?app_id=billing&label.dc=ams4')).body.data).toHaveLength(1);
    expect((await server.get('/api/v1/history/?app_id=billing&label.dc=ams3')).body.data.map((e: Record<string, unknown>) => e.host)).toEqual(['b4', 'b1']);
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.type === 'labels') && Date.now() < deadline) await sleep(25);
    ws.close();
    expect(events.find((e) => e.type === 'labels')).toMatchObject({ type: 'labels', version: { host: 'b1', ver: '2.3.0', labels: { dc: 'ams4' } } });
  });

  test('over HTTP too; bad label sets are rejected with their reason and counted', async () => {
    const ok = await server.request('POST', '/api/v1/update/', JSON.stringify({ app: 'web', ver: '1', host: 'w1', labels: { env: 'prod' } }));
    expect(ok.status).toBe(200);
    expect(ok.body.data[0]).toMatchObject({ app_id: 'web', labels: { env: 'prod' } });
    const bad = await server.request('POST', '/api/v1/update/', JSON.stringify({ app: 'web', ver: '1', labels: { Env: 'prod' } }));
    expect(bad.status).toBe(415);
    expect(bad.body).toEqual({ error: 'ApiUpdate: parsePacket: labels must be an object of names [a-z0-9_.-]{1,32} to strings', code: 'MALFORMED_UPDATE' });
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`l${i}`, 'v']));
    const v0 = await server.vars();
    await server.sendUdp([
      JSON.stringify({ app: 'web', ver: '1', labels: many }),
      JSON.stringify({ app: 'web', ver: '1', labels: { env: 7 } }),
      JSON.stringify({ app: 'web', ver: '1', labels: { env: 'x'.repeat(65) } }),
    ]);
    const v1 = await server.settle();
    const by = (r: string): number => (v1.rejected_by_reason[r] ?? 0) - (v0.rejected_by_reason[r] ?? 0);
    expect([by('too_many_labels'), by('bad_labels'), by('too_long')]).toEqual([1, 1, 1]);
  });

  test('after a restart: labels, label counts and filters as before', async () => {
    const before = (await server.get('/api/v1/version/?label.env=prod')).body.data;
    const counts = (await server.get('/api/v1/app/billing')).body.data[0].label_counts;
    await server.stop();
    const port = await freePort();
    server = await Server.start({ port, args: ['--port', String(port), '--data', data] });
    await server.settle(0);
    expect(hostsOf((await server.get('/api/v1/version/?label.env=prod')).body.data)).toEqual(hostsOf(before));
    // The writer rewrites every summary in its first batch, counting labels from the stored instances.
    const deadline = Date.now() + 5000;
    let now = (await server.get('/api/v1/app/billing')).body.data[0].label_counts;
    while (JSON.stringify(now) !== JSON.stringify(counts) && Date.now() < deadline) {
      await sleep(50);
      now = (await server.get('/api/v1/app/billing')).body.data[0].label_counts;
    }
    expect(now).toEqual(counts);
    // A repeat of a stored labelled instance is still a repeat.
    const v0 = await server.vars();
    await server.sendUdp([u('Billing', '2.4.1', 'b2', 0, { env: 'prod', region: 'eu-west', dc: 'fra1' })]);
    const v1 = await server.settle();
    expect(v1.written - v0.written).toBe(0);
  });
});
