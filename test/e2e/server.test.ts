// partiscid as a process: flags (both spellings), errors at start, several
// ingest workers on one port, restart persistence, --trim, --danger,
// graceful stop, and the partisci command-line client.

import { execFile, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { PARTISCI, PARTISCID, Server, freePort, sleep, tempDir, until, update } from './harness.js';

const run = promisify(execFile);
const servers: Server[] = [];
const dirs: string[] = [];

async function start(...args: Parameters<typeof Server.start>): Promise<Server> {
  const s = await Server.start(...args);
  servers.push(s);
  return s;
}

afterEach(async () => {
  for (const s of servers.splice(0)) await s.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function runPartiscid(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [PARTISCID, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('flags', () => {
  test.each([
    [['--port', 'abc'], '--port must be an integer 1-65535 (got "abc")'],
    [['-port=70000'], '--port must be an integer 1-65535 (got "70000")'],
    [['--trim', '-5'], '--trim must be an integer 0-315360000 (got "-5")'],
    [['-listenip=not-an-ip'], '--listenip must be an IP address (got "not-an-ip")'],
    [['--bogus'], 'unknown flag "--bogus" (see --help)'],
    [['-sqlite=/tmp/x.db'], '-sqlite is replaced by --data DIR (an LMDB folder); see --help'],
  ])('%j exits 2 with a one-line error', (args, message) => {
    const r = runPartiscid(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`partiscid: ${message}\n`);
  });

  test('--help lists the flags and exits 0', () => {
    const r = runPartiscid(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--port', '--listenip', '--danger', '--trim', '--data', '--workers', '--stale', '--history-days', '--write-token']) {
      expect(r.stdout).toContain(flag);
    }
  });

  test('the original Go-style spelling works: -port=N -listenip=IP -danger -trim=N -v', async () => {
    const port = await freePort();
    const data = tempDir();
    dirs.push(data);
    const s = await start({ port, args: [`-port=${port}`, '-listenip=127.0.0.1', '-danger', '-trim=3600', '-v', `--data=${data}`, '--workers=2'] });
    expect(s.log).toMatch(new RegExp(`INFO  listening \\(UDP and HTTP\\) address=127\\.0\\.0\\.1 port=${port}\n`));
    expect(s.log).toMatch(/WARN  --danger is on: /);
    expect(s.log).toMatch(/INFO  retention trim=3600s stale_after=90000s history=30d\n/);
    expect((await s.request('POST', '/api/v1/_danger/clear/')).status).toBe(200);
  });

  test('a port in use is a clear message, not a stack trace', async () => {
    const s = await start();
    const r = runPartiscid(['--port', String(s.port), '--data', tempDir()]);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean).at(-1)).toBe(`partiscid: UDP port ${s.port} is already in use`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('start-up logs the port, the workers, the receive buffer granted and uWebSockets.js being native', async () => {
    const s = await start();
    expect(s.log).toMatch(/INFO  ingest workers started \(SO_REUSEPORT, recvmmsg\) workers=2 rcvbuf_granted=\d+ rcvbuf_asked=8388608\n/);
    expect(s.log).toContain('INFO  uWebSockets.js loaded native=true\n');
  });
});

describe('engine', () => {
  test('several workers receive on one port: datagrams from many source ports spread over them', async () => {
    const s = await start();
    const payloads = Array.from({ length: 400 }, (_, i) => update('spread', '1', `h${i}`));
    await s.sendUdp(payloads, 64);
    const v = await s.settle();
    expect(v.udp_datagrams).toBe(400);
    const perWorker = v.workers.map((w: { datagrams: number }) => w.datagrams);
    expect(perWorker).toHaveLength(2);
    expect(perWorker.every((n: number) => n > 0)).toBe(true);
    expect(perWorker[0] + perWorker[1]).toBe(400);
    expect((await s.get('/api/v1/app/')).body.data[0]).toMatchObject({ app_id: 'spread', host_count: 400 });
  });

  test('counters add up: datagrams = applied + rejected, with per-reason counts', async () => {
    const s = await start();
    await s.sendUdp([update('c', '1', 'h1'), update('c', '1', 'h2'), '{"app":"c"}', 'garbage', '', update('c', '1', 'h1')]);
    const v = await until(async () => {
      const x = await s.settle();
      // The repeated update counts as applied when the clocks are persisted (every 2 s).
      return x.applied === 3 ? x : null;
    });
    expect(v).not.toBeNull();
    expect(v!.udp_datagrams).toBe(6);
    expect(v!.rejected).toBe(3);
    expect(v!.rejected_by_reason).toMatchObject({ missing_field: 1, bad_json: 1, empty: 1 });
    expect(v!.ring_full_drops).toBe(0);
  });

  test('a restart with the same --data serves the same state', async () => {
    const data = tempDir();
    dirs.push(data);
    const port = await freePort();
    const first = await start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    await first.sendUdp([update('persist', '1.0', 'alpha', 1), update('persist', '2.0', 'beta', 2)]);
    await first.settle();
    await first.request('POST', '/api/v1/update/', update('persist', '3.0', 'gamma', 3));
    const before = (await first.get('/api/v1/version/?app_id=persist')).body.data;
    const apps = (await first.get('/api/v1/app/')).body.data;
    expect(before).toHaveLength(3);
    expect(await first.stop()).toBe(0);
    const second = await start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    expect((await second.get('/api/v1/version/?app_id=persist')).body.data).toEqual(before);
    expect((await second.get('/api/v1/app/')).body.data).toEqual(apps);
  });

  test('SIGTERM stops receiving, commits what reached the rings, and exits 0', async () => {
    const s = await start();
    await s.sendUdp(
      Array.from({ length: 50 }, (_, i) => update('drain', '1', `h${i}`)),
      8,
    );
    await sleep(100);
    const code = await s.stop('SIGTERM');
    expect({ code, signal: s.proc.signalCode }, s.log).toEqual({ code: 0, signal: null });
    expect(s.log).toMatch(/INFO  stopped drained=\d+\n/);
  });

  test('--trim removes an instance from every endpoint within a few seconds of its deadline', async () => {
    const port = await freePort();
    const data = tempDir();
    dirs.push(data);
    const s = await start({ port, args: ['--port', String(port), '--data', data, '--trim', '2'] });
    await s.sendUdp([update('old', '1', 'gone-host')]);
    await s.settle();
    expect((await s.get('/api/v1/version/?app_id=old')).body.data).toHaveLength(1);
    const sentAt = Date.now();
    const gone = await until(async () => (await s.get('/api/v1/version/?app_id=old')).body.data.length === 0, 8000);
    expect(gone).toBe(true);
    // Deadline is 2 s after the update; the sweep runs every second.
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect((await s.get('/api/v1/app/')).body.data).toEqual([]);
    expect((await s.get('/api/v1/host/')).body.data).toEqual([]);
  });

  test('--danger: POST _danger/clear/ empties everything', async () => {
    const port = await freePort();
    const data = tempDir();
    dirs.push(data);
    const s = await start({ port, args: ['--port', String(port), '--data', data, '--danger'] });
    await s.sendUdp([update('x', '1', 'h')]);
    await s.settle();
    expect((await s.request('POST', '/api/v1/_danger/clear/')).status).toBe(200);
    for (const path of ['/api/v1/version/', '/api/v1/app/', '/api/v1/host/']) expect((await s.get(path)).body).toEqual({ data: [] });
  });
});

describe('partisci client', () => {
  test('update over UDP, then over HTTP reporting the status', async () => {
    const s = await start();
    const udp = await run(process.execPath, [
      PARTISCI,
      'update',
      'Demo App A',
      '1.0',
      'host1.example.com',
      '3',
      '--server',
      '127.0.0.1',
      '--port',
      String(s.port),
    ]);
    expect(udp.stdout).toBe('command: UPDATE\n');
    s.sentDatagrams++;
    await s.settle();
    expect((await s.get('/api/v1/version/?app_id=demo_app_a')).body.data[0]).toMatchObject({ host: 'host1.example.com', instance: 3, ver: '1.0' });
    const http = await run(process.execPath, [
      PARTISCI,
      'update',
      'Demo App A',
      '2.0',
      'host1.example.com',
      '3',
      '--http',
      `--port=${s.port}`,
      '--server=127.0.0.1',
    ]);
    expect(http.stdout).toMatch(
      /^200 OK \{"app":"Demo App A","app_id":"demo_app_a","host":"host1.example.com","host_ip":"127.0.0.1","instance":3,"ver":"2.0","last_update":\d+\}\n$/,
    );
  });

  test('bad arguments exit 2 with usage', async () => {
    await expect(run(process.execPath, [PARTISCI, 'update', 'only-app'])).rejects.toMatchObject({ code: 2 });
    await expect(run(process.execPath, [PARTISCI, 'update', 'a', '1', 'h', 'notanumber'])).rejects.toMatchObject({ code: 2 });
  });
});
