// A restart under a storm: the fleet keeps sending at 100k/s while
// partiscid stops and starts again on the same data folder, as in a real
// restart storm. The UDP sockets open at once, but the writer reads the
// rings only once it has loaded the store (seconds for 1,000,000
// instances); meanwhile the rings (2 x 8 MiB, ~70,000 records) fill and
// ingest drops. Measured: time to serving and to the store being loaded,
// and what the storm lost, by cause.

import { fleetArgs } from '../fleet.js';
import { sleep } from '../stats.js';
import { startFuzz } from './fuzz.js';
import { Server, freePort, type Startup } from './server.js';

export interface RestartUnderStorm extends Startup {
  /** How long SIGTERM took to stop the previous server. */
  stop_ms: number;
  storm_rate: number;
  sent: number;
  /** Datagrams the new server's sockets received. */
  received: number;
  applied: number;
  ring_full_drops: number;
  kernel_drops: number;
  /** Sent before the new server had its port open (counted nowhere on the server). */
  lost_before_open: number;
  /** (sent - applied - rejected) / sent. */
  loss: number;
}

export async function restartUnderStorm(old: Server, rate: number, seconds: number): Promise<{ server: Server; result: RestartUnderStorm }> {
  const stopMs = await old.stop();
  const server = Server.spawn(old.dataDir, await freePort());
  // fuzz takes a few hundred ms to start sending; the new server opens its port sooner.
  const storm = startFuzz(server.port, ['--rate', String(rate), '--duration', String(seconds), ...fleetArgs()]);
  const startup = await server.ready();
  const summary = await storm.done;
  await server.settle(60_000);
  await sleep(2500); // repeats count as applied once the clocks are persisted (every 2 s)
  const v = await server.vars();
  return {
    server,
    result: {
      ...startup,
      stop_ms: stopMs,
      storm_rate: rate,
      sent: summary.sent,
      received: v.udp_datagrams,
      applied: v.applied,
      ring_full_drops: v.ring_full_drops,
      kernel_drops: v.kernel_drops,
      lost_before_open: Math.max(0, summary.sent - v.udp_datagrams - v.kernel_drops),
      loss: (summary.sent - v.applied - v.rejected) / summary.sent,
    },
  };
}
