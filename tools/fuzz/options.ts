// Command-line options of partisci-fuzz: defaults, usage text and parsing
// (src/cli/args.ts, as every command reads its flags). Parsing is strict
// (unknown flags and bad values are errors, reported in one line) because
// the benchmark drives this tool unattended and a typo silently ignored
// would measure the wrong thing.

import { readValues } from '../../src/cli/args.js';
import { UsageError } from '../../src/errors.js';
import { BAD_KINDS, isBadKind, type BadKind } from './bad-packets.js';
import type { FleetShape } from './fleet.js';
import { codePointLength, MAX_NAME_CHARS } from './names.js';

export interface FuzzOptions {
  server: string;
  port: number;
  /** Packets per second; 0 = as fast as possible. */
  rate: number;
  /** Seconds to run, or null when --count is given alone. */
  durationS: number | null;
  /** Packets to send, or null for a timed run. */
  count: number | null;
  hosts: number;
  apps: number;
  instances: number;
  /** Average seconds of fleet time between two releases of an app. */
  releaseEveryS: number;
  /** A labelled fleet: every update carries its host's env, region and dc. */
  labels: boolean;
  http: boolean;
  /** HTTP connections over all threads. */
  connections: number;
  /** UDP source sockets over all threads. */
  sockets: number;
  /** Share of malformed packets, 0 to 1. */
  bad: number;
  badKinds: BadKind[];
  /** Packets sent together, then a pause (1 = evenly spaced). */
  burst: number;
  workers: number;
  seed: number;
  check: boolean;
  json: boolean;
  /**
   * --waves: the versions of successive waves, in which every fleet
   * instance sends exactly one update carrying the wave's version; null for
   * the ordinary stream.
   */
  waves: string[] | null;
  /** Seconds between two waves (after the previous one was checked). */
  wavePauseS: number;
}

export const DEFAULTS: Readonly<FuzzOptions> = {
  server: 'localhost',
  port: 7777,
  rate: 1000,
  durationS: 10,
  count: null,
  hosts: 10_000,
  apps: 20,
  instances: 4,
  releaseEveryS: 60,
  labels: false,
  http: false,
  connections: 32,
  sockets: 64,
  bad: 0,
  badKinds: [...BAD_KINDS],
  burst: 1,
  workers: 1,
  seed: 1,
  check: false,
  json: false,
  waves: null,
  wavePauseS: 1,
};

const LIMITS = {
  hosts: 10_000_000, // host names embed an IPv4-style index below 2^24
  apps: 100_000,
  instances: 65_536, // instance numbers 0-65535
  workers: 64,
  sockets: 4096,
  connections: 4096,
  /** Fleet members are indexed by a permutation of up to 2^52 elements. */
  fleetSize: 2 ** 52,
  waves: 1000,
} as const;

export const USAGE = `Usage: partisci-fuzz [options]

Sends a synthetic fleet's version updates to a Partisci server.

Load
  --rate N|max        updates per second, evenly paced; 0 or max = as fast
                      as possible (default ${DEFAULTS.rate})
  --duration S        seconds to send (default ${DEFAULTS.durationS} unless --count is given)
  --count N           updates to send; with --duration, whichever ends first
  --burst N           send N updates at once, then pause (keeps the rate)
  --workers N         sender threads, for rates one thread cannot reach (default ${DEFAULTS.workers})
  --bad FRACTION      share of malformed packets, 0 to 1 (default ${DEFAULTS.bad})
  --bad-kinds A,B     only these kinds of malformed packets (default: all):
                      ${BAD_KINDS.join(', ')}
Fleet
  --hosts N           hosts (default ${DEFAULTS.hosts})
  --apps N            apps on every host (default ${DEFAULTS.apps})
  --instances N       instances of every app on every host (default ${DEFAULTS.instances})
  --release-every S   average seconds between releases of an app (default ${DEFAULTS.releaseEveryS})
  --labels            a labelled fleet: each update carries its host's labels
                      env (prod 70%, staging, dev), region and dc
  --seed N            seed of the fleet and of the packet stream (default ${DEFAULTS.seed})
Waves
  --waves V1,V2,...   play waves instead of a stream: in each, every instance of the
                      fleet sends exactly one update carrying that version, in a
                      seeded order of its own, paced at --rate (not with --duration,
                      --count, --bad or --release-every); e.g. 1.0.0,2.0.0,2.0.0 is a
                      fleet coming online, a release rolling out, a restart
  --wave-pause S      seconds between two waves (default ${DEFAULTS.wavePauseS}); with --check the
                      next wave also waits until the previous one is shown or timed out
Server
  --server HOST       server name or address (default ${DEFAULTS.server})
  --port N            UDP and HTTP port (default ${DEFAULTS.port})
  --http              POST to /api/v1/update/ instead of sending UDP
  --connections N     HTTP connections over all threads (default ${DEFAULTS.connections})
  --sockets N         UDP source sockets over all threads (default ${DEFAULTS.sockets})
Output
  --check             compare the server's /debug/vars counters before and after,
                      and report applied, rejected and lost updates; with --waves,
                      after each wave: how much of the fleet the API shows on the
                      wave's version (app/A counts, then the full version/ listings),
                      how long after the last packet, whether app/A and the listings
                      ever disagree, and the server's drop counters
  --json              print the final summary as one JSON object on stdout
  -h, --help          show this help
`;

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      max === Number.MAX_SAFE_INTEGER
        ? `--${flag} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer`
        : `--${flag} must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

function positiveNumber(flag: string, text: string, what: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0) || !Number.isFinite(value)) throw new UsageError(`--${flag} must be a positive number of ${what}`);
  return value;
}

function rate(text: string): number {
  if (text === 'max') return 0;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError('--rate must be a positive integer or "max"');
  return value;
}

function fraction(text: string): number {
  const value = /^(0|1)(\.\d+)?$|^\.\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 1)) throw new UsageError('--bad must be a fraction from 0 to 1');
  return value;
}

/** Parses --waves: a comma-separated list of versions, each as an update's ver may be. */
export function waveVersions(text: string): string[] {
  const versions = text.split(',').map((ver) => ver.trim());
  if (versions.length === 0 || versions.every((ver) => ver === '')) throw new UsageError('--waves needs at least one version, e.g. --waves 1.0.0,2.0.0');
  const empty = versions.indexOf('');
  if (empty !== -1) throw new UsageError(`--waves: version ${empty + 1} of ${versions.length} is empty`);
  const long = versions.find((ver) => codePointLength(ver) > MAX_NAME_CHARS);
  if (long !== undefined) throw new UsageError(`--waves: "${long}" is longer than ${MAX_NAME_CHARS} characters`);
  if (versions.length > LIMITS.waves) throw new UsageError(`--waves: at most ${LIMITS.waves} waves`);
  return versions;
}

function seconds(flag: string, text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0) || !Number.isFinite(value)) throw new UsageError(`--${flag} must be a non-negative number of seconds`);
  return value;
}

function badKinds(text: string): BadKind[] {
  const kinds = text
    .split(',')
    .map((kind) => kind.trim())
    .filter((kind) => kind !== '');
  const unknown = kinds.find((kind) => !isBadKind(kind));
  if (unknown !== undefined) throw new UsageError(`--bad-kinds: unknown kind "${unknown}" (known: ${BAD_KINDS.join(', ')})`);
  if (kinds.length === 0) throw new UsageError('--bad-kinds needs at least one kind');
  return [...new Set(kinds)] as BadKind[];
}

const FLAGS = {
  server: 'string',
  port: 'string',
  rate: 'string',
  duration: 'string',
  count: 'string',
  hosts: 'string',
  apps: 'string',
  instances: 'string',
  'release-every': 'string',
  labels: 'boolean',
  http: 'boolean',
  connections: 'string',
  sockets: 'string',
  bad: 'string',
  'bad-kinds': 'string',
  burst: 'string',
  workers: 'string',
  seed: 'string',
  check: 'boolean',
  json: 'boolean',
  waves: 'string',
  'wave-pause': 'string',
  help: 'boolean',
  h: 'boolean',
} as const;

/** Parses argv (without node and script); returns null when help was asked for. */
export function parseOptions(argv: readonly string[]): FuzzOptions | null {
  const values = readValues(argv, FLAGS);
  if (values.help === true || values.h === true) return null;

  const options: FuzzOptions = { ...DEFAULTS, badKinds: [...DEFAULTS.badKinds] };
  const unlimited = Number.MAX_SAFE_INTEGER;
  if (values.server !== undefined) {
    if (values.server === '') throw new UsageError('--server must not be empty');
    options.server = values.server;
  }
  if (values.port !== undefined) options.port = integer('port', values.port, 1, 65535);
  if (values.rate !== undefined) options.rate = rate(values.rate);
  if (values.count !== undefined) {
    options.count = integer('count', values.count, 1, unlimited);
    options.durationS = null;
  }
  if (values.duration !== undefined) options.durationS = positiveNumber('duration', values.duration, 'seconds');
  if (values.hosts !== undefined) options.hosts = integer('hosts', values.hosts, 1, LIMITS.hosts);
  if (values.apps !== undefined) options.apps = integer('apps', values.apps, 1, LIMITS.apps);
  if (values.instances !== undefined) options.instances = integer('instances', values.instances, 1, LIMITS.instances);
  if (values['release-every'] !== undefined) options.releaseEveryS = positiveNumber('release-every', values['release-every'], 'seconds');
  options.labels = values.labels ?? false;
  options.http = values.http ?? false;
  if (values.connections !== undefined) options.connections = integer('connections', values.connections, 1, LIMITS.connections);
  if (values.sockets !== undefined) options.sockets = integer('sockets', values.sockets, 1, LIMITS.sockets);
  if (values.bad !== undefined) options.bad = fraction(values.bad);
  if (values['bad-kinds'] !== undefined) options.badKinds = badKinds(values['bad-kinds']);
  if (values.burst !== undefined) options.burst = integer('burst', values.burst, 1, unlimited);
  if (values.workers !== undefined) options.workers = integer('workers', values.workers, 1, LIMITS.workers);
  if (values.seed !== undefined) options.seed = integer('seed', values.seed, 0, unlimited);
  options.check = values.check ?? false;
  options.json = values.json ?? false;
  if (values.waves !== undefined) options.waves = waveVersions(values.waves);
  if (values['wave-pause'] !== undefined) options.wavePauseS = seconds('wave-pause', values['wave-pause']);

  if (options.hosts * options.apps * options.instances > LIMITS.fleetSize) {
    throw new UsageError('--hosts x --apps x --instances must be at most 2^52');
  }
  if (options.burst > 1 && options.rate === 0) throw new UsageError('--burst needs a paced --rate (not max)');
  if (values.connections !== undefined && !options.http) throw new UsageError('--connections applies only with --http');
  if (values.sockets !== undefined && options.http) throw new UsageError('--sockets applies only to UDP (not with --http)');
  if (values['bad-kinds'] !== undefined && options.bad === 0) throw new UsageError('--bad-kinds needs --bad greater than 0');
  if (options.waves !== null) {
    // A wave is the whole fleet once: its length is the fleet, its version the one given.
    for (const flag of ['duration', 'count', 'bad', 'release-every'] as const) {
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} does not apply with --waves (a wave is every fleet instance once, with the wave's version)`);
    }
    options.durationS = null;
    options.count = null;
  } else if (values['wave-pause'] !== undefined) {
    throw new UsageError('--wave-pause applies only with --waves');
  }
  return options;
}

/** The simulated fleet the options describe. */
export function fleetShapeOf(options: FuzzOptions): FleetShape {
  return {
    seed: options.seed,
    hosts: options.hosts,
    apps: options.apps,
    instances: options.instances,
    releaseEveryS: options.releaseEveryS,
    ...(options.labels ? { labels: true } : {}),
  };
}
