// --allow, per datagram: the sender's address checked against the allowed
// networks (src/ingest/allow-list.ts). The choice measured: net.BlockList
// alone (it parses the address text in C++ at every check) against the
// verdict cached per address in front of it, on a fleet whose senders
// repeat (the common case) and on senders that never repeat (the worst).

import { AllowList } from '../../src/ingest/allow-list.js';
import { runSuite, type MicroOptions, type MicroResult, type MicroTask } from './harness.js';

const LIST = '10.0.0.0/8,192.0.2.0/24,2001:db8::/32';
const BATCH = 4096;

/** Something the optimiser cannot prove unused. */
export let sink = 0;

export async function allowBench(options: MicroOptions, log: (line: string) => void): Promise<MicroResult[]> {
  const allow = new AllowList(LIST);
  // 2,000 senders, a quarter IPv6 and a tenth outside the list.
  const fleet = Array.from({ length: 2000 }, (_, i) =>
    i % 10 === 0 ? `172.16.${(i >> 8) & 255}.${i & 255}` : i % 4 === 0 ? `2001:db8::${i.toString(16)}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  );
  // More distinct senders than the cache keeps: every check misses.
  const unique = Array.from({ length: 200_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const loop = (addrs: string[], check: (ip: string) => boolean) => {
    let k = 0;
    return (): void => {
      let n = 0;
      for (let i = 0; i < BATCH; i++) {
        if (check(addrs[k]!)) n++;
        if (++k === addrs.length) k = 0;
      }
      sink += n;
    };
  };
  const tasks: MicroTask[] = [
    { name: 'BlockList.check (2,000 senders)', items: BATCH, unit: 'check', fn: loop(fleet, (ip) => allow.check(ip)) },
    {
      name: 'AllowList.allows: cached verdict (2,000 senders)',
      items: BATCH,
      unit: 'check',
      fn: loop(fleet, (ip) => allow.allows(ip)),
      baseline: 'BlockList.check (2,000 senders)',
    },
    { name: 'BlockList.check (senders never repeat)', items: BATCH, unit: 'check', fn: loop(unique, (ip) => allow.check(ip)) },
    {
      name: 'AllowList.allows (senders never repeat: every lookup misses)',
      items: BATCH,
      unit: 'check',
      fn: loop(unique, (ip) => allow.allows(ip)),
      baseline: 'BlockList.check (senders never repeat)',
    },
  ];
  return runSuite('allow', tasks, options, log);
}
