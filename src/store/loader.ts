// Rebuilds the writer's in-memory fleet (fleet.ts) from LMDB, once, when
// the writer thread starts. Counts are recomputed from the instances, and
// every summary is rewritten in the first batch (so a summary that
// disagreed with its instances heals itself).
//
// A million instances load in a second or two, during which updates keep
// arriving: every LOAD_SLICE rows the loader calls `meanwhile`, which the
// writer thread uses to move ring records aside so the rings never fill.

import { open, type RootDatabase } from 'lmdb';
import type { Fleet } from './fleet.js';
import { CLOCK_CHUNK, ClockKind, DB, META, S_SLOT, S_WRITTEN_AT, envOptions } from './layout.js';
import { RowStream } from './row-stream.js';
import { APP_FRAG_HEAD, summaryName } from './summaries.js';

/** Rows loaded between two calls of `meanwhile`. */
const LOAD_SLICE = 20_000;

export function loadFleet(path: string, fleet: Fleet, meanwhile: () => void = () => {}): void {
  const env: RootDatabase = open(envOptions(path));
  try {
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    const meta = env.openDB<Buffer, Buffer>(DB.meta, bin);
    const next = meta.getBinary(Buffer.from(META.nextBlock));
    fleet.nextBatch = next === undefined ? 1 : Number(next.toString('latin1'));
    for (const [kind, name] of [['host', DB.hosts], ['app', DB.apps]] as const) {
      for (const { key, value } of env.openDB<Buffer, Buffer>(name, bin).getRange({})) {
        fleet.loadSummary(kind, key, value.readUInt32LE(S_SLOT), value.readUInt32LE(S_WRITTEN_AT), kind === 'app' ? summaryName(value, APP_FRAG_HEAD) : null);
      }
    }
    const instDb = env.openDB<Buffer, Buffer>(DB.inst, bin);
    fleet.inst.reserve((instDb.getStats() as { entryCount: number }).entryCount);
    // Rows straight from lmdb-js's buffers (RowStream): no object per row.
    let rows = 0;
    new RowStream(env, DB.inst).each(undefined, undefined, false, (key, keyLength, value) => {
      fleet.loadInstance(key, keyLength, value);
      if (++rows % LOAD_SLICE === 0) meanwhile();
      return true;
    });
    const clocks = { [ClockKind.instance]: fleet.instClock, [ClockKind.host]: fleet.hostClock, [ClockKind.app]: fleet.appClock };
    for (const { key, value } of env.openDB<Buffer, Buffer>(DB.clock, bin).getRange({})) {
      const clock = clocks[key[0] as 1 | 2 | 3];
      if (clock === undefined) continue;
      const times = new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length));
      clock.mergeChunk(key.readUInt32BE(1) * CLOCK_CHUNK, times);
    }
    fleet.loaded();
    // lmdb-js ends a thread's read snapshot on its next event-loop turn,
    // which the writer thread (asleep in Atomics.wait) never reaches: an
    // open snapshot would stop LMDB from reusing any page freed after it.
    instDb.resetReadTxn();
  } finally {
    // The environment is shared with the process's other threads: closing
    // this handle only drops this thread's reference.
    void env.close();
  }
}

