// --allow: the source networks UDP updates are accepted from, as CIDR
// blocks or single addresses (IPv4 or IPv6), matched by Node's own
// net.BlockList. An IPv4 block also matches the same senders written as
// IPv4-mapped IPv6 (::ffff:10.1.2.3), and an IPv4-mapped IPv6 block
// (::ffff:10.0.0.0/104) matches IPv4 senders.
//
// A sender address arrives as text from the addon, once per datagram. The
// verdict per address is cached: a fleet has few distinct senders compared
// with its packet rate, and a Map lookup costs a fraction of a BlockList
// check (which parses the address in C++ every time).

import { BlockList, isIP } from 'node:net';
import { InvalidNetworkError } from '../errors.js';

/** Distinct sender addresses whose verdicts are kept (then the cache starts over). */
const CACHE_MAX = 65536;

/** Parses "10.0.0.0/8,2001:db8::/32,192.0.2.7"; throws InvalidNetworkError naming the bad entry. Returns the entries. */
export function parseAllow(list: string, into: BlockList = new BlockList()): string[] {
  const entries = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const ip = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(ip);
    // Zone ids (fe80::1%eth0) name an interface, not a network.
    if (family === 0 || ip.includes('%')) throw new InvalidNetworkError(entry, 'is not an IP address or CIDR block');
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const max = family === 4 ? 32 : 128;
    const bitsText = slash < 0 ? String(max) : entry.slice(slash + 1);
    const bits = /^\d+$/.test(bitsText) ? Number(bitsText) : NaN;
    if (!(bits >= 0 && bits <= max)) throw new InvalidNetworkError(entry, `has a prefix length outside 0-${max}`);
    into.addSubnet(ip, bits, type);
  }
  return entries;
}

export class AllowList {
  readonly #networks = new BlockList();
  readonly #cache = new Map<string, boolean>();
  /** The entries, as given. */
  readonly entries: readonly string[];

  /** Throws InvalidNetworkError for a bad entry. */
  constructor(list: string) {
    this.entries = parseAllow(list, this.#networks);
  }

  /** Is this sender address (as the addon formats it: dotted quad, or RFC 5952 IPv6) allowed? */
  allows(ip: string): boolean {
    let verdict = this.#cache.get(ip);
    if (verdict === undefined) {
      verdict = this.check(ip);
      if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
      this.#cache.set(ip, verdict);
    }
    return verdict;
  }

  /** The verdict without the cache. */
  check(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0) return false;
    return this.#networks.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}
