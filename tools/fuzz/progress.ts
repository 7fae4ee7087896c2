// The once-a-second progress line, on stderr and only on a terminal, so
// piped or --json output stays clean.

import type { Progress } from './run-senders.js';

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatRate(rate: number): string {
  return rate === 0 ? 'max' : `${formatCount(rate)}/s`;
}

/** One progress line: totals, and the rate over the last interval against the target. */
export function progressLine(now: Progress, previous: Progress, targetRate: number): string {
  const seconds = (now.elapsedMs - previous.elapsedMs) / 1000;
  const recent = seconds > 0 ? (now.sent - previous.sent) / seconds : 0;
  const parts = [
    `${(now.elapsedMs / 1000).toFixed(1).padStart(6)} s`,
    `sent ${formatCount(now.sent)}`,
    `rate ${formatCount(recent)}/s (target ${formatRate(targetRate)})`,
  ];
  if (now.sentBad > 0) parts.push(`bad ${formatCount(now.sentBad)}`);
  if (now.sendErrors > 0) parts.push(`errors ${formatCount(now.sendErrors)}`);
  return parts.join('  ');
}

export class ProgressDisplay {
  private previous: Progress = { elapsedMs: 0, sent: 0, sentBad: 0, sendErrors: 0 };
  private shown = false;
  private readonly stream: NodeJS.WriteStream;
  private readonly targetRate: number;

  constructor(stream: NodeJS.WriteStream, targetRate: number) {
    this.stream = stream;
    this.targetRate = targetRate;
  }

  update(progress: Progress): void {
    if (!this.stream.isTTY) return;
    this.stream.write(`\r${progressLine(progress, this.previous, this.targetRate)}\x1b[K`);
    this.previous = progress;
    this.shown = true;
  }

  /** Ends the progress line so the summary starts on a fresh one. */
  finish(): void {
    if (this.shown) this.stream.write('\n');
    this.shown = false;
  }
}
