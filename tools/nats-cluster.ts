// Starts real nats-server processes with JetStream for tests and the
// benchmark: one server, or a cluster of N on free ports (client and route
// ports), each with its own store folder in a temporary directory. Servers
// can be killed and started again on the same ports and folder.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** Where nats-server is: $NATS_SERVER, Debian's /usr/sbin/nats-server, or the PATH. */
export function natsServerPath(): string | null {
  const env = process.env.NATS_SERVER;
  if (env !== undefined && env !== '') return env;
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

interface Member {
  name: string;
  port: number;
  routePort: number;
  dir: string;
  proc: ChildProcess | null;
  log: string;
}

export class NatsCluster {
  readonly root: string;
  readonly #members: Member[];
  readonly #bin: string;
  readonly #track: (p: ChildProcess) => void;

  private constructor(root: string, members: Member[], bin: string, track: (p: ChildProcess) => void) {
    this.root = root;
    this.#members = members;
    this.#bin = bin;
    this.#track = track;
  }

  /** Starts `size` JetStream servers (a cluster when size > 1) and waits until they accept connections. */
  static async start(size = 3, options: { bin?: string; track?: (p: ChildProcess) => void } = {}): Promise<NatsCluster> {
    const bin = options.bin ?? natsServerPath();
    if (bin === null) throw new Error('nats-server not found (apt-get install nats-server, or set NATS_SERVER)');
    const root = mkdtempSync(join(tmpdir(), 'partisci-nats-'));
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      members.push({ name: `n${i}`, port: await freePort(), routePort: await freePort(), dir: join(root, `n${i}`), proc: null, log: '' });
    }
    const cluster = new NatsCluster(root, members, bin, options.track ?? (() => {}));
    for (let i = 0; i < size; i++) cluster.#spawn(i);
    await Promise.all(members.map((_, i) => cluster.waitReady(i)));
    return cluster;
  }

  get size(): number {
    return this.#members.length;
  }

  /** nats://127.0.0.1:port of every server (or of server i). */
  urls(): string[] {
    return this.#members.map((m) => `nats://127.0.0.1:${m.port}`);
  }

  url(i: number): string {
    return `nats://127.0.0.1:${this.#members[i]!.port}`;
  }

  /** Process ids of the running servers. */
  pids(): number[] {
    return this.#members.flatMap((m) => (m.proc?.pid === undefined || m.proc.exitCode !== null ? [] : [m.proc.pid]));
  }

  log(i: number): string {
    return this.#members[i]!.log;
  }

  running(i: number): boolean {
    const p = this.#members[i]!.proc;
    return p !== null && p.exitCode === null && p.signalCode === null;
  }

  #spawn(i: number): void {
    const m = this.#members[i]!;
    mkdirSync(m.dir, { recursive: true });
    const conf = join(m.dir, 'server.conf');
    const lines = [
      `server_name: ${m.name}`,
      `listen: 127.0.0.1:${m.port}`,
      `jetstream { store_dir: "${join(m.dir, 'js')}", max_memory_store: 64MB, max_file_store: 8GB }`,
    ];
    if (this.#members.length > 1) {
      const routes = this.#members.filter((o) => o !== m).map((o) => `nats-route://127.0.0.1:${o.routePort}`);
      lines.push(`cluster { name: partisci, listen: 127.0.0.1:${m.routePort}, routes: [${routes.join(', ')}] }`);
    }
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const proc = spawn(this.#bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    m.log = '';
    const keep = (d: Buffer): void => {
      m.log = (m.log + d.toString()).slice(-20_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    m.proc = proc;
    this.#track(proc);
  }

  /** Resolves once server i accepts TCP connections and has JetStream up (its log says so). */
  async waitReady(i: number, timeoutMs = 20_000): Promise<void> {
    const m = this.#members[i]!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (m.proc === null || m.proc.exitCode !== null) throw new Error(`nats-server ${m.name} exited:\n${m.log}`);
      if (/Server is ready/.test(m.log) && (await canConnect(m.port))) return;
      if (Date.now() > deadline) throw new Error(`nats-server ${m.name} did not start:\n${m.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9 of server i (its store folder stays). */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.#members[i]!.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill(signal);
    await exited;
  }

  /** Starts server i again on its ports and folder. */
  async restart(i: number): Promise<void> {
    await this.kill(i);
    this.#spawn(i);
    await this.waitReady(i);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#members.map((_, i) => this.kill(i)));
    rmSync(this.root, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
