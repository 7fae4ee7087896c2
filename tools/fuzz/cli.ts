#!/usr/bin/env node
// partisci-fuzz: a synthetic fleet sending version updates to a Partisci
// server, for load tests and benchmarks. See --help.
//
// Exit codes: 0 done, 1 failed (server unreachable for --check, nothing
// got through, socket errors...), 2 bad command line, 130 interrupted.

import { readCounters, lossReport, waitForSettle, type LossReport } from './check.js';
import { UsageError } from '../../src/errors.js';
import { parseOptions, USAGE, type FuzzOptions } from './options.js';
import { ProgressDisplay } from './progress.js';
import { buildSummary, formatSummary, formatWaves } from './report.js';
import { runSenders } from './run-senders.js';
import { baseUrl, resolveServer, type ServerAddress } from './server-address.js';
import { runWaves } from './wave-run.js';

const NAME = 'partisci-fuzz';

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${NAME}: ${err.message}${err.message.includes('--help') ? '' : ' (see --help)'}\n`);
    return 2;
  }
  if (options === null) {
    process.stdout.write(USAGE);
    return 0;
  }

  const address = await resolveServer(options.server, options.port);
  const vars = baseUrl(address);

  // First Ctrl-C: stop sending and still report; second: leave at once.
  const stop = new AbortController();
  const onSigint = (): void => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write(`\n${NAME}: stopping (Ctrl-C again to quit now)\n`);
    stop.abort();
  };

  if (options.waves !== null) {
    process.on('SIGINT', onSigint);
    try {
      return await waves(options, address, vars, stop.signal);
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  const before = options.check ? await readCounters(vars) : null;
  process.on('SIGINT', onSigint);

  const progress = new ProgressDisplay(process.stderr, options.rate);
  let sent: Awaited<ReturnType<typeof runSenders>>;
  try {
    sent = await runSenders(options, address, stop.signal, (p) => progress.update(p));
  } finally {
    progress.finish();
  }
  const cpu = cpuMicros();

  let loss: LossReport | null = null;
  if (before !== null) {
    const { delta, settled } = await waitForSettle(() => readCounters(vars), before, sent.sent);
    loss = lossReport({ good: sent.sent - sent.sentBad, bad: sent.sentBad }, delta, settled);
  }
  process.off('SIGINT', onSigint);

  const summary = buildSummary(options, address, sent, cpu, loss);
  process.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  if (sent.interrupted) return 130;
  if (sent.sent === 0 && sent.sendErrors > 0) {
    process.stderr.write(`${NAME}: nothing got through to ${options.server}:${options.port}\n`);
    return 1;
  }
  return 0;
}

async function waves(options: FuzzOptions, address: ServerAddress, vars: string, signal: AbortSignal): Promise<number> {
  const total = options.waves!.length;
  const tty = process.stderr.isTTY;
  let progress = new ProgressDisplay(process.stderr, options.rate);
  const run = await runWaves(options, vars, {
    send: (wave, onProgress) => runSenders(options, address, signal, onProgress, wave),
    onProgress: (p) => progress.update(p),
    onWaveStart: (w, version) => {
      progress = new ProgressDisplay(process.stderr, options.rate);
      if (tty) process.stderr.write(`wave ${w + 1}/${total}: every instance sends ${version}\n`);
    },
    onWaveSent: () => {
      progress.finish();
      if (tty && options.check) process.stderr.write('  checking what the API shows...\n');
    },
    onWaveDone: (result) => {
      if (!tty || result.shown_pct === undefined) return;
      const complete = result.complete_s === null || result.complete_s === undefined ? 'incomplete' : `complete after ${result.complete_s.toFixed(2)} s`;
      process.stderr.write(`  shown ${result.shown_pct.toFixed(3)}%, ${complete}\n`);
    },
    signal,
  });
  const summary = buildSummary(options, address, run.sent, cpuMicros(), null);
  summary.waves = run.results;
  process.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : `${formatWaves(summary)}\n`);
  if (run.sent.interrupted) return 130;
  if (run.sent.sent === 0 && run.sent.sendErrors > 0) {
    process.stderr.write(`${NAME}: nothing got through to ${options.server}:${options.port}\n`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
