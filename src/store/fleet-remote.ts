// Cluster mode: changes and liveness digests other nodes committed, as the
// writer's fleet (fleet.ts) takes them. A remote change goes through the
// conflict rule (cluster/remote.ts: the later content wins, node names
// break ties); one that wins is applied like a local update, carrying its
// origin. Kept apart from fleet.ts so the single-node repeat path stays
// small.

import { RECORD_HEADER, R_FRAG_HASH_A, R_FRAG_HASH_B, R_KEY_HASH, R_KEY_LEN, R_SEQ, R_TIME, get16, get32, getI32 } from '../ingest/record.js';
import { applyDigest } from '../cluster/liveness.js';
import { recordBytes, remoteClock, type ClusterState } from '../cluster/remote.js';
import type { ChangeSet } from './change-set.js';
import { CTIME, FRAG_A, FRAG_B, ORIGIN } from './instance-columns.js';
import type { KeyIndex } from './key-index.js';
import { splitKey } from './keys.js';

/** What remote changes need of the fleet besides its index. */
export interface FleetHooks {
  inst(): KeyIndex;
  changes: ChangeSet;
  /** Applies an update record as from `origin`; returns the instance's slot. */
  update(rec: Uint8Array, off: number, origin: number): number;
  /** Moves an instance's clock (and its host's and app's) forward. */
  touch(slot: number, time: number): void;
}

export class RemoteChanges {
  readonly #cluster: ClusterState;
  readonly #fleet: FleetHooks;

  constructor(cluster: ClusterState, fleet: FleetHooks) {
    this.#cluster = cluster;
    this.#fleet = fleet;
  }

  /** A change another node committed: applied (without its origin trailer) if it wins the conflict rule. */
  update(rec: Uint8Array, off: number, length: number | undefined): void {
    const cluster = this.#cluster;
    const len = length ?? recordBytes(rec, off);
    const keyLen = get16(rec, off + R_KEY_LEN);
    const slot = this.#fleet.inst().find(rec, off + RECORD_HEADER, keyLen, getI32(rec, off + R_KEY_HASH));
    const time = get32(rec, off + R_TIME);
    const origin = cluster.recordOrigin(rec, off);
    const clock = remoteClock(rec, off, len);
    if (!this.#admit(slot, rec, off, time, origin)) {
      // A snapshot's or resync's instance was heard from later than its content time.
      if (clock > time && slot >= 0) this.#touch(slot, clock);
      return;
    }
    const applied = this.#fleet.update(rec, off, origin);
    if (clock > time) this.#touch(applied, clock);
  }

  /** A peer's liveness digest (cluster/liveness.ts): moves the clocks of the instances it names. */
  digest(rec: Uint8Array, off: number): void {
    const keyLen = get16(rec, off + R_KEY_LEN);
    applyDigest(rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + keyLen), this.#fleet.inst(), (slot, time) => this.#touch(slot, time));
    this.#fleet.changes.clockOnly++;
  }

  /** A clock that a peer moved: not to be told again in this node's digests. */
  #touch(slot: number, time: number): void {
    this.#cluster.liveness.heard(slot, time);
    this.#fleet.touch(slot, time);
  }

  /**
   * Whether a remote change wins the conflict rule against what this node
   * has. A losing change, or one that brings nothing new, is settled here;
   * true means: apply it.
   */
  #admit(slot: number, rec: Uint8Array, off: number, time: number, origin: number): boolean {
    const cluster = this.#cluster;
    const inst = this.#fleet.inst();
    const changes = this.#fleet.changes;
    changes.noteSeq(get32(rec, off + R_SEQ));
    if (slot >= 0) {
      if (cluster.compare(time, origin, inst.cols[CTIME]![slot]!, inst.cols[ORIGIN]![slot]!) < 0) {
        cluster.lost++;
        changes.superseded++;
        return false;
      }
      if (inst.cols[FRAG_A]![slot] === getI32(rec, off + R_FRAG_HASH_A) && inst.cols[FRAG_B]![slot] === getI32(rec, off + R_FRAG_HASH_B)) {
        // Same content: only the clocks and the (time, origin) pair move.
        inst.cols[CTIME]![slot] = time;
        inst.cols[ORIGIN]![slot] = origin;
        this.#touch(slot, time);
        changes.clockOnly++;
        return false;
      }
    } else if (
      cluster.buried(time, origin, () => {
        const key = rec.subarray(off + RECORD_HEADER, off + RECORD_HEADER + get16(rec, off + R_KEY_LEN));
        const { parts } = splitKey(key, 2);
        return { appId: parts[0]!, host: parts[1]!, instance: (key[key.length - 2]! << 8) | key[key.length - 1]! };
      })
    ) {
      cluster.lost++;
      changes.superseded++;
      return false;
    }
    return true;
  }
}
