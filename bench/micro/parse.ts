// Per-packet ingest work: parse and validate an update (src/ingest/update.ts)
// and encode its ring record (src/ingest/record.ts), on the fleet's own
// packets (every client library's JSON style, as partisci-fuzz writes it).
//
// The choice measured: parseUpdate's byte scanner (no JS strings) against
// the plain way, decoding to a string and JSON.parse, with the same checks
// (checkFields, the server's own exact path). Packets the scanner cannot
// take (\u escapes from Python clients, in this fleet) fall back to that
// exact path after a failed scan; the second pair shows what that costs.

import { encodeUpdate, MAX_RECORD_BYTES } from '../../src/ingest/record.js';
import { Reason } from '../../src/ingest/reasons.js';
import { ParsedUpdate, checkFields, parseUpdate } from '../../src/ingest/update.js';
import { SENDER_IP, packetsOf, trafficOf, unixNow, type Packets } from '../fleet.js';
import { runSuite, type MicroOptions, type MicroResult, type MicroTask } from './harness.js';

const CORPUS = 8192;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The plain way: a string, JSON.parse, and the server's own field checks. */
function parsePlain(buf: Uint8Array, start: number, end: number, out: ParsedUpdate): number {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(buf.subarray(start, end)));
  } catch {
    return Reason.bad_json;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return Reason.not_object;
  const o = value as Record<string, unknown>;
  return checkFields(o.app, o.ver, o.host, o.instance, out);
}

function subset(p: Packets, keep: (i: number) => boolean): Packets {
  const idx = Array.from({ length: p.count }, (_, i) => i).filter(keep);
  const starts = Int32Array.from(idx, (i) => p.starts[i]!);
  const ends = Int32Array.from(idx, (i) => p.ends[i]!);
  return { buf: p.buf, starts, ends, count: idx.length };
}

/** Something the optimiser cannot prove unused. */
export let sink = 0;

export async function parseBench(options: MicroOptions, log: (line: string) => void): Promise<{ results: MicroResult[]; fastShare: number }> {
  const all = packetsOf(trafficOf(), 0, CORPUS);
  const parsed = new ParsedUpdate();
  // The exact path leaves appText set; the fast path leaves it null.
  const fast: boolean[] = [];
  for (let i = 0; i < all.count; i++) {
    if (parseUpdate(all.buf, all.starts[i]!, all.ends[i]!, parsed) !== Reason.ok) throw new Error(`corpus packet ${i} rejected`);
    fast.push(parsed.appText === null);
  }
  const slow = subset(all, (i) => !fast[i]!);
  const fastShare = (all.count - slow.count) / all.count;
  const record = new Uint8Array(MAX_RECORD_BYTES);
  const now = unixNow();

  const loop = (p: Packets, parse: typeof parseUpdate) => (): void => {
    let ok = 0;
    for (let i = 0; i < p.count; i++) if (parse(p.buf, p.starts[i]!, p.ends[i]!, parsed) === Reason.ok) ok++;
    sink += ok;
  };
  const tasks: MicroTask[] = [
    { name: 'plain: TextDecoder + JSON.parse + checkFields (fleet mix)', items: all.count, unit: 'packet', fn: loop(all, parsePlain as typeof parseUpdate) },
    {
      name: 'parseUpdate (fleet mix)',
      items: all.count,
      unit: 'packet',
      fn: loop(all, parseUpdate),
      baseline: 'plain: TextDecoder + JSON.parse + checkFields (fleet mix)',
      note: `${(fastShare * 100).toFixed(0)}% of the fleet's packets take the fast path`,
    },
    {
      name: 'plain: TextDecoder + JSON.parse + checkFields (escaped packets)',
      items: slow.count,
      unit: 'packet',
      fn: loop(slow, parsePlain as typeof parseUpdate),
    },
    {
      name: 'parseUpdate (escaped packets: fast scan fails, exact path)',
      items: slow.count,
      unit: 'packet',
      fn: loop(slow, parseUpdate),
      baseline: 'plain: TextDecoder + JSON.parse + checkFields (escaped packets)',
    },
    {
      name: 'parseUpdate + encodeUpdate (fleet mix)',
      items: all.count,
      unit: 'packet',
      note: 'all per-packet work of an ingest thread except the system call',
      fn: (): void => {
        let bytes = 0;
        for (let i = 0; i < all.count; i++) {
          if (parseUpdate(all.buf, all.starts[i]!, all.ends[i]!, parsed) !== Reason.ok) continue;
          bytes += encodeUpdate(parsed, SENDER_IP, 0, SENDER_IP.length, now, 0, 0, record);
        }
        sink += bytes;
      },
    },
  ];
  return { results: await runSuite('parse', tasks, options, log), fastShare };
}
