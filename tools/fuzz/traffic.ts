// The packet stream: packet n is either fleet update n or, for a seeded
// `badFraction` of sequence numbers, a malformed packet derived from it.
// Everything is a function of (seed, n), so the stream is the same however
// it is split between sender threads.
//
// Fleet time (which drives version rollouts) is the scheduled send time
// n / clockRate, not the wall clock, so versions are reproducible too.

import { BAD_KINDS, HUGE_UDP, makeBadPacket, type BadKind, type HugeSize } from './bad-packets.js';
import { Fleet, type FleetShape } from './fleet.js';
import { Rng, hash32, hashUnit } from './prng.js';

export interface TrafficConfig {
  fleet: FleetShape;
  /** Share of packets that are malformed, 0 to 1. */
  badFraction: number;
  /** Kinds to draw malformed packets from (uniformly). */
  badKinds: readonly BadKind[];
  /** Packets per second of fleet time: packet n is sent at fleet time n / clockRate. */
  clockRate: number;
  hugeSize: HugeSize;
}

export const DEFAULT_TRAFFIC: Omit<TrafficConfig, 'fleet'> = {
  badFraction: 0,
  badKinds: BAD_KINDS,
  clockRate: 100_000,
  hugeSize: HUGE_UDP,
};

/** What a sender thread sends: packet n, valid or malformed. */
export interface PacketSource {
  /** The malformed kind of packet n, or null when it is a valid update. */
  badKindAt(n: number): BadKind | null;
  /** Packet n as JSON text, when it is a valid update. */
  goodJson(n: number): string;
  /** Packet n as bytes, when it is malformed (kind from badKindAt). */
  badPacket(n: number, kind: BadKind): Uint8Array;
}

export class Traffic implements PacketSource {
  readonly fleet: Fleet;
  private readonly config: TrafficConfig;

  constructor(config: TrafficConfig) {
    if (config.badFraction > 0 && config.badKinds.length === 0) throw new RangeError('badKinds is empty');
    this.config = config;
    this.fleet = new Fleet(config.fleet);
  }

  fleetTime(n: number): number {
    return n / this.config.clockRate;
  }

  /** The malformed kind of packet n, or null when it is a valid update. */
  badKindAt(n: number): BadKind | null {
    const { badFraction, badKinds, fleet } = this.config;
    if (badFraction <= 0 || hashUnit(fleet.seed, 0x424144, n) >= badFraction) return null;
    return badKinds[hash32(fleet.seed, 0x4b494e44, n) % badKinds.length]!;
  }

  /** Packet n as JSON text, when it is a valid update. */
  goodJson(n: number): string {
    return this.fleet.jsonAt(n, this.fleetTime(n));
  }

  /** Packet n as bytes, when it is malformed (kind from badKindAt). */
  badPacket(n: number, kind: BadKind): Uint8Array {
    const rng = new Rng(hash32(this.config.fleet.seed, 0x504b54, n));
    return makeBadPacket(kind, rng, this.fleet.updateAt(n, this.fleetTime(n)), this.config.hugeSize);
  }
}
