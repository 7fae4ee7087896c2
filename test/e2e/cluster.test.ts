// Cluster mode against real nats-server processes (a 3-server JetStream
// cluster, R3) and real partiscid nodes: what one node learns, the others
// show; conflicts converge; HTTP writes wait for the cluster.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { natsServerPath } from '../../tools/nats-cluster.js';
import { type Server, until, update } from './harness.js';
import { NatsCluster, fleetOf, linked, startNode } from '../cluster/harness.js';

// Without nats-server these tests are skipped on a developer's machine (with
// a note), never under CI: .ci/run sets CI and installs it.
const haveNats = natsServerPath() !== null || process.env.CI !== undefined;
if (!haveNats) console.warn('cluster tests skipped: no nats-server (apt-get install nats-server, or set NATS_SERVER)');

describe.skipIf(!haveNats)('a cluster of two nodes on a 3-server JetStream cluster', () => {
  let nats: NatsCluster;
  let a: Server;
  let b: Server;

  beforeAll(async () => {
    nats = await NatsCluster.start(3);
    [a, b] = await Promise.all([startNode({ name: 'alpha', nats }), startNode({ name: 'beta', nats })]);
    await Promise.all([linked(a), linked(b)]);
  });

  afterAll(async () => {
    await Promise.all([a?.destroy(), b?.destroy()]);
    await nats?.stop();
  });

  test('a UDP update to one node is shown by the other within a second, same host_ip, last_update and since', async () => {
    await a.sendUdp([update('Billing', '2.4.1', 'web-1', 0), update('Billing', '2.4.1', 'web-2', 1)]);
    const started = Date.now();
    const onB = await until(
      async () => {
        const rows = await fleetOf(b, '?app_id=billing');
        return rows.length === 2 ? rows : null;
      },
      5000,
      20,
    );
    expect(onB).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(1500);
    const onA = await fleetOf(a, '?app_id=billing');
    expect(onB).toEqual(onA);
    expect(onB![0]).toMatchObject({ app: 'Billing', app_id: 'billing', host: 'web-1', host_ip: '127.0.0.1', instance: 0, ver: '2.4.1' });
  });

  test('POST update/ answers 200 after the cluster acknowledged it; the other node shows it', async () => {
    const res = await b.request('POST', '/api/v1/update/', update('Search', '1.0', 'db-1', 3));
    expect(res.status).toBe(200);
    const vars = await b.vars();
    expect(vars.cluster.published_changes).toBeGreaterThanOrEqual(1);
    const onA = await until(async () => (await fleetOf(a, '?app_id=search')).length === 1, 5000, 20);
    expect(onA).toBe(true);
    expect((await a.get('/api/v1/app/search')).body.data[0]).toMatchObject({ app: 'Search', host_count: 1, instance_count: 1 });
  });

  test('the same instance updated through both nodes at once converges to one answer everywhere', async () => {
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        a.request('POST', '/api/v1/update/', update('Race', `a${round}`, 'h', 0)),
        b.request('POST', '/api/v1/update/', update('Race', `b${round}`, 'h', 0)),
      ]);
    }
    const same = await until(
      async () => {
        const [x, y] = await Promise.all([fleetOf(a, '?app_id=race'), fleetOf(b, '?app_id=race')]);
        return x.length === 1 && JSON.stringify(x) === JSON.stringify(y) ? x : null;
      },
      5000,
      50,
    );
    expect(same).not.toBeNull();
    // Same second, different nodes: the greater node name (beta) wins.
    expect(same![0]!.ver).toBe('b4');
  });

  test('a repeat on one node moves last_update on the other (liveness digest)', async () => {
    await a.sendUdp([update('Pulse', '1', 'p', 0)]);
    await until(async () => (await fleetOf(b, '?app_id=pulse')).length === 1, 5000, 20);
    const first = (await fleetOf(b, '?app_id=pulse'))[0]!.last_update as number;
    await new Promise((r) => setTimeout(r, 1100));
    await a.sendUdp([update('Pulse', '1', 'p', 0)]);
    const moved = await until(async () => ((await fleetOf(b, '?app_id=pulse'))[0]!.last_update as number) > first, 5000, 50);
    expect(moved).toBe(true);
    const v = await a.vars();
    expect(v.cluster.digest_entries).toBeGreaterThanOrEqual(1);
  });

  test('DELETE on one node removes the instances on the other', async () => {
    await a.sendUdp([update('Gone', '1', 'g1', 0), update('Gone', '1', 'g2', 0)]);
    await until(async () => (await fleetOf(b, '?app_id=gone')).length === 2, 5000, 20);
    const res = await b.request('DELETE', '/api/v1/version/?app_id=gone&host=g1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ removed: 1 });
    const left = await until(
      async () => {
        const rows = await fleetOf(a, '?app_id=gone');
        return rows.length === 1 ? rows : null;
      },
      5000,
      20,
    );
    expect(left![0]!.host).toBe('g2');
  });

  test('/debug/vars and /metrics show the cluster', async () => {
    const v = await a.vars();
    expect(v.cluster).toMatchObject({ node: 'alpha', connected: true, stream_ready: true, outbox_full: false });
    expect(Object.keys(v.cluster.nodes)).toEqual(['beta']);
    const metrics = await (await fetch(a.url('/metrics'))).text();
    expect(metrics).toMatch(/^partisci_cluster_connected 1$/m);
    expect(metrics).toMatch(/^partisci_cluster_node_last_seen_seconds\{node="beta"\} /m);
  });
});
