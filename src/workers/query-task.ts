// Query pool task (piscina): heavy, finite read work off the HTTP thread,
// so a bulk answer never stalls the small queries the front serves inline.
// Each pool thread opens the store once (lmdb-js shares the process's
// environment) and reads the engine's shared clocks.

import { move, workerData } from 'piscina';
import { udp } from '../ingest/native.js';
import { InvalidCursorError } from '../errors.js';
import { StoreReader, type Page, type VersionFilter } from '../store/reader.js';
import type { LabelPair } from '../store/label-filter.js';
import type { ClockBuffers } from '../store/slot-clock.js';
import { rollout, stepTimes } from '../query/rollout.js';

export interface QueryPoolData {
  path: string;
  clocks: ClockBuffers;
  staleSeconds: number;
}

export type QueryTask =
  | { kind: 'versions'; filter: VersionFilter; page: Page }
  | { kind: 'hosts'; page: Page }
  | { kind: 'labelled'; summary: 'app' | 'host'; labels: LabelPair[]; page: Page }
  | { kind: 'history'; appId?: string; host?: string; instance?: number; since?: number; limit?: number; cursor?: string; labels?: LabelPair[] }
  | { kind: 'rollout'; appId: string; since: number; step: number; now: number; labels?: LabelPair[] };

const data = workerData as QueryPoolData;
udp.setThreadName('ps-query');
// Bulk answers can wait a little; the small queries the HTTP thread answers cannot.
udp.setThreadNice(5);
const reader = new StoreReader(data.path, data.clocks, data.staleSeconds);

/**
 * A query's failure the client caused. Thrown errors lose their class on
 * the way back to the main thread (structured clone), so it is returned.
 */
export interface QueryRefused {
  refused: 'INVALID_CURSOR';
  message: string;
}

/** Runs one query; the answer's bytes are moved (not copied) back. */
export default function run(task: QueryTask): Uint8Array | QueryRefused {
  try {
    let body: Buffer;
    try {
      body = answer(task);
    } catch (err) {
      if (err instanceof InvalidCursorError) return { refused: 'INVALID_CURSOR', message: err.message };
      throw err;
    }
    // JsonBytes answers own their ArrayBuffer (offset 0): move it whole,
    // with a view saying how much of it is the answer.
    const own = body.byteOffset === 0 && body.buffer instanceof ArrayBuffer;
    const view = own ? new Uint8Array(body.buffer, 0, body.length) : new Uint8Array(body);
    return move(view) as unknown as Uint8Array;
  } finally {
    reader.release();
  }
}

function answer(task: QueryTask): Buffer {
  let body: Buffer;
  switch (task.kind) {
    case 'versions':
      body = reader.versions(task.filter, task.page).view();
      break;
    case 'hosts':
      body = reader.hostList(task.page).view();
      break;
    case 'labelled':
      body = reader.labelledSummaries(task.summary, task.labels, task.page).view();
      break;
    case 'history':
      body = reader.history(task).view();
      break;
    case 'rollout': {
      const steps = rollout(reader.appHistory(task.appId, task.labels), stepTimes(task.since, task.step, task.now));
      body = Buffer.from(JSON.stringify({ data: steps }));
      break;
    }
  }
  return body;
}
