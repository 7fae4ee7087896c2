// Builds the dashboard (web/) into dist/web, which partiscid serves from
// memory (src/http/static.ts). `npm run build:web`; for development,
// `npx vite --config web/vite.config.ts` proxies the API to a partiscid on
// :7777 (PARTISCI_URL to change it).

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const target = process.env.PARTISCI_URL ?? 'http://127.0.0.1:7777';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Absolute asset paths: index.html is also served at /app/… and /host/….
  base: '/',
  // Preact's JSX runtime, without a plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One small bundle: code splitting would only add round trips.
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: {
      '/api': { target, ws: true },
      '/debug': target,
    },
  },
});
