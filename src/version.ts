// The package version, read once from package.json (two levels above
// src/ and dist/src/ alike).

import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'partisci' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // try the next location
    }
  }
  return (cached = 'unknown');
}
