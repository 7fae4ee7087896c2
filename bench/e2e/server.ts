// One real partiscid process: started on a free port and a data folder,
// timed until it serves, watched through /debug/vars and /proc, stopped
// with SIGTERM (SIGKILL if it hangs).

import { spawn, type ChildProcess } from 'node:child_process';
import type { Counters } from '../../src/api/types.js';
import { freePort } from '../../tools/free-port.js';
import { once } from 'node:events';
import http from 'node:http';
import { trackChild } from '../cleanup.js';
import { PARTISCID } from '../paths.js';
import { sleep } from '../stats.js';

const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

/**
 * partiscid's flags beyond port, data and workers. The engine's sections
 * run without the SQL tables (their memory and start-up work are measured
 * by the labels section, bench/e2e/labels.ts, which turns them on).
 */
export const ENGINE_ONLY: readonly string[] = ['--sql-memory', '0'];

/** GET a JSON document; rejects on any status but 200. */
export function getJson<T = Record<string, unknown>>(port: number, path: string, fresh = false, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: fresh ? false : agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** What /debug/vars answers (the server's own type), as far as the benchmark reads it. */
export type Vars = Counters & { memory: { rss_anon: number; rss_file: number } };

export interface Startup {
  /** From spawn to the first 200 answer to GET /api/v1/app/. */
  serving_ms: number;
  /** From spawn to the writer having loaded the store (ingest is applied from then on). */
  loaded_ms: number;
  /** The writer's own figure for loading (its log line). */
  writer_load_ms: number;
  instances: number;
}

export class Server {
  readonly port: number;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  readonly spawnedAt: number;
  log = '';
  #loaded: Promise<{ atMs: number; loadMs: number; instances: number }>;

  private constructor(port: number, dataDir: string, workers: number, args: readonly string[]) {
    this.port = port;
    this.dataDir = dataDir;
    this.spawnedAt = performance.now();
    this.proc = trackChild(
      spawn(process.execPath, [PARTISCID, '--port', String(port), '--data', dataDir, '--workers', String(workers), ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    this.#loaded = new Promise((resolve, reject) => {
      this.proc.stderr!.on('data', (d: Buffer) => {
        // Keep the end of the log only (for error messages).
        this.log = (this.log + d.toString()).slice(-20_000);
        const m = /store loaded instances=(\d+) .*ms=(\d+)/.exec(this.log);
        if (m !== null) resolve({ atMs: performance.now() - this.spawnedAt, loadMs: Number(m[2]), instances: Number(m[1]) });
      });
      this.proc.once('exit', (code, signal) => reject(new Error(`partiscid exited (${code ?? signal}) before loading its store:\n${this.log}`)));
    });
    this.#loaded.catch(() => {}); // observed by start()
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Starts partiscid and waits until it answers HTTP and its writer has loaded the store. */
  static async start(
    dataDir: string,
    options: { port?: number; workers?: number; args?: readonly string[] } = {},
  ): Promise<{ server: Server; startup: Startup }> {
    const server = Server.spawn(dataDir, options.port ?? (await freePort()), options.workers, options.args);
    return { server, startup: await server.ready() };
  }

  /** Starts partiscid without waiting (see ready()). */
  static spawn(dataDir: string, port: number, workers = 2, args: readonly string[] = ENGINE_ONLY): Server {
    return new Server(port, dataDir, workers, args);
  }

  /** Waits until the server answers HTTP and its writer has loaded the store; times both from spawn. */
  async ready(): Promise<Startup> {
    const deadline = performance.now() + 60_000;
    let servingMs: number;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`partiscid exited (${this.proc.exitCode}):\n${this.log}`);
      try {
        // A new connection each try: the first answer must come from a listening server.
        await getJson(this.port, '/api/v1/app/', true, 2000);
        servingMs = performance.now() - this.spawnedAt;
        break;
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) throw new Error(`partiscid did not serve within 60 s:\n${this.log}`);
      await sleep(2);
    }
    const loaded = await Promise.race([this.#loaded, sleep(120_000).then(() => Promise.reject(new Error('store not loaded within 120 s')))]);
    return { serving_ms: servingMs, loaded_ms: loaded.atMs, writer_load_ms: loaded.loadMs, instances: loaded.instances };
  }

  vars(): Promise<Vars> {
    return getJson<Vars>(this.port, '/debug/vars');
  }

  /**
   * Waits until everything received is read by the writer and every
   * instance persisted. (Not write_backlog_bytes === 0: it can stay a few
   * hundred bytes above zero for good; see persist.ts.)
   */
  async settle(timeoutMs: number): Promise<{ vars: Vars; settled: boolean }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = await this.vars();
      if (v.drained >= v.queued && v.write_backlog === 0) return { vars: v, settled: true };
      if (performance.now() > deadline) return { vars: v, settled: false };
      await sleep(100);
    }
  }

  /** SIGTERM (partiscid drains and commits), SIGKILL after timeoutMs; returns ms to exit. */
  async stop(timeoutMs = 30_000): Promise<number> {
    const started = performance.now();
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return 0;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
    return performance.now() - started;
  }
}

export { freePort };
