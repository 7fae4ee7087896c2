// Large answers gzipped off the event loop: the gzipped bulk answer is the
// identity answer exactly, and small requests are answered while bulk ones
// are being compressed and sent.

import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Server, update } from './harness.js';

const INSTANCES = 20_000;

let server: Server;

beforeAll(async () => {
  server = await Server.start();
  const payloads = Array.from({ length: INSTANCES }, (_, i) => update(`bulk-${i % 20}`, `1.${i % 7}`, `host-${Math.floor(i / 20)}.example.com`, i % 4));
  await server.sendUdp(payloads, 16);
  await server.settle(INSTANCES, 30_000);
}, 60_000);

afterAll(async () => {
  await server.destroy();
});

/** The raw response: status, headers and body bytes as sent (no decoding). */
function raw(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; doneAt: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), doneAt: performance.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gzip', () => {
  test('the gzipped bulk answer decompresses to exactly the identity answer', async () => {
    const identity = await raw('/api/v1/version/');
    const gzipped = await raw('/api/v1/version/', { 'Accept-Encoding': 'gzip' });
    expect(identity.status).toBe(200);
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(identity.body.toString()).data).toHaveLength(INSTANCES);
    expect(identity.body.length).toBeGreaterThan(2 << 20);
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('Accept-Encoding');
    expect(gzipped.body.length).toBeLessThan(identity.body.length / 4);
    expect(gunzipSync(gzipped.body).equals(identity.body)).toBe(true);
  });

  test('a small answer is not compressed; a medium one is', async () => {
    const small = await raw('/api/v1/_partisci/', { 'Accept-Encoding': 'gzip' });
    expect(small.headers['content-encoding']).toBeUndefined();
    const medium = await raw('/api/v1/version/?app_id=bulk_3&limit=100', { 'Accept-Encoding': 'gzip' });
    expect(medium.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(medium.body).toString()).data).toHaveLength(100);
  });

  test('while bulk gzipped answers are being served, small requests are answered', async () => {
    const started = performance.now();
    const bulk = [1, 2, 3].map(() => raw('/api/v1/version/', { 'Accept-Encoding': 'gzip' }));
    const small: number[] = [];
    const smallOnes = (async () => {
      for (let i = 0; i < 20; i++) {
        const r = await raw('/api/v1/version/?host=host-1.example.com', { 'Accept-Encoding': 'gzip' });
        expect(r.status).toBe(200);
        small.push(r.doneAt);
      }
    })();
    const bulkDone = await Promise.all(bulk);
    await smallOnes;
    const lastBulk = Math.max(...bulkDone.map((b) => b.doneAt));
    for (const b of bulkDone) expect(gunzipSync(b.body).length).toBeGreaterThan(2 << 20);
    // Small answers kept coming while the bulk ones were in flight.
    expect(small.filter((t) => t < lastBulk).length, `bulk done after ${(lastBulk - started).toFixed(0)} ms`).toBeGreaterThan(1);
  });
});
