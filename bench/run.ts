// npm run bench: the micro-benchmarks, then the end-to-end run against a
// real partiscid; prints the tables and writes the same figures as JSON to
// bench/results/<time>.json. Progress goes to stderr, the tables to stdout.
//
//   node dist/bench/run.js [--quick] [--micro-only | --e2e-only | --waves-only | --labels-only]
//                          [--rebuild-cache] [--step-seconds N]

import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { cleanUp, installCleanup } from './cleanup.js';
import { FULL, QUICK, runE2e, type E2eReport } from './e2e/index.js';
import { runWavesSection, WAVES_FULL, WAVES_QUICK, type WavesReport } from './e2e/waves.js';
import { LABELS_FULL, LABELS_QUICK, runLabelsSection, type LabelsReport } from './e2e/labels.js';
import { CLUSTER_FULL, CLUSTER_QUICK, runClusterSection, type ClusterReport } from './e2e/cluster.js';
import { natsServerPath } from '../tools/nats-cluster.js';
import { runMicro, type MicroReport } from './micro/index.js';
import { REPO_ROOT } from './paths.js';
import { formatReport, saveReport, type BenchReport, type Environment } from './report.js';
import { ensureStore } from './store-cache.js';
import { evaluateTargets } from './targets.js';

const USAGE = `Usage: node dist/bench/run.js [options]

  --quick            shorter steps and time budgets (for development; figures are rougher)
  --micro-only       only the micro-benchmarks
  --e2e-only         only the end-to-end runs (the 1,000,000-instance store, then the waves)
  --waves-only       only the waves: fresh servers, partisci-fuzz --waves 1.0.0,2.0.0,2.0.0
                     over ${WAVES_FULL.hosts.toLocaleString('en-US')} hosts x ${WAVES_FULL.apps} apps x ${WAVES_FULL.instances} at ${WAVES_FULL.pacedRate.toLocaleString('en-US')}/s, then at max
                     (--quick: ${WAVES_QUICK.hosts.toLocaleString('en-US')} hosts at ${WAVES_QUICK.pacedRate.toLocaleString('en-US')}/s)
  --labels-only      only the labels and SQL section: CPU per repeated update with and without
                     labels, label filters and SQL GROUP BYs over 1,000,000 labelled instances
                     (quiet and during a 100,000/s storm), the SQL tables' lag in a rollout wave
  --cluster-only     only the cluster section: two nodes on a 3-server JetStream cluster (R3), replication
                     of ${(CLUSTER_FULL.hosts * CLUSTER_FULL.apps * CLUSTER_FULL.instances).toLocaleString('en-US')} first sights and changes, a repeat storm, a node catching up
                     (--quick: ${(CLUSTER_QUICK.hosts * CLUSTER_QUICK.apps * CLUSTER_QUICK.instances).toLocaleString('en-US')} instances); needs nats-server (skipped without it)
  --step-seconds N   seconds per ladder step (default ${FULL.stepSeconds}, --quick ${QUICK.stepSeconds})
  --rebuild-cache    rebuild bench/.cache/ (the 1,000,000-instance store) even if it is current
  -h, --help         this help
`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function environment(argv: string[]): Environment {
  const status = git(['status', '--porcelain']);
  return {
    started_at: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? '?',
    cores: cpus().length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    git_commit: git(['rev-parse', 'HEAD']),
    git_dirty: status === null ? null : status !== '',
    load_start: loadavg()[0]!,
    argv,
  };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      'micro-only': { type: 'boolean' },
      'e2e-only': { type: 'boolean' },
      'waves-only': { type: 'boolean' },
      'labels-only': { type: 'boolean' },
      'cluster-only': { type: 'boolean' },
      'step-seconds': { type: 'string' },
      'rebuild-cache': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const SECTIONS = ['micro', 'e2e', 'waves', 'labels', 'cluster'] as const;
  const only = SECTIONS.filter((name) => values[`${name}-only`]);
  if (only.length > 1) throw new Error(`--${only.join('-only and --')}-only exclude each other`);
  /** Whether a section runs: all of them, or the one asked for. */
  const runs = (name: (typeof SECTIONS)[number]): boolean => only.length === 0 || only[0] === name;
  const quick = values.quick ?? false;
  const e2eOptions = { ...(quick ? QUICK : FULL) };
  if (values['step-seconds'] !== undefined) {
    const s = Number(values['step-seconds']);
    if (!(s > 0)) throw new Error('--step-seconds must be a positive number');
    e2eOptions.stepSeconds = s;
  }

  installCleanup();
  const started = performance.now();
  const env = environment(argv);
  // The waves start from empty servers: no need for the cached store.
  const store = runs('micro') || runs('e2e') ? await ensureStore(log, values['rebuild-cache'] ?? false) : null;

  let micro: MicroReport | null = null;
  let e2e: E2eReport | null = null;
  let waves: WavesReport | null = null;
  let cluster: ClusterReport | null = null;
  let labels: LabelsReport | null = null;
  if (store !== null && runs('micro')) micro = await runMicro(store, quick, log);
  if (store !== null && runs('e2e')) e2e = await runE2e(store, e2eOptions, log);
  if (runs('waves')) waves = await runWavesSection(quick ? WAVES_QUICK : WAVES_FULL, log);
  if (runs('labels')) labels = await runLabelsSection(quick ? LABELS_QUICK : LABELS_FULL, log);
  if (runs('cluster')) {
    if (natsServerPath() === null) log('cluster: skipped (no nats-server; apt-get install nats-server)');
    else cluster = await runClusterSection(quick ? CLUSTER_QUICK : CLUSTER_FULL, log);
  }

  env.load_end = loadavg()[0]!;
  const report: BenchReport = {
    environment: env,
    cache: store === null ? null : { key: store.key, built_at: store.builtAt, build_ms: store.buildMs },
    targets: evaluateTargets(e2e, waves, labels, cluster),
    micro,
    e2e,
    waves,
    labels,
    cluster,
    total_seconds: (performance.now() - started) / 1000,
  };
  const file = saveReport(report);
  process.stdout.write(`${formatReport(report)}\n`);
  process.stdout.write(`\nresults: ${file}\n`);
  return 0;
}

main().then(
  (code) => {
    cleanUp();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanUp();
    process.exit(1);
  },
);
