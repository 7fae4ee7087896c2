// SQL over current state and history (GET/POST /api/v1/sql), as the main
// thread sees it: the SQL thread (workers/sql-thread.ts, restarted if it
// dies), fed the committed batches as the engine reports them, and the
// HTTP handlers. A query never runs on this thread: it is posted to the
// SQL thread and answered when its outcome comes back.

import { Worker } from 'node:worker_threads';
import type { Engine } from '../workers/engine.js';
import type { SqlReply, SqlRequest, SqlThreadData } from '../workers/sql-thread.js';
import type { SqlOutcome } from '../sql/tables.js';
import { takeSqlChanges } from '../sql/changes.js';
import { BodyTooLargeError, MissingParameterError, SqlError, SqlRefusedError, SqlTimeoutError, SqlTooLargeError, SqlUnavailableError } from '../errors.js';
import type { HttpContext, Request } from '../http/context.js';
import type { HttpResponse } from 'uWebSockets.js';
import { param } from '../http/params.js';
import type { Reply } from '../http/respond.js';
import type { Logger } from '../log.js';

const SQL_THREAD = new URL('../workers/sql-thread.js', import.meta.url);
/** Longest query text. */
export const MAX_SQL_BYTES = 64 * 1024;
/** Queries waiting for the SQL thread beyond this are refused (503). */
const MAX_WAITING = 16;
const RESTART_AFTER_MS = 1000;

export class SqlService {
  readonly #data: SqlThreadData;
  readonly #log: Logger;
  readonly #waiting = new Map<number, (outcome: SqlOutcome | Error) => void>();
  #worker: Worker | null = null;
  #nextId = 1;
  #ready = false;
  #closing = false;
  #onBatch = (id: number, buffer: ArrayBuffer, length: number): void => {
    if (this.#worker === null) return;
    const changes = takeSqlChanges(buffer, length);
    if (changes !== null) this.#worker.postMessage({ type: 'CHANGES', id, buffer: changes } satisfies SqlRequest, [changes]);
  };
  readonly #engine: Engine;

  /** Starts the SQL thread; call right after the engine starts, so no committed batch is missed. */
  constructor(data: SqlThreadData, engine: Engine, log: Logger) {
    this.#data = data;
    this.#log = log;
    this.#engine = engine;
    engine.on('batch', this.#onBatch);
    this.#start();
  }

  /** Whether the tables are loaded. */
  get ready(): boolean {
    return this.#ready;
  }

  #start(): void {
    const worker = new Worker(SQL_THREAD, { workerData: this.#data, name: 'partisci-sql' });
    this.#worker = worker;
    this.#ready = false;
    worker.on('message', (msg: SqlReply) => {
      if (msg.type === 'READY') {
        this.#ready = true;
        this.#log.info('SQL tables loaded', { instances: msg.instances, history: msg.history, ms: msg.ms });
      } else if (msg.type === 'RESULT') {
        const done = this.#waiting.get(msg.id);
        this.#waiting.delete(msg.id);
        done?.(msg.outcome);
      }
    });
    worker.on('error', (err) => this.#log.error('SQL thread failed', { error: err.stack ?? err.message }));
    worker.on('exit', (code) => {
      this.#worker = null;
      this.#ready = false;
      for (const done of this.#waiting.values()) done(new SqlUnavailableError('the SQL thread stopped; try again'));
      this.#waiting.clear();
      if (this.#closing) return;
      this.#log.warn('SQL thread exited; restarting it', { code });
      setTimeout(() => {
        if (!this.#closing) this.#start();
      }, RESTART_AFTER_MS).unref();
    });
  }

  /** The answer's JSON bytes; rejects with the catalog's SQL errors. */
  async query(sql: string): Promise<Uint8Array> {
    const worker = this.#worker;
    if (worker === null) throw new SqlUnavailableError('the SQL thread is restarting; try again');
    if (this.#waiting.size >= MAX_WAITING) throw new SqlUnavailableError(`${MAX_WAITING} queries are waiting already; try again`);
    const id = this.#nextId++;
    const outcome = await new Promise<SqlOutcome | Error>((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage({ type: 'QUERY', id, sql } satisfies SqlRequest);
    });
    if (outcome instanceof Error) throw outcome;
    if (outcome.ok) return outcome.body;
    switch (outcome.code) {
      case 'SQL_REFUSED':
        throw new SqlRefusedError(outcome.message);
      case 'SQL_TIMEOUT':
        throw new SqlTimeoutError(outcome.message);
      case 'SQL_TOO_LARGE':
        throw new SqlTooLargeError(outcome.message);
      default:
        throw new SqlError(outcome.message);
    }
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#engine.off('batch', this.#onBatch);
    const worker = this.#worker;
    if (worker === null) return;
    const stopped = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'STOP' } satisfies SqlRequest);
    const timer = setTimeout(() => void worker.terminate(), 5000);
    await stopped;
    clearTimeout(timer);
  }
}

function answer(body: Uint8Array): Reply {
  return { status: 200, body, note: { bytes: body.length } };
}

function service(ctx: HttpContext): SqlService {
  if (ctx.sql === null) throw new SqlUnavailableError('SQL is off on this server (--sql-memory 0)');
  return ctx.sql;
}

/** GET sql?q=SELECT… */
export async function getSql(ctx: HttpContext, req: Request): Promise<Reply> {
  const sql = param(req.query, 'q');
  if (sql === undefined) throw new MissingParameterError('sql', 'q (the query)');
  return answer(await service(ctx).query(sql));
}

/** POST sql with the query as the body (text). */
export function postSql(ctx: HttpContext, req: Request, res: HttpResponse): Promise<Reply> {
  const sql = service(ctx);
  if (req.contentLength > MAX_SQL_BYTES) throw new BodyTooLargeError('sql', MAX_SQL_BYTES);
  return new Promise<Reply>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > MAX_SQL_BYTES) {
        done = true;
        reject(new BodyTooLargeError('sql', MAX_SQL_BYTES));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast) return;
      done = true;
      const text = Buffer.concat(chunks, size).toString('utf8');
      if (text.trim() === '') {
        reject(new MissingParameterError('POST sql', 'the query as the body'));
        return;
      }
      sql.query(text).then((body) => resolve(answer(body)), reject);
    });
  });
}
