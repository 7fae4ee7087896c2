// The logger: levels, one line per event with key=value fields, children,
// and the rate limiter for events that come by the thousand.

import { describe, expect, test } from 'vitest';
import { RateLimiter, createLogger, formatLine, sampleOf, type Level } from '../../src/log.js';

const T = new Date(Date.UTC(2026, 4, 1, 12, 0, 3, 45));

function capture(level: Level | (() => Level) = 'info') {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l), now: () => T });
  return { log, lines };
}

describe('lines', () => {
  test('time, level, message, then the fields', () => {
    expect(formatLine(T, 'info', 'listening', { address: 'all', port: 7777 }, undefined)).toBe(
      '2026-05-01 12:00:03.045 INFO  listening address=all port=7777\n',
    );
    expect(formatLine(T, 'debug', 'x', undefined, undefined)).toBe('2026-05-01 12:00:03.045 DEBUG x\n');
    expect(formatLine(T, 'warn', 'x', undefined, undefined)).toBe('2026-05-01 12:00:03.045 WARN  x\n');
    expect(formatLine(T, 'error', 'x', undefined, undefined)).toBe('2026-05-01 12:00:03.045 ERROR x\n');
  });

  test('values: bare when safe, JSON-quoted otherwise; undefined fields are left out', () => {
    const line = formatLine(
      T,
      'info',
      'm',
      { a: 'plain-1.2:3', b: 'two words', c: '', d: 'a"b', e: true, f: null, g: undefined, h: { x: 1 }, i: 2.5 },
      undefined,
    );
    expect(line).toBe('2026-05-01 12:00:03.045 INFO  m a=plain-1.2:3 b="two words" c="" d="a\\"b" e=true f=null h="{\\"x\\":1}" i=2.5\n');
  });

  test('one line per event, whatever the message or fields hold', () => {
    const err = new Error('boom');
    const line = formatLine(T, 'error', 'request failed\nsecond line', { error: err, text: 'a\nb\r\nc' }, undefined);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\r\n]/);
    expect(line).toContain('request failed\\nsecond line');
    expect(line).toContain('Error: boom\\n    at ');
  });
});

describe('levels', () => {
  test('info by default: debug is not written', () => {
    const { log, lines } = capture();
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => l.slice(24, 29))).toEqual(['INFO ', 'WARN ', 'ERROR']);
    expect([log.enabled('debug'), log.enabled('info')]).toEqual([false, true]);
  });

  test('debug writes everything; error only errors', () => {
    const d = capture('debug');
    d.log.debug('d');
    expect(d.lines).toHaveLength(1);
    const e = capture('error');
    e.log.warn('w');
    e.log.error('e');
    expect(e.lines).toHaveLength(1);
  });

  test('a level function is asked at every call (a thread follows the shared level)', () => {
    let level: Level = 'info';
    const { log, lines } = capture(() => level);
    log.debug('before');
    level = 'debug';
    log.debug('after');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DEBUG after');
  });

  test("a child adds its fields after the line's own", () => {
    const { log, lines } = capture();
    const child = log.child({ thread: 'ingest-0' }).child({ extra: 1 });
    child.info('m', { reason: 'bad_json' });
    expect(lines[0]).toBe('2026-05-01 12:00:03.045 INFO  m reason=bad_json thread=ingest-0 extra=1\n');
  });
});

describe('RateLimiter', () => {
  test('one per key per interval, with the count skipped since the last', () => {
    let now = 1000;
    const limit = new RateLimiter(1000, () => now);
    expect(limit.take('bad_json')).toBe(0);
    expect(limit.take('bad_json')).toBeNull();
    expect(limit.take('bad_json')).toBeNull();
    expect(limit.take('empty')).toBe(0); // another key has its own budget
    now = 1999;
    expect(limit.take('bad_json')).toBeNull();
    now = 2000;
    expect(limit.take('bad_json')).toBe(3);
    expect(limit.take('bad_json')).toBeNull();
    now = 5000;
    expect(limit.take('bad_json')).toBe(1);
  });
});

describe('sampleOf', () => {
  test('the start of the bytes as text, marked when cut', () => {
    const b = Buffer.from('xx{"app":"a","ver":"1"}');
    expect(sampleOf(b, 2, b.length)).toBe('{"app":"a","ver":"1"}');
    expect(sampleOf(b, 2, b.length, 5)).toBe('{"app…');
    expect(sampleOf(Buffer.from([0x7b, 0xff]))).toBe('{\ufffd');
  });
});
