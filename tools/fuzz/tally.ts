// What one sender thread got out, as returned to the main thread.

import type { BadKind } from './bad-packets.js';

export interface SenderResult {
  worker: number;
  /** Packets handed to the kernel (UDP) or answered by the server (HTTP). */
  sent: number;
  /** Of those, malformed ones. */
  sentBad: number;
  /** Packets the kernel refused (UDP) or requests that failed without an answer (HTTP). */
  sendErrors: number;
  badByKind: Record<string, number>;
  /** HTTP answers by status code; empty for UDP. */
  httpStatus: Record<string, number>;
  /** From this thread's start to its last send (UDP) or answer (HTTP). */
  elapsedMs: number;
}

export class SendTally {
  sent = 0;
  sentBad = 0;
  sendErrors = 0;
  private readonly badByKind: Record<string, number> = {};
  private readonly httpStatus: Record<string, number> = {};

  countSent(kind: BadKind | null): void {
    this.sent++;
    if (kind !== null) {
      this.sentBad++;
      this.badByKind[kind] = (this.badByKind[kind] ?? 0) + 1;
    }
  }

  countStatus(status: number): void {
    this.httpStatus[status] = (this.httpStatus[status] ?? 0) + 1;
  }

  result(worker: number, elapsedMs: number): SenderResult {
    return {
      worker,
      sent: this.sent,
      sentBad: this.sentBad,
      sendErrors: this.sendErrors,
      badByKind: { ...this.badByKind },
      httpStatus: { ...this.httpStatus },
      elapsedMs,
    };
  }
}

/** Adds up the results of all sender threads. */
export function combineResults(results: readonly SenderResult[]): Omit<SenderResult, 'worker'> {
  const total: Omit<SenderResult, 'worker'> = { sent: 0, sentBad: 0, sendErrors: 0, badByKind: {}, httpStatus: {}, elapsedMs: 0 };
  for (const r of results) {
    total.sent += r.sent;
    total.sentBad += r.sentBad;
    total.sendErrors += r.sendErrors;
    total.elapsedMs = Math.max(total.elapsedMs, r.elapsedMs);
    for (const [kind, n] of Object.entries(r.badByKind)) total.badByKind[kind] = (total.badByKind[kind] ?? 0) + n;
    for (const [status, n] of Object.entries(r.httpStatus)) total.httpStatus[status] = (total.httpStatus[status] ?? 0) + n;
  }
  return total;
}
