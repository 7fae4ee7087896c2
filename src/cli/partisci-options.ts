// The partisci command's arguments: read with cli/args.ts (node:util
// parseArgs), so flags are spelled as partiscid's are (--port 7777,
// --port=7777, -port=7777).

import type { UpdateBody } from '../api/types.js';
import { UsageError } from '../errors.js';
import { readArgs, type FlagType } from './args.js';

export const USAGE = `Usage:
  partisci update APP VERSION [[HOST] INSTANCE] [--label NAME=VALUE ...]
                                                  send one update (UDP; --http to wait for the commit)
  partisci apps                                   applications, with instance counts
  partisci hosts                                  hosts
  partisci versions [--app A] [--host H] [--ver V] [--stale]
                                                  where each version runs
  partisci history --app A [--host H]             version changes, newest first
  partisci rollout --app A [--since T] [--step S] instances per version over time
  partisci watch [--app A] [--host H]             print changes as they happen
  partisci sql "SELECT ..."                       read-only SQL over versions, apps, hosts, history
Options:
  --label NAME=VALUE  (update) a label to send; (apps, hosts, versions, history, rollout)
                  only instances with this label; repeat for several
  --server NAME   partiscid address (IP or DNS name, default localhost)
  --port N        partiscid port (default 7777)
  --http          (update) send over HTTP and report the server's answer
  --json          print the server's JSON instead of a table
  -h, --help      show this help`;

export interface Options {
  command: string | undefined;
  args: string[];
  server: string;
  port: number;
  http: boolean;
  json: boolean;
  help: boolean;
  stale: boolean;
  app?: string;
  host?: string;
  ver?: string;
  since?: string;
  step?: string;
  /** --label NAME=VALUE, in order. */
  labels: [string, string][];
}

const TYPES: Record<string, FlagType> = {
  server: 'string',
  port: 'string',
  app: 'string',
  host: 'string',
  ver: 'string',
  since: 'string',
  step: 'string',
  label: 'string',
  http: 'boolean',
  json: 'boolean',
  stale: 'boolean',
  help: 'boolean',
  h: 'boolean',
};

/** Parses argv (without node and script): the command, its arguments and the flags. Throws UsageError. */
export function parseOptions(argv: readonly string[]): Options {
  const out: Options = { command: undefined, args: [], server: 'localhost', port: 7777, http: false, json: false, help: false, stale: false, labels: [] };
  const { flags, positionals } = readArgs(argv, TYPES, { positionals: true });
  for (const { name, value } of flags) {
    if (typeof value === 'boolean') {
      if (name === 'h' || name === 'help') out.help = value;
      else out[name as 'http' | 'json' | 'stale'] = value;
    } else if (name === 'port') {
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new UsageError(`--port must be an integer 1-65535 (got ${JSON.stringify(value)})`);
      out.port = n;
    } else if (name === 'label') {
      const m = /^([a-z0-9_.-]{1,32})=(.*)$/s.exec(value);
      if (m === null) throw new UsageError(`--label must be NAME=VALUE with a NAME of 1-32 characters [a-z0-9_.-] (got ${JSON.stringify(value)})`);
      out.labels.push([m[1]!, m[2]!]);
    } else {
      out[name as 'server' | 'app' | 'host' | 'ver' | 'since' | 'step'] = value;
    }
  }
  [out.command, ...out.args] = positionals;
  return out;
}

/** update's arguments: APP VERSION [[HOST] INSTANCE]. */
export function toUpdate(args: readonly string[]): UpdateBody {
  if (args.length < 2 || args.length > 4) throw new UsageError('update needs APP VERSION [[HOST] INSTANCE]');
  const [app, ver] = args as [string, string];
  const update: UpdateBody = { app, ver };
  // Like the original: with three arguments the third is INSTANCE.
  const rest = args.slice(2);
  const instanceText = rest.length === 1 ? rest[0] : rest[1];
  if (rest.length === 2) update.host = rest[0];
  if (instanceText !== undefined) {
    const n = /^\d+$/.test(instanceText) ? Number(instanceText) : NaN;
    if (!(n >= 0 && n <= 65535)) throw new UsageError(`INSTANCE must be an integer 0-65535 (got ${JSON.stringify(instanceText)})`);
    update.instance = n;
  }
  return update;
}
