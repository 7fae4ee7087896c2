// Clusters for tests: a JetStream cluster of real nats-server processes
// (tools/nats-cluster.ts) and partiscid nodes joined to it (test/e2e/harness.ts).

import { NatsCluster } from '../../tools/nats-cluster.js';
import { Server, freePort, sleep, tempDir } from '../e2e/harness.js';

export { NatsCluster };

export interface NodeOptions {
  name: string;
  nats: NatsCluster;
  dataDir?: string;
  port?: number;
  /** Only these servers (indexes); default all. */
  servers?: number[];
  extra?: string[];
}

/** Starts a partiscid node of the cluster (3 replicas when there are 3 NATS servers). */
export async function startNode(o: NodeOptions): Promise<Server> {
  const port = o.port ?? (await freePort());
  const dataDir = o.dataDir ?? tempDir(`partisci-${o.name}-`);
  const urls = (o.servers ?? [...Array(o.nats.size).keys()]).map((i) => o.nats.url(i));
  const args = [
    '--port',
    String(port),
    '--data',
    dataDir,
    '--workers',
    '1',
    '--cluster',
    urls.join(','),
    '--node',
    o.name,
    '--cluster-replicas',
    String(Math.min(3, o.nats.size)),
    ...(o.extra ?? []),
  ];
  return Server.start({ port, dataDir, args });
}

/** Waits until the node's cluster link is up (stream ready). */
export async function linked(server: Server, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await server.vars();
    if (v.cluster?.stream_ready === true && v.cluster?.connected === true) return;
    if (Date.now() > deadline) throw new Error(`node did not join the cluster: ${JSON.stringify(v.cluster)}\n${server.log}`);
    await sleep(100);
  }
}

/** The full version/ answer, sorted, without fields that legitimately differ by the moment of asking (status). */
export async function fleetOf(server: Server, query = ''): Promise<Record<string, unknown>[]> {
  const rows = (await server.get(`/api/v1/version/${query}`)).body.data as Record<string, unknown>[];
  return rows
    .map((r) => ({ ...r }))
    .sort((a, b) => JSON.stringify([a.app_id, a.host, a.instance]).localeCompare(JSON.stringify([b.app_id, b.host, b.instance])));
}
