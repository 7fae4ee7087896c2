// The log of a real partiscid: with -v it says what it rejects (UDP and
// HTTP, at most one line per reason per second), what it writes and which
// queries are slow; without -v none of that.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Server, freePort, sleep, tempDir, until, update } from './harness.js';

const BAD = '{"app":';

async function startWith(...extra: string[]): Promise<Server> {
  const port = await freePort();
  return Server.start({ port, args: ['--port', String(port), '--data', tempDir(), '--workers', '2', ...extra] });
}

const lines = (s: Server, pattern: RegExp): string[] => s.log.split('\n').filter((l) => pattern.test(l));

describe('with -v', () => {
  let server: Server;
  beforeAll(async () => {
    server = await startWith('-v');
  });
  afterAll(async () => {
    await server.destroy();
  });

  test('a malformed datagram: one debug line with the reason, the sender and the bytes', async () => {
    await server.sendUdp([BAD]);
    const found = await until(async () => lines(server, /udp update rejected reason=bad_json/).length > 0, 5000);
    expect(found, server.log).toBe(true);
    expect(lines(server, /udp update rejected/)[0]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} DEBUG udp update rejected reason=bad_json from=127\.0\.0\.1 bytes=7 sample="\{\\"app\\":" skipped=0 thread=ingest-[01]$/,
    );
  });

  test('a flood of them: at most one line per reason per second over both workers, then the count skipped', async () => {
    await sleep(1100);
    const before = lines(server, /reason=empty/).length;
    const started = Date.now();
    await server.sendUdp(
      Array.from({ length: 300 }, () => ''),
      16,
    );
    await server.settle();
    const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
    const flood = lines(server, /reason=empty/).slice(before);
    expect(flood.length).toBeGreaterThanOrEqual(1);
    expect(flood.length).toBeLessThanOrEqual(seconds);
    // The next one, a second later, says how many were left out.
    await sleep(1100);
    await server.sendUdp(['']);
    await until(async () => lines(server, /reason=empty/).length > before + flood.length, 5000);
    const last = lines(server, /reason=empty/).at(-1)!;
    const skipped = Number(/skipped=(\d+)/.exec(last)![1]);
    expect(skipped + flood.length).toBe(300);
  });

  test('HTTP: a rejected update with its code and reason, a write with what it wrote', async () => {
    expect((await server.request('POST', '/api/v1/update/', BAD)).status).toBe(415);
    expect((await server.request('POST', '/api/v1/update/', update('logged', '1.2', 'h1', 3))).status).toBe(200);
    expect((await server.request('GET', '/api/v1/update/')).status).toBe(405);
    await until(async () => lines(server, /http write/).length > 0, 5000);
    expect(lines(server, /http request rejected code=MALFORMED_UPDATE/)).toEqual([
      expect.stringMatching(
        / DEBUG http request rejected code=MALFORMED_UPDATE reason=bad_json bytes=7 sample="\{\\"app\\":" status=415 method=POST path=\/api\/v1\/update\/ from=127\.0\.0\.1 skipped=0$/,
      ),
    ]);
    expect(lines(server, /http request rejected code=METHOD_NOT_ALLOWED/)).toHaveLength(1);
    expect(lines(server, /http write/)).toEqual([
      expect.stringMatching(
        / DEBUG http write method=POST path=\/api\/v1\/update\/ from=127\.0\.0\.1 status=200 ms=[\d.]+ app_id=logged host=h1 instance=3 ver=1\.2$/,
      ),
    ]);
  });

  test('no line is ever split: every line starts with a time', () => {
    for (const line of server.log.split('\n').filter(Boolean)) expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO |WARN |ERROR) /);
  });
});

describe('without -v', () => {
  test('rejections and writes are not logged', async () => {
    const server = await startWith();
    try {
      await server.sendUdp([BAD]);
      await server.settle();
      expect((await server.request('POST', '/api/v1/update/', BAD)).status).toBe(415);
      expect((await server.request('POST', '/api/v1/update/', update('quiet', '1'))).status).toBe(200);
      expect((await server.vars()).rejected_by_reason.bad_json).toBe(2);
      await sleep(200);
      expect(server.log).not.toContain('DEBUG');
      expect(server.log).toContain('INFO  partiscid starting');
    } finally {
      await server.destroy();
    }
  });
});
