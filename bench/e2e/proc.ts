// What /proc says about the server process: CPU time of all its threads,
// and resident memory split into anonymous (heap, arenas, indexes) and
// file-backed (LMDB's memory map, code) pages, which mean different things:
// RssFile is page cache the kernel can drop, RssAnon is what the process
// really holds.

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { rssBreakdown } from '../../src/query/debug-vars.js';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of every thread of pid, in microseconds. */
export function cpuMicros(pid: number): number {
  return cpuOf(readFileSync(`/proc/${pid}/stat`, 'latin1'));
}

/** utime + stime of a /proc stat line (process or thread), in microseconds. */
function cpuOf(stat: string): number {
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from 1 with pid and comm first.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / clockTicks();
}

export interface Memory {
  rss_anon: number;
  rss_file: number;
}

export function memory(pid: number): Memory {
  const { rss_anon, rss_file } = rssBreakdown(pid);
  return { rss_anon, rss_file };
}

/**
 * CPU time the whole machine spent busy (all cores, all processes), in
 * microseconds: to see how much went to processes other than the server
 * and the sender (on a shared machine, the figures mean little without it).
 */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal ...
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1e6) / clockTicks();
}

/** CPU time (utime + stime, µs) of each thread of pid, by thread id. */
export function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), cpuOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

// recvmmsg's system call number, where we know it.
const RECVMMSG: Partial<Record<string, number>> = { x64: 299, arm64: 243 };

/**
 * The ingest threads: every thread of a partiscid is called "node", but
 * only ingest threads block in recvmmsg (they wait there for datagrams,
 * waking every 100 ms), so a few looks at what each thread is blocked in
 * find them. Empty where the system call number is unknown.
 */
export async function ingestThreads(pid: number, looks = 10): Promise<Set<number>> {
  const nr = RECVMMSG[process.arch];
  const found = new Set<number>();
  if (nr === undefined) return found;
  for (let i = 0; i < looks; i++) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        if (Number(readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1').split(' ', 1)[0]) === nr) found.add(Number(tid));
      } catch {
        // gone, or not allowed to look
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return found;
}

/** Where the server's CPU went between two threadCpu() readings, in µs. */
export interface CpuSplit {
  ingest: number;
  writer: number;
  main: number;
  other: number;
}

/**
 * Splits CPU by thread role: main (thread id = pid), ingest (ingestThreads),
 * writer (the busiest remaining thread, which during a storm is the writer;
 * the query pool and GC helpers are the rest).
 */
export function splitCpu(pid: number, ingest: Set<number>, before: Map<number, number>, after: Map<number, number>): CpuSplit {
  const split: CpuSplit = { ingest: 0, writer: 0, main: 0, other: 0 };
  let writer = 0;
  for (const [tid, us] of after) {
    const d = us - (before.get(tid) ?? 0);
    if (tid === pid) split.main += d;
    else if (ingest.has(tid)) split.ingest += d;
    else {
      split.other += d;
      writer = Math.max(writer, d);
    }
  }
  split.writer = writer;
  split.other -= writer;
  return split;
}
