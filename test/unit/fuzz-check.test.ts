import { describe, expect, test } from 'vitest';
import { accountedFor, counterDelta, lossReport, parseCounters, waitForSettle, type ServerCounters, type SettleOptions } from '../../tools/fuzz/check.js';

function counters(values: Partial<ServerCounters>): ServerCounters {
  return {
    udp_datagrams: 0,
    http_updates: 0,
    rejected: 0,
    ring_full_drops: 0,
    applied: 0,
    kernel_drops: 0,
    commits: 0,
    rejected_by_reason: {},
    ...values,
  };
}

describe('reading /debug/vars', () => {
  test('picks the counters, absent ones as 0, and ignores the rest', () => {
    expect(parseCounters({ applied: 5, rejected: 2, memstats: { x: 1 }, rejected_by_reason: { bad_json: 2, junk: 'x' } })).toEqual(
      counters({ applied: 5, rejected: 2, rejected_by_reason: { bad_json: 2 } }),
    );
  });

  test('refuses documents that are not counters', () => {
    expect(() => parseCounters([])).toThrow('did not return a JSON object');
    expect(() => parseCounters({ applied: '5' })).toThrow('applied is not a number');
  });
});

describe('loss arithmetic', () => {
  const before = counters({ udp_datagrams: 100, applied: 90, rejected: 10, kernel_drops: 3, rejected_by_reason: { bad_json: 10 } });
  const after = counters({
    udp_datagrams: 1080, // the 20 kernel drops never reached the server
    applied: 990,
    rejected: 60,
    ring_full_drops: 30,
    kernel_drops: 23,
    commits: 4,
    rejected_by_reason: { bad_json: 40, empty: 20 },
  });

  test('deltas of every counter and of each rejection reason', () => {
    expect(counterDelta(before, after)).toEqual(
      counters({
        udp_datagrams: 980,
        applied: 900,
        rejected: 50,
        ring_full_drops: 30,
        kernel_drops: 20,
        commits: 4,
        rejected_by_reason: { bad_json: 30, empty: 20 },
      }),
    );
  });

  test('lost = sent - (applied + rejected), explained by the drop counters', () => {
    const delta = counterDelta(before, after);
    expect(accountedFor(delta)).toBe(1000);
    expect(lossReport({ good: 950, bad: 50 }, delta, true)).toEqual({
      sent: 1000,
      expected_applied: 950,
      expected_rejected: 50,
      received: 980,
      applied: 900,
      rejected: 50,
      ring_full_drops: 30,
      kernel_drops: 20,
      lost: 50,
      loss_rate: 0.05,
      unexplained_lost: 0,
      server_pending: 0,
      rejected_by_reason: { bad_json: 30, empty: 20 },
      settled: true,
    });
  });

  test('unexplained loss and an empty run', () => {
    const report = lossReport({ good: 100, bad: 0 }, counters({ udp_datagrams: 99, applied: 97, kernel_drops: 1 }), false);
    expect([report.lost, report.unexplained_lost, report.server_pending, report.loss_rate, report.settled]).toEqual([3, 2, 2, 0.03, false]);
    expect(lossReport({ good: 0, bad: 0 }, counters({}), true).loss_rate).toBe(0);
  });
});

describe('waiting for the counters to settle', () => {
  /** A fake clock advanced by sleep(), and a server whose counters follow a script. */
  function scripted(readings: Partial<ServerCounters>[]): { read: () => Promise<ServerCounters>; options: SettleOptions; reads: () => number } {
    let now = 0;
    let count = 0;
    return {
      read: async () => counters(readings[Math.min(count++, readings.length - 1)]!),
      options: { stableMs: 1000, capMs: 10_000, pollMs: 100, now: () => now, sleep: async (ms) => void (now += ms) },
      reads: () => count,
    };
  }

  test('stops as soon as every packet is accounted for', async () => {
    const server = scripted([{ applied: 10 }, { applied: 60 }, { applied: 95, rejected: 5 }]);
    const result = await waitForSettle(server.read, counters({}), 100, server.options);
    expect(result).toEqual({ delta: counters({ applied: 95, rejected: 5 }), settled: true });
    expect(server.reads()).toBe(3);
  });

  test('stops after a second without change when some packets were lost', async () => {
    const server = scripted([{ applied: 10 }, { applied: 80 }, { applied: 90 }]);
    const result = await waitForSettle(server.read, counters({}), 100, server.options);
    expect(result.settled).toBe(true);
    expect(result.delta.applied).toBe(90);
    expect(server.reads()).toBe(3 + 10); // the change at the 3rd read, then 1000 ms of 100 ms polls
  });

  test('keeps waiting while the server holds received updates, even if nothing moves', async () => {
    // A writer committing a big batch: 2.5 s without change, then applied jumps.
    const readings = [...Array.from({ length: 25 }, () => ({ udp_datagrams: 100, applied: 40 })), { udp_datagrams: 100, applied: 100 }];
    const server = scripted(readings);
    const result = await waitForSettle(server.read, counters({}), 100, server.options);
    expect(result).toEqual({ delta: counters({ udp_datagrams: 100, applied: 100 }), settled: true });
    expect(server.reads()).toBe(26);
  });

  test('gives up at the cap while counters keep moving', async () => {
    const readings = Array.from({ length: 500 }, (_, i) => ({ applied: i }));
    const server = scripted(readings);
    const result = await waitForSettle(server.read, counters({}), 1e6, server.options);
    expect(result.settled).toBe(false);
    expect(server.reads()).toBe(101);
  });
});
