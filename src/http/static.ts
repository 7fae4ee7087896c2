// The dashboard's static files (built into dist/web by `npm run build:web`
// from web/), served by the same uWebSockets.js app: loaded into memory
// once at start.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { Reply } from './respond.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/;

/** dist/web next to dist/src (this file is dist/src/http/static.js once built). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

export class StaticFiles {
  readonly #files = new Map<string, Reply>();

  constructor(root: string = WEB_ROOT) {
    if (!existsSync(root)) return;
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          walk(path);
          continue;
        }
        const url = '/' + relative(root, path).split(sep).join('/');
        const type = TYPES[extname(name)] ?? 'application/octet-stream';
        // Hashed asset names never change; index.html must be re-read.
        const cache = url.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
        const body = readFileSync(path);
        // cacheable: an ETag, and gzip for clients that take it (the script is ~95 kB, ~38 kB gzipped),
        // compressed once here rather than per request.
        const gzipped = COMPRESSIBLE.test(type) ? gzipSync(body, { level: 9 }) : undefined;
        this.#files.set(url, {
          status: 200,
          body,
          headers: { 'Content-Type': type, 'Cache-Control': cache },
          cacheable: true,
          ...(gzipped === undefined ? {} : { gzipped }),
        });
      }
    };
    walk(root);
  }

  get available(): boolean {
    return this.#files.has('/index.html');
  }

  /**
   * The file for a GET path. The dashboard's own routes get index.html:
   * /app/… and /host/… whatever they hold (host names have dots, which
   * look like extensions), and other paths without an extension.
   */
  lookup(path: string): Reply | undefined {
    const file = this.#files.get(path === '/' ? '/index.html' : path);
    if (file !== undefined) return file;
    if (path.startsWith('/app/') || path.startsWith('/host/')) return this.#files.get('/index.html');
    if (extname(path) === '' && !path.startsWith('/api/') && !path.startsWith('/debug/')) return this.#files.get('/index.html');
    return undefined;
  }
}
