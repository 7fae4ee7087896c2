// The engine's shared memory, allocated once on the main thread and handed
// to every thread: control words, statistics, the clocks and the rings.
// It belongs to the engine, not to a thread, so a thread that dies and is
// restarted finds it intact (the rings still hold what was not read).

import { MAX_CLOCK_SLOTS, createClockBuffer, type ClockBuffers } from '../store/slot-clock.js';
import { createRing } from './ring.js';
import { CONTROL_SLOTS, HTTP_REGION, statRegion, statsByteLength } from './shared-layout.js';

export class SharedMemory {
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  readonly stats: SharedArrayBuffer;
  /** The HTTP front's own statistics region. */
  readonly httpStats: Float64Array;
  /** last_update per instance/host/app slot, written by the writer, read by queries. */
  readonly clocks: ClockBuffers = {
    instance: createClockBuffer(MAX_CLOCK_SLOTS.instance),
    host: createClockBuffer(MAX_CLOCK_SLOTS.host),
    app: createClockBuffer(MAX_CLOCK_SLOTS.app),
  };
  /** One ring per ingest worker, then the HTTP ring (last). */
  readonly rings: SharedArrayBuffer[];

  constructor(workers: number, ringBytes: number, httpRingBytes: number) {
    this.stats = new SharedArrayBuffer(statsByteLength(workers));
    this.httpStats = statRegion(this.stats, HTTP_REGION);
    this.rings = Array.from({ length: workers }, () => createRing(ringBytes));
    this.rings.push(createRing(httpRingBytes));
  }

  get httpRing(): SharedArrayBuffer {
    return this.rings[this.rings.length - 1]!;
  }
}
