// --allow: the source networks UDP updates are accepted from, as CIDR
// blocks (IPv4 or IPv6). A sender address arrives as text from the addon;
// the verdict per address is cached, since a fleet has few distinct senders
// compared with its packet rate.

import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

export class CidrError extends Error {
  override name = 'CidrError';
}

function ipBytes(ip: string): Uint8Array | null {
  if (isIPv4(ip)) return Uint8Array.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) return null;
  // Expand "::" and a trailing dotted quad into 8 groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, null];
  const h = head === '' ? [] : head.split(':');
  const t = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** Parses "10.0.0.0/8,2001:db8::/32,192.0.2.7"; throws CidrError naming the bad entry. */
export function parseCidrs(list: string): Cidr[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const [ip, bitsText] = entry.split('/') as [string, string | undefined];
      const bytes = ipBytes(ip);
      if (bytes === null) throw new CidrError(`"${entry}" is not an IP address or CIDR block`);
      const max = bytes.length * 8;
      const bits = bitsText === undefined ? max : /^\d+$/.test(bitsText) ? Number(bitsText) : NaN;
      if (!(bits >= 0 && bits <= max)) throw new CidrError(`"${entry}" has a prefix length outside 0-${max}`);
      return { bytes, bits };
    });
}

function contains(c: Cidr, ip: Uint8Array): boolean {
  if (c.bytes.length !== ip.length) return false;
  let bits = c.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((c.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}

export class AllowList {
  readonly #cidrs: Cidr[];
  readonly #cache = new Map<string, boolean>();

  constructor(cidrs: Cidr[]) {
    this.#cidrs = cidrs;
  }

  /** Is this sender address (as the addon formats it) allowed? */
  allows(ip: string): boolean {
    let verdict = this.#cache.get(ip);
    if (verdict === undefined) {
      const bytes = ipBytes(ip);
      verdict = bytes !== null && this.#cidrs.some((c) => contains(c, bytes));
      if (this.#cache.size > 65536) this.#cache.clear();
      this.#cache.set(ip, verdict);
    }
    return verdict;
  }
}
