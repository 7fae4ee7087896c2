// partiscid started on a data folder an older version wrote (layout 1)
// upgrades it and serves exactly what was stored.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { writeLayout1 } from '../fixtures/layout1.js';
import { Server, freePort, tempDir, update, until } from './harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a data folder of partiscid 0.1', () => {
  test('is upgraded at start: the same versions, history and clocks; repeats stay repeats', async () => {
    // Recent times: history older than --history-days would be pruned at the first commit.
    const t = Math.floor(Date.now() / 1000) - 1000;
    const data = tempDir('partisci-upgrade-');
    dirs.push(data);
    await writeLayout1(
      data,
      [
        { app: 'Billing', ver: '2.3', host: 'web1', instance: 0, ip: '10.0.0.1', slot: 0, since: t, time: t + 100 },
        { app: 'Billing', ver: '2.4', host: 'web2', instance: 1, ip: '127.0.0.1', slot: 1, since: t + 50, time: t + 200 },
      ],
      [
        { app: 'Billing', host: 'web1', instance: 0, ver: '2.3', prevVer: null, ip: '10.0.0.1', time: t },
        { app: 'Billing', host: 'web2', instance: 1, ver: '2.3', prevVer: null, ip: '127.0.0.1', time: t + 10 },
        { app: 'Billing', host: 'web2', instance: 1, ver: '2.4', prevVer: '2.3', ip: '127.0.0.1', time: t + 50 },
      ],
    );
    const port = await freePort();
    const s = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    try {
      expect(s.log).toMatch(/WARN  upgrading the data folder from layout 1/);
      expect(s.log).toMatch(/WARN  data folder upgraded to layout 2 instances=2 history=3/);
      expect(existsSync(join(data, 'data-layout1.mdb'))).toBe(true);
      // The writer has loaded the upgraded store (and the clocks with it).
      expect(await until(async () => (await s.vars()).instances === 2)).toBe(true);
      const versions = (await s.get('/api/v1/version/?app_id=billing')).body.data;
      expect(versions).toEqual([
        // last_update: the clock chunk (time + 100) is later than written_at.
        { app: 'Billing', app_id: 'billing', host: 'web1', host_ip: '10.0.0.1', instance: 0, ver: '2.3', last_update: t + 200, status: 'up', since: t },
        { app: 'Billing', app_id: 'billing', host: 'web2', host_ip: '127.0.0.1', instance: 1, ver: '2.4', last_update: t + 300, status: 'up', since: t + 50 },
      ]);
      expect((await s.get('/api/v1/version/?host=web2')).body.data).toEqual([versions[1]]);
      expect((await s.get('/api/v1/history/?app_id=billing&host=web2')).body.data).toEqual([
        { app: 'Billing', app_id: 'billing', host: 'web2', host_ip: '127.0.0.1', instance: 1, ver: '2.4', prev_ver: '2.3', time: t + 50 },
        { app: 'Billing', app_id: 'billing', host: 'web2', host_ip: '127.0.0.1', instance: 1, ver: '2.3', prev_ver: null, time: t + 10 },
      ]);
      // The same content again is a repeat (the fingerprint survived): it moves the clock, writes nothing.
      const before = await s.vars();
      await s.sendUdp([update('Billing', '2.4', 'web2', 1)]);
      const after = await until(async () => {
        const v = await s.vars();
        return v.drained > before.drained && v.write_backlog === 0 ? v : null;
      });
      expect(after!.written).toBe(before.written);
      const web2 = (await s.get('/api/v1/version/?host=web2')).body.data[0];
      expect(web2.since).toBe(t + 50);
      expect(web2.last_update).toBeGreaterThan(t + 300);
    } finally {
      await s.destroy();
    }
    // Started again, it finds layout 2 and upgrades nothing.
    const again = await Server.start({ port, dataDir: data, args: ['--port', String(port), '--data', data] });
    try {
      expect(again.log).not.toMatch(/upgrading/);
      expect((await again.get('/api/v1/version/?app_id=billing')).body.data).toHaveLength(2);
    } finally {
      await again.destroy();
    }
  });
});
