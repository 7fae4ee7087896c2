// partisci-fuzz as a child process: the load generator runs in its own
// process, as it would on another machine, and reports one JSON summary
// (--json). One sender thread (--workers 1) unless told otherwise: on two
// cores a second sender thread takes the server's CPU and measures the
// contention (the waves section's fastest run asks for two on purpose).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Summary } from '../../tools/fuzz/report.js';
import { trackChild } from '../cleanup.js';
import { FUZZ } from '../paths.js';

export type FuzzSummary = Summary;

export interface FuzzRun {
  /** Resolves with the summary once fuzz exits. */
  done: Promise<FuzzSummary>;
  /** Stop sending now (fuzz still reports what it sent). */
  stop(): void;
}

export function startFuzz(port: number, args: readonly string[], workers = 1): FuzzRun {
  const child = trackChild(
    spawn(process.execPath, [FUZZ, '--server', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const done = once(child, 'exit').then(([code]) => {
    const line = stdout.trim().split('\n').pop() ?? '';
    // 130: stopped early by stop(), which still prints the summary.
    if ((code !== 0 && code !== 130) || line === '') throw new Error(`partisci-fuzz ${args.join(' ')} failed (exit ${code}):\n${stderr}`);
    return JSON.parse(line) as FuzzSummary;
  });
  return {
    done,
    stop(): void {
      if (child.exitCode === null) child.kill('SIGINT');
    },
  };
}

export function runFuzz(port: number, args: readonly string[], workers = 1): Promise<FuzzSummary> {
  return startFuzz(port, args, workers).done;
}
