// negotiate() (src/http/respond.ts): ETag and 304, gzip when accepted and
// worth it; small bodies compressed at once, large ones off the event loop.

import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { GZIP_SYNC_MAX_BYTES, etagOf, negotiate, type Reply, type Wire } from '../../src/http/respond.js';

const GZIP = { acceptEncoding: 'gzip, deflate, br', ifNoneMatch: '' };
const IDENTITY = { acceptEncoding: '', ifNoneMatch: '' };

/** A list answer of about n bytes, compressible like the real ones. */
function answer(n: number): Buffer {
  const row =
    '{"app":"billing","app_id":"billing","host":"host-0001.example.com","host_ip":"10.0.0.1","instance":0,"ver":"2.4.1","last_update":1700000000,"status":"up","since":1699990000}';
  const rows: string[] = [];
  for (let i = 0; rows.length * row.length < n; i++) rows.push(row.replace('0001', String(i).padStart(4, '0')));
  return Buffer.from(`{"data":[${rows.join(',')}]}`);
}

const cacheable = (body: Uint8Array | string): Reply => ({ status: 200, body, cacheable: true });

describe('negotiate', () => {
  test('not cacheable: as given, JSON by default', () => {
    const wire = negotiate({ status: 404, body: '{"error":"x","code":"UNKNOWN_PATH"}', headers: { Allow: 'GET' }, close: true }, GZIP) as Wire;
    expect(wire).toEqual({
      status: 404,
      headers: { 'Content-Type': 'application/json', Allow: 'GET' },
      body: '{"error":"x","code":"UNKNOWN_PATH"}',
      close: true,
    });
  });

  test('cacheable: an ETag, Vary, and 304 when the client has it', () => {
    const body = answer(2000);
    const first = negotiate(cacheable(body), IDENTITY) as Wire;
    expect(first.headers.ETag).toBe(etagOf(body));
    expect(first.headers.Vary).toBe('Accept-Encoding');
    expect(first.body).toBe(body);
    const again = negotiate(cacheable(body), { acceptEncoding: 'gzip', ifNoneMatch: `"other", ${etagOf(body)}` }) as Wire;
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
  });

  test('a small body is not compressed', () => {
    const wire = negotiate(cacheable('{"data":[]}'), GZIP) as Wire;
    expect(wire.headers['Content-Encoding']).toBeUndefined();
    expect(wire.body).toBe('{"data":[]}');
  });

  test('a medium body is gzipped at once', () => {
    const body = answer(GZIP_SYNC_MAX_BYTES / 2);
    const wire = negotiate(cacheable(body), GZIP);
    expect(wire).not.toBeInstanceOf(Promise);
    expect((wire as Wire).headers['Content-Encoding']).toBe('gzip');
    expect(gunzipSync((wire as Wire).body as Uint8Array).equals(body)).toBe(true);
  });

  test('a large body is gzipped off the event loop, to exactly the identity answer', async () => {
    const body = answer(8 << 20);
    const pending = negotiate(cacheable(body), GZIP);
    expect(pending).toBeInstanceOf(Promise);
    // The event loop turns while it compresses: other requests are served meanwhile.
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    let settled = false;
    const wire = await (pending as Promise<Wire>).finally(() => {
      settled = true;
    });
    expect(turned).toBe(true);
    expect(settled).toBe(true);
    expect(wire.headers['Content-Encoding']).toBe('gzip');
    // Past 1 MiB, no ETag (hashing a whole fleet costs more than it saves).
    expect(wire.headers.ETag).toBeUndefined();
    expect(gunzipSync(wire.body as Uint8Array).equals(body)).toBe(true);
  });

  test('the event loop is free while a large body is compressed: a timer fires before it is done', async () => {
    const body = answer(8 << 20);
    const order: string[] = [];
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        order.push('timer');
        resolve();
      }, 0),
    );
    const done = (negotiate(cacheable(body), GZIP) as Promise<Wire>).then(() => order.push('gzip'));
    await Promise.all([timer, done]);
    expect(order).toEqual(['timer', 'gzip']);
  });

  test('a body compressed beforehand (static files) is used as is', () => {
    const body = answer(4000);
    const gz = Buffer.from('precompressed');
    const wire = negotiate({ ...cacheable(body), gzipped: gz }, GZIP) as Wire;
    expect(wire.body).toBe(gz);
    expect(wire.headers['Content-Encoding']).toBe('gzip');
    expect((negotiate({ ...cacheable(body), gzipped: gz }, IDENTITY) as Wire).body).toBe(body);
  });
});
