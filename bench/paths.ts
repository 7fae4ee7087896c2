// Where things are. The bench runs from dist/bench/, so the repository
// root is two levels up from here, whether this file is compiled or not.

import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);

export const REPO_ROOT = fileURLToPath(root);
export const PARTISCID = fileURLToPath(new URL('dist/src/cli/partiscid.js', root));
export const FUZZ = fileURLToPath(new URL('dist/tools/fuzz/cli.js', root));
export const QUERY_CLIENT = fileURLToPath(new URL('dist/bench/e2e/query-client.js', root));
/** Compiled sources whose output decides what a cached store holds (see store-cache.ts). */
export const DIST = fileURLToPath(new URL('dist/', root));
/** Not committed: the prebuilt 1,000,000-instance store. */
export const CACHE_DIR = fileURLToPath(new URL('bench/.cache/', root));
/** Not committed: one JSON file per run. */
export const RESULTS_DIR = fileURLToPath(new URL('bench/results/', root));
