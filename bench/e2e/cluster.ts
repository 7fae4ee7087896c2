// The cluster section: two partiscid nodes (A and B, one ingest worker
// each) on a 3-server JetStream cluster (R3) started on this machine, then
// a third node started empty. Everything shares the two cores: the three
// nats-servers, the three nodes and the sender.
//
//   1. first sights: partisci-fuzz --waves 1.0.0 over the fleet, to A;
//      how long until B shows every instance (committed), so changes
//      replicated per second from A to B; B's replication lag (publish by
//      A to commit on B, p50/p99 over its last 2,048 messages);
//   2. version changes: --waves 2.0.0, the same figures;
//   3. a repeat storm: --waves 2.0.0 again; the cluster's bytes (changes
//      published plus liveness digests) per repeat;
//   4. catch-up: node C starts on an empty folder; time until it shows the
//      whole fleet (a snapshot, then the stream after it).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsCluster } from '../../tools/nats-cluster.js';
import { removeDir, trackChild, trackDir } from '../cleanup.js';
import { fleetArgs, shapeArgs } from '../fleet.js';
import { sleep } from '../stats.js';
import { runFuzz, type FuzzSummary } from './fuzz.js';
import { cpuMicros, machineBusyMicros } from './proc.js';
import { ENGINE_ONLY, Server, freePort, getJson } from './server.js';

export interface ClusterOptions {
  hosts: number;
  apps: number;
  instances: number;
  /** UDP updates per second the sender offers A (null = as fast as it goes). */
  rate: number | null;
}

export const CLUSTER_FULL: ClusterOptions = { hosts: 10_000, apps: 25, instances: 4, rate: 100_000 };
export const CLUSTER_QUICK: ClusterOptions = { hosts: 2_500, apps: 25, instances: 4, rate: 100_000 };

interface ClusterVars {
  instances: number;
  write_backlog: number;
  drained: number;
  queued: number;
  cluster: {
    received_changes: number;
    published_changes: number;
    published_bytes: number;
    outbox_entries: number;
    digest_bytes_sent: number;
    digest_entries: number;
    replication_lag_ms: { p50: number; p99: number };
    publish_lag_ms: { p50: number; p99: number };
    snapshots: { written: number; last_instances: number; last_ms: number; loaded_instances: number; loaded_ms: number };
  };
}

export interface ReplicationStep {
  wave: string;
  changes: number;
  /** The sender's time for the wave (s) and its rate. */
  send_s: number;
  offered_rate: number;
  /** From the first packet until A has committed (and published) the wave. */
  a_committed_s: number;
  /** From the first packet until B has committed every change. */
  b_visible_s: number;
  /** changes / b_visible_s. */
  replicated_per_s: number;
  /** B after A: how long B trailed A's commits (s). */
  b_after_a_s: number;
  /** From the first packet until B had received (taken into its ring) every change: the link's part. */
  b_received_s: number;
  /** changes / b_received_s. */
  received_per_s: number;
  replication_lag_ms: { p50: number; p99: number };
  publish_lag_ms: { p50: number; p99: number };
  /** CPU per change (µs) from the first packet until B shows all: node A, node B, the three nats-servers together, the whole machine. */
  cpu_us_per_change: { a: number; b: number; nats: number; machine: number };
  complete: boolean;
}

export interface ClusterReport {
  options: ClusterOptions;
  fleet: number;
  /** The same first-sight wave on a node without --cluster: how fast one node commits them here (the bound). */
  single_node: { changes: number; committed_s: number; committed_per_s: number };
  steps: ReplicationStep[];
  /** The repeat wave: every instance once. */
  repeats: { repeats: number; send_s: number; published_bytes: number; digest_bytes: number; bytes_per_repeat: number };
  /** A hot storm: 10,000 instances repeating at the offered rate (many repeats per instance per digest). */
  hot_repeats: { repeats: number; send_s: number; published_bytes: number; digest_bytes: number; bytes_per_repeat: number };
  catch_up: { instances: number; seconds: number; snapshot_instances: number; snapshot_load_ms: number; complete: boolean } | null;
  seconds: number;
}

const vars = (s: Server): Promise<ClusterVars> => getJson<ClusterVars>(s.port, '/debug/vars');

/** Until the node has committed and published everything it received (its commits and outbox are empty). */
async function drained(s: Server, timeoutMs: number): Promise<boolean> {
  return until(
    async () => {
      const v = await vars(s);
      return v.drained >= v.queued && v.write_backlog === 0 && v.cluster.outbox_entries === 0;
    },
    timeoutMs,
    100,
  );
}

async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

function nodeArgs(nats: NatsCluster, name: string): string[] {
  return [...ENGINE_ONLY, '--cluster', nats.urls().join(','), '--node', name, '--cluster-replicas', '3', '--cluster-snapshot-seconds', '10'];
}

export async function runClusterSection(options: ClusterOptions, log: (line: string) => void): Promise<ClusterReport> {
  const started = performance.now();
  const fleet = options.hosts * options.apps * options.instances;
  const dirs = ['a', 'b', 'c', 'single'].map((n) => trackDir(mkdtempSync(join(tmpdir(), `partisci-bench-cluster-${n}-`))));
  const nats = await NatsCluster.start(3, { track: trackChild });
  trackDir(nats.root);
  const servers: Server[] = [];
  try {
    // The bound: how fast one node alone commits the first wave here.
    /** partisci-fuzz playing one wave over the bench's fleet. */
    const fuzzArgs = (wave: string): string[] => ['--waves', wave, ...shapeArgs(options), '--rate', options.rate === null ? 'max' : String(options.rate)];
    log(`cluster: reference: wave 1.0.0 to a single node (no --cluster)`);
    const single = (await Server.start(dirs[3]!, { workers: 1 })).server;
    servers.push(single);
    const s0 = performance.now();
    await runFuzz(single.port, fuzzArgs('1.0.0'));
    const settled = await single.settle(180_000);
    const singleS = (performance.now() - s0) / 1000;
    const singleNode = { changes: settled.vars.instances, committed_s: singleS, committed_per_s: settled.vars.instances / singleS };
    log(
      `  ${singleNode.changes.toLocaleString('en-US')} first sights committed after ${singleS.toFixed(1)} s: ${Math.round(singleNode.committed_per_s).toLocaleString('en-US')}/s`,
    );
    await single.stop();
    servers.pop();
    log(`cluster: 3 nats-servers (JetStream, R3); nodes A and B; fleet ${fleet.toLocaleString('en-US')} instances`);
    const [a, b] = await Promise.all(['a', 'b'].map(async (name, i) => (await Server.start(dirs[i]!, { workers: 1, args: nodeArgs(nats, name) })).server));
    servers.push(a!, b!);
    // Both linked (the stream exists) before the first packet.
    await until(
      async () => (await Promise.all([vars(a!), vars(b!)])).every((v) => (v as unknown as { cluster: { stream_ready: boolean } }).cluster.stream_ready),
      30_000,
      100,
    );

    const steps: ReplicationStep[] = [];
    for (const wave of ['1.0.0', '2.0.0']) {
      log(`cluster: wave ${wave} to A at ${options.rate === null ? 'max' : options.rate.toLocaleString('en-US')}/s`);
      const before = { a: await vars(a!), b: await vars(b!) };
      const cpu0 = { a: cpuMicros(a!.pid), b: cpuMicros(b!.pid), nats: nats.pids().reduce((s, p) => s + cpuMicros(p), 0), machine: machineBusyMicros() };
      const t0 = performance.now();
      const sent: FuzzSummary = await runFuzz(a!.port, fuzzArgs(wave));
      const sendS = (performance.now() - t0) / 1000;
      // Done on A: everything received is committed and published (UDP may have dropped some of the wave).
      // Done on B: it committed every change A published.
      let aDone = 0;
      let bDone = 0;
      let bReceived = 0;
      let changes = 0;
      const complete = await until(
        async () => {
          const [va, vb] = await Promise.all([vars(a!), vars(b!)]);
          const now = performance.now();
          if (aDone === 0 && va.drained >= va.queued && va.write_backlog === 0 && va.cluster.outbox_entries === 0) {
            aDone = now;
            changes = va.cluster.published_changes - before.a.cluster.published_changes;
          }
          if (aDone > 0 && bReceived === 0 && vb.cluster.received_changes - before.b.cluster.received_changes >= changes) bReceived = now;
          if (
            aDone > 0 &&
            bDone === 0 &&
            vb.cluster.received_changes - before.b.cluster.received_changes >= changes &&
            vb.write_backlog === 0 &&
            vb.drained >= vb.queued
          )
            bDone = now;
          return aDone > 0 && bDone > 0;
        },
        180_000,
        50,
      );
      const cpu1 = { a: cpuMicros(a!.pid), b: cpuMicros(b!.pid), nats: nats.pids().reduce((s, p) => s + cpuMicros(p), 0), machine: machineBusyMicros() };
      const vb = await vars(b!);
      const va = await vars(a!);
      const bS = ((bDone || performance.now()) - t0) / 1000;
      const step: ReplicationStep = {
        wave,
        changes,
        send_s: sendS,
        offered_rate: sent.sent / sendS,
        a_committed_s: ((aDone || performance.now()) - t0) / 1000,
        b_visible_s: bS,
        replicated_per_s: changes / bS,
        b_after_a_s: ((bDone || performance.now()) - (aDone || performance.now())) / 1000,
        b_received_s: ((bReceived || performance.now()) - t0) / 1000,
        received_per_s: changes / (((bReceived || performance.now()) - t0) / 1000),
        replication_lag_ms: vb.cluster.replication_lag_ms,
        publish_lag_ms: va.cluster.publish_lag_ms,
        cpu_us_per_change: {
          a: (cpu1.a - cpu0.a) / Math.max(1, changes),
          b: (cpu1.b - cpu0.b) / Math.max(1, changes),
          nats: (cpu1.nats - cpu0.nats) / Math.max(1, changes),
          machine: (cpu1.machine - cpu0.machine) / Math.max(1, changes),
        },
        complete,
      };
      steps.push(step);
      log(
        `  sent in ${sendS.toFixed(1)} s; A committed+published after ${step.a_committed_s.toFixed(1)} s, B shows all after ${bS.toFixed(1)} s: ` +
          `${Math.round(step.replicated_per_s).toLocaleString('en-US')} changes/s replicated (B received all after ${step.b_received_s.toFixed(1)} s); B lag p50 ${step.replication_lag_ms.p50.toFixed(0)} ms p99 ${step.replication_lag_ms.p99.toFixed(0)} ms; ` +
          `CPU per change: A ${step.cpu_us_per_change.a.toFixed(1)} µs, B ${step.cpu_us_per_change.b.toFixed(1)} µs, nats-servers ${step.cpu_us_per_change.nats.toFixed(1)} µs, machine ${step.cpu_us_per_change.machine.toFixed(1)} µs`,
      );
      await sleep(1000);
    }

    log('cluster: a repeat storm (wave 2.0.0 again) to A');
    // Once unmeasured: instances whose 2.0.0 the sender's UDP lost change now.
    await runFuzz(a!.port, fuzzArgs('2.0.0'));
    // Measured from a quiet A: the earlier waves' changes all committed and published.
    await drained(a!, 180_000);
    await sleep(2500); // digests of the last wave are out
    const r0 = await vars(a!);
    const t0 = performance.now();
    const sent = await runFuzz(a!.port, fuzzArgs('2.0.0'));
    const sendS = (performance.now() - t0) / 1000;
    await sleep(2500); // the last digest goes out within a second
    const r1 = await vars(a!);
    const repeats = repeatCost(sent.sent, sendS, r0, r1, 2, log);

    log('cluster: a hot repeat storm: 10,000 instances at the offered rate for 5 s');
    const hotArgs = [
      ...fleetArgs({ hosts: 100, apps: 25, instances: 4, releaseEveryS: 100_000_000, seed: 7 }),
      '--rate',
      options.rate === null ? 'max' : String(options.rate),
    ];
    await runFuzz(a!.port, [...hotArgs, '--duration', '2']); // first sights of the hot fleet
    await drained(a!, 180_000);
    await sleep(2500);
    const h0 = await vars(a!);
    const ht = performance.now();
    const hot = await runFuzz(a!.port, [...hotArgs, '--duration', '5']);
    const hotS = (performance.now() - ht) / 1000;
    await sleep(2500);
    const h1 = await vars(a!);
    const hotRepeats = repeatCost(hot.sent, hotS, h0, h1, 3, log);

    log('cluster: node C starts empty and catches up');
    // A snapshot that covers the fleet (written by A, the smallest name, every 10 s).
    await until(async () => (await vars(a!)).cluster.snapshots.last_instances >= (await vars(a!)).instances, 60_000, 250);
    await drained(a!, 180_000);
    const target = (await vars(a!)).instances;
    const cStart = performance.now();
    const c = Server.spawn(dirs[2]!, await freePort(), 1, nodeArgs(nats, 'c'));
    servers.push(c);
    await c.ready();
    const caught = await until(
      async () => {
        const v = await vars(c);
        return v.instances >= target && v.write_backlog === 0 && v.drained >= v.queued;
      },
      120_000,
      100,
    );
    const cv = await vars(c);
    const catchUp = {
      instances: cv.instances,
      seconds: (performance.now() - cStart) / 1000,
      snapshot_instances: cv.cluster.snapshots.loaded_instances,
      snapshot_load_ms: cv.cluster.snapshots.loaded_ms,
      complete: caught,
    };
    log(
      `  C shows ${cv.instances.toLocaleString('en-US')} instances ${catchUp.seconds.toFixed(1)} s after its start (snapshot of ${catchUp.snapshot_instances.toLocaleString('en-US')} loaded in ${(catchUp.snapshot_load_ms / 1000).toFixed(1)} s)`,
    );

    return {
      options,
      fleet,
      single_node: singleNode,
      steps,
      repeats,
      hot_repeats: hotRepeats,
      catch_up: catchUp,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop(10_000)));
    await nats.stop();
    for (const d of dirs) removeDir(d);
  }
}

/** What a repeat storm of `sent` updates cost the cluster's traffic, between two /debug/vars readings of the node. */
function repeatCost(sent: number, sendS: number, before: any, after: any, digits: number, log: (line: string) => void) {
  const published = after.cluster.published_bytes - before.cluster.published_bytes;
  const digests = after.cluster.digest_bytes_sent - before.cluster.digest_bytes_sent;
  const cost = { repeats: sent, send_s: sendS, published_bytes: published, digest_bytes: digests, bytes_per_repeat: (published + digests) / sent };
  log(
    `  ${sent.toLocaleString('en-US')} repeats: ${published} bytes of changes, ${digests.toLocaleString('en-US')} bytes of digests: ${cost.bytes_per_repeat.toFixed(digits)} bytes per repeat`,
  );
  return cost;
}
