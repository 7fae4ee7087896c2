// Run before `npm start` and `npm test` (prestart, pretest): on a fresh
// clone nothing is installed yet, so install the locked packages (npm ci,
// which also builds the UDP addon, the server and the dashboard). With
// packages installed but no build (dist/ removed), build. Otherwise it does
// nothing. Plain JavaScript: it runs before any dependency is there.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args) {
  process.stderr.write(`> npm ${args.join(' ')}\n`);
  const r = spawnSync(npm, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(`${root}node_modules/.package-lock.json`)) {
  process.stderr.write('partisci: first run here: installing the locked packages (npm ci) and building\n');
  run(['ci', '--no-audit', '--no-fund']);
} else if (!existsSync(`${root}dist/src/cli/partiscid.js`)) {
  run(['run', 'build']);
}
