// The producer side of ring.ts's cross-thread measurement: pushes `total`
// records (cycling through the given ones) as fast as the ring takes them,
// spinning while it is full, as an ingest worker would if it never dropped.

import { parentPort, workerData } from 'node:worker_threads';
import { RingProducer } from '../../src/workers/ring.js';

interface Data {
  sab: SharedArrayBuffer;
  buf: Uint8Array;
  starts: Int32Array;
  ends: Int32Array;
  total: number;
}

const { sab, buf, starts, ends, total } = workerData as Data;
const producer = new RingProducer(sab);

parentPort!.once('message', () => {
  const n = starts.length;
  for (let k = 0; k < total; k++) {
    const i = k % n;
    while (!producer.tryPush(buf, starts[i]!, ends[i]! - starts[i]!)) {
      // full: the consumer is behind; try again
    }
  }
  parentPort!.close();
});
parentPort!.postMessage('ready');
