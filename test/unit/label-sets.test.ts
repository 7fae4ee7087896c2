// store/label-sets.ts: label sets interned, counted per app and host.

import { describe, expect, test } from 'vitest';
import { LABEL_VALUES_LISTED, LabelSets } from '../../src/store/label-sets.js';

const json = (o: Record<string, string>): Uint8Array => Buffer.from(JSON.stringify(o));

describe('LabelSets', () => {
  test('the same labels object is one set; no labels is set 0, counted nowhere', () => {
    const sets = new LabelSets();
    const a = sets.idOf(json({ env: 'prod' }));
    expect(sets.idOf(json({ env: 'prod' }))).toBe(a);
    expect(sets.idOf(new Uint8Array(0))).toBe(0);
    sets.add(1, 2, 0);
    expect(sets.countsJson('app', 2)).toBe('');
  });

  test('counts per label value for an app and a host; a set no instance carries is forgotten', () => {
    const sets = new LabelSets();
    const prodEu = sets.idOf(json({ env: 'prod', region: 'eu' }));
    const prodUs = sets.idOf(json({ env: 'prod', region: 'us' }));
    sets.add(10, 1, prodEu);
    sets.add(10, 1, prodEu);
    sets.add(11, 1, prodUs);
    expect(JSON.parse(sets.countsJson('app', 1))).toEqual({ env: { prod: 3 }, region: { eu: 2, us: 1 } });
    expect(JSON.parse(sets.countsJson('host', 11))).toEqual({ env: { prod: 1 }, region: { us: 1 } });
    sets.remove(11, 1, prodUs);
    expect(sets.countsJson('host', 11)).toBe('');
    expect(sets.size).toBe(1);
    expect(sets.idOf(json({ env: 'prod', region: 'eu' }))).toBe(prodEu);
  });

  test('values most common first, at most LABEL_VALUES_LISTED per name', () => {
    const sets = new LabelSets();
    for (let i = 0; i < LABEL_VALUES_LISTED + 10; i++) {
      const id = sets.idOf(json({ pod: `p${String(i).padStart(3, '0')}` }));
      for (let k = 0; k <= (i === 7 ? 3 : 0); k++) sets.add(0, 0, id);
    }
    const pods = Object.entries(JSON.parse(sets.countsJson('app', 0)).pod as Record<string, number>);
    expect(pods).toHaveLength(LABEL_VALUES_LISTED);
    expect(pods[0]).toEqual(['p007', 4]);
    expect(pods[1]).toEqual(['p000', 1]);
  });
});
