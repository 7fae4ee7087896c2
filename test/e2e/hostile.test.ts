// Hostile input and failures that must not take partiscid down: garbage
// datagrams, oversize bodies, odd query parameters, senders outside
// --allow, a dying ingest worker.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Server, freePort, sleep, tempDir, until, update } from './harness.js';

let server: Server;

beforeAll(async () => {
  const port = await freePort();
  server = await Server.start({ port, args: ['--port', String(port), '--data', tempDir(), '--danger'] });
});

afterAll(async () => {
  await server.destroy();
});

describe('bad input changes nothing and is counted by reason', () => {
  test('every kind of malformed datagram is rejected; the workers keep going', async () => {
    const before = await server.vars();
    const bad: (string | Buffer)[] = [
      '{"app":"x","ver":"1"',
      '{"app":"x","ver":"1"}xx',
      '[]',
      '{"ver":"1"}',
      '{"app":7,"ver":"1"}',
      `{"app":"${'y'.repeat(51)}","ver":"1"}`,
      '{"app":"x","ver":"1","instance":-1}',
      Buffer.from([0x7b, 0x22, 0x61, 0x70, 0x70, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
      Buffer.alloc(9000, 0x20),
      '',
      '{"__proto__":{"app":"polluted"},"constructor":{"prototype":{"ver":"x"}},"app":"proto-safe","ver":"1"}',
    ];
    await server.sendUdp(bad, 4);
    const v = await server.settle();
    expect(v.rejected - before.rejected).toBe(10);
    const delta = (r: string): number => v.rejected_by_reason[r] - before.rejected_by_reason[r];
    expect([
      delta('bad_json'),
      delta('not_object'),
      delta('missing_field'),
      delta('wrong_type'),
      delta('too_long'),
      delta('bad_instance'),
      delta('bad_utf8'),
      delta('oversize'),
      delta('empty'),
    ]).toEqual([2, 1, 1, 1, 1, 1, 1, 1, 1]);
    // The only valid one (with hostile keys) is stored as itself.
    expect((await server.get('/api/v1/version/?app_id=proto_safe')).body.data).toHaveLength(1);
    expect((await server.get('/api/v1/version/?app_id=polluted')).body.data).toEqual([]);
    // And the workers still take good updates.
    await server.sendUdp([update('after-garbage', '1', 'h')]);
    await server.settle();
    expect((await server.get('/api/v1/version/?app_id=after_garbage')).body.data).toHaveLength(1);
  });

  test('an HTTP body over 64 KiB is 413, counted as oversize', async () => {
    const before = (await server.vars()).rejected_by_reason.oversize;
    const res = await server.request('POST', '/api/v1/update/', 'x'.repeat(65 * 1024));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'ApiUpdate: body larger than 65536 bytes', code: 'BODY_TOO_LARGE' });
    expect((await server.vars()).rejected_by_reason.oversize).toBe(before + 1);
  });

  test('an aborted upload leaves the server answering', async () => {
    const sock = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('POST /api/v1/update/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"app":"half');
    await sleep(50);
    sock.destroy();
    expect((await server.get('/api/v1/app/')).status).toBe(200);
  });

  test.each([
    '/api/v1/version/?app_id=%00',
    '/api/v1/version/?host=%00%01%02',
    '/api/v1/version/?app_id=a&app_id=b',
    `/api/v1/version/?app_id=${'a'.repeat(10_000)}`,
    `/api/v1/version/?host=${'%F0%9F%98%80'.repeat(3000)}`,
    '/api/v1/version/?ver=%E0%A4',
    '/api/v1/history/?app_id=%00&host=%00',
    `/api/v1/app/${'q'.repeat(10_000)}`,
    '/api/v1/host/%',
  ])('%s answers 200, 400 or 404, never 500', async (path) => {
    const res = await server.request('GET', path);
    expect([200, 400, 404]).toContain(res.status);
    expect(res.text).not.toMatch(/\bat .*\.js:\d+/);
  });

  test.each([
    ['/api/v1/version/?limit=abc', 'limit must be an integer 1-1000000', 'INVALID_PARAMETER'],
    ['/api/v1/version/?status=asleep', 'status must be "up" or "stale"', 'INVALID_PARAMETER'],
    ['/api/v1/version/?since=yesterday', 'since must be an integer 0-4294967295', 'INVALID_PARAMETER'],
    ['/api/v1/history/?app_id=x&instance=70000', 'instance must be an integer 0-65535', 'INVALID_PARAMETER'],
    ['/api/v1/history/', 'history/ needs app_id or host', 'MISSING_PARAMETER'],
    ['/api/v1/version/?cursor=a.b', 'cursor is not one this server returned', 'INVALID_CURSOR'],
    ['/api/v1/version/?cursor=aGVsbG8', 'cursor does not belong to this query', 'INVALID_CURSOR'],
  ])('%s is 400: %s', async (path, message, code) => {
    const res = await server.request('GET', path);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: message, code });
  });
});

describe('failures', () => {
  test('an ingest worker that dies is restarted and counted; the server stays up', async () => {
    expect((await server.request('POST', '/api/v1/_danger/crash-worker/?worker=1')).body).toEqual({ crashed: 'ingest-1' });
    const restarted = await until(async () => (await server.vars()).worker_restarts === 1, 5000);
    expect(restarted).toBe(true);
    expect(server.log).toContain('ingest worker 1 exited');
    await sleep(300);
    await server.sendUdp(
      Array.from({ length: 200 }, (_, i) => update('revived', '1', `r${i}`)),
      32,
    );
    const v = await server.settle();
    expect(v.workers.every((w: { datagrams: number }) => w.datagrams > 0)).toBe(true);
    expect((await server.get('/api/v1/app/revived')).body.data[0].instance_count).toBe(200);
  });
});

describe('--allow', () => {
  test('UDP updates from other networks are refused and counted', async () => {
    const port = await freePort();
    const s = await Server.start({ port, args: ['--port', String(port), '--data', tempDir(), '--allow', '10.0.0.0/8,192.0.2.0/24'] });
    try {
      await s.sendUdp([update('blocked', '1', 'h')]);
      const v = await until(async () => {
        const x = await s.vars();
        return x.refused === 1 ? x : null;
      });
      expect(v).toMatchObject({ refused: 1, udp_datagrams: 1 });
      expect((await s.get('/api/v1/version/')).body.data).toEqual([]);
    } finally {
      await s.destroy();
    }
    const bad = await import('node:child_process').then((cp) =>
      cp.spawnSync(process.execPath, [new URL('../../dist/src/cli/partiscid.js', import.meta.url).pathname, '--allow', '10.0.0.0/33'], { encoding: 'utf8' }),
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('partiscid: --allow: "10.0.0.0/33" has a prefix length outside 0-32\n');
  });
});
