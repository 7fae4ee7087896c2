// store/label-filter.ts: label.NAME=VALUE filters over stored labels objects.

import { describe, expect, test } from 'vitest';
import { LabelFilter } from '../../src/store/label-filter.js';

const bytes = (s: string): Uint8Array => Buffer.from(s);
const STORED = '{"dc":"ams3","env":"prod","region":"eu-west","team.x":"a,\\"env\\":\\"prod"}';

describe('LabelFilter', () => {
  test('every label of the filter must be in the object, name and whole value', () => {
    expect(new LabelFilter([{ name: 'env', value: 'prod' }]).matches(bytes(STORED))).toBe(true);
    expect(
      new LabelFilter([
        { name: 'env', value: 'prod' },
        { name: 'dc', value: 'ams3' },
      ]).matches(bytes(STORED)),
    ).toBe(true);
    expect(
      new LabelFilter([
        { name: 'env', value: 'prod' },
        { name: 'dc', value: 'fra1' },
      ]).matches(bytes(STORED)),
    ).toBe(false);
    expect(new LabelFilter([{ name: 'env', value: 'pro' }]).matches(bytes(STORED))).toBe(false);
    expect(new LabelFilter([{ name: 'nv', value: 'prod' }]).matches(bytes(STORED))).toBe(false);
    expect(new LabelFilter([{ name: 'region', value: 'eu-west' }]).matches(bytes(STORED))).toBe(true);
  });

  test('a quoted look-alike inside a value does not match', () => {
    const inside = '{"note":"x\\",\\"env\\":\\"prod"}';
    expect(new LabelFilter([{ name: 'env', value: 'prod' }]).matches(bytes(inside))).toBe(false);
    expect(new LabelFilter([{ name: 'note', value: 'x","env":"prod' }]).matches(bytes(inside))).toBe(true);
  });

  test('no labels: only the empty filter matches', () => {
    expect(new LabelFilter([]).matches(bytes(''))).toBe(true);
    expect(new LabelFilter([{ name: 'env', value: 'prod' }]).matches(bytes(''))).toBe(false);
  });
});
