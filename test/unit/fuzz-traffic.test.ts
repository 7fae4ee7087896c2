import { describe, expect, test } from 'vitest';
import { BAD_KINDS, EXPECTED_REASON, HUGE_UDP } from '../../tools/fuzz/bad-packets.js';
import { sequenceOf } from '../../tools/fuzz/pace.js';
import { Traffic, type TrafficConfig } from '../../tools/fuzz/traffic.js';
import { referenceVerdict } from './fuzz-reference-rules.js';

const CONFIG: TrafficConfig = {
  fleet: { seed: 1, hosts: 10_000, apps: 20, instances: 4, releaseEveryS: 60 },
  badFraction: 0.1,
  badKinds: BAD_KINDS,
  clockRate: 1000,
  hugeSize: HUGE_UDP,
};

const encoder = new TextEncoder();

/** Packet n as bytes, and its label: 'ok' or the kind. */
function packet(traffic: Traffic, n: number): { bytes: Uint8Array; label: string } {
  const kind = traffic.badKindAt(n);
  return kind === null ? { bytes: encoder.encode(traffic.goodJson(n)), label: 'ok' } : { bytes: traffic.badPacket(n, kind), label: kind };
}

describe('traffic', () => {
  test('the requested share of packets is malformed, of every kind', () => {
    const traffic = new Traffic(CONFIG);
    const kinds = new Map<string, number>();
    for (let n = 0; n < 50_000; n++) {
      const kind = traffic.badKindAt(n);
      if (kind !== null) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    const bad = [...kinds.values()].reduce((a, b) => a + b, 0);
    expect(bad).toBe(4968); // 9.94%: within one standard deviation (67) of 5000
    expect(kinds.size).toBe(BAD_KINDS.length);
  });

  test('every packet is what its label says', () => {
    const traffic = new Traffic(CONFIG);
    const problems: string[] = [];
    for (let n = 0; n < 5000; n++) {
      const { bytes, label } = packet(traffic, n);
      const expected = label === 'ok' ? 'ok' : EXPECTED_REASON[label as keyof typeof EXPECTED_REASON];
      if (referenceVerdict(bytes) !== expected) problems.push(`${n} ${label}`);
    }
    expect(problems).toEqual([]);
  });

  test('--bad-kinds limits the kinds; --bad 0 sends none', () => {
    const limited = new Traffic({ ...CONFIG, badFraction: 1, badKinds: ['empty_datagram', 'nul_byte'] });
    const seen = new Set(Array.from({ length: 200 }, (_, n) => limited.badKindAt(n)));
    expect(seen).toEqual(new Set(['empty_datagram', 'nul_byte']));
    const clean = new Traffic({ ...CONFIG, badFraction: 0 });
    expect(Array.from({ length: 1000 }, (_, n) => clean.badKindAt(n)).every((k) => k === null)).toBe(true);
  });

  test('the stream does not depend on how it is split between threads', () => {
    const single = new Traffic(CONFIG);
    const expected = Array.from({ length: 3000 }, (_, n) => packet(single, n).bytes);
    // Three threads, each with its own Traffic, sending their share.
    const got: Uint8Array[] = new Array(3000);
    for (let worker = 0; worker < 3; worker++) {
      const own = new Traffic(CONFIG);
      for (let k = 0; sequenceOf(k, worker, 3) < 3000; k++) {
        const n = sequenceOf(k, worker, 3);
        got[n] = packet(own, n).bytes;
      }
    }
    expect(got).toEqual(expected);
  });

  test('fleet time is the scheduled send time', () => {
    const traffic = new Traffic({ ...CONFIG, clockRate: 50_000 });
    expect(traffic.fleetTime(100_000)).toBe(2);
  });
});
