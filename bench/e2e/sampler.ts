// Samples the server while a step runs: memory from /proc (free for the
// server) and, less often, /debug/vars (costs the server a little), keeping
// the peaks a single before/after reading would miss.

import { memory } from './proc.js';
import type { Server } from './server.js';

export interface Peaks {
  rss_anon_peak: number;
  rss_file_peak: number;
  backlog_peak: number;
  backlog_bytes_peak: number;
  /** ms after start() when udp_datagrams first moved (null: never seen). */
  first_datagram_ms: number | null;
}

export class Sampler {
  readonly #started = performance.now();
  readonly #memTimer: NodeJS.Timeout;
  readonly #varsTimer: NodeJS.Timeout;
  #baseDatagrams: number | null = null;
  #busy = false;
  peaks: Peaks = { rss_anon_peak: 0, rss_file_peak: 0, backlog_peak: 0, backlog_bytes_peak: 0, first_datagram_ms: null };

  constructor(server: Server, varsEveryMs: number, baseDatagrams: number | null = null) {
    this.#baseDatagrams = baseDatagrams;
    const sampleMemory = (): void => {
      try {
        const m = memory(server.pid);
        this.peaks.rss_anon_peak = Math.max(this.peaks.rss_anon_peak, m.rss_anon);
        this.peaks.rss_file_peak = Math.max(this.peaks.rss_file_peak, m.rss_file);
      } catch {
        // the process is gone; the caller will notice
      }
    };
    sampleMemory();
    this.#memTimer = setInterval(sampleMemory, 100);
    this.#varsTimer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      server
        .vars()
        .then((v) => {
          const ms = performance.now() - this.#started;
          if (this.#baseDatagrams === null) this.#baseDatagrams = v.udp_datagrams;
          else if (this.peaks.first_datagram_ms === null && v.udp_datagrams > this.#baseDatagrams) this.peaks.first_datagram_ms = ms;
          this.peaks.backlog_peak = Math.max(this.peaks.backlog_peak, v.write_backlog);
          this.peaks.backlog_bytes_peak = Math.max(this.peaks.backlog_bytes_peak, v.write_backlog_bytes);
        })
        .catch(() => {})
        .finally(() => (this.#busy = false));
    }, varsEveryMs);
  }

  get startedAt(): number {
    return this.#started;
  }

  stop(): Peaks {
    clearInterval(this.#memTimer);
    clearInterval(this.#varsTimer);
    return this.peaks;
  }
}
