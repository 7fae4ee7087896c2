// --allow (src/ingest/allow-list.ts): IPv4, IPv6 and IPv4-mapped IPv6
// networks through net.BlockList, the verdict cache, and bad entries
// refused when the configuration is read.

import { describe, expect, test } from 'vitest';
import { DEFAULTS, parseArgs } from '../../src/config.js';
import { InvalidNetworkError, UsageError } from '../../src/errors.js';
import { AllowList, parseAllow } from '../../src/ingest/allow-list.js';

describe('IPv4', () => {
  const allow = new AllowList('10.0.0.0/8, 192.0.2.7,198.51.100.0/31');
  test.each([
    ['10.0.0.0', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['9.255.255.255', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['198.51.100.1', true],
    ['198.51.100.2', false],
  ])('%s -> %s', (ip, verdict) => {
    expect(allow.allows(ip)).toBe(verdict);
    expect(allow.check(ip)).toBe(verdict);
  });

  test('host bits in a block do not matter; /0 allows everyone', () => {
    expect(new AllowList('10.1.2.3/8').allows('10.200.0.1')).toBe(true);
    const all = new AllowList('0.0.0.0/0');
    expect([all.allows('1.2.3.4'), all.allows('255.255.255.255')]).toEqual([true, true]);
  });
});

describe('IPv6', () => {
  const allow = new AllowList('2001:db8::/32,fe80::1,2001:db8:1::/127');
  test.each([
    ['2001:db8::1', true],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db9::', false],
    ['2001:db7:ffff::', false],
    ['fe80::1', true],
    ['fe80::2', false],
    ['::1', false],
    ['10.0.0.1', false],
  ])('%s -> %s', (ip, verdict) => {
    expect(allow.allows(ip)).toBe(verdict);
  });

  test('IPv4 senders are ::ffff:0:0/96 to BlockList: an IPv6 block covering that range (::/0) covers them too, others do not', () => {
    const v6 = new AllowList('::/0');
    expect(v6.allows('2001:db8::1')).toBe(true);
    expect(v6.allows('10.0.0.1')).toBe(true);
    expect(new AllowList('::/1').allows('10.0.0.1')).toBe(true);
    expect(new AllowList('8000::/1').allows('10.0.0.1')).toBe(false);
  });
});

describe('IPv4-mapped IPv6', () => {
  test('an IPv4 block matches the same senders written as mapped IPv6', () => {
    const allow = new AllowList('10.0.0.0/8');
    expect(allow.allows('::ffff:10.1.2.3')).toBe(true);
    expect(allow.allows('::ffff:a01:203')).toBe(true);
    expect(allow.allows('::ffff:11.1.2.3')).toBe(false);
  });

  test('a mapped IPv6 block matches IPv4 senders (the addon writes mapped senders as dotted quads)', () => {
    const allow = new AllowList('::ffff:10.0.0.0/104');
    expect(allow.allows('10.1.2.3')).toBe(true);
    expect(allow.allows('::ffff:10.1.2.3')).toBe(true);
    expect(allow.allows('11.1.2.3')).toBe(false);
  });
});

describe('the cache', () => {
  test('the same verdicts with and without it, for repeated senders', () => {
    const allow = new AllowList('10.0.0.0/8,2001:db8::/32');
    const ips = ['10.0.0.1', '11.0.0.1', '2001:db8::5', '2001:db9::5', 'garbage', ''];
    for (let round = 0; round < 3; round++) for (const ip of ips) expect(allow.allows(ip), ip).toBe(allow.check(ip));
    expect(allow.allows('garbage')).toBe(false);
  });
});

describe('bad entries', () => {
  test.each([
    ['nope', '"nope" is not an IP address or CIDR block'],
    ['10.0.0.0/33', '"10.0.0.0/33" has a prefix length outside 0-32'],
    ['2001:db8::/129', '"2001:db8::/129" has a prefix length outside 0-128'],
    ['10.0.0.0/', '"10.0.0.0/" has a prefix length outside 0-32'],
    ['10.0.0.0/-1', '"10.0.0.0/-1" has a prefix length outside 0-32'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8" has a prefix length outside 0-32'],
    ['10.0.0/8', '"10.0.0/8" is not an IP address or CIDR block'],
    ['1.2.3.256', '"1.2.3.256" is not an IP address or CIDR block'],
    ['fe80::1%eth0', '"fe80::1%eth0" is not an IP address or CIDR block'],
    ['10.0.0.0/8,bad', '"bad" is not an IP address or CIDR block'],
  ])('%s: %s', (list, message) => {
    let err: unknown;
    try {
      parseAllow(list);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidNetworkError);
    expect((err as InvalidNetworkError).message).toBe(message);
  });

  test('refused when the configuration is read, with the flag named', () => {
    const parse = (value: string) => () => parseArgs(['--allow', value], { ...DEFAULTS, writeToken: '' });
    expect(parse('10.0.0.0/33')).toThrow(new UsageError('--allow: "10.0.0.0/33" has a prefix length outside 0-32'));
    expect(parse('2001:db8::/200')).toThrow(new UsageError('--allow: "2001:db8::/200" has a prefix length outside 0-128'));
    expect(parse(' , ')).toThrow(new UsageError('--allow: no network given'));
    expect(parseArgs(['--allow', '::ffff:10.0.0.0/104,2001:db8::/32'], DEFAULTS).allow).toBe('::ffff:10.0.0.0/104,2001:db8::/32');
  });

  test('the entries, trimmed, empty ones dropped', () => {
    expect(parseAllow(' 10.0.0.0/8 ,, 2001:db8::/32 ')).toEqual(['10.0.0.0/8', '2001:db8::/32']);
  });
});
