#!/usr/bin/env node
// partisci: the command-line client. See README.md.

import { PartisciError, sendHttp, sendUdp, type Update } from '../client/index.js';

const USAGE = `Usage:
  partisci update APP VERSION [[HOST] INSTANCE]
Options:
  --server NAME   partiscid address (IP or DNS name, default localhost)
  --port N        partiscid port (default 7777)
  --http          send over HTTP and report the server's answer (default: UDP)
  -h, --help      show this help`;

class UsageError extends Error {}

interface Parsed {
  command: string | undefined;
  args: string[];
  server: string;
  port: number;
  http: boolean;
  help: boolean;
}

function parse(argv: readonly string[]): Parsed {
  const out: Parsed = { command: undefined, args: [], server: 'localhost', port: 7777, http: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z]+)(?:=(.*))?$/s.exec(arg);
    if (m === null) {
      if (out.command === undefined) out.command = arg;
      else out.args.push(arg);
      continue;
    }
    const [, name, inline] = m;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      return v;
    };
    if (name === 'server') out.server = value();
    else if (name === 'port') {
      const v = value();
      const n = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new UsageError(`--port must be an integer 1-65535 (got "${v}")`);
      out.port = n;
    } else if (name === 'http') out.http = true;
    else if (name === 'help' || name === 'h') out.help = true;
    else throw new UsageError(`unknown flag "${arg}"`);
  }
  return out;
}

function toUpdate(args: string[]): Update {
  if (args.length < 2 || args.length > 4) throw new UsageError('update needs APP VERSION [[HOST] INSTANCE]');
  const [app, ver] = args as [string, string];
  const update: Update = { app, ver };
  // Like the original: with three arguments the third is INSTANCE.
  const rest = args.slice(2);
  const instanceText = rest.length === 1 ? rest[0] : rest[1];
  if (rest.length === 2) update.host = rest[0];
  if (instanceText !== undefined) {
    const n = /^\d+$/.test(instanceText) ? Number(instanceText) : NaN;
    if (!(n >= 0 && n <= 65535)) throw new UsageError(`INSTANCE must be an integer 0-65535 (got "${instanceText}")`);
    update.instance = n;
  }
  return update;
}

async function main(): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(process.argv.slice(2));
    if (parsed.help || parsed.command === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return parsed.help ? 0 : 2;
    }
    if (parsed.command !== 'update') throw new UsageError(`unknown command "${parsed.command}"`);
    const update = toUpdate(parsed.args);
    const target = { server: parsed.server, port: parsed.port };
    if (parsed.http) {
      const version = await sendHttp(update, target);
      process.stdout.write(`200 OK ${JSON.stringify(version)}\n`);
    } else {
      await sendUdp(update, target);
      process.stdout.write('command: UPDATE\n');
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`partisci: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof PartisciError) {
      process.stderr.write(`partisci: server answered ${err.status}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`partisci: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main();
