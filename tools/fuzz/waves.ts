// --waves: the fleet changing all at once. In a wave, every member of the
// fleet (hosts x apps x instances) sends exactly one update, carrying the
// wave's version: a fleet coming online for the first time, a release
// rolled out everywhere, every instance restarting. Wave w's packet n
// names member order_w.at(n), a seeded permutation of its own per wave, so
// the members report in a different shuffled order each wave, the same
// for the same seed, and any sender thread can produce any part of it.
//
// Names (apps, hosts, instances) and each app's client-library JSON style
// are the ordinary fleet's (fleet.ts), so the app_id of every fleet app is
// known here, which --check needs to ask the API about them.

import { appIdOf } from '../../src/ingest/app-id.js';
import type { BadKind } from './bad-packets.js';
import { Fleet, type FleetShape, type MemberKey, type Update } from './fleet.js';
import { Permutation } from './permutation.js';
import { hash32 } from './prng.js';

export interface WaveConfig {
  /** The fleet's shape (its releaseEveryS does not matter here). */
  fleet: FleetShape;
  /** 0-based number of the wave in the run: picks its order. */
  wave: number;
  /** The version every update of the wave carries. */
  version: string;
}

/** Mixed into the seed of a wave's order ("WAVE"). */
const WAVE_TAG = 0x57415645;

/** One wave's packet stream: packet n (0 <= n < size) is one member's update. */
export class WaveTraffic {
  readonly fleet: Fleet;
  readonly size: number;
  readonly version: string;
  private readonly order: Permutation;

  constructor(config: WaveConfig) {
    this.fleet = new Fleet(config.fleet);
    this.size = this.fleet.size;
    this.version = config.version;
    this.order = new Permutation(this.size, hash32(config.fleet.seed, WAVE_TAG, config.wave));
  }

  /** The member that sends packet n of the wave. */
  memberAt(n: number): MemberKey {
    if (!(n >= 0 && n < this.size)) throw new RangeError(`packet ${n} is outside a wave of ${this.size}`);
    return this.fleet.memberOfKey(this.order.at(n));
  }

  /** Packet n as values. */
  updateAt(n: number): Update {
    const { appIndex, hostIndex, instance } = this.memberAt(n);
    return { app: this.fleet.appName(appIndex), ver: this.version, host: this.fleet.hostName(hostIndex), instance };
  }

  /** A wave has no malformed packets: every instance must get the version. */
  badKindAt(_n: number): BadKind | null {
    return null;
  }

  /** Packet n as the JSON text the member's client library writes. */
  goodJson(n: number): string {
    return this.fleet.memberJson(this.memberAt(n), this.version);
  }

  badPacket(n: number): Uint8Array {
    throw new RangeError(`a wave has no malformed packets (asked for packet ${n})`);
  }
}

/** The app_id of every fleet app, by app index (what the API is asked about). */
export function fleetAppIds(shape: Pick<FleetShape, 'apps'>): string[] {
  const fleet = new Fleet({ seed: 0, hosts: 1, apps: shape.apps, instances: 1, releaseEveryS: 1 });
  return Array.from({ length: shape.apps }, (_, appIndex) => appIdOf(fleet.appName(appIndex)));
}
