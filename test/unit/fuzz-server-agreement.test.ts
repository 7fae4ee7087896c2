// The fuzzer's labels against the server's own parser: every malformed
// kind must get exactly its expected reason from src/ingest, and every
// fleet update must parse. If this fails after a server change, either
// the server's rules or EXPECTED_REASON in tools/fuzz/bad-packets.ts moved.

import { describe, expect, test } from 'vitest';
import { appIdOf } from '../../src/ingest/app-id.js';
import { MAX_DATAGRAM_BYTES } from '../../src/ingest/limits.js';
import { REASON_NAMES, Reason, reasonName } from '../../src/ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../../src/ingest/update.js';
import { BAD_KINDS, EXPECTED_REASON, makeBadPacket, SAMPLE_UPDATE } from '../../tools/fuzz/bad-packets.js';
import { Fleet } from '../../tools/fuzz/fleet.js';
import { appName } from '../../tools/fuzz/names.js';
import { Rng } from '../../tools/fuzz/prng.js';

/** What the server's UDP ingest does with a datagram: size check, then parse. */
function serverVerdict(packet: Uint8Array): string {
  if (packet.length > MAX_DATAGRAM_BYTES) return 'oversize';
  const code = parseUpdate(packet, 0, packet.length, new ParsedUpdate());
  return code === Reason.ok ? 'ok' : reasonName(code);
}

describe('agreement with the server parser', () => {
  test('expected reasons are server reason names', () => {
    for (const reason of Object.values(EXPECTED_REASON)) expect(REASON_NAMES).toContain(reason);
  });

  test.each(BAD_KINDS)('%s gets its expected reason', (kind) => {
    const fleet = new Fleet({ seed: 11, hosts: 500, apps: 40, instances: 2, releaseEveryS: 30 });
    const problems: string[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const base = seed % 2 === 0 ? SAMPLE_UPDATE : fleet.updateAt(seed, seed);
      const packet = makeBadPacket(kind, new Rng(seed), base);
      const verdict = serverVerdict(packet);
      if (verdict !== EXPECTED_REASON[kind]) problems.push(`${verdict}: ${JSON.stringify(new TextDecoder().decode(packet).slice(0, 160))}`);
    }
    expect(problems).toEqual([]);
  });

  test('every fleet update parses', () => {
    const fleet = new Fleet({ seed: 3, hosts: 10_000, apps: 45, instances: 4, releaseEveryS: 60 });
    const encoder = new TextEncoder();
    const problems: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const json = fleet.jsonAt(n, n / 50);
      const verdict = serverVerdict(encoder.encode(json));
      if (verdict !== 'ok') problems.push(`${verdict}: ${json}`);
    }
    expect(problems).toEqual([]);
  });

  test('app names have distinct app_ids, so the fleet has as many apps as asked for', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => appIdOf(appName(i)));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
