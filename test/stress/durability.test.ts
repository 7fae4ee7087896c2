// Crashes, storms and a full disk against real partiscid processes
// (`npm run test:stress`; .ci/run runs it after `npm test`).

import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { Server, freePort, sleep, tempDir, until, update } from '../e2e/harness.js';

const run = promisify(execFile);
const FUZZ = new URL('../../dist/tools/fuzz/cli.js', import.meta.url).pathname;
const cleanups: (() => void)[] = [];

afterAll(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('nothing acknowledged is lost', () => {
  test('kill -9 at random moments, 10 times: every update answered 200 is there after restart', async () => {
    const data = tempDir('partisci-kill-');
    cleanups.push(() => rmSync(data, { recursive: true, force: true }));
    const port = await freePort();
    const acked: { host: string; ver: string }[] = [];
    let seq = 0;
    for (let round = 0; round < 10; round++) {
      const server = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data, '--workers', '1'] });
      // Everything acknowledged before this round survived every kill so far.
      const stored = new Map<string, string>(
        ((await server.get('/api/v1/version/?app_id=acked')).body.data as { host: string; ver: string }[]).map((r) => [r.host, r.ver]),
      );
      for (const a of acked) expect(stored.get(a.host), `round ${round}: ${a.host}`).toBe(a.ver);
      let stop = false;
      const client = async (): Promise<void> => {
        while (!stop) {
          const u = { host: `k${seq++}`, ver: `v${round}` };
          try {
            const res = await fetch(server.url('/api/v1/update/'), { method: 'POST', body: update('acked', u.ver, u.host) });
            if (res.status === 200) acked.push(u);
          } catch {
            return; // the server is gone
          }
        }
      };
      const clients = Array.from({ length: 8 }, client);
      await sleep(200 + Math.random() * 800);
      server.proc.kill('SIGKILL');
      stop = true;
      await Promise.all(clients);
      await server.stop('SIGKILL');
    }
    expect(acked.length).toBeGreaterThan(100);
    const last = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    const stored = new Map<string, string>(
      ((await last.get('/api/v1/version/?app_id=acked')).body.data as { host: string; ver: string }[]).map((r) => [r.host, r.ver]),
    );
    const lost = acked.filter((a) => stored.get(a.host) !== a.ver);
    expect(lost).toEqual([]);
    console.log(`kill -9: 10 kills survived, ${acked.length} acknowledged updates, ${lost.length} lost`);
    await last.destroy();
  });

  test('SIGTERM during a UDP storm commits what reached the rings and says how many', async () => {
    const server = await Server.start();
    const storm = run(process.execPath, [
      FUZZ,
      '--port',
      String(server.port),
      '--hosts',
      '100',
      '--apps',
      '2',
      '--instances',
      '1',
      '--rate',
      '20000',
      '--duration',
      '3',
      '--json',
    ]).catch(() => null);
    await sleep(1500);
    expect(await server.stop('SIGTERM')).toBe(0);
    await storm;
    expect(server.log).toMatch(/INFO  stopping signal=SIGTERM\n/);
    expect(server.log).toMatch(/INFO  stopped drained=\d+\n/);
    // In 1.5 s at 20k/s every one of the 200 fleet members has reported several times.
    const again = await Server.start({ port: server.port, dataDir: server.dataDir, args: ['--port', String(server.port), '--data', server.dataDir] });
    // (The writer loads the store after the HTTP front answers.)
    expect(await until(async () => (await again.vars()).instances === 200)).toBe(true);
    await again.destroy();
    rmSync(server.dataDir, { recursive: true, force: true });
  });
});

describe('storms', () => {
  test('a sustained storm with half the packets malformed: the API answers, only valid updates are stored, counters add up', async () => {
    const server = await Server.start();
    const out = await run(
      process.execPath,
      [FUZZ, '--port', String(server.port), '--hosts', '500', '--rate', '20000', '--duration', '10', '--bad', '0.5', '--check', '--json'],
      { maxBuffer: 1 << 24 },
    );
    const r = JSON.parse(out.stdout) as Record<string, any>;
    console.log(
      `--bad 0.5 storm: sent ${r.sent} (${r.sent_bad} malformed), applied ${r.applied}, rejected ${r.rejected}, ring drops ${r.ring_full_drops}, kernel drops ${r.kernel_drops}, unexplained ${r.unexplained_lost}`,
    );
    expect(r.check_settled).toBe(true);
    expect(r.unexplained_lost).toBe(0);
    expect(r.rejected).toBe(r.sent_bad);
    expect(r.applied + r.ring_full_drops + r.kernel_drops).toBe(r.sent_good);
    const v = await server.settle(undefined, 30_000);
    // Every stored instance is a valid update of the simulated fleet.
    const rows = (await server.get('/api/v1/version/')).body.data as Record<string, unknown>[];
    expect(rows.length).toBe(v.instances);
    for (const row of rows) {
      expect(typeof row.app).toBe('string');
      expect([...(row.app as string)].length).toBeLessThanOrEqual(50);
      expect([...(row.ver as string)].length).toBeLessThanOrEqual(50);
      expect(row.instance).toBeGreaterThanOrEqual(0);
    }
    await server.destroy();
  });

  test('overload: at the fastest rate offered, drops are counted, memory stays flat, queries keep answering', async () => {
    const server = await Server.start();
    // Populate the fleet first, so the storm is repeats (a restart storm);
    // no release rolls out meanwhile (--release-every far beyond the run):
    // a rollout is a wave of changes, whose memory the waves bench measures.
    const fleet = ['--port', String(server.port), '--hosts', '2000', '--release-every', '1000000'];
    await run(process.execPath, [FUZZ, ...fleet, '--rate', '25000', '--count', '160000', '--json']);
    await server.settle(undefined, 60_000);
    // The SQL tables load in the background; once they hold the fleet, what
    // is sampled is the storm's memory, not that one-time growth.
    const sqlRows = async () => Number((await server.get(`/api/v1/sql?q=${encodeURIComponent('SELECT count(*) FROM versions')}`)).body?.data?.[0]?.[0]);
    expect(await until(async () => (await sqlRows()) === (await server.vars()).instances, 60_000)).toBe(true);
    const storm = run(process.execPath, [FUZZ, ...fleet, '--rate', 'max', '--workers', '2', '--duration', '25', '--json'], { maxBuffer: 1 << 24 });
    const samples: { anon: number; query_ms: number }[] = [];
    for (let s = 0; s < 24; s++) {
      await sleep(1000);
      const t = performance.now();
      const res = await server.get('/api/v1/version/?host=web-001.fra1.example.com');
      const queryMs = performance.now() - t;
      expect(res.status).toBe(200);
      samples.push({ anon: (await server.vars()).memory.rss_anon, query_ms: queryMs });
    }
    const r = JSON.parse((await storm).stdout) as Record<string, any>;
    // Growth over the level of the storm's first seconds (a heap given back
    // to the system is not growth).
    const first = samples
      .slice(0, 5)
      .map((x) => x.anon)
      .sort((a, b) => a - b);
    const anon = samples.slice(5).map((x) => x.anon);
    const growth = Math.max(...anon) - first[2]!;
    console.log(`overload: RssAnon MiB by second ${samples.map((x) => (x.anon / 2 ** 20).toFixed(0)).join(' ')}`);
    console.log(
      `overload: offered ${r.achieved_rate}/s for ${r.duration_s} s; RssAnon ${(Math.min(...anon) / 2 ** 20).toFixed(0)}-${(Math.max(...anon) / 2 ** 20).toFixed(0)} MiB; slowest query ${Math.max(...samples.map((x) => x.query_ms)).toFixed(1)} ms`,
    );
    expect(growth).toBeLessThan(64 * 2 ** 20);
    expect(Math.max(...samples.map((x) => x.query_ms))).toBeLessThan(1000);
    await server.destroy();
  });
});

describe('a full disk', () => {
  test('commits fail with a clear error, HTTP writes get 503, reads keep working, and it recovers', async () => {
    const mnt = tempDir('partisci-tmpfs-');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mnt]).status === 0;
    if (!mounted) {
      console.log('a full disk: skipped (cannot mount a tmpfs here)');
      rmSync(mnt, { recursive: true, force: true });
      return;
    }
    cleanups.push(() => {
      spawnSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });
    const data = `${mnt}/data`;
    mkdirSync(data);
    const port = await freePort();
    const server = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    cleanups.unshift(() => server.proc.kill('SIGKILL'));
    await server.request('POST', '/api/v1/update/', update('before-full', '1', 'h'));
    // Fill the disk with a plain file, then push updates until commits fail.
    spawnSync('dd', ['if=/dev/zero', `of=${mnt}/filler`, 'bs=64k']);
    // (A small fleet: once the filler goes, the disk must hold what it absorbed meanwhile.)
    await run(process.execPath, [FUZZ, '--port', String(port), '--hosts', '500', '--rate', '20000', '--count', '40000', '--json']).catch(() => null);
    let v = await server.vars();
    for (let i = 0; i < 50 && v.commit_errors === 0; i++) {
      await sleep(100);
      v = await server.vars();
    }
    expect(v.commit_errors).toBeGreaterThan(0);
    expect(String(v.writer_error)).toMatch(/^disk full: \d+\.\d MiB free in /);
    expect(server.log).toMatch(/WARN  commit failed: .* \(will retry\)/);
    const write = await server.request('POST', '/api/v1/update/', update('during-full', '1', 'h'));
    expect(write.status).toBe(503);
    expect(write.body.error).toMatch(/^ApiUpdate: storage unavailable: /);
    expect(write.body.code).toBe('STORAGE_UNAVAILABLE');
    expect((await server.get('/api/v1/version/?app_id=before_full')).body.data).toHaveLength(1);
    // Space comes back: the writer catches up and writes are accepted again.
    rmSync(`${mnt}/filler`);
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      await sleep(100);
      ok = (await server.request('POST', '/api/v1/update/', update('after-full', '1', 'h'))).status === 200;
    }
    expect(ok).toBe(true);
    expect(await server.stop('SIGTERM')).toBe(0);
    const again = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    cleanups.unshift(() => again.proc.kill('SIGKILL'));
    expect((await again.get('/api/v1/version/?app_id=after_full')).body.data).toHaveLength(1);
    await again.stop();
  });
});
