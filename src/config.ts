// partiscid's options: defaults in one typed object, parsed in one place
// (node:util parseArgs, through cli/args.ts). Both spellings work:
// GNU-style (--port 7777, --port=7777) and the original Go server's
// (-port=7777, -danger, -trim=3600, -v), so existing service files keep
// working.

import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { readArgs, type Flag, type FlagType } from './cli/args.js';
import { UsageError } from './errors.js';
import { parseAllow } from './ingest/allow-list.js';

export interface ServerConfig {
  port: number;
  /** IP to listen on; '' = all addresses (IPv6 and IPv4). */
  listenIp: string;
  danger: boolean;
  /** Remove instances not updated for this many seconds; 0 = keep forever. */
  trimSeconds: number;
  /** An instance not updated for this many seconds is stale; 0 = never. */
  staleSeconds: number;
  /** Keep version history this many days; 0 = forever. */
  historyDays: number;
  verbose: boolean;
  /** LMDB data folder. */
  dataDir: string;
  /** When set, HTTP writes need "Authorization: Bearer <token>". */
  writeToken: string;
  /** When set, UDP updates only from these networks (comma-separated CIDR blocks). */
  allow: string;
  /** UDP ingest worker threads. */
  workers: number;
  /** UDP receive buffer to ask the kernel for, per socket. */
  rcvbufBytes: number;
  /** Bytes per ingest ring (power of two). */
  ringBytes: number;
  /** Memory an SQL query may use beyond the tables, MiB; 0 = SQL off. */
  sqlMemoryMiB: number;
  /** An SQL query is interrupted after this many seconds. */
  sqlTimeoutSeconds: number;
  /** Most rows an SQL answer may have. */
  sqlMaxRows: number;
  /** DuckDB threads. */
  sqlThreads: number;
  /** NATS servers of the cluster (comma-separated nats:// URLs); '' = a single node. */
  cluster: string;
  /** This node's name in the cluster. */
  node: string;
  /** JetStream replicas of the change stream. */
  clusterReplicas: number;
  /** Bound of the outbox (MiB of unpublished changes). */
  clusterOutboxMb: number;
  /** Bound of the change stream (MiB). */
  clusterStreamMb: number;
  /** Seconds an HTTP write waits for the cluster's acknowledgement. */
  clusterAckTimeout: number;
  /** Seconds between snapshots (0 = never). */
  clusterSnapshotSeconds: number;
  help: boolean;
}

/** A node name from the host name: what a NATS subject token may hold. */
export function defaultNodeName(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '_')
      .slice(0, 64) || 'node'
  );
}

export const DEFAULTS: Readonly<ServerConfig> = {
  port: 7777,
  listenIp: '',
  danger: false,
  trimSeconds: 0,
  // The original advised an update "at least once every 24 hours": an hour's grace.
  staleSeconds: 25 * 3600,
  historyDays: 30,
  verbose: false,
  dataDir: './data',
  writeToken: process.env.PARTISCI_WRITE_TOKEN ?? '',
  allow: '',
  workers: availableParallelism(),
  rcvbufBytes: 8 * 1024 * 1024,
  ringBytes: 8 * 1024 * 1024,
  sqlMemoryMiB: 512,
  sqlTimeoutSeconds: 5,
  sqlMaxRows: 100_000,
  sqlThreads: 1,
  cluster: '',
  node: defaultNodeName(),
  clusterReplicas: 3,
  clusterOutboxMb: 256,
  clusterStreamMb: 1024,
  clusterAckTimeout: 5,
  clusterSnapshotSeconds: 300,
  help: false,
};

interface FlagSpec {
  key: keyof ServerConfig;
  kind: 'int' | 'string' | 'bool' | 'ip' | 'cidrs' | 'urls' | 'name';
  min?: number;
  max?: number;
  pow2?: boolean;
  /** What --help shows as its value, if not its kind's (ARG_OF_KIND). */
  arg?: string;
  help: string;
}

/** The value --help shows after a flag of each kind. */
const ARG_OF_KIND: Record<FlagSpec['kind'], string> = {
  bool: '',
  int: 'N',
  string: 'TOKEN',
  ip: 'IP',
  cidrs: 'CIDR,...',
  urls: 'URL,...',
  name: 'NAME',
};

const FLAGS: Record<string, FlagSpec> = {
  port: { key: 'port', kind: 'int', min: 1, max: 65535, help: 'UDP and HTTP port (default 7777)' },
  listenip: { key: 'listenIp', kind: 'ip', help: 'listen only on this IP (default: all)' },
  danger: { key: 'danger', kind: 'bool', help: 'enable dangerous commands for testing (POST /api/v1/_danger/clear/)' },
  trim: { key: 'trimSeconds', kind: 'int', min: 0, max: 10 * 365 * 86400, help: 'forget instances not updated for this many seconds (0 = keep forever)' },
  stale: {
    key: 'staleSeconds',
    kind: 'int',
    min: 0,
    max: 10 * 365 * 86400,
    help: 'an instance not updated for this many seconds is stale (default 90000 = 25 h; 0 = never)',
  },
  'history-days': { key: 'historyDays', kind: 'int', min: 0, max: 100 * 365, help: 'keep version history this many days (default 30; 0 = forever)' },
  v: { key: 'verbose', kind: 'bool', help: 'log more details' },
  verbose: { key: 'verbose', kind: 'bool', help: 'same as -v' },
  data: { key: 'dataDir', kind: 'string', arg: 'DIR', help: 'LMDB data folder (default ./data)' },
  'write-token': { key: 'writeToken', kind: 'string', help: 'require "Authorization: Bearer TOKEN" for HTTP writes (default: $PARTISCI_WRITE_TOKEN)' },
  allow: { key: 'allow', kind: 'cidrs', help: 'accept UDP updates only from these networks, e.g. 10.0.0.0/8,192.0.2.7' },
  workers: { key: 'workers', kind: 'int', min: 1, max: 64, help: 'UDP ingest worker threads (default: number of cores)' },
  rcvbuf: { key: 'rcvbufBytes', kind: 'int', min: 65536, max: 1 << 30, help: 'UDP receive buffer to request per socket, bytes (default 8 MiB)' },
  'ring-bytes': { key: 'ringBytes', kind: 'int', min: 65536, max: 1 << 30, pow2: true, help: 'bytes per ingest ring, a power of two (default 8 MiB)' },
  'sql-memory': {
    key: 'sqlMemoryMiB',
    kind: 'int',
    min: 0,
    max: 1 << 20,
    help: 'memory an SQL query may use beyond the tables, MiB (default 512; 0 = no SQL)',
  },
  'sql-timeout': { key: 'sqlTimeoutSeconds', kind: 'int', min: 1, max: 3600, help: 'an SQL query is stopped after this many seconds (default 5)' },
  'sql-max-rows': { key: 'sqlMaxRows', kind: 'int', min: 1, max: 10_000_000, help: 'most rows an SQL answer may have (default 100000)' },
  'sql-threads': { key: 'sqlThreads', kind: 'int', min: 1, max: 64, help: 'threads DuckDB may use for one query (default 1)' },
  cluster: { key: 'cluster', kind: 'urls', help: 'join a cluster through these NATS servers, e.g. nats://a:4222,nats://b:4222' },
  node: { key: 'node', kind: 'name', help: "this node's name in the cluster (default: the host name)" },
  'cluster-replicas': { key: 'clusterReplicas', kind: 'int', min: 1, max: 5, help: 'JetStream replicas of the change stream (default 3)' },
  'cluster-outbox-mb': {
    key: 'clusterOutboxMb',
    kind: 'int',
    min: 1,
    max: 1 << 20,
    help: 'MiB of unpublished changes kept in the outbox; past it, a resync (default 256)',
  },
  'cluster-stream-mb': { key: 'clusterStreamMb', kind: 'int', min: 1, max: 1 << 24, help: 'MiB the change stream keeps (default 1024)' },
  'cluster-ack-timeout': {
    key: 'clusterAckTimeout',
    kind: 'int',
    min: 1,
    max: 600,
    help: 'seconds an HTTP write waits for the cluster (then 503 NOT_REPLICATED; default 5)',
  },
  'cluster-snapshot-seconds': {
    key: 'clusterSnapshotSeconds',
    kind: 'int',
    min: 0,
    max: 7 * 86400,
    help: 'how often a snapshot is written for nodes that catch up (default 300; 0 = never)',
  },
  help: { key: 'help', kind: 'bool', help: 'show this help' },
  h: { key: 'help', kind: 'bool', help: 'same as --help' },
};

export function usage(): string {
  const lines = ['Usage: partiscid [options]', '', 'Options (GNU --flag value or Go-style -flag=value):'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const arg = spec.arg ?? ARG_OF_KIND[spec.kind];
    const flag = `  ${name.length === 1 ? '-' : '--'}${name}${arg === '' ? '' : ` ${arg}`}`;
    // A column for the help, and at least a space after a longer flag.
    lines.push(`${flag.padEnd(25)} ${spec.help}`);
  }
  return lines.join('\n');
}

const TYPES: Record<string, FlagType> = Object.fromEntries(Object.entries(FLAGS).map(([name, spec]) => [name, spec.kind === 'bool' ? 'boolean' : 'string']));

const RETIRED = { sqlite: '-sqlite is replaced by --data DIR (an LMDB folder); see --help' };

/** Parses argv (without node and script). Throws UsageError with a one-line message. */
export function parseArgs(argv: readonly string[], defaults: Readonly<ServerConfig> = DEFAULTS): ServerConfig {
  const config: ServerConfig = { ...defaults };
  const each = ({ name, value }: Flag): void => {
    const spec = FLAGS[name]!;
    const flag = `--${name}`;
    if (typeof value === 'boolean') {
      (config[spec.key] as boolean) = value;
    } else if (spec.kind === 'int') {
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
      if (!Number.isSafeInteger(n) || n < min || n > max || (spec.pow2 === true && (n & (n - 1)) !== 0)) {
        const what = spec.pow2 === true ? `a power of two ${min}-${max}` : `an integer ${min}-${max}`;
        throw new UsageError(`${flag} must be ${what} (got ${JSON.stringify(value)})`);
      }
      (config[spec.key] as number) = n;
    } else if (spec.kind === 'cidrs') {
      try {
        if (parseAllow(value).length === 0) throw new UsageError('no network given');
      } catch (err) {
        throw new UsageError(`${flag}: ${(err as Error).message}`);
      }
      (config[spec.key] as string) = value;
    } else if (spec.kind === 'urls') {
      const urls = value
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== '');
      if (urls.length === 0) throw new UsageError(`${flag} must list NATS servers, e.g. nats://host:4222`);
      for (const u of urls) {
        if (!/^(nats|tls):\/\/[^\s/]+(:\d+)?$/.test(u)) throw new UsageError(`${flag}: ${JSON.stringify(u)} is not a NATS server URL (nats://host:port)`);
      }
      (config[spec.key] as string) = urls.join(',');
    } else if (spec.kind === 'name') {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new UsageError(`${flag} must be 1-64 letters, digits, _ or - (got ${JSON.stringify(value)})`);
      (config[spec.key] as string) = value;
    } else if (spec.kind === 'ip') {
      if (value !== '' && isIP(value) === 0) throw new UsageError(`${flag} must be an IP address (got ${JSON.stringify(value)})`);
      (config[spec.key] as string) = value;
    } else {
      if (value === '') throw new UsageError(`${flag} must not be empty`);
      (config[spec.key] as string) = value;
    }
  };
  readArgs(argv, TYPES, { retired: RETIRED, each });
  return config;
}
