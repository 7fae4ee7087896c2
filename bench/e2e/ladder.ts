// The UDP rate ladder: the whole fleet re-sending (repeats, as in a restart
// storm) at fixed rates for a fixed time each, against a server holding
// the 1,000,000 instances.
//
// Server CPU per update is the server's utime+stime (all threads, from
// /proc) over the step's window, minus what it burns idle over the same
// time (measured before the ladder), divided by the updates applied. The
// window runs from just before fuzz starts until every update is applied
// (fuzz --check waits for that), so it holds fuzz's start-up and the
// settling too; the idle correction keeps those from counting.

import { fleetArgs } from '../fleet.js';
import { sleep } from '../stats.js';
import { runFuzz } from './fuzz.js';
import { cpuMicros, machineBusyMicros, memory, splitCpu, threadCpu, type CpuSplit } from './proc.js';
import { Sampler } from './sampler.js';
import type { Server } from './server.js';

export interface LadderStep {
  /** Requested rate; null = as fast as the sender can go. */
  target_rate: number | null;
  duration_s: number;
  sent: number;
  /** What the sender achieved (sent / its sending time). */
  offered_rate: number;
  applied: number;
  applied_rate: number;
  /** (sent - applied - rejected) / sent, from fuzz --check. */
  loss: number;
  ring_full_drops: number;
  kernel_drops: number;
  /** Instances written to LMDB during the step (0 for a pure repeat storm). */
  written: number;
  server_cpu_us_per_update: number;
  /** The same without the idle correction. */
  server_cpu_us_per_update_gross: number;
  /** server_cpu_us_per_update by thread role (see proc.ts splitCpu), idle-corrected. */
  cpu_split_us_per_update: CpuSplit;
  /** Server CPU over the sending time, in cores (idle-corrected). */
  server_cores: number;
  sender_cpu_us: number;
  /** Sender CPU over its sending time, in cores. */
  sender_cores: number;
  /**
   * CPU the rest of the machine used over the step's window, in cores:
   * other processes (and this bench's bookkeeping). Near 0 on a quiet machine.
   */
  other_cores: number;
  rss_anon_peak: number;
  rss_file_peak: number;
  rss_anon_end: number;
  rss_file_end: number;
  backlog_peak: number;
  check_settled: boolean;
}

export interface Idle {
  /** Server CPU while idle, in µs per second (sweeps, polling threads, timers). */
  us_per_s: number;
  /** The same by thread role, µs per second. */
  split: CpuSplit;
}

export async function idleCpu(server: Server, ingest: Set<number>, ms: number): Promise<Idle> {
  const c0 = cpuMicros(server.pid);
  const th0 = threadCpu(server.pid);
  const t0 = performance.now();
  await sleep(ms);
  const seconds = (performance.now() - t0) / 1000;
  const split = splitCpu(server.pid, ingest, th0, threadCpu(server.pid));
  return {
    us_per_s: (cpuMicros(server.pid) - c0) / seconds,
    split: { ingest: split.ingest / seconds, writer: split.writer / seconds, main: split.main / seconds, other: split.other / seconds },
  };
}

export async function ladderStep(server: Server, rate: number | null, seconds: number, idle: Idle, ingest: Set<number>): Promise<LadderStep> {
  await server.settle(30_000);
  const v0 = await server.vars();
  const c0 = cpuMicros(server.pid);
  const th0 = threadCpu(server.pid);
  const m0 = machineBusyMicros();
  const t0 = performance.now();
  const sampler = new Sampler(server, 500);
  const fuzz = await runFuzz(server.port, ['--rate', rate === null ? 'max' : String(rate), '--duration', String(seconds), '--check', ...fleetArgs()]);
  const { vars: v1 } = await server.settle(30_000);
  const c1 = cpuMicros(server.pid);
  const th1 = threadCpu(server.pid);
  const m1 = machineBusyMicros();
  const windowS = (performance.now() - t0) / 1000;
  const peaks = sampler.stop();
  const end = memory(server.pid);

  const applied = v1.applied - v0.applied;
  const cpu = c1 - c0;
  const net = Math.max(0, cpu - idle.us_per_s * windowS);
  const split = splitCpu(server.pid, ingest, th0, th1);
  const perUpdate = (role: keyof CpuSplit): number => Math.max(0, split[role] - idle.split[role] * windowS) / applied;
  return {
    target_rate: rate,
    duration_s: fuzz.duration_s,
    sent: fuzz.sent,
    offered_rate: fuzz.achieved_rate,
    applied,
    applied_rate: applied / fuzz.duration_s,
    loss: fuzz.loss_rate ?? NaN,
    ring_full_drops: v1.ring_full_drops - v0.ring_full_drops,
    kernel_drops: v1.kernel_drops - v0.kernel_drops,
    written: v1.written - v0.written,
    server_cpu_us_per_update: net / applied,
    server_cpu_us_per_update_gross: cpu / applied,
    cpu_split_us_per_update: { ingest: perUpdate('ingest'), writer: perUpdate('writer'), main: perUpdate('main'), other: perUpdate('other') },
    server_cores: net / 1e6 / fuzz.duration_s,
    sender_cpu_us: fuzz.sender_cpu_us,
    sender_cores: fuzz.sender_cpu_us / 1e6 / fuzz.duration_s,
    other_cores: Math.max(0, m1 - m0 - cpu - fuzz.sender_cpu_us) / 1e6 / windowS,
    rss_anon_peak: Math.max(peaks.rss_anon_peak, end.rss_anon),
    rss_file_peak: Math.max(peaks.rss_file_peak, end.rss_file),
    rss_anon_end: end.rss_anon,
    rss_file_end: end.rss_file,
    backlog_peak: peaks.backlog_peak,
    check_settled: fuzz.check_settled ?? false,
  };
}
