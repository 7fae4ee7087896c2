// The writer and the committer in one thread, committing synchronously:
// for tools, tests and benchmarks that want the store's exact behaviour
// without the engine's threads (partiscid itself runs them apart:
// src/workers/writer-thread.ts and commit-thread.ts).

import { changesOf, type ChangeEvent } from './changes.js';
import { Committer } from './committer.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { loadFleet } from './loader.js';
import type { ClockBuffers } from './slot-clock.js';

export interface DirectCommit {
  /** Ring records now durable. */
  applied: number;
  ackSeq: number;
  written: number;
  removed: number;
  results: [number, number][];
  /** What changed, as the change feed tells it. */
  events: ChangeEvent[];
  ms: number;
}

export class DirectWriter {
  readonly fleet: Fleet;
  readonly committer: Committer;
  readonly #path: string;

  constructor(options: FleetOptions & { path: string }, clocks: ClockBuffers) {
    this.#path = options.path;
    this.committer = new Committer(options.path);
    this.fleet = new Fleet(options, clocks);
  }

  /** Builds the in-memory fleet from the store. */
  load(): void {
    loadFleet(this.#path, this.fleet);
  }

  apply(rec: Uint8Array, off: number, len: number): void {
    this.fleet.apply(rec, off, len);
  }

  /** Cuts a batch of everything absorbed and commits it (clocks too unless told otherwise). */
  commit(nowMs = Date.now(), options: { clocks?: boolean } = { clocks: true }): DirectCommit {
    const cut = this.fleet.cut(nowMs, options);
    const { ms } = this.committer.commit(cut);
    this.committer.release();
    this.fleet.committed(cut.id);
    return {
      applied: cut.applied,
      ackSeq: cut.ackSeq,
      written: cut.written,
      removed: cut.removed,
      results: cut.results,
      events: changesOf(cut.buffer, cut.length),
      ms,
    };
  }

  get counts(): { instances: number; hosts: number; apps: number } {
    return this.fleet.size;
  }

  get backlog(): { instances: number; bytes: number } {
    return this.fleet.backlog;
  }

  async close(): Promise<void> {
    await this.committer.close();
  }
}
