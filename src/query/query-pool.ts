// The query pool: a small piscina pool for bulk reads (whole-fleet and
// whole-app lists, history, rollouts). Small selective queries stay on the
// HTTP thread, where a pool round trip would cost more than the query.

import { Piscina } from 'piscina';
import { InvalidCursorError } from '../errors.js';
import type { QueryPoolData, QueryRefused, QueryTask } from '../workers/query-task.js';

export class QueryPool {
  readonly #pool: Piscina;

  constructor(data: QueryPoolData, threads = 1) {
    this.#pool = new Piscina({
      filename: new URL('../workers/query-task.js', import.meta.url).href,
      workerData: data,
      minThreads: threads,
      maxThreads: threads,
      // Keep the threads (and their open store) between queries.
      idleTimeout: Infinity,
      // A query's garbage is short-lived: a small young generation keeps
      // the thread's resident memory small.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
  }

  /** The answer's bytes; rejects with InvalidCursorError for a cursor the query cannot use. */
  async run(task: QueryTask): Promise<Buffer> {
    const out = (await this.#pool.run(task)) as Uint8Array | QueryRefused;
    if (!(out instanceof Uint8Array)) throw new InvalidCursorError(out.message.replace(/^cursor /, ''));
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
