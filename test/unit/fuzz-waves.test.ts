import { describe, expect, test } from 'vitest';
import { appIdOf } from '../../src/ingest/app-id.js';
import { Fleet, type FleetShape } from '../../tools/fuzz/fleet.js';
import { appName } from '../../tools/fuzz/names.js';
import { UsageError } from '../../src/errors.js';
import { parseOptions, USAGE } from '../../tools/fuzz/options.js';
import { buildTasks } from '../../tools/fuzz/run-senders.js';
import { CompletionTracker, disagreement, FleetMembers, versionCount } from '../../tools/fuzz/wave-check.js';
import { fleetAppIds, WaveTraffic } from '../../tools/fuzz/waves.js';
import { referenceVerdict } from './fuzz-reference-rules.js';

const TINY: FleetShape = { seed: 1, hosts: 7, apps: 3, instances: 2, releaseEveryS: 60 };
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function errorOf(argv: string[]): string {
  try {
    parseOptions(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('--waves options', () => {
  test('a list of versions, in order, repeats allowed', () => {
    const options = parseOptions(['--waves', '1.0.0,2.0.0,2.0.0', '--hosts', '10000', '--apps', '25', '--instances', '4', '--rate', '100000', '--check'])!;
    expect(options).toMatchObject({ waves: ['1.0.0', '2.0.0', '2.0.0'], wavePauseS: 1, hosts: 10_000, apps: 25, instances: 4, rate: 100_000, check: true });
    // A wave is the whole fleet once: no duration or count of its own.
    expect(options).toMatchObject({ durationS: null, count: null });
  });

  test('versions are trimmed and may hold spaces and any script; one wave is fine', () => {
    expect(parseOptions(['--waves', ' 5.34 (Αθήνα) , v2-g1a2b3c '])!.waves).toEqual(['5.34 (Αθήνα)', 'v2-g1a2b3c']);
    expect(parseOptions(['--waves=3.1'])!.waves).toEqual(['3.1']);
  });

  test('--wave-pause, --rate max and --workers go with --waves', () => {
    expect(parseOptions(['--waves', '1,2', '--wave-pause', '0', '--rate', 'max', '--workers', '2'])).toMatchObject({ wavePauseS: 0, rate: 0, workers: 2 });
    expect(parseOptions(['--waves', '1', '--wave-pause', '2.5'])!.wavePauseS).toBe(2.5);
  });

  test('without --waves, nothing changes', () => {
    expect(parseOptions(['--rate', '5'])).toMatchObject({ waves: null, durationS: 10, count: null });
  });

  test.each([
    [['--waves', ''], '--waves needs at least one version, e.g. --waves 1.0.0,2.0.0'],
    [['--waves', ' , '], '--waves needs at least one version, e.g. --waves 1.0.0,2.0.0'],
    [['--waves', '1.0,,2.0'], '--waves: version 2 of 3 is empty'],
    [['--waves', '1.0,'], '--waves: version 2 of 2 is empty'],
    [['--waves', `1.0,${'x'.repeat(51)}`], `--waves: "${'x'.repeat(51)}" is longer than 50 characters`],
    [['--waves', Array.from({ length: 1001 }, (_, i) => String(i)).join(',')], '--waves: at most 1000 waves'],
    [['--waves', '1.0', '--duration', '10'], "--duration does not apply with --waves (a wave is every fleet instance once, with the wave's version)"],
    [['--waves', '1.0', '--count', '10'], "--count does not apply with --waves (a wave is every fleet instance once, with the wave's version)"],
    [['--waves', '1.0', '--bad', '0.1'], "--bad does not apply with --waves (a wave is every fleet instance once, with the wave's version)"],
    [['--waves', '1.0', '--release-every', '5'], "--release-every does not apply with --waves (a wave is every fleet instance once, with the wave's version)"],
    [['--wave-pause', '1'], '--wave-pause applies only with --waves'],
    [['--waves', '1', '--wave-pause', '-1'], '--wave-pause must be a non-negative number of seconds'],
    [['--waves', '1', '--wave-pause', 'soon'], '--wave-pause must be a non-negative number of seconds'],
    [['--waves'], '--waves needs a value'],
  ])('%j is refused: %s', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });

  test('--help tells about waves', () => {
    expect(USAGE).toContain('--waves V1,V2,...');
    expect(USAGE).toContain('--wave-pause S');
  });
});

describe('a wave', () => {
  test('covers every fleet instance exactly once, each with the given version', () => {
    const wave = new WaveTraffic({ fleet: TINY, wave: 0, version: '2.0.0' });
    const fleet = new Fleet(TINY);
    expect(wave.size).toBe(42);
    const expected = new Set<string>();
    for (let h = 0; h < TINY.hosts; h++) {
      for (let a = 0; a < TINY.apps; a++) {
        for (let i = 0; i < TINY.instances; i++) expected.add(JSON.stringify([fleet.appName(a), fleet.hostName(h), i]));
      }
    }
    const encoder = new TextEncoder();
    const seen = range(wave.size).map((n) => {
      const json = wave.goodJson(n);
      expect(referenceVerdict(encoder.encode(json))).toBe('ok');
      expect(wave.badKindAt(n)).toBeNull();
      const sent = JSON.parse(json) as { app: string; ver: string; host: string; instance?: number };
      expect(sent.ver).toBe('2.0.0');
      const update = wave.updateAt(n);
      expect(update).toEqual({ app: sent.app, ver: '2.0.0', host: sent.host, instance: sent.instance ?? 0 });
      return JSON.stringify([sent.app, sent.host, sent.instance ?? 0]);
    });
    expect(new Set(seen).size).toBe(42);
    expect(new Set(seen)).toEqual(expected);
    expect(() => wave.memberAt(42)).toThrow(RangeError);
  });

  test('writes each app like its client library, with versions outside ASCII escaped for Python', () => {
    const shape = { ...TINY, apps: 20 };
    const fleet = new Fleet(shape);
    const wave = new WaveTraffic({ fleet: shape, wave: 1, version: '1.0 (Zürich)' });
    for (let n = 0; n < wave.size; n++) {
      const json = wave.goodJson(n);
      const { appIndex } = wave.memberAt(n);
      if (fleet.clientLibrary(appIndex) === 'python') expect(json).toContain('"ver": "1.0 (Z\\u00fcrich)"');
      else expect(json).toContain('"ver":"1.0 (Zürich)"');
    }
  });

  test('two waves go through the fleet in different orders', () => {
    const order = (w: number): string[] => {
      const wave = new WaveTraffic({ fleet: TINY, wave: w, version: 'x' });
      return range(wave.size).map((n) => JSON.stringify(wave.memberAt(n)));
    };
    const first = order(0);
    const second = order(1);
    expect(new Set(second)).toEqual(new Set(first));
    expect(second).not.toEqual(first);
    expect(order(2)).not.toEqual(second);
  });

  test('the same seed gives the same order; another seed another', () => {
    const order = (seed: number): string[] => {
      const wave = new WaveTraffic({ fleet: { ...TINY, seed }, wave: 1, version: 'x' });
      return range(wave.size).map((n) => wave.goodJson(n));
    };
    expect(order(5)).toEqual(order(5));
    expect(order(6)).not.toEqual(order(5));
  });

  test('the order is not the ordinary stream order', () => {
    const fleet = new Fleet(TINY);
    const wave = new WaveTraffic({ fleet: TINY, wave: 0, version: 'x' });
    expect(range(42).map((n) => JSON.stringify(wave.memberAt(n)))).not.toEqual(range(42).map((n) => JSON.stringify(fleet.memberAt(n))));
  });

  test('app_ids of the fleet apps are the server rule applied to their names', () => {
    const ids = fleetAppIds({ apps: 45 });
    expect(ids.slice(0, 3)).toEqual(['billing_api', 'search_indexer', 'caf__menu_service']);
    expect(ids).toEqual(range(45).map((a) => appIdOf(appName(a))));
    expect(new Set(ids).size).toBe(45);
  });

  test('sender tasks send one wave: the whole fleet, once', () => {
    const options = parseOptions(['--waves', '1.0,2.0', '--hosts', '7', '--apps', '3', '--instances', '2', '--workers', '2', '--rate', 'max'])!;
    const address = { name: '127.0.0.1', ip: '127.0.0.1', family: 4 as const, port: 7777 };
    const tasks = buildTasks(options, address, new SharedArrayBuffer(64), { index: 1, version: '2.0' });
    expect(tasks).toHaveLength(2);
    for (const task of tasks) {
      expect(task.wave).toEqual({ fleet: { seed: 1, hosts: 7, apps: 3, instances: 2, releaseEveryS: 60 }, wave: 1, version: '2.0' });
      expect(task.pace).toEqual({ rate: 0, burst: 1, count: 42, durationMs: Infinity });
    }
    expect(buildTasks(parseOptions([])!, address, new SharedArrayBuffer(64))[0]!.wave).toBeUndefined();
  });
});

describe('--waves --check', () => {
  test('versionCount reads app/A, wrapped in data or not', () => {
    const versions = [
      { ver: '1.0', count: 3, up_count: 3, stale_count: 0 },
      { ver: '2.0', count: 5, up_count: 5, stale_count: 0 },
    ];
    expect(versionCount({ data: [{ app_id: 'a', versions }] }, '2.0')).toBe(5);
    expect(versionCount({ app_id: 'a', versions }, '1.0')).toBe(3);
    expect(versionCount({ data: [{ versions }] }, '3.0')).toBe(0);
    expect(() => versionCount({ data: [{}] }, '1.0')).toThrow('no "versions" list');
  });

  test('disagreement: how far a listing falls outside the counts around it', () => {
    expect(disagreement(10, 10, 10)).toBe(0);
    expect(disagreement(10, 12, 15)).toBe(0); // counts moving up while listing
    expect(disagreement(15, 12, 10)).toBe(0); // or down
    expect(disagreement(10, 7, 10)).toBe(3);
    expect(disagreement(10, 19, 12)).toBe(7);
  });

  test("completion: complete when every app covers its members, at the last one's time", () => {
    const t = new CompletionTracker(2, 8, 0);
    t.record(0, 8, 100);
    t.record(1, 5, 100);
    t.endRound(100);
    expect([t.complete, t.sum(), t.completedAtMs, t.pending()]).toEqual([false, 13, null, [1]]);
    expect(t.shouldStop(200, 3000, 60_000)).toBeNull();
    t.record(1, 9, 250); // more than its members (other instances of the app): capped
    t.endRound(250);
    expect([t.complete, t.sum(), t.completedAtMs, t.pending()]).toEqual([true, 16, 250, []]);
    expect(t.shouldStop(250, 3000, 60_000)).toBe('complete');
  });

  test('completion: stops when the counts stand still, or at the deadline', () => {
    const t = new CompletionTracker(1, 8, 0);
    t.record(0, 3, 10);
    t.endRound(10);
    expect(t.shouldStop(3009, 3000, 60_000)).toBeNull();
    expect(t.shouldStop(3010, 3000, 60_000)).toBe('stable');
    t.record(0, 4, 3000);
    t.endRound(3000);
    expect(t.shouldStop(5000, 3000, 4000)).toBe('timeout');
  });

  test('listing counter: each fleet member once, only rows of the app and version', () => {
    const members = new FleetMembers(TINY);
    const fleet = new Fleet(TINY);
    const counter = members.counter('billing_api', '2.0');
    const row = (h: number, instance: number | undefined, ver = '2.0', app_id = 'billing_api') => ({ app_id, host: fleet.hostName(h), instance, ver });
    counter.add([row(0, 0), row(0, 1), row(1, undefined), row(1, 0)]); // undefined: Go's omitted instance 0, same member as (1, 0)
    counter.add([row(2, 0, '1.0'), row(3, 0, '2.0', 'search_indexer'), { app_id: 'billing_api', host: 'stranger', instance: 0, ver: '2.0' }, row(4, 2)]);
    expect(counter.count()).toBe(3);
    expect(counter.rows()).toBe(8);
  });
});
