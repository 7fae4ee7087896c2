// A working copy of the cached 1,000,000-instance store, opened the way
// partiscid opens it: a DirectWriter (writer and committer in one thread) that has loaded it (which also fills
// the shared clocks the readers use), and a StoreReader beside it. The
// query suite reads it first; the writer suite then changes it, which is
// why it is a copy.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClockBuffers } from '../../src/store/slot-clock.js';
import { StoreReader } from '../../src/store/reader.js';
import { DirectWriter } from '../../src/store/direct-writer.js';
import { removeDir, trackDir } from '../cleanup.js';
import { copyStore, newClocks, type CachedStore } from '../store-cache.js';

/** partiscid's defaults (src/config.ts), so commits do what the server's do. */
export const SERVER_DEFAULTS = { staleSeconds: 25 * 3600, historyDays: 30 } as const;

export interface StoreFixture {
  dir: string;
  clocks: ClockBuffers;
  writer: DirectWriter;
  reader: StoreReader;
  copyMs: number;
  loadMs: number;
  close(): Promise<void>;
}

export async function openFixture(store: CachedStore): Promise<StoreFixture> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'partisci-bench-micro-')));
  const copyMs = copyStore(store, dir);
  const clocks = newClocks();
  const started = performance.now();
  const writer = new DirectWriter({ path: dir, trimSeconds: 0, ...SERVER_DEFAULTS }, clocks);
  writer.load();
  const loadMs = performance.now() - started;
  const reader = new StoreReader(dir, clocks, SERVER_DEFAULTS.staleSeconds);
  return {
    dir,
    clocks,
    writer,
    reader,
    copyMs,
    loadMs,
    async close(): Promise<void> {
      await reader.close();
      await writer.close();
      removeDir(dir);
    },
  };
}
