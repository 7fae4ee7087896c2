// History entries and blocks (HistoryLog.push, blocks(), readEntry,
// writeEntryJson, blockKey/blockOf): one block per app slot and per host
// slot with entries in arrival order, exact block headers and entry
// fields, the JSON of each kind of entry, block key order, and the entry
// size limit.

import { describe, expect, test } from 'vitest';
import {
  BLOCK_HEADER,
  ENTRY_HEADER,
  EntryFlag,
  HistoryLog,
  blockKey,
  blockNewest,
  blockOf,
  entryOffsets,
  newEntryView,
  readEntry,
  writeEntryJson,
  type EntryView,
} from '../../src/store/history.js';
import { JsonBytes } from '../../src/store/json-bytes.js';
import { buildKey } from '../../src/store/keys.js';

const b = (s: string): Buffer => Buffer.from(s);

interface In {
  app: number;
  host: number;
  time: number;
  instance: number;
  flags: number;
  appId: string;
  appName: string;
  host_: string;
  ver: string;
  prevVer: string;
  ip: string;
}

function push(log: HistoryLog, e: In): void {
  log.push(e.app, e.host, e.time, e.instance, e.flags, b(e.appId), b(e.appName), b(e.host_), b(e.ver), b(e.prevVer), b(e.ip));
}

interface Block {
  kind: 'app' | 'bucket';
  slot: number;
  size: number;
  bytes: Uint8Array;
}

/** Runs blocks() into one target buffer; returns each block as placed. */
function blocksOf(log: HistoryLog): Block[] {
  const target = new Uint8Array(1 << 20).fill(0xcc);
  const placed: { kind: 'app' | 'bucket'; slot: number; size: number; at: number }[] = [];
  let used = 3; // an odd start: blocks need no alignment
  log.blocks(
    (kind, slot, size) => {
      placed.push({ kind, slot, size, at: used });
      used += size;
      return used - size;
    },
    () => target,
  );
  return placed.map((p) => ({ kind: p.kind, slot: p.slot, size: p.size, bytes: target.subarray(p.at, p.at + p.size) }));
}

const u32 = (x: Uint8Array, o: number): number => new DataView(x.buffer, x.byteOffset).getUint32(o, true);
const text = (x: Uint8Array): string => Buffer.from(x).toString('utf8');

/** An entry read back, as plain values. */
function plain(v: EntryView): Record<string, unknown> {
  return {
    time: v.time,
    instance: v.instance,
    flags: v.flags,
    appId: text(v.appId),
    app: text(v.app),
    host: text(v.host),
    ver: text(v.ver),
    prevVer: text(v.prevVer),
    hostIp: text(v.hostIp),
  };
}

function entries(block: Uint8Array): Record<string, unknown>[] {
  const view = newEntryView();
  return entryOffsets(block).map((at) => plain(readEntry(block, at, view)));
}

function json(v: EntryView): string {
  const out = new JsonBytes(8);
  writeEntryJson(v, out);
  return out.view().toString('utf8');
}

const e = (over: Partial<In>): In => ({
  app: 0,
  host: 0,
  time: 1000,
  instance: 0,
  flags: EntryFlag.first,
  appId: 'a',
  appName: 'A',
  host_: 'h',
  ver: '1',
  prevVer: '',
  ip: '10.0.0.1',
  ...over,
});

describe('readEntry', () => {
  test('every field of an entry reads back exactly, and the entry size is the header plus its fields', () => {
    const log = new HistoryLog();
    push(
      log,
      e({
        app: 3,
        host: 5,
        time: 4_000_000_000,
        instance: 65535,
        flags: 0,
        appId: 'my_app',
        appName: 'My App',
        host_: 'web-1',
        ver: '2.0',
        prevVer: '1.9',
        ip: '2001:db8::1',
      }),
    );
    expect(log.length).toBe(1);
    const size = ENTRY_HEADER + 6 + 6 + 5 + 3 + 3 + 11;
    expect(log.bytes).toBe(size);
    const [app, host] = blocksOf(log);
    expect(app!.size).toBe(BLOCK_HEADER + size);
    expect(entryOffsets(app!.bytes)).toEqual([BLOCK_HEADER]);
    expect(new DataView(app!.bytes.buffer, app!.bytes.byteOffset).getUint16(BLOCK_HEADER, true)).toBe(size);
    expect(entries(app!.bytes)).toEqual([
      { time: 4_000_000_000, instance: 65535, flags: 0, appId: 'my_app', app: 'My App', host: 'web-1', ver: '2.0', prevVer: '1.9', hostIp: '2001:db8::1' },
    ]);
    expect(host!.bytes).toEqual(app!.bytes);
  });

  test('empty fields (a removal: no ver, no address) read back empty', () => {
    const log = new HistoryLog();
    push(log, e({ flags: EntryFlag.removed | EntryFlag.trimmed, ver: '', prevVer: '7', ip: '' }));
    const [app] = blocksOf(log);
    expect(entries(app!.bytes)).toEqual([
      { time: 1000, instance: 0, flags: EntryFlag.removed | EntryFlag.trimmed, appId: 'a', app: 'A', host: 'h', ver: '', prevVer: '7', hostIp: '' },
    ]);
    expect(app!.size).toBe(BLOCK_HEADER + ENTRY_HEADER + 1 + 1 + 1 + 0 + 1 + 0);
  });
});

describe('blocks', () => {
  test('one block per app slot, then one per host bucket, each in slot order, entries in arrival order', () => {
    const log = new HistoryLog();
    // Arrival order interleaves apps and hosts.
    const input = [
      e({ app: 2, host: 0, time: 50, instance: 1, ver: 'x1' }),
      e({ app: 0, host: 1, time: 40, instance: 2, ver: 'x2' }),
      e({ app: 2, host: 1, time: 30, instance: 3, ver: 'x3' }),
      e({ app: 0, host: 0, time: 60, instance: 4, ver: 'x4' }),
      e({ app: 2, host: 0, time: 45, instance: 5, ver: 'x5' }),
    ];
    for (const x of input) push(log, x);
    const blocks = blocksOf(log);
    const instances = (x: Block): unknown[] => entries(x.bytes).map((v) => v.instance);
    expect(blocks.map((x) => [x.kind, x.slot, instances(x)])).toEqual([
      ['app', 0, [2, 4]],
      ['app', 2, [1, 3, 5]],
      ['bucket', 0, [1, 4, 5]],
      ['bucket', 1, [2, 3]],
    ]);
    // Header: count, oldest, newest, 0.
    const header = (x: Block): number[] => [u32(x.bytes, 0), u32(x.bytes, 4), u32(x.bytes, 8), u32(x.bytes, 12)];
    expect(blocks.map(header)).toEqual([
      [2, 40, 60, 0],
      [3, 30, 50, 0],
      [3, 45, 60, 0],
      [2, 30, 40, 0],
    ]);
    expect(blocks.map((x) => blockNewest(x.bytes))).toEqual([60, 50, 60, 40]);
    // Sizes: header plus the entries' sizes (each entry here: 20 + a + A + h + 2 + 0 + 8).
    const entrySize = ENTRY_HEADER + 1 + 1 + 1 + 2 + 0 + 8;
    expect(blocks.map((x) => x.size)).toEqual([16 + 2 * entrySize, 16 + 3 * entrySize, 16 + 3 * entrySize, 16 + 2 * entrySize]);
    // The same entry bytes in its app block and in its host block.
    expect(entries(blocks[1]!.bytes)[0]).toEqual(entries(blocks[2]!.bytes)[0]);
  });

  test('times above 2^31 keep their u32 value in the header', () => {
    const log = new HistoryLog();
    push(log, e({ time: 0xfffffffe }));
    push(log, e({ time: 0x80000001 }));
    const [app] = blocksOf(log);
    expect([u32(app!.bytes, 0), u32(app!.bytes, 4), u32(app!.bytes, 8)]).toEqual([2, 0x80000001, 0xfffffffe]);
    expect(entries(app!.bytes).map((v) => v.time)).toEqual([0xfffffffe, 0x80000001]);
  });

  test('more than 1,024 entries and 64 KiB: every entry is kept, in order', () => {
    const log = new HistoryLog();
    const n = 3000;
    for (let i = 0; i < n; i++) push(log, e({ app: i % 3, host: i % 7, time: 1000 + i, instance: i, ver: `v${i}`.padEnd(20, '.') }));
    expect(log.length).toBe(n);
    expect(log.bytes).toBeGreaterThan(1 << 16);
    const blocks = blocksOf(log);
    expect(blocks.map((x) => `${x.kind}${x.slot}`)).toEqual([
      'app0',
      'app1',
      'app2',
      'bucket0',
      'bucket1',
      'bucket2',
      'bucket3',
      'bucket4',
      'bucket5',
      'bucket6',
    ]);
    for (const x of blocks) {
      const mod = x.kind === 'app' ? 3 : 7;
      const want = Array.from({ length: n }, (_, i) => i).filter((i) => i % mod === x.slot);
      const got = entries(x.bytes);
      expect(got.map((v) => v.instance)).toEqual(want);
      expect(got.map((v) => v.ver)).toEqual(want.map((i) => `v${i}`.padEnd(20, '.')));
      expect([u32(x.bytes, 0), u32(x.bytes, 4), u32(x.bytes, 8)]).toEqual([want.length, 1000 + want[0]!, 1000 + want.at(-1)!]);
    }
  });

  test('clear() forgets the entries; the next blocks hold only what came after', () => {
    const log = new HistoryLog();
    push(log, e({ instance: 1 }));
    log.clear();
    expect([log.length, log.bytes]).toEqual([0, 0]);
    push(log, e({ instance: 2, app: 1, host: 1 }));
    const blocks = blocksOf(log);
    // Slot 0 had nothing after the clear: no block for it.
    expect(blocks.map((x) => [x.kind, x.slot, entries(x.bytes).map((v) => v.instance)])).toEqual([
      ['app', 1, [2]],
      ['bucket', 1, [2]],
    ]);
  });

  test('no entries, no blocks', () => {
    expect(blocksOf(new HistoryLog())).toEqual([]);
  });
});

describe('writeEntryJson', () => {
  function one(x: In): EntryView {
    const log = new HistoryLog();
    push(log, x);
    const [app] = blocksOf(log);
    // A copy: the view must not depend on the scratch target.
    const block = Uint8Array.from(app!.bytes);
    return readEntry(block, entryOffsets(block)[0]!, newEntryView());
  }

  test('a first sight: prev_ver null', () => {
    const v = one(
      e({ time: 1_800_000_000, instance: 3, flags: EntryFlag.first, appId: 'web', appName: 'Web', host_: 'h1', ver: '1.0', prevVer: '', ip: '192.0.2.1' }),
    );
    expect(json(v)).toBe('{"app":"Web","app_id":"web","host":"h1","host_ip":"192.0.2.1","instance":3,"ver":"1.0","prev_ver":null,"time":1800000000}');
  });

  test('a version change: prev_ver is the old version', () => {
    const v = one(e({ time: 7, instance: 0, flags: 0, appId: 'web', appName: 'Web', host_: 'h1', ver: '2.0', prevVer: '1.0', ip: '192.0.2.1' }));
    expect(json(v)).toBe('{"app":"Web","app_id":"web","host":"h1","host_ip":"192.0.2.1","instance":0,"ver":"2.0","prev_ver":"1.0","time":7}');
  });

  test('a removal by --trim: ver null, host_ip null, prev_ver the removed version', () => {
    const v = one(
      e({
        time: 123456,
        instance: 12,
        flags: EntryFlag.removed | EntryFlag.trimmed,
        appId: 'web',
        appName: 'Web',
        host_: 'h1',
        ver: '',
        prevVer: '2.0',
        ip: '',
      }),
    );
    expect(v.flags).toBe(3);
    expect(json(v)).toBe('{"app":"Web","app_id":"web","host":"h1","host_ip":null,"instance":12,"ver":null,"prev_ver":"2.0","time":123456}');
  });

  test('a removal by DELETE: the same JSON (the trimmed flag is not in it)', () => {
    const v = one(e({ time: 5, instance: 1, flags: EntryFlag.removed, appId: 'web', appName: 'Web', host_: 'h1', ver: '', prevVer: '2.0', ip: '' }));
    expect(v.flags).toBe(EntryFlag.removed);
    expect(json(v)).toBe('{"app":"Web","app_id":"web","host":"h1","host_ip":null,"instance":1,"ver":null,"prev_ver":"2.0","time":5}');
  });

  test('fields are JSON string content, copied as they are (escapes and UTF-8 survive)', () => {
    const v = one(e({ appName: 'Caf\u00e9 \\"x\\"', host_: 'h\\u0001\u00fc', ver: '1\\n2', flags: EntryFlag.first }));
    const s = json(v);
    expect(JSON.parse(s)).toEqual({
      app: 'Caf\u00e9 "x"',
      app_id: 'a',
      host: 'h\u0001\u00fc',
      host_ip: '10.0.0.1',
      instance: 0,
      ver: '1\n2',
      prev_ver: null,
      time: 1000,
    });
  });
});

describe('block keys', () => {
  test.each([0, 1, 255, 256, 65535, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, 2 ** 53 - 1])(
    'blockOf(blockKey(part, %d)) gives the id back',
    (id) => {
      const part = buildKey(['app_1']);
      const key = blockKey(part, id);
      expect(key.length).toBe(part.length + 8);
      expect([...key.subarray(0, part.length)]).toEqual([...part]);
      expect(blockOf(key)).toBe(id);
    },
  );

  test('the id is u64 big-endian after the part', () => {
    expect([...blockKey(buildKey(['a']), 2 ** 32 + 258)]).toEqual([0x61, 0, 0, 0, 0, 1, 0, 0, 1, 2]);
  });

  test('within one app, keys sort by block id; every key of an app sorts before the next app', () => {
    const ids = [0, 1, 2, 255, 256, 257, 65536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1];
    const a = buildKey(['a']);
    const keys = [...ids].reverse().map((id) => blockKey(a, id));
    keys.sort(Buffer.compare);
    expect(keys.map(blockOf)).toEqual(ids);
    // 'a' then 'a_b' then 'b': the terminator keeps apps apart whatever the block id.
    const mixed = [blockKey(buildKey(['b']), 0), blockKey(buildKey(['a_b']), 1), blockKey(a, 2 ** 53 - 1), blockKey(buildKey(['a_b']), 0), blockKey(a, 0)];
    mixed.sort(Buffer.compare);
    expect(mixed.map((k) => [k.subarray(0, k.length - 9).toString(), blockOf(k)])).toEqual([
      ['a', 0],
      ['a', 2 ** 53 - 1],
      ['a_b', 0],
      ['a_b', 1],
      ['b', 0],
    ]);
  });
});

describe('limits', () => {
  const sized = (total: number): In => e({ ver: 'v'.repeat(total - ENTRY_HEADER - 1 - 1 - 1 - 0 - 8) });

  test('an entry of exactly 65535 bytes is kept', () => {
    const log = new HistoryLog();
    push(log, sized(65535));
    expect(log.bytes).toBe(65535);
    const [app] = blocksOf(log);
    expect(entries(app!.bytes)[0]!.ver).toBe('v'.repeat(65535 - ENTRY_HEADER - 11));
  });

  test('an entry over 65535 bytes throws RangeError and leaves the log as it was', () => {
    const log = new HistoryLog();
    push(log, e({ instance: 1 }));
    const before = log.bytes;
    expect(() => push(log, sized(65536))).toThrow(new RangeError('history entry of 65536 bytes'));
    expect([log.length, log.bytes]).toEqual([1, before]);
  });

  test('a host_ip over 255 bytes throws RangeError', () => {
    const log = new HistoryLog();
    expect(() => push(log, e({ ip: 'x'.repeat(256) }))).toThrow(RangeError);
    expect(log.length).toBe(0);
    push(log, e({ ip: 'x'.repeat(255) }));
    const [app] = blocksOf(log);
    expect(entries(app!.bytes)[0]!.hostIp).toBe('x'.repeat(255));
  });
});
