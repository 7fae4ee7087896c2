import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { Fleet, REGIONS, hostLabels, jsonString, type FleetShape } from '../../tools/fuzz/fleet.js';
import { APP_CATALOG, appName, codePointLength, hostName, MAX_NAME_CHARS } from '../../tools/fuzz/names.js';
import { Permutation } from '../../tools/fuzz/permutation.js';
import { hash32, mix32, Rng } from '../../tools/fuzz/prng.js';
import { newestRelease, releaseSchedule, rolloutShare, versionText } from '../../tools/fuzz/versions.js';
import { referenceVerdict } from './fuzz-reference-rules.js';

const SHAPE: FleetShape = { seed: 1, hosts: 10_000, apps: 20, instances: 4, releaseEveryS: 60 };
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('seeded randomness', () => {
  test('mix32, hash32 and Rng give fixed values', () => {
    expect([mix32(0), mix32(1)]).toEqual([0, 1364076727]);
    expect(hash32(1, 2, 3, 4)).toBe(1652666941);
    expect(new Rng(7).nextU32()).toBe(2353303305);
  });

  test('hash32 tells apart values above 2^32', () => {
    expect(hash32(1, 2 ** 32 + 5)).not.toBe(hash32(1, 5));
  });

  test('Rng stays in range', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 10_000; i++) {
      const f = rng.float();
      expect(f >= 0 && f < 1).toBe(true);
      const b = rng.between(5, 9);
      expect(b >= 5 && b <= 9 && Number.isInteger(b)).toBe(true);
    }
  });
});

describe('permutation', () => {
  test.each([1, 2, 3, 10, 257, 1000, 65_537])('is a bijection on [0, %i)', (size) => {
    const p = new Permutation(size, 42);
    const images = new Set(range(size).map((i) => p.at(i)));
    expect(images.size).toBe(size);
    expect(Math.max(...images)).toBe(size - 1);
  });

  test('is fixed for a seed and differs between seeds', () => {
    expect(range(10).map((i) => new Permutation(10, 1).at(i))).toEqual([1, 7, 3, 6, 4, 8, 2, 0, 9, 5]);
    expect(range(10).map((i) => new Permutation(10, 2).at(i))).not.toEqual([1, 7, 3, 6, 4, 8, 2, 0, 9, 5]);
  });

  test('handles sizes beyond 2^32', () => {
    const p = new Permutation(2 ** 40 + 3, 9);
    for (const i of [0, 1, 2 ** 33, 2 ** 40 + 2]) expect(p.at(i)).toBeLessThan(2 ** 40 + 3);
  });
});

describe('fleet stream', () => {
  test('is reproducible for a seed, with these exact first updates', () => {
    const fleet = new Fleet(SHAPE);
    expect(range(6).map((n) => fleet.jsonAt(n, n / 1000))).toEqual([
      '{"app":"log-shipper","ver":"5.34 (Αθήνα)","host":"web-5b047e00-zwcnn","instance":3}',
      '{"app":"📡 Satelliten-Telemetrie der Außenstelle Nord 🚀🌍🌎🌏🪐","ver":"10.0.19077.2688","host":"worker-ee74af42-82t5v","instance":0}',
      '{"app":"データ収集エージェント","ver":"6.5.4","host":"worker-9305.prod.internal","instance":1}',
      '{"app":"データ収集エージェント","ver":"6.5.4","host":"api-2906.prod.internal","instance":1}',
      '{"host":"ip-10-0-16-227.ec2.internal","app":"inventory","instance":0,"ver":"v2.0.6-gdaa55e3"}',
      '{"app":"📡 Satelliten-Telemetrie der Außenstelle Nord 🚀🌍🌎🌏🪐","ver":"10.0.19077.2688","host":"db-882.gru1.example.com","instance":2}',
    ]);
    expect(fleet.updateAt(123_456, 42.5)).toEqual({
      app: '📡 Satelliten-Telemetrie der Außenstelle Nord 🚀🌍🌎🌏🪐',
      ver: '10.0.19077.2688',
      host: 'db372',
      instance: 2,
    });
    const again = new Fleet(SHAPE);
    expect(range(2000).map((n) => again.jsonAt(n, n / 100))).toEqual(range(2000).map((n) => fleet.jsonAt(n, n / 100)));
  });

  test('another seed gives another fleet', () => {
    expect(new Fleet({ ...SHAPE, seed: 2 }).jsonAt(0, 0)).toBe('{"app":"kafka-consumer","ver":"6.1.3","host":"worker223","instance":0}');
  });

  test('every member reports exactly once per cycle, in the same order each cycle', () => {
    const fleet = new Fleet({ ...SHAPE, hosts: 50, apps: 3, instances: 2 });
    expect(fleet.size).toBe(300);
    const key = (n: number): string => JSON.stringify(fleet.memberAt(n));
    expect(new Set(range(300).map(key)).size).toBe(300);
    for (const n of [0, 7, 299]) expect(key(n + 300)).toBe(key(n));
    for (const n of range(300)) {
      const m = fleet.memberAt(n);
      expect(m.appIndex < 3 && m.hostIndex < 50 && m.instance < 2).toBe(true);
    }
  });

  test('every update is valid, and its JSON says what updateAt says', () => {
    const fleet = new Fleet(SHAPE);
    const encoder = new TextEncoder();
    const problems: string[] = [];
    for (let n = 0; n < 20_000; n += 1) {
      const t = n / 37;
      const json = fleet.jsonAt(n, t);
      const verdict = referenceVerdict(encoder.encode(json));
      const { instance, ...rest } = fleet.updateAt(n, t);
      const expected = instance === 0 && fleet.clientLibrary(fleet.memberAt(n).appIndex) === 'go' ? rest : { ...rest, instance };
      if (verdict !== 'ok' || !isDeepStrictEqual(JSON.parse(json), expected)) problems.push(`${n}: ${verdict} ${json}`);
    }
    expect(problems).toEqual([]);
  });

  test('client libraries write JSON differently', () => {
    const fleet = new Fleet(SHAPE);
    const libraries = range(SHAPE.apps).map((a) => fleet.clientLibrary(a));
    expect(libraries.join(',')).toBe('shell,go,js,shell,python,python,shell,js,go,shell,js,go,js,go,go,js,go,go,js,go');
    for (let n = 0; n < 5000; n++) {
      const { appIndex, instance } = fleet.memberAt(n);
      const json = fleet.jsonAt(n, 0);
      switch (fleet.clientLibrary(appIndex)) {
        case 'python':
          expect(json).toMatch(/^\{"app": ".*", "ver": ".*", "host": ".*", "instance": \d+\}$/);
          expect(json).toMatch(/^[\x20-\x7e]*$/); // non-ASCII as \u escapes
          break;
        case 'go':
          expect(json.includes('"instance"')).toBe(instance !== 0);
          break;
        case 'shell':
          expect(json.startsWith('{"host":')).toBe(true);
          break;
        case 'js':
          expect(json.startsWith('{"app":')).toBe(true);
      }
    }
  });

  test('jsonString escapes like Python when asked', () => {
    expect(jsonString('Café 数据 🚀 "q"', true)).toBe('"Caf\\u00e9 \\u6570\\u636e \\ud83d\\ude80 \\"q\\""');
    expect(jsonString('Café', false)).toBe('"Café"');
  });
});

describe('names', () => {
  test('host names have the expected shapes', () => {
    expect(range(13).map((i) => hostName(1, i))).toEqual([
      'ip-10-0-0-0.ec2.internal',
      'edge2',
      'batch-f4c24c07-bhrj2',
      'mq-5ff26c46-sjfl4',
      'mq-5.prod.internal',
      'build6',
      'gpu-007.fra1.example.com',
      'build-008.sfo3.example.com',
      'mq-009.lon1.example.com',
      'ip-10-0-0-9.ec2.internal',
      'db-2fa4bd46-r47wf',
      'mq-7ad76110-z6mr9',
      'сервер-13.local',
    ]);
  });

  test('host names are unique, within 50 characters, and a few are not ASCII', () => {
    const names = range(200_000).map((i) => hostName(7, i));
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((name) => codePointLength(name) <= MAX_NAME_CHARS && name.length > 0)).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, on purpose
    const nonAscii = names.filter((name) => /[^\x00-\x7f]/.test(name)).length / names.length;
    expect(nonAscii).toBeGreaterThan(0.05);
    expect(nonAscii).toBeLessThan(0.1);
    const last = hostName(7, 9_999_999);
    expect(codePointLength(last)).toBeLessThanOrEqual(MAX_NAME_CHARS);
  });

  test('app names start with the catalog and stay unique and within 50 characters', () => {
    expect(range(4).map(appName)).toEqual(['billing-api', 'Search Indexer', 'Café Menu Service', '数据同步']);
    expect(appName(APP_CATALOG.length)).toBe('billing-api-2');
    const names = range(1000).map(appName);
    expect(new Set(names).size).toBe(1000);
    for (const name of names) expect(codePointLength(name)).toBeLessThanOrEqual(MAX_NAME_CHARS);
  });

  test('the catalog holds a name of exactly 50 code points beyond the BMP', () => {
    const edge = APP_CATALOG.find((name) => codePointLength(name) === MAX_NAME_CHARS);
    expect(edge).toBeDefined();
    expect(edge!.length).toBeGreaterThan(MAX_NAME_CHARS); // more UTF-16 units than characters
  });

  test('codePointLength counts code points', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength('数据')).toBe(2);
    expect(codePointLength('🚀x')).toBe(2);
    expect(codePointLength('\ud800x')).toBe(2); // a lone surrogate is one
  });
});

describe('versions', () => {
  test('the release an (app, host) runs never goes backwards', () => {
    const fleet = new Fleet({ ...SHAPE, releaseEveryS: 20 });
    const problems: string[] = [];
    let moves = 0;
    for (let app = 0; app < SHAPE.apps; app++) {
      for (let host = 0; host < 300; host += 7) {
        let previous = fleet.releaseAt(app, host, 0);
        for (let t = 0.25; t <= 200; t += 0.25) {
          const release = fleet.releaseAt(app, host, t);
          if (release < previous || release > previous + 1) problems.push(`app ${app} host ${host} t ${t}: ${previous} -> ${release}`);
          if (release > previous) moves++;
          previous = release;
        }
      }
    }
    expect(problems).toEqual([]);
    // About 200 s / 20 s = 10 releases per (app, host), 860 pairs.
    expect(moves).toBeGreaterThan(860 * 6);
  });

  test('a growing share of hosts moves to the newest release, then all of them', () => {
    const fleet = new Fleet(SHAPE);
    const schedule = releaseSchedule(SHAPE.seed, 0, SHAPE.releaseEveryS);
    // The start of the first release after fleet time 0.
    const releaseAt = schedule.intervalS - schedule.offsetS;
    const newest = newestRelease(schedule, releaseAt + 0.001);
    const shareOnNewest = (t: number): number => range(2000).filter((host) => fleet.releaseAt(0, host, t) === newest).length / 2000;
    const shares = [0.001, 0.2, 0.4, 0.6, 0.8, 0.99].map((f) => shareOnNewest(releaseAt + f * schedule.rolloutS));
    for (let i = 1; i < shares.length; i++) expect(shares[i]!).toBeGreaterThanOrEqual(shares[i - 1]!);
    expect(shares[0]).toBeLessThan(0.01);
    expect(shares[2]).toBeGreaterThan(0.2);
    expect(shares[2]).toBeLessThan(0.5);
    expect(shareOnNewest(releaseAt + schedule.rolloutS + 0.001)).toBe(1);
    expect(rolloutShare(schedule, releaseAt + schedule.rolloutS / 2)).toBeCloseTo(0.5, 6);
  });

  test('version strings are distinct per release and within 50 characters', () => {
    for (let app = 0; app < 200; app++) {
      const schedule = releaseSchedule(3, app, 60);
      const texts = range(300).map((r) => versionText(3, app, schedule, r));
      expect(new Set(texts).size).toBe(texts.length);
      for (const text of texts) expect(codePointLength(text)).toBeLessThanOrEqual(MAX_NAME_CHARS);
    }
  });

  test('each style looks like what it is named after', () => {
    const base = releaseSchedule(1, 0, 60);
    const text = (style: typeof base.style, release: number): string => versionText(1, 0, { ...base, style, major: 2 }, release);
    expect(text('semver', 37)).toBe('2.3.7');
    expect(text('git', 37)).toMatch(/^v2\.4\.5-g[0-9a-f]{7}$/);
    expect(text('calver', 37)).toBe('2023.07.1');
    expect(text('build', 37)).toMatch(/^10\.0\.19078\.\d+$/);
    expect(text('codename', 37)).toBe('2.37 (Malmö)');
  });
});

describe('a labelled fleet (--labels)', () => {
  const shape: FleetShape = { seed: 5, hosts: 400, apps: 4, instances: 2, releaseEveryS: 60, labels: true };
  const fleet = new Fleet(shape);

  test('every update carries its host’s labels, whatever library writes it, and is a valid update', () => {
    const libraries = new Set<string>();
    for (let n = 0; n < fleet.size; n++) {
      const json = fleet.jsonAt(n, 0);
      const { hostIndex, appIndex } = fleet.memberAt(n);
      libraries.add(fleet.clientLibrary(appIndex));
      expect(referenceVerdict(new TextEncoder().encode(json))).toBe('ok');
      const parsed = JSON.parse(json) as { labels: Record<string, string> };
      expect(parsed.labels).toEqual(hostLabels(shape.seed, hostIndex));
      expect(parsed.labels).toEqual(fleet.updateAt(n, 0).labels);
    }
    expect(libraries.size).toBeGreaterThan(1);
  });

  test('env is mostly prod; every region and dc appears; a dc belongs to its region', () => {
    const envs = new Map<string, number>();
    const dcs = new Set<string>();
    for (let h = 0; h < shape.hosts; h++) {
      const { env, region, dc } = hostLabels(shape.seed, h);
      envs.set(env, (envs.get(env) ?? 0) + 1);
      expect(REGIONS[region]).toContain(dc);
      dcs.add(dc);
    }
    expect(envs.get('prod')! / shape.hosts).toBeGreaterThan(0.6);
    expect([...envs.keys()].sort()).toEqual(['dev', 'prod', 'staging']);
    expect(dcs.size).toBe(8);
  });

  test('without --labels, no labels', () => {
    const plain = new Fleet({ ...shape, labels: false });
    expect(plain.jsonAt(0, 0)).not.toContain('labels');
    expect(plain.updateAt(0, 0)).not.toHaveProperty('labels');
  });
});
