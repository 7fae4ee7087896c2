// Starts the real partiscid (from dist/, built by `npm test`) on a free
// port with a fresh data folder, and talks to it over real UDP and HTTP.

import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../tools/free-port.js';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PARTISCID = fileURLToPath(new URL('../../dist/src/cli/partiscid.js', import.meta.url));
export const PARTISCI = fileURLToPath(new URL('../../dist/src/cli/partisci.js', import.meta.url));

export function tempDir(prefix = 'partisci-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StartOptions {
  args?: string[];
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
}

/**
 * Every partiscid a test started and has not seen exit: killed when the
 * test process exits, so a test that fails before its own cleanup leaves
 * no server running (and burning CPU under later tests and benchmarks).
 */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

export class Server {
  readonly port: number;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  log = '';
  /** UDP datagrams this harness has sent to the server. */
  sentDatagrams = 0;
  #ownsData: boolean;

  private constructor(port: number, dataDir: string, proc: ChildProcess, ownsData: boolean) {
    this.port = port;
    this.dataDir = dataDir;
    this.proc = proc;
    this.#ownsData = ownsData;
    running.add(proc);
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      // How it ended, for a failing test's report (a native crash leaves no log line).
      this.log += `\n[partiscid exited: code ${code}, signal ${signal}]\n`;
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
    proc.stdout!.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
  }

  /** Starts partiscid and waits until it answers HTTP. */
  static async start(options: StartOptions = {}): Promise<Server> {
    const port = options.port ?? (await freePort());
    const ownsData = options.dataDir === undefined;
    const dataDir = options.dataDir ?? tempDir();
    const args = options.args ?? ['--port', String(port), '--data', dataDir, '--workers', '2'];
    const proc = spawn(process.execPath, [PARTISCID, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new Server(port, dataDir, proc, ownsData);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`partiscid exited (${proc.exitCode}):\n${server.log}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/debug/vars`);
        if (res.ok) {
          const vars = (await res.json()) as { uptime_s?: number };
          if (vars.uptime_s !== undefined) break;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`partiscid did not start:\n${server.log}`);
      await sleep(50);
    }
    return server;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(this.url(path));
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
  }

  async request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; text: string; headers: Headers }> {
    // A copy: fetch takes ArrayBuffer-backed bytes only.
    const res = await fetch(this.url(path), { method, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body), headers });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  async vars(): Promise<Record<string, any>> {
    return (await this.get('/debug/vars')).body as Record<string, any>;
  }

  /** Sends each payload as one UDP datagram from its own source port (so they spread over workers). */
  async sendUdp(payloads: (string | Uint8Array)[], fromPorts = 1): Promise<void> {
    const sockets = Array.from({ length: fromPorts }, () => dgram.createSocket('udp4'));
    let i = 0;
    for (const p of payloads) {
      const sock = sockets[i++ % sockets.length]!;
      await new Promise<void>((resolve, reject) =>
        sock.send(typeof p === 'string' ? Buffer.from(p) : p, this.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
      this.sentDatagrams++;
    }
    for (const s of sockets) s.close();
  }

  /**
   * Waits until the server has received every datagram sent through this
   * harness (or `datagrams`), the writer has read everything queued, and
   * nothing waits to be persisted: then queries show every update sent.
   */
  async settle(datagrams = this.sentDatagrams, timeoutMs = 10_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.vars();
      const received = v.udp_datagrams + v.kernel_drops >= datagrams;
      if (received && v.drained >= v.queued && v.write_backlog === 0) return v;
      if (Date.now() > deadline) throw new Error(`server did not settle: ${JSON.stringify(v)}`);
      await sleep(25);
    }
  }

  /** Stops the process with signal; resolves with its exit code (null if a signal ended it). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = once(this.proc, 'exit');
      this.proc.kill(signal);
      await exited;
    }
    return this.proc.exitCode;
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.#ownsData) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls fn until it returns a truthy value or the time is up (then returns the last value). */
export async function until<T>(fn: () => Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(everyMs);
  }
}

export function update(app: string, ver: string, host?: string, instance?: number): string {
  const u: Record<string, unknown> = { app, ver };
  if (host !== undefined) u.host = host;
  if (instance !== undefined) u.instance = instance;
  return JSON.stringify(u);
}

export { freePort };
