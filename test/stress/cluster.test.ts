// Cluster faults against real processes (`npm run test:stress`): a 3-server
// JetStream cluster (R3) started by the test on free ports in temporary
// folders, and partiscid nodes joined to it. Each test kills something:
// NATS entirely, one nats-server, a partiscid node (kill -9), a node's disk.

import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { natsServerPath } from '../../tools/nats-cluster.js';
import { type Server, sleep, until, update } from '../e2e/harness.js';
import { NatsCluster, fleetOf, linked, startNode } from '../cluster/harness.js';

const run = promisify(execFile);
const FUZZ = new URL('../../dist/tools/fuzz/cli.js', import.meta.url).pathname;
// Without nats-server these tests are skipped on a developer's machine (with
// a note), never under CI: .ci/run sets CI and installs it.
const haveNats = natsServerPath() !== null || process.env.CI !== undefined;
if (!haveNats) console.warn('cluster tests skipped: no nats-server (apt-get install nats-server, or set NATS_SERVER)');

let nats: NatsCluster | null = null;
const nodes: Server[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.destroy()));
  await nats?.stop();
  nats = null;
});

async function node(name: string, extra: string[] = [], dataDir?: string, port?: number): Promise<Server> {
  const n = await startNode({ name, nats: nats!, extra, ...(dataDir === undefined ? {} : { dataDir }), ...(port === undefined ? {} : { port }) });
  nodes.push(n);
  return n;
}

/** HTTP writers posting distinct hosts to `server` until stopped; returns what was answered 200. */
function httpStorm(
  server: Server,
  app: string,
  clients = 6,
): { stop: () => Promise<{ host: string; ver: string; at: number }[]>; acked: { host: string; ver: string; at: number }[] } {
  const acked: { host: string; ver: string; at: number }[] = [];
  let stopped = false;
  let seq = 0;
  const one = async (): Promise<void> => {
    while (!stopped) {
      const u = { host: `${app}-h${seq++}`, ver: `v${seq % 7}` };
      try {
        const res = await fetch(server.url('/api/v1/update/'), { method: 'POST', body: update(app, u.ver, u.host) });
        if (res.status === 200) acked.push({ ...u, at: Date.now() });
        else await sleep(20);
      } catch {
        return; // the server is gone
      }
    }
  };
  const all = Array.from({ length: clients }, one);
  return {
    acked,
    stop: async () => {
      stopped = true;
      await Promise.all(all);
      return acked;
    },
  };
}

/** The first rows in which two full version/ answers differ (for a readable failure). */
async function differences(x: Server, y: Server, max = 5): Promise<{ rows: [number, number]; differ: [string | undefined, string | undefined][] }> {
  const [fx, fy] = await Promise.all([fleetOf(x), fleetOf(y)]);
  const key = (r: Record<string, unknown>): string => JSON.stringify([r.app_id, r.host, r.instance]);
  const kx = new Map(fx.map((r) => [key(r), JSON.stringify(r)]));
  const ky = new Map(fy.map((r) => [key(r), JSON.stringify(r)]));
  const differ = [...new Set([...kx.keys(), ...ky.keys()])]
    .filter((k) => kx.get(k) !== ky.get(k))
    .slice(0, max)
    .map((k) => [kx.get(k), ky.get(k)] as [string | undefined, string | undefined]);
  return { rows: [fx.length, fy.length], differ };
}

async function missingOn(server: Server, app: string, acked: { host: string; ver: string }[]): Promise<string[]> {
  const rows = new Map((await fleetOf(server, `?app_id=${app}`)).map((r) => [r.host as string, r.ver as string]));
  return acked.filter((a) => rows.get(a.host) !== a.ver).map((a) => a.host);
}

describe.skipIf(!haveNats)('cluster faults', () => {
  test('NATS unreachable: the node keeps ingesting and answering, changes wait in the outbox, then reach the other node', async () => {
    nats = await NatsCluster.start(3);
    const a = await node('alpha', ['--cluster-ack-timeout', '1']);
    const b = await node('beta');
    await Promise.all([linked(a), linked(b)]);
    for (let i = 0; i < 3; i++) await nats.kill(i);
    await until(async () => (await a.vars()).cluster.connected === false, 10_000);

    await a.sendUdp(
      Array.from({ length: 200 }, (_, i) => update('Offline', '1.0', `o${i}`, 0)),
      4,
    );
    await a.settle();
    // Answered locally all the while.
    expect((await fleetOf(a, '?app_id=offline')).length).toBe(200);
    const post = await a.request('POST', '/api/v1/update/', update('Offline', '2.0', 'posted', 0));
    expect(post.status).toBe(503);
    expect(post.body.code).toBe('NOT_REPLICATED');
    const waiting = (await a.vars()).cluster;
    expect(waiting.outbox_entries).toBeGreaterThan(0);
    expect(waiting.outbox_bytes).toBeGreaterThan(0);

    for (let i = 0; i < 3; i++) await nats.restart(i);
    const onB = await until(async () => (await fleetOf(b, '?app_id=offline')).length === 201, 30_000, 200);
    expect(onB).toBe(true);
    expect((await fleetOf(b, '?app_id=offline')).find((r) => r.host === 'posted')?.ver).toBe('2.0');
    const drained = await until(async () => (await a.vars()).cluster.outbox_entries === 0, 10_000);
    expect(drained).toBe(true);
  });

  test('the outbox is bounded: past its bound the node resyncs its own instances once NATS returns', async () => {
    nats = await NatsCluster.start(3);
    const a = await node('alpha', ['--cluster-outbox-mb', '1']);
    const b = await node('beta');
    await Promise.all([linked(a), linked(b)]);
    for (let i = 0; i < 3; i++) await nats.kill(i);
    await until(async () => (await a.vars()).cluster.connected === false, 10_000);
    // About 12,000 first sights, ~170 bytes each: twice the bound.
    await run(
      process.execPath,
      [FUZZ, '--port', String(a.port), '--hosts', '3000', '--apps', '4', '--instances', '1', '--rate', '20000', '--duration', '2', '--json'],
      { maxBuffer: 1 << 24 },
    );
    await until(async () => (await a.vars()).write_backlog === 0, 10_000);
    const full = (await a.vars()).cluster;
    expect(full.outbox_full).toBe(true);
    expect(full.resync_pending).toBe(true);
    expect(full.outbox_bytes).toBeGreaterThan(1 << 20);
    const count = (await a.vars()).instances;
    expect(count).toBe(12_000);

    for (let i = 0; i < 3; i++) await nats.restart(i);
    const converged = await until(async () => (await differences(b, a, 1)).differ.length === 0, 60_000, 250);
    expect(await differences(b, a)).toEqual({ rows: [count, count], differ: [] });
    expect(converged).toBe(true);
    const after = (await a.vars()).cluster;
    expect(after.resync_pending).toBe(false);
    expect(after.outbox_full).toBe(false);
  });

  test('kill -9 of a node during an HTTP + UDP storm: every update it acknowledged is on the other node; restarted, it catches up', async () => {
    nats = await NatsCluster.start(3);
    const a = await node('alpha');
    const b = await node('beta');
    await Promise.all([linked(a), linked(b)]);
    const storm = httpStorm(a, 'killed');
    const udp = run(process.execPath, [FUZZ, '--port', String(a.port), '--hosts', '2000', '--apps', '3', '--rate', '20000', '--duration', '6', '--json'], {
      maxBuffer: 1 << 24,
    }).catch(() => null);
    await sleep(4000);
    a.proc.kill('SIGKILL');
    const acked = await storm.stop();
    await udp;
    // HTTP writes wait for commits that a storm of first sights makes large: few get through.
    expect(acked.length).toBeGreaterThan(5);
    // Every acknowledged update reaches B (it was in the stream when A answered).
    const complete = await until(async () => (await missingOn(b, 'killed', acked)).length === 0, 20_000, 200);
    expect(await missingOn(b, 'killed', acked)).toEqual([]);
    expect(complete).toBe(true);

    await a.stop('SIGKILL');
    const again = await node('alpha', [], a.dataDir, a.port);
    await linked(again);
    // A published what it had committed but not yet published (its outbox), and took in what B had.
    const same = await until(async () => (await differences(again, b, 1)).differ.length === 0, 30_000, 500);
    expect(await differences(again, b)).toEqual({ rows: [(await b.vars()).instances, (await b.vars()).instances], differ: [] });
    expect(same).toBe(true);
    console.log(`kill -9 of a node: ${acked.length} acknowledged HTTP updates, none lost; restarted node converged (${(await b.vars()).instances} instances)`);
  });

  test('one of three nats-servers killed during a storm: no acknowledged update lost, writes stall only briefly', async () => {
    nats = await NatsCluster.start(3);
    const a = await node('alpha');
    const b = await node('beta');
    await Promise.all([linked(a), linked(b)]);
    const storm = httpStorm(a, 'natsdown');
    await sleep(1500);
    // The server the node is connected to is the worst case: kill each in turn until one was it.
    const killedAt = Date.now();
    await nats.kill(0);
    await sleep(8000);
    const acked = await storm.stop();
    const after = acked.filter((x) => x.at > killedAt).map((x) => x.at);
    const stall = after.length === 0 ? Infinity : Math.max(after[0]! - killedAt, ...after.slice(1).map((t, i) => t - after[i]!));
    console.log(`one nats-server killed: ${acked.length} acknowledged, longest stall ${stall} ms`);
    expect(after.length).toBeGreaterThan(10);
    // A stream leader on the killed server is re-elected (RAFT) in a few seconds.
    expect(stall).toBeLessThan(10_000);
    const complete = await until(async () => (await missingOn(b, 'natsdown', acked)).length === 0, 20_000, 200);
    const miss = await missingOn(b, 'natsdown', acked);
    if (miss.length > 0) {
      const onA = new Map((await fleetOf(a, '?app_id=natsdown')).map((r) => [r.host, r]));
      const onB = new Map((await fleetOf(b, '?app_id=natsdown')).map((r) => [r.host, r]));
      console.log(
        miss.map((h) => [h, acked.find((x) => x.host === h), onA.get(h), onB.get(h)]),
        JSON.stringify((await a.vars()).cluster),
        JSON.stringify((await b.vars()).cluster),
        onA.size,
        onB.size,
        a.log.slice(-1500),
        b.log.slice(-1500),
      );
    }
    expect(miss).toEqual([]);
    expect(complete).toBe(true);
  });

  test('a node wiped and restarted empty converges to the same state as the others (snapshot, then the bounded stream)', async () => {
    nats = await NatsCluster.start(3);
    // A small stream: its oldest messages are gone by the time the node comes back.
    const opts = ['--cluster-stream-mb', '1', '--cluster-snapshot-seconds', '1'];
    const a = await node('alpha', opts);
    const b = await node('beta', opts);
    await Promise.all([linked(a), linked(b)]);
    await run(
      process.execPath,
      [FUZZ, '--port', String(a.port), '--hosts', '2000', '--apps', '5', '--instances', '2', '--rate', '20000', '--duration', '3', '--json'],
      { maxBuffer: 1 << 24 },
    );
    await a.sendUdp(Array.from({ length: 50 }, (_, i) => update('Later', '3.0', `l${i}`, 0)));
    await until(async () => (await b.vars()).instances === (await a.vars()).instances, 20_000, 200);
    // Let a snapshot cover most of it, then more changes after it.
    await until(async () => (await a.vars()).cluster.snapshots.written > 0, 20_000, 200);
    await b.stop('SIGKILL');
    rmSync(b.dataDir, { recursive: true, force: true });
    await a.sendUdp(Array.from({ length: 50 }, (_, i) => update('Later', '3.1', `l${i}`, 0)));
    await a.settle();
    const wiped = await node('beta', opts, b.dataDir, b.port);
    await linked(wiped);
    const same = await until(async () => (await differences(wiped, a, 1)).differ.length === 0, 60_000, 500);
    const v = (await wiped.vars()).cluster;
    console.log(
      `wiped node: caught up ${v.snapshots.loaded_instances} instances from a snapshot in ${v.snapshots.loaded_ms} ms, then the stream from ${v.snapshots.loaded_seq}`,
    );
    expect(v.snapshots.loaded_instances).toBeGreaterThan(0);
    const n = (await a.vars()).instances;
    expect(await differences(wiped, a)).toEqual({ rows: [n, n], differ: [] });
    expect(same).toBe(true);
  });
});
