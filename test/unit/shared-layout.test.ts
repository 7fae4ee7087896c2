// The shared control and statistics slots: no two names may share a slot,
// the per-reason counters (rejectBase + code) must not run into any other
// statistic, and every slot must fit its region. Written against the
// tables as a whole, so slots added later are checked too.

import { describe, expect, test } from 'vitest';
import { Reason, REASON_NAMES, REASON_SLOTS } from '../../src/ingest/reasons.js';
import {
  CONTROL_SLOTS,
  Ctl,
  COMMIT_REGION,
  HTTP_REGION,
  ingestRegion,
  LOG_GATE_KEYS,
  LOG_KEY_REFUSED,
  LOG_KEY_RING_FULL,
  STAT_REGION,
  Stat,
  statRegion,
  statsByteLength,
  WRITER_REGION,
} from '../../src/workers/shared-layout.js';

describe('Stat', () => {
  const entries = Object.entries(Stat).filter(([name]) => name !== 'rejectBase');

  test('every statistic has its own slot', () => {
    const slots = entries.map(([, slot]) => slot);
    expect(new Set(slots).size).toBe(slots.length);
  });

  test('every slot, reasons included, is an integer below STAT_REGION', () => {
    for (const [name, slot] of entries) {
      expect(Number.isInteger(slot) && slot >= 0, name).toBe(true);
      expect(slot, name).toBeLessThan(STAT_REGION);
    }
    expect(Stat.rejectBase + REASON_SLOTS - 1).toBeLessThan(STAT_REGION);
  });

  test('reason slots rejectBase + code collide with no other statistic', () => {
    const reasonSlots = new Set(Object.values(Reason).map((code) => Stat.rejectBase + code));
    expect(reasonSlots.size).toBe(REASON_SLOTS);
    const clashes = entries.filter(([, slot]) => reasonSlots.has(slot)).map(([name]) => name);
    expect(clashes).toEqual([]);
  });

  test('REASON_SLOTS covers code 0 (ok) and every reason code', () => {
    expect(REASON_SLOTS).toBe(REASON_NAMES.length + 1);
    expect(Math.max(...Object.values(Reason))).toBe(REASON_SLOTS - 1);
  });
});

describe('Ctl', () => {
  test('every control slot is unique and below CONTROL_SLOTS', () => {
    const slots = Object.values(Ctl);
    expect(new Set(slots).size).toBe(slots.length);
    for (const slot of slots) {
      expect(Number.isInteger(slot) && slot >= 0).toBe(true);
      expect(slot).toBeLessThan(CONTROL_SLOTS);
    }
  });

  test('the log gate (two slots per key) collides with no other control slot and fits', () => {
    const gate = Array.from({ length: 2 * LOG_GATE_KEYS }, (_, i) => Ctl.LOG_GATE + i);
    const others = new Set<number>(
      Object.entries(Ctl)
        .filter(([name]) => name !== 'LOG_GATE')
        .map(([, slot]) => slot),
    );
    expect(gate.filter((slot) => others.has(slot))).toEqual([]);
    expect(Math.max(...gate)).toBeLessThan(CONTROL_SLOTS);
    // A key per reason code, then refused and ring_full.
    expect([LOG_KEY_REFUSED, LOG_KEY_RING_FULL, LOG_GATE_KEYS]).toEqual([REASON_SLOTS, REASON_SLOTS + 1, REASON_SLOTS + 2]);
  });
});

describe('regions', () => {
  test('writer, HTTP front, commit thread and ingest workers each get a distinct region', () => {
    const regions = [WRITER_REGION, HTTP_REGION, COMMIT_REGION, ingestRegion(0), ingestRegion(1), ingestRegion(5)];
    expect(regions).toEqual([0, 1, 2, 3, 4, 8]);
  });

  test('statsByteLength holds every region; regions do not overlap', () => {
    const workers = 3;
    const sab = new SharedArrayBuffer(statsByteLength(workers));
    expect(sab.byteLength).toBe((3 + workers) * STAT_REGION * 8);
    const views = [WRITER_REGION, HTTP_REGION, COMMIT_REGION, ingestRegion(0), ingestRegion(1), ingestRegion(2)].map((r) => statRegion(sab, r));
    for (const [i, v] of views.entries()) v.fill(i + 1);
    for (const [i, v] of views.entries()) expect([...v]).toEqual(Array<number>(STAT_REGION).fill(i + 1));
    expect(() => statRegion(sab, ingestRegion(3))).toThrow(RangeError);
  });
});
