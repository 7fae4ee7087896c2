// A keyed pseudo-random permutation of [0, size): the order in which fleet
// members report. A real fleet reports every instance once per period, in
// no particular order; a permutation gives the same (each of the `size`
// keys appears exactly once per `size` updates) while looking shuffled,
// and it needs no table, so a fleet of millions costs no memory.
//
// Built as a 4-round Feistel network on the smallest even number of bits
// covering `size`, with cycle walking to stay inside [0, size) (on average
// fewer than 4 steps, because the Feistel domain is less than 4 * size).

import { hash32, mix32 } from './prng.js';

const ROUNDS = 4;
/** Feistel halves must fit the 32-bit integer arithmetic used in rounds. */
const MAX_HALF_BITS = 26;

export class Permutation {
  readonly size: number;
  private readonly halfSize: number;
  private readonly halfMask: number;
  private readonly keys: number[];

  constructor(size: number, seed: number) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 2 ** (2 * MAX_HALF_BITS)) {
      throw new RangeError(`permutation size must be an integer from 1 to 2^${2 * MAX_HALF_BITS}, not ${size}`);
    }
    let halfBits = 1;
    while (2 ** (2 * halfBits) < size) halfBits++;
    this.size = size;
    this.halfSize = 2 ** halfBits;
    this.halfMask = this.halfSize - 1;
    this.keys = Array.from({ length: ROUNDS }, (_, round) => hash32(seed, 0x5045524d, round));
  }

  /** The image of index (0 <= index < size). */
  at(index: number): number {
    let x = index;
    do {
      x = this.feistel(x);
    } while (x >= this.size);
    return x;
  }

  private feistel(x: number): number {
    let left = Math.floor(x / this.halfSize);
    let right = x - left * this.halfSize;
    for (const key of this.keys) {
      const f = this.roundFunction(right, key);
      const next = (left ^ f) & this.halfMask;
      left = right;
      right = next;
    }
    return left * this.halfSize + right;
  }

  private roundFunction(half: number, key: number): number {
    return mix32(half ^ key) & this.halfMask;
  }
}
