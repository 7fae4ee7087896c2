// First sight: instances the server has never seen (a second fleet, fuzz
// --seed 2: other host names), sent at storm rate into the server holding
// the 1,000,000. Each costs the writer random B-tree writes (~40 µs), so
// it absorbs them in memory and persists behind: the figures are the
// backlog that builds, whether the rings dropped anything (past a 96 MiB
// backlog the writer stops reading them), and how long persisting took.

import { fleetArgs, FLEET } from '../fleet.js';
import { sleep } from '../stats.js';
import { runFuzz } from './fuzz.js';
import { cpuMicros, memory } from './proc.js';
import { Sampler } from './sampler.js';
import type { Server } from './server.js';

export interface FirstSight {
  rate: number;
  sent: number;
  offered_rate: number;
  sender_cores: number;
  /** Instances the server did not have before (a few generated names may repeat fleet 1's). */
  new_instances: number;
  written: number;
  applied: number;
  /** (sent - applied - rejected) / sent once everything is persisted. */
  loss: number;
  ring_full_drops: number;
  kernel_drops: number;
  backlog_peak: number;
  backlog_bytes_peak: number;
  /** From the first datagram to the last instance persisted. */
  persist_s: number;
  /** Of which after the sender stopped. */
  persist_after_send_s: number;
  /** Instances written per second over persist_s. */
  persist_rate: number;
  server_cpu_us_per_new_instance: number;
  rss_anon_peak: number;
  rss_anon_end: number;
  rss_file_end: number;
  settled: boolean;
}

export async function firstSight(server: Server, rate: number, count: number, timeoutS: number): Promise<FirstSight> {
  await server.settle(30_000);
  const v0 = await server.vars();
  const c0 = cpuMicros(server.pid);
  const sampler = new Sampler(server, 100, v0.udp_datagrams);
  const fuzz = await runFuzz(server.port, ['--rate', String(rate), '--count', String(count), ...fleetArgs({ ...FLEET, seed: 2 })]);
  const sentAt = performance.now() - sampler.startedAt;
  const { vars: persisted, settled } = await server.settle(timeoutS * 1000);
  const persistedAt = performance.now() - sampler.startedAt;
  const c1 = cpuMicros(server.pid);
  // Repeats of the new instances count as applied when the clocks are next persisted (every 2 s).
  await sleep(2500);
  const v1 = await server.vars();
  const peaks = sampler.stop();
  const end = memory(server.pid);
  const firstMs = peaks.first_datagram_ms ?? 0;
  const newInstances = persisted.instances - v0.instances;
  const written = persisted.written - v0.written;
  const applied = v1.applied - v0.applied;
  return {
    rate,
    sent: fuzz.sent,
    offered_rate: fuzz.achieved_rate,
    sender_cores: fuzz.sender_cpu_us / 1e6 / fuzz.duration_s,
    new_instances: newInstances,
    written,
    applied,
    loss: (fuzz.sent - applied - (v1.rejected - v0.rejected)) / fuzz.sent,
    ring_full_drops: v1.ring_full_drops - v0.ring_full_drops,
    kernel_drops: v1.kernel_drops - v0.kernel_drops,
    backlog_peak: peaks.backlog_peak,
    backlog_bytes_peak: peaks.backlog_bytes_peak,
    persist_s: (persistedAt - firstMs) / 1000,
    persist_after_send_s: (persistedAt - sentAt) / 1000,
    persist_rate: (written * 1000) / (persistedAt - firstMs),
    server_cpu_us_per_new_instance: (c1 - c0) / Math.max(1, newInstances),
    rss_anon_peak: Math.max(peaks.rss_anon_peak, end.rss_anon),
    rss_anon_end: end.rss_anon,
    rss_file_end: end.rss_file,
    settled,
  };
}
