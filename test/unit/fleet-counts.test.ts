// FleetCounts: the writer's counts behind the app and host summaries (apps
// per host, hosts per app, instances, stale instances, instances per
// version), kept incrementally, and which summaries each change dirties.

import { describe, expect, test } from 'vitest';
import { hash32 } from '../../src/ingest/hash.js';
import { FleetCounts, INSTANCES, PEERS, STALE, SUMMARY_COLUMNS } from '../../src/store/fleet-counts.js';
import { KeyIndex } from '../../src/store/key-index.js';

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

function setup(): { counts: FleetCounts; host: (name: string) => number; app: (name: string) => number } {
  const hosts = new KeyIndex(SUMMARY_COLUMNS);
  const apps = new KeyIndex(SUMMARY_COLUMNS);
  const slot =
    (idx: KeyIndex) =>
    (name: string): number => {
      const k = bytes(name);
      const found = idx.find(k, 0, k.length, hash32(k, 0, k.length));
      return found >= 0 ? found : idx.insert(k, 0, k.length, hash32(k, 0, k.length));
    };
  return { counts: new FleetCounts(hosts, apps), host: slot(hosts), app: slot(apps) };
}

/** [peers, instances, stale] of a summary slot. */
const summary = (idx: KeyIndex, slot: number): number[] => [idx.cols[PEERS]![slot]!, idx.cols[INSTANCES]![slot]!, idx.cols[STALE]![slot]!];

describe('versions', () => {
  test('interned per app: the same app and version give the same id, another app another one', () => {
    const { counts, app } = setup();
    const a = app('a');
    const b = app('b');
    const v1 = counts.versionId(a, bytes('1.0'));
    expect(counts.versionId(a, bytes('1.0'))).toBe(v1);
    expect(counts.versionId(a, bytes('2.0'))).not.toBe(v1);
    expect(counts.versionId(b, bytes('1.0'))).not.toBe(v1);
    expect(counts.version(v1)).toEqual({ app: a, json: Buffer.from('1.0'), count: 0, stale: 0 });
  });

  test('a version is kept by its own copy of the bytes', () => {
    const { counts, app } = setup();
    const scratch = bytes('1.0');
    const id = counts.versionId(app('a'), scratch);
    scratch[0] = 0x39;
    expect(counts.version(id).json.toString()).toBe('1.0');
  });

  test('versionsOf lists the versions with instances; a version losing its last instance is forgotten and its id reused', () => {
    const { counts, host, app } = setup();
    const a = app('a');
    const h = host('h');
    const v1 = counts.versionId(a, bytes('1'));
    const v2 = counts.versionId(a, bytes('2'));
    expect(counts.versionsOf(a)).toEqual([]);
    counts.add(h, a, v1);
    counts.add(h, a, v2);
    expect(counts.versionsOf(a).map((v) => v.json.toString())).toEqual(['1', '2']);
    counts.changeVersion(a, v1, v2, false);
    expect(counts.versionsOf(a)).toEqual([{ app: a, json: Buffer.from('2'), count: 2, stale: 0 }]);
    // v1's id is free again: the next new version takes it.
    expect(counts.versionId(a, bytes('3'))).toBe(v1);
    // And asking for "1" again makes a new entry.
    expect(counts.versionId(a, bytes('1'))).not.toBe(v1);
  });
});

describe('add and remove', () => {
  test('instances, apps per host and hosts per app', () => {
    const { counts, host, app } = setup();
    const [h1, h2] = [host('h1'), host('h2')];
    const [a, b] = [app('a'), app('b')];
    const va = counts.versionId(a, bytes('1'));
    const vb = counts.versionId(b, bytes('1'));
    expect(counts.add(h1, a, va)).toBe(true);
    expect(counts.add(h1, a, va)).toBe(false); // second instance of the pair
    expect(counts.add(h1, b, vb)).toBe(true);
    expect(counts.add(h2, a, va)).toBe(true);
    expect(summary(counts.hosts, h1)).toEqual([2, 3, 0]);
    expect(summary(counts.hosts, h2)).toEqual([1, 1, 0]);
    expect(summary(counts.apps, a)).toEqual([2, 3, 0]);
    expect(summary(counts.apps, b)).toEqual([1, 1, 0]);
    expect(counts.version(va).count).toBe(3);

    expect(counts.remove(h1, a, va, false)).toEqual({ hostEmpty: false, appEmpty: false });
    expect(summary(counts.hosts, h1)).toEqual([2, 2, 0]); // the pair still has an instance
    expect(counts.remove(h1, a, va, false)).toEqual({ hostEmpty: false, appEmpty: false });
    expect(summary(counts.hosts, h1)).toEqual([1, 1, 0]);
    expect(summary(counts.apps, a)).toEqual([1, 1, 0]);
    expect(counts.remove(h1, b, vb, false)).toEqual({ hostEmpty: true, appEmpty: true });
    expect(counts.remove(h2, a, va, false)).toEqual({ hostEmpty: true, appEmpty: true });
    expect([summary(counts.hosts, h1), summary(counts.hosts, h2), summary(counts.apps, a), summary(counts.apps, b)]).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(counts.versionsOf(a)).toEqual([]);
  });

  test('removing a stale instance uncounts it as stale too', () => {
    const { counts, host, app } = setup();
    const h = host('h');
    const a = app('a');
    const v = counts.versionId(a, bytes('1'));
    counts.add(h, a, v);
    counts.add(h, a, v);
    counts.setStale(h, a, v, true);
    expect(summary(counts.hosts, h)).toEqual([1, 2, 1]);
    expect(counts.version(v)).toMatchObject({ count: 2, stale: 1 });
    counts.remove(h, a, v, true);
    expect(summary(counts.hosts, h)).toEqual([1, 1, 0]);
    expect(summary(counts.apps, a)).toEqual([1, 1, 0]);
    expect(counts.version(v)).toMatchObject({ count: 1, stale: 0 });
  });
});

describe('stale and version changes', () => {
  test('setStale counts on the host, the app and the version, and back', () => {
    const { counts, host, app } = setup();
    const h = host('h');
    const a = app('a');
    const v = counts.versionId(a, bytes('1'));
    counts.add(h, a, v);
    counts.setStale(h, a, v, true);
    expect([counts.hosts.cols[STALE]![h], counts.apps.cols[STALE]![a], counts.version(v).stale]).toEqual([1, 1, 1]);
    counts.setStale(h, a, v, false);
    expect([counts.hosts.cols[STALE]![h], counts.apps.cols[STALE]![a], counts.version(v).stale]).toEqual([0, 0, 0]);
  });

  test('changeVersion moves the instance (and its staleness) between versions; host and app totals stay', () => {
    const { counts, host, app } = setup();
    const h = host('h');
    const a = app('a');
    const v1 = counts.versionId(a, bytes('1'));
    const v2 = counts.versionId(a, bytes('2'));
    counts.add(h, a, v1);
    counts.add(h, a, v1);
    counts.setStale(h, a, v1, true);
    counts.changeVersion(a, v1, v2, true);
    expect(counts.version(v1)).toMatchObject({ count: 1, stale: 0 });
    expect(counts.version(v2)).toMatchObject({ count: 1, stale: 1 });
    expect(summary(counts.apps, a)).toEqual([1, 2, 1]);
    expect(summary(counts.hosts, h)).toEqual([1, 2, 1]);
  });
});

describe('dirty summaries', () => {
  test('a change dirties its app and host; a version change dirties the app only', () => {
    const { counts, host, app } = setup();
    const [h1, h2] = [host('h1'), host('h2')];
    const a = app('a');
    const b = app('b');
    const v = counts.versionId(a, bytes('1'));
    counts.add(h1, a, v);
    expect([...counts.dirtyApps]).toEqual([a]);
    expect([...counts.dirtyHosts]).toEqual([h1]);
    counts.add(h1, a, v);
    counts.add(h2, a, v);
    expect([...counts.dirtyHosts]).toEqual([h1, h2]);
    counts.dirtyApps.clear();
    counts.dirtyHosts.clear();
    counts.changeVersion(a, v, counts.versionId(a, bytes('2')), false);
    expect([...counts.dirtyApps]).toEqual([a]);
    expect(counts.dirtyHosts.size).toBe(0);
    expect(counts.dirtyApps.has(b)).toBe(false);
  });

  test('markAllDirty marks every live host and app', () => {
    const { counts, host, app } = setup();
    const [h1, h2, h3] = [host('h1'), host('h2'), host('h3')];
    const [a1, a2] = [app('a1'), app('a2')];
    counts.hosts.remove(h3);
    counts.markAllDirty();
    expect([...counts.dirtyHosts].sort()).toEqual([h1, h2]);
    expect([...counts.dirtyApps].sort()).toEqual([a1, a2].sort());
  });
});

describe('apps of a host', () => {
  test('appsOf lists each app with an instance on the host once, and forgets a pair whose last instance goes', () => {
    const { counts, host, app } = setup();
    const [h1, h2] = [host('h1'), host('h2')];
    const [a, b, c] = [app('a'), app('b'), app('c')];
    const v = (x: number): number => counts.versionId(x, bytes('1'));
    counts.add(h1, a, v(a));
    counts.add(h1, b, v(b));
    counts.add(h1, b, v(b));
    counts.add(h1, c, v(c));
    counts.add(h2, b, v(b));
    expect(counts.appsOf(h1).sort()).toEqual([a, b, c].sort());
    expect(counts.appsOf(h2)).toEqual([b]);
    counts.remove(h1, b, v(b), false);
    expect(counts.appsOf(h1).sort()).toEqual([a, b, c].sort());
    counts.remove(h1, b, v(b), false);
    expect(counts.appsOf(h1).sort()).toEqual([a, c].sort());
    // Unlinking the head, the middle and the last node of the list.
    counts.remove(h1, c, v(c), false);
    expect(counts.appsOf(h1)).toEqual([a]);
    counts.remove(h1, a, v(a), false);
    expect(counts.appsOf(h1)).toEqual([]);
    // A freed node is reused.
    counts.add(h1, c, v(c));
    expect(counts.appsOf(h1)).toEqual([c]);
    expect(counts.appsOf(h2)).toEqual([b]);
  });
});

describe('host/app pairs under churn', () => {
  test('adds and removals in a seeded random order keep every count and app list equal to a plain model (the pair table grows and shifts entries back on removal)', () => {
    const { counts, host, app } = setup();
    const hostsIdx = counts.hosts;
    const appsIdx = counts.apps;
    const hostSlots = Array.from({ length: 300 }, (_, i) => host(`h${i}`));
    const appSlots = Array.from({ length: 40 }, (_, i) => app(`a${i}`));
    const versions = appSlots.map((a) => counts.versionId(a, bytes('1.0')));
    // The model: instances per (host, app).
    const model = new Map<string, number>();
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 60_000; step++) {
      const h = rand(hostSlots.length);
      const a = rand(appSlots.length);
      const key = `${h}/${a}`;
      const have = model.get(key) ?? 0;
      // Grow for the first half, then mostly remove: pairs vanish in every position of the table's runs.
      const removing = have > 0 && rand(100) < (step < 30_000 ? 30 : 70);
      if (removing) {
        counts.remove(hostSlots[h]!, appSlots[a]!, versions[a]!, false);
        if (have === 1) model.delete(key);
        else model.set(key, have - 1);
      } else {
        counts.add(hostSlots[h]!, appSlots[a]!, versions[a]!);
        model.set(key, have + 1);
      }
    }
    for (const [h, hs] of hostSlots.entries()) {
      const apps = [...model.keys()].filter((k) => k.startsWith(`${h}/`)).map((k) => appSlots[Number(k.split('/')[1])]!);
      expect(counts.appsOf(hs).sort((x, y) => x - y)).toEqual(apps.sort((x, y) => x - y));
      const instances = [...model.entries()].filter(([k]) => k.startsWith(`${h}/`)).reduce((n, [, c]) => n + c, 0);
      expect(summary(hostsIdx, hs)).toEqual([apps.length, instances, 0]);
    }
    for (const [a, as] of appSlots.entries()) {
      const pairs = [...model.entries()].filter(([k]) => k.endsWith(`/${a}`));
      expect(summary(appsIdx, as)).toEqual([pairs.length, pairs.reduce((n, [, c]) => n + c, 0), 0]);
    }
    // Every pair is found (one more instance is not a new pair), every other one is not.
    for (const [h, hs] of hostSlots.entries()) {
      for (const [a, as] of appSlots.entries()) {
        expect(counts.add(hs, as, versions[a]!), `${h}/${a}`).toBe(!model.has(`${h}/${a}`));
      }
    }
  });
});
