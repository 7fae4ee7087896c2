// Seeded randomness for the fuzzer. Everything it generates derives from
// --seed through these functions (never Math.random), so a run can be
// replayed exactly, whatever the number of sender threads.

const GOLDEN = 0x9e3779b9;
const TWO_POW_32 = 4294967296;

/** murmur3's 32-bit finalizer: a bijection on uint32 with good avalanche. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

// Folds a non-negative integer of up to 53 bits into the hash state, both
// 32-bit halves, so sequence numbers beyond 2^32 stay distinct.
function absorb(h: number, value: number): number {
  const low = value >>> 0;
  const high = Math.floor(value / TWO_POW_32) >>> 0;
  h = mix32((h ^ low) + GOLDEN);
  return high === 0 ? h : mix32((h ^ high) + GOLDEN);
}

/** A uint32 hash of a seed and up to three non-negative integers. */
export function hash32(seed: number, a: number, b = 0, c = 0): number {
  return absorb(absorb(absorb(absorb(0x2545f491, seed), a), b), c);
}

/** hash32 mapped to [0, 1). */
export function hashUnit(seed: number, a: number, b = 0, c = 0): number {
  return hash32(seed, a, b, c) / TWO_POW_32;
}

/**
 * A small sequential generator (a Weyl sequence through mix32, as in
 * splitmix32): for the few places that need several draws in a row, such
 * as building one malformed packet.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = hash32(seed, 0);
  }

  nextU32(): number {
    this.state = (this.state + GOLDEN) >>> 0;
    return mix32(this.state);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max], both included. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.below(items.length)]!;
  }
}
