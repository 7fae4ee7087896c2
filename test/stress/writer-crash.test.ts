// The writer thread crashed 50 times under HTTP and UDP load: the engine
// restarts it every time, no request waits long, nothing answered 200 is
// lost, and what the dead writers had absorbed but not committed is counted.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, onTestFinished, test } from 'vitest';
import { rmSync } from 'node:fs';
import { Server, freePort, sleep, tempDir, until, update } from '../e2e/harness.js';

const FUZZ = new URL('../../dist/tools/fuzz/cli.js', import.meta.url).pathname;
const CRASHES = 50;
const CLIENTS = 32;
const MAX_WAIT_MS = 5000;

describe('a writer that keeps dying', () => {
  test(`${CRASHES} crashes 0.1-1 s apart under ${CLIENTS} HTTP clients and a UDP stream`, async () => {
    const port = await freePort();
    const data = tempDir('partisci-crash-');
    const s = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data, '--workers', '2', '--danger'] });
    // However the test ends, the server and its folder go.
    onTestFinished(async (ctx) => {
      // A failure shows how the server ended.
      if (ctx.task.result?.state === 'fail') console.log(`partiscid's log, the end:\n${s.log.slice(-4000)}`);
      await s.destroy();
      rmSync(data, { recursive: true, force: true });
    });
    const acked = new Map<string, string>();
    let slowest = 0;
    const statuses = new Map<number, number>();
    let stop = false;
    let n = 0;
    const client = async (): Promise<void> => {
      while (!stop) {
        const host = `c${n++}`;
        const started = performance.now();
        let status = 0;
        try {
          const res = await fetch(s.url('/api/v1/update/'), {
            method: 'POST',
            body: update('crashapp', 'v1', host),
            signal: AbortSignal.timeout(MAX_WAIT_MS + 2000),
          });
          status = res.status;
          await res.text();
        } catch {
          status = -1; // no answer in time
        }
        slowest = Math.max(slowest, performance.now() - started);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) acked.set(host, 'v1');
        // A client told to come back later does, a little later.
        if (status !== 200) await sleep(20);
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    const udp = spawn(
      process.execPath,
      [FUZZ, '--port', String(s.port), '--hosts', '200', '--apps', '5', '--instances', '2', '--rate', '5000', '--duration', '300'],
      { stdio: 'ignore' },
    );
    const udpDone = once(udp, 'exit');
    onTestFinished(() => {
      if (udp.exitCode === null) udp.kill('SIGKILL');
    });

    let crashes = 0;
    while (crashes < CRASHES) {
      await sleep(100 + Math.random() * 900);
      // 503 while a writer is restarting: try again until one runs.
      const crashed = await until(async () => (await s.request('POST', '/api/v1/_danger/crash-writer/')).status === 200, 10_000, 20);
      expect(crashed, `crash ${crashes + 1}`).toBe(true);
      crashes++;
    }
    stop = true;
    await Promise.all(clients);
    udp.kill('SIGINT');
    await udpDone;

    // After the last crash the server ingests normally: HTTP and UDP updates land.
    const after = await until(async () => (await s.request('POST', '/api/v1/update/', update('after', '1', 'h'))).status === 200, 10_000, 50);
    expect(after).toBe(true);
    await s.sendUdp([update('after', '1', 'udp-host')]);
    const seen = await until(async () => ((await s.get('/api/v1/version/?app_id=after')).body.data as unknown[]).length === 2, 10_000, 50);
    expect(seen).toBe(true);

    // Everything answered 200 is stored.
    const stored = new Map(((await s.get('/api/v1/version/?app_id=crashapp')).body.data as { host: string; ver: string }[]).map((r) => [r.host, r.ver]));
    const lost = [...acked].filter(([host, ver]) => stored.get(host) !== ver);
    expect(lost).toEqual([]);
    expect(slowest).toBeLessThanOrEqual(MAX_WAIT_MS);
    expect(statuses.get(-1) ?? 0).toBe(0);

    // Every record a writer read is either committed or counted as lost.
    const v = await until(async () => {
      const x = await s.vars();
      return x.drained >= x.queued && x.write_backlog === 0 ? x : null;
    }, 20_000);
    expect(v).not.toBeNull();
    await sleep(2500); // repeats count as applied once the clocks are persisted
    const end = await s.vars();
    expect(end.writer_restarts).toBeGreaterThanOrEqual(CRASHES);
    expect(end.applied + end.lost_on_writer_crash).toBe(end.drained);
    console.log(
      `writer crashes: ${crashes}; HTTP answers ${JSON.stringify(Object.fromEntries(statuses))}, slowest ${slowest.toFixed(0)} ms, ` +
        `${acked.size} acknowledged, 0 lost; UDP records lost with dead writers: ${end.lost_on_writer_crash} of ${end.drained}`,
    );
  });
});
